"""Engines benchmark (issue 20): `explain_dataset` in one process against `engine="dask"` with a LocalCluster of 1 and
2 worker processes (threads_per_worker=1), over the same folder: N 64-px 5-band float32 `.npy` tiles in two class
folders (so ablation runs too), a small CNN, batch 32, into an output folder, `examples=0`.

Each configuration runs in a fresh process; we report wall time and images/s of the whole call, the start-up (the
LocalCluster and its workers ready, measured apart in the same process), and peak memory summed over the process
and all its children (PSS where the system reports it, else RSS; sampled every 0.2 s with psutil). The tables of
every run are checked byte-identical to the one-process run's.

Run alone: `python benchmarks/bench_engines.py [--quick] [--images N]`; or `run(quick=False) -> str` (markdown).
"""
from __future__ import annotations

import argparse, json, os, subprocess, sys, tempfile, threading, time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import psutil

CHILD = r'''
import json, sys, time
from pathlib import Path
def main():
    from channelgradcam.dataset import explain_dataset
    cfg = json.loads(sys.argv[1])
    kw = dict(class_names="a,b", batch_size=32, examples=0, progress=False)
    startup = None
    t = time.perf_counter()
    if cfg["workers"]:
        from channelgradcam.engines import dask_client
        with dask_client(cfg["workers"]) as client:
            client.wait_for_workers(cfg["workers"]); startup = time.perf_counter() - t
            t = time.perf_counter()
            explain_dataset(cfg["model"], cfg["tiles"], out=cfg["out"], engine="dask", scheduler=client, **kw)
    else:
        explain_dataset(cfg["model"], cfg["tiles"], out=cfg["out"], **kw)
    print(json.dumps({"seconds": time.perf_counter() - t, "startup": startup}))
if __name__ == "__main__": main()
'''


def _tree_memory(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            m = p.memory_full_info()
            total += getattr(m, "pss", m.rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied): pass
    return total


def _measure(cfg: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    ps, peak, stop = psutil.Process(proc.pid), [0], threading.Event()
    def sample():
        while not stop.is_set():
            try: peak[0] = max(peak[0], _tree_memory(ps))
            except psutil.NoSuchProcess: break
            time.sleep(0.2)
    th = threading.Thread(target=sample); th.start()
    out, err = proc.communicate()
    stop.set(); th.join()
    if proc.returncode: raise RuntimeError(err[-3000:])
    return {**json.loads(out.strip().splitlines()[-1]), "peak_gb": peak[0] / 1e9}


def _data(tmp: Path, n: int):
    import keras
    rng = np.random.default_rng(0)
    for cls in ("a", "b"): (tmp / "tiles" / cls).mkdir(parents=True)
    for k in range(n): np.save(tmp / "tiles" / "ab"[k % 2] / f"{k:05d}.npy", rng.uniform(0, 1, (64, 64, 5)).astype(np.float32))
    keras.utils.set_random_seed(0)
    inp = keras.Input((64, 64, 5))
    h = keras.layers.Conv2D(16, 3, activation="relu")(inp)
    h = keras.layers.Conv2D(32, 3, strides=2, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(32, 3, activation="relu")(h))
    keras.Model(inp, keras.layers.Dense(2, activation="softmax")(h)).save(tmp / "cnn.keras")


def run(quick: bool = False, images: int | None = None) -> str:
    n = images or (40 if quick else 400)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        _data(tmp, n)
        rows, ref = [], None
        for name, workers in (("one process", 0), ("Dask, 1 worker", 1), ("Dask, 2 workers", 2)):
            out = tmp / f"out{workers}"
            r = _measure({"model": str(tmp / "cnn.keras"), "tiles": str(tmp / "tiles"), "out": str(out), "workers": workers})
            tables = b"".join((out / f).read_bytes() for f in ("explanations.csv", "ablation_images.csv", "summary.csv"))
            ref = ref or tables
            rows.append(f"| {name} | {r['seconds']:.1f} | {n / r['seconds']:.1f} | "
                        f"{'—' if r['startup'] is None else format(r['startup'], '.1f')} | "
                        f"{r['peak_gb']:.2f} | {'yes' if tables == ref else 'NO'} |")
    return "\n".join([f"{n} tiles (64 px, 5 bands, .npy), small CNN, batch 32, ablation on; {os.cpu_count()} CPU cores "
                      "(shared with other work: compare rows of one table only).", "",
                      "| engine | seconds | images/s | start-up (s) | peak memory, all processes (GB) | tables = one process |",
                      "|---|---|---|---|---|---|", *rows])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--images", type=int, default=None)
    a = ap.parse_args()
    print(run(a.quick, a.images))
