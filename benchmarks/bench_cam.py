"""CAM engine benchmark: speed and memory of ChannelGradCAM on ResNet50 (weights=None, 224 px).

Run alone: `python benchmarks/bench_cam.py [--quick]` (prints a markdown section), or call `run(quick=False) -> str`.
All speed rows are measured in ONE process, side by side, as medians over repeats after warm-up calls.
Peak RSS of each method is measured in its own subprocess (so peaks do not mix).
Duration on the 2-core development CPU: --quick about 6-7 min (under load); the full run about 15 min on a quiet machine
(batches 1/8/16/32, 10/5/5/3 repeats, six memory subprocesses at batch 32, 200 repeated calls).
A GPU, when TensorFlow sees one, is named in the section header and used for every row.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
try:  # run from a checkout without installing the package
    import channelgradcam  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SIZE = 224
METHODS = ["forward", "channelgradcam", "layercam_conv5", "tfkv_layercam_channel_conv", "tfkv_layercam_conv5", "naive"]
LABELS = {
    "forward": "bare forward (compiled tf.function)",
    "channelgradcam": "ours: ChannelGradCAM",
    "layercam_conv5": "ours: LayerCAM @ conv5_block3_out",
    "tfkv_layercam_channel_conv": "tf-keras-vis Layercam @ channel_conv",
    "tfkv_layercam_conv5": "tf-keras-vis Layercam @ conv5_block3_out",
    "naive": "naive prototype (new Model per call, eager, per-channel resize loop)",
}


def _device() -> str:
    "Name of the device TF computes on (first GPU if any, else the CPU)."
    import tensorflow as tf
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
        except Exception:  # details are best-effort
            name = gpus[0].name
        return f"GPU: {name} ({len(gpus)} visible)"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except Exception:
        pass
    return f"CPU: {cpu}, {os.cpu_count()} logical cores (no GPU visible)"


def _model(size=SIZE):
    "ResNet50 (random weights, 1000-class softmax head) with channel_conv in front."
    import keras
    from channelgradcam.surgery import add_channel_conv
    keras.utils.set_random_seed(0)
    return add_channel_conv(keras.applications.ResNet50(weights=None, input_shape=(size, size, 3)))


def _make(method, model):
    "A callable x -> result for `method` (None, reason) when unavailable."
    import numpy as np
    import tensorflow as tf
    import keras
    if method == "forward":
        fwd = tf.function(lambda x: model(x, training=False))
        return lambda x: fwd(tf.convert_to_tensor(x)).numpy()
    if method == "channelgradcam":
        from channelgradcam.cam import ChannelGradCAM
        cg = ChannelGradCAM(model)
        return lambda x: cg(x)
    if method == "layercam_conv5":
        from channelgradcam.cam import LayerCAM
        lc = LayerCAM(model, "conv5_block3_out")
        return lambda x: lc(x)
    if method.startswith("tfkv_"):
        try:
            from tf_keras_vis.layercam import Layercam
            from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
            from tf_keras_vis.utils.scores import CategoricalScore
        except ImportError as e:
            return None, f"tf-keras-vis not installed ({e})"
        layer = "channel_conv" if method.endswith("channel_conv") else "conv5_block3_out"
        vis = Layercam(model, model_modifier=ReplaceToLinear(), clone=True)
        fwd = tf.function(lambda x: model(x, training=False))

        def f(x):
            top = np.argmax(fwd(tf.convert_to_tensor(x)).numpy(), -1).tolist()  # tf-keras-vis needs explicit targets
            return vis(CategoricalScore(top), x, penultimate_layer=layer, seek_penultimate_conv_layer=False)
        return f
    if method == "naive":
        def naive(x):
            grad_model = keras.Model(model.input, [model.get_layer("channel_conv").output, model.output])
            with tf.GradientTape() as tape:
                a, preds = grad_model(x)
                s = tf.gather(preds, tf.argmax(preds, -1), batch_dims=1)
            g = tape.gradient(s, a)
            maps = []
            for k in range(a.shape[-1]):
                m = tf.nn.relu(tf.nn.relu(g[..., k:k + 1]) * a[..., k:k + 1])
                maps.append(tf.image.resize(m, x.shape[1:3]).numpy())
            return np.concatenate(maps, -1)
        return naive
    raise ValueError(f"unknown method {method!r}")


def _time_all(fns, x, repeats, warmup=1):
    "Median seconds per call of each function, after `warmup` calls; repeats interleaved (round-robin) so load drifts hit all alike."
    for f in fns.values():
        for _ in range(warmup):
            f(x)
    ts = {m: [] for m in fns}
    for _ in range(repeats):
        for m, f in fns.items():
            t0 = time.perf_counter()
            f(x)
            ts[m].append(time.perf_counter() - t0)
    return {m: statistics.median(v) for m, v in ts.items()}


def _rss_mb():
    "Current resident set size of this process in MB."
    import psutil
    return psutil.Process().memory_info().rss / 2**20


def _vm_hwm_mb():
    "Peak RSS of this process image in MB (VmHWM: unlike ru_maxrss it does not inherit the parent's peak across exec)."
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child_memory(method, batch, size):
    "Subprocess body: RSS before the calls and the peak RSS over 2 calls at `batch`."
    import numpy as np
    model = _model(size)
    made = _make(method, model)
    if isinstance(made, tuple):
        print(json.dumps({"skip": made[1]}))
        return
    x = np.random.default_rng(0).random((batch, size, size, 3), dtype=np.float32)
    base = _rss_mb()
    made(x[:1])  # trace/build with a small batch first
    made(x)
    made(x)
    peak = _vm_hwm_mb()
    print(json.dumps({"base_mb": base, "peak_mb": peak}))


def _memory(method, batch, size):
    "Run `_child_memory` in a fresh interpreter; dict with base_mb/peak_mb, skip or error."
    cmd = [sys.executable, os.path.abspath(__file__), "--child-memory", method, "--batch", str(batch), "--size", str(size)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode or not lines:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1][:120]}
    return json.loads(lines[-1])


def run(quick: bool = False) -> str:
    "Benchmark the CAM engine; returns a markdown section (tables)."
    import numpy as np
    import tensorflow as tf
    import keras
    t_start = time.perf_counter()
    batches = [1, 8, 16] if quick else [1, 8, 16, 32]
    reps = {1: 3, 8: 2, 16: 2} if quick else {1: 10, 8: 5, 16: 5, 32: 3}
    mem_batch = 8 if quick else 32
    grow_calls = 50 if quick else 200
    out = ["## CAM engine (channelgradcam.cam)", "",
           f"Device: **{_device()}**; TensorFlow {tf.__version__}, Keras {keras.__version__}; "
           f"ResNet50 (weights=None, 1000 classes) at {SIZE} px with `channel_conv`; "
           f"{'quick run (fewer repeats)' if quick else 'full run'}. Medians over repeats after 1 warm-up call, "
           "all rows in one process, methods interleaved round-robin within each batch size. Each call includes host↔device transfer of results to numpy.", ""]
    model = _model(SIZE)
    fns, notes = {}, []
    for m in METHODS:
        made = _make(m, model)
        if isinstance(made, tuple):
            notes.append(f"- {LABELS[m]}: skipped ({made[1]})")
        else:
            fns[m] = made
    rng = np.random.default_rng(0)
    times = {}
    for b in batches:
        x = rng.random((b, SIZE, SIZE, 3), dtype=np.float32)
        for m, t in _time_all(fns, x, reps[b]).items():
            times[b, m] = t
    out += ["### Speed", "", "| batch | method | median s/call | images/s | × bare forward | time ÷ ChannelGradCAM |",
            "| ---: | --- | ---: | ---: | ---: | ---: |"]
    for b in batches:
        for m in fns:
            t = times[b, m]
            out.append(f"| {b} | {LABELS[m]} | {t:.3f} | {b / t:.1f} | {t / times[b, 'forward']:.2f} | "
                       f"{t / times[b, 'channelgradcam']:.2f} |")
    out += notes + [""]
    if 16 in batches:
        f16, c16 = times[16, "forward"], times[16, "channelgradcam"]
        out.append(f"Issue check (batch 16, {SIZE} px): bare forward {f16:.3f} s, ChannelGradCAM {c16:.3f} s, "
                   f"ratio **{c16 / f16:.2f}×** (target ≤ 2.2×).")
    checks = []
    for b in [b for b in batches if b >= 8]:
        r = times[b, "channelgradcam"] / times[b, "forward"]
        checks.append(f"ChannelGradCAM ≤ 2.2× forward at batch {b}: {r:.2f}× → {'PASS' if r <= 2.2 else 'MISS'}")
    for b, need in ((8, 2.5), (32, 1.8)):
        if (b, "tfkv_layercam_channel_conv") in times:
            s = times[b, "tfkv_layercam_channel_conv"] / times[b, "channelgradcam"]
            checks.append(f"faster than tf-keras-vis Layercam@channel_conv at batch {b}: {s:.2f}× (target ≥ {need}×) → "
                          f"{'PASS' if s >= need else 'MISS'}")
    if (8, "naive") in times:
        s = times[8, "naive"] / times[8, "channelgradcam"]
        checks.append(f"faster than naive at batch 8: {s:.2f}× (target ≥ 3×) → {'PASS' if s >= 3 else 'MISS'}")
    out += [""] + [f"- {c}" for c in checks] + [""]

    out += ["### Memory", "",
            f"Peak RSS per method at batch {mem_batch}, each measured in its own fresh subprocess (VmHWM; "
            "'before calls' = RSS after importing TF and building the model and explainer).", "",
            "| method | RSS before calls (MB) | peak RSS (MB) | peak − before (MB) |", "| --- | ---: | ---: | ---: |"]
    for m in METHODS:
        r = _memory(m, mem_batch, SIZE)
        if "skip" in r or "error" in r:
            out.append(f"| {LABELS[m]} | – | – | {r.get('skip') or 'error: ' + r['error']} |")
        else:
            out.append(f"| {LABELS[m]} | {r['base_mb']:.0f} | {r['peak_mb']:.0f} | {r['peak_mb'] - r['base_mb']:.0f} |")
    cg = fns["channelgradcam"]
    x1 = rng.random((1, SIZE, SIZE, 3), dtype=np.float32)
    for _ in range(10):
        cg(x1)
    r0 = _rss_mb()
    t0 = time.perf_counter()
    for _ in range(grow_calls):
        cg(x1)
    dt = time.perf_counter() - t0
    growth = _rss_mb() - r0
    out += ["", f"RSS growth over {grow_calls} repeated ChannelGradCAM calls (batch 1, after 10 warm-up calls): "
            f"**{growth:+.1f} MB** (target < 50 MB; {1000 * dt / grow_calls:.0f} ms/call)", "",
            f"_Benchmark wall time: {time.perf_counter() - t_start:.0f} s._", ""]
    return "\n".join(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, batches 1/8/16, memory at batch 8")
    ap.add_argument("--child-memory", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, default=32, help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, default=SIZE, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_memory:
        _child_memory(a.child_memory, a.batch, a.size)
    else:
        print(run(quick=a.quick))
