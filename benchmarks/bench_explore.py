"""Explorer responsiveness: time from moving the image slider to a finished figure (PNG drawn at the explorer's
pixel ratio, 2: crisp on high-DPI screens).

`run(quick=False) -> str` returns a markdown section; `python benchmarks/bench_explore.py [--quick]` prints it.
Cached: the image's maps are in the explorer's cache (only the figure is updated and drawn).
Uncached: the image starts a new block, so the explainer computes `batch_size` images first (graph already traced).
Models: the package's small CNN and ResNet50 (weights=None), both at 224 px with 3 channels. Medians.
"""
from __future__ import annotations
import os, sys, time, statistics, platform
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np

TARGET_CACHED_S = 0.2


def _models(size):
    from channelgradcam.models import build_model
    yield "small_cnn", build_model(2, (size, size, 3), backbone="small_cnn", weights=None)
    yield "resnet50", build_model(2, (size, size, 3), backbone="resnet50", weights=None)


def _time_slider(ex, index):
    t = time.perf_counter()
    ex.app.controls["index"].value = index   # the same path as a user moving the slider: observer → maps → update → PNG
    return time.perf_counter() - t


def bench_model(name, model, size=224, batch_size=8, reps=5):
    from channelgradcam.explore import explore
    n_blocks = reps + 2
    x = np.random.default_rng(0).uniform(0, 1, (batch_size * n_blocks, size, size, 3)).astype(np.float32)
    t = time.perf_counter()
    ex = explore(model, x, class_names=["a", "b"], batch_size=batch_size, cache_size=batch_size * n_blocks)
    ex.widget                        # build the widgets: renders go to the Image widget as in Jupyter
    first = time.perf_counter() - t  # includes tracing the explainer and building the figure
    uncached, cached = [], []
    for r in range(1, reps + 1):
        calls = ex.calls
        uncached.append(_time_slider(ex, r * batch_size))           # new block: compute + draw
        assert ex.calls == calls + 1
        for j in (1, 2):                                              # same block: cache hits
            cached.append(_time_slider(ex, r * batch_size + j))
        cached.append(_time_slider(ex, (r - 1) * batch_size))         # back to an earlier block
        assert ex.calls == calls + 1, "a cached view called the explainer"
    alpha = []
    for a in (0.3, 0.6, 0.4):
        t = time.perf_counter(); ex.set(alpha=a); alpha.append(time.perf_counter() - t)
    return dict(model=name, params=model.count_params(), first=first, uncached=statistics.median(uncached),
                cached=statistics.median(cached), alpha=statistics.median(alpha), n_unc=len(uncached), n_c=len(cached),
                per_image=statistics.median(uncached) / batch_size, pixel_ratio=ex.pixel_ratio)


def run(quick=False) -> str:
    "Markdown section with explorer timings (cached and uncached slider moves) at 224 px."
    import tensorflow as tf
    reps = 2 if quick else 5
    rows = []
    for name, model in _models(224):
        if quick and name == "resnet50": reps_m = 1
        else: reps_m = reps
        rows.append(bench_model(name, model, reps=reps_m))
    lines = ["## Explorer responsiveness (`benchmarks/bench_explore.py`)", "",
             f"Image slider → finished figure (PNG drawn at pixel ratio {rows[0]['pixel_ratio']:g}), 224×224×3, explorer batch 8, medians. "
             f"CPU: {os.cpu_count()} cores, {platform.machine()}, TF {tf.__version__}{' (quick)' if quick else ''}.", "",
             "| model | params | cached (s) | uncached: 8-image block (s) | per image (s) | opacity change (s) | first view incl. trace (s) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params']:,} | {r['cached']:.3f} (n={r['n_c']}) | {r['uncached']:.2f} (n={r['n_unc']}) "
                     f"| {r['per_image']:.2f} | {r['alpha']:.3f} | {r['first']:.1f} |")
    ok = all(r["cached"] < TARGET_CACHED_S for r in rows)
    lines += ["", f"Target: cached update < {TARGET_CACHED_S} s — {'met' if ok else 'NOT met'}."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    print(run(quick="--quick" in sys.argv[1:]))
