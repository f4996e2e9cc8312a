"""Data-set explanation benchmark: `explain_dataset` images/s against `model.predict` on the same files, and peak
memory at 1,000 against 10,000 images.

* **JPEG**: a folder of 2,000 224-px JPEGs, ResNet50 (weights=None, 1000 classes). `explain_dataset` (read each file
  with `images.read_image` in a tf.data pipeline → ChannelGradCAM → one CSV row per image appended per batch, into an
  output folder; no labels, so no ablation; `examples=0`) against `model.predict` over a tf.data pipeline of the same
  files (`tf.io.decode_jpeg`, batch 32, prefetch). Both in one process, alternated, medians over repeats. The
  explanation's rate is the steady state (from the first to the last batch written: the explainer's one-time
  trace is reported apart); predict's is a whole call after a warm-up call. Target: explain ≥ 0.45 × predict.
* **TIFF**: the same with 2,000 13-band 64-px float32 TIFF tiles and ResNet50 (weights=None, 13 channels, 10 classes);
  predict's pipeline reads with `tifffile` in `tf.numpy_function` (TensorFlow has no TIFF decoder).
* **Memory**: peak resident memory (`VmHWM`) of a fresh process running `explain_dataset` over the first 1,000
  and over all 10,000 files of a labelled folder (so ablation, the confusion matrix and the report run too), into an
  output folder. Small images and a small CNN (32 px) keep 10,000 images quick on a CPU; the measure is how memory
  grows with the number of images, which the model's size does not change. Target: flat within 10 %.

Run alone: `python benchmarks/bench_dataset.py [--quick]`; or `run(quick=False) -> str` (a markdown section).
`--quick` is a smoke run (few files, one repeat): its numbers are not the issue's check.
"""
from __future__ import annotations

import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from PIL import Image

BATCH = 32


def write_jpegs(folder: Path, n: int, size: int, classes=None, seed: int = 0) -> list:
    "n smooth random colour JPEGs of size × size (in class sub-folders when `classes` is given)."
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        sub = folder / classes[i % len(classes)] if classes else folder
        sub.mkdir(parents=True, exist_ok=True)
        coarse = rng.uniform(0, 255, (4, 4, 3)).astype(np.uint8)
        img = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC), np.float32)
        img += rng.normal(0, 10, img.shape)
        p = sub / f"img{i:05d}.jpg"
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(p, quality=90)
        paths.append(p)
    return paths


def write_tiffs(folder: Path, n: int, size: int, bands: int = 13, classes=None, seed: int = 0) -> list:
    "n float32 TIFF tiles (size, size, bands) of reflectance-like values in [0, 1]."
    import tifffile
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        sub = folder / classes[i % len(classes)] if classes else folder
        sub.mkdir(parents=True, exist_ok=True)
        x = (rng.uniform(0, 1, (4, 4, bands)).repeat(size // 4, 0).repeat(size // 4, 1)
             + rng.normal(0, 0.05, (size, size, bands))).astype(np.float32)
        p = sub / f"tile{i:05d}.tif"
        tifffile.imwrite(p, x, photometric="minisblack", planarconfig="contig")
        paths.append(p)
    return paths


def predict_dataset(paths, kind: str, size: int):
    "tf.data pipeline a user would write for `model.predict`: decode, float32, batch, prefetch."
    import tensorflow as tf
    ds = tf.data.Dataset.from_tensor_slices([str(p) for p in paths])
    if kind == "jpeg":
        load = lambda p: tf.cast(tf.io.decode_jpeg(tf.io.read_file(p), channels=3), tf.float32)
    else:
        import tifffile
        def read(p): return tifffile.imread(p.decode()).astype(np.float32)
        def load(p):
            x = tf.numpy_function(read, [p], tf.float32)
            x.set_shape((size, size, 13))
            return x
    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(BATCH).prefetch(tf.data.AUTOTUNE)


def throughput(kind: str, n: int, repeats: int, tmp: Path) -> dict:
    "Median images/s of explain_dataset (steady state) and of model.predict over the same n files."
    import keras
    from channelgradcam.dataset import explain_dataset
    size, C, K = (224, 3, 1000) if kind == "jpeg" else (64, 13, 10)
    folder = tmp / f"{kind}_files"
    paths = write_jpegs(folder, n, size) if kind == "jpeg" else write_tiffs(folder, n, size)
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(size, size, C), classes=K)
    ds = predict_dataset(paths, kind, size)
    model.predict(predict_dataset(paths[:BATCH], kind, size), verbose=0)  # warm-up: builds predict_function
    from channelgradcam.cam import ChannelGradCAM
    from channelgradcam.images import read_image
    engine = ChannelGradCAM(model)  # the explainer alone, on one batch already in memory: what reading may add to
    xb = np.stack([read_image(p, size, C).astype(np.float32) for p in paths[:BATCH]])
    engine.explain(xb)  # trace
    pred, expl, e2e, first, alone = [], [], [], [], []
    for r in range(repeats):
        t0 = time.perf_counter()
        engine.explain(xb)
        alone.append(len(xb) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        out = model.predict(ds, verbose=0)
        pred.append(n / (time.perf_counter() - t0))
        assert out.shape == (n, K)
        stamps = []
        t0 = time.perf_counter()
        res = explain_dataset(model, folder, out=tmp / f"{kind}_out", overwrite=True, batch_size=BATCH, examples=0,
                              progress=False, callback=lambda done, total: stamps.append((time.perf_counter(), done)))
        e2e.append(n / (time.perf_counter() - t0))
        assert len(res.table) == n
        (t1, d1), (t2, d2) = stamps[0], stamps[-1]
        expl.append((d2 - d1) / (t2 - t1) if d2 > d1 else float("nan"))
        first.append(t1 - t0)
    p, e = statistics.median(pred), statistics.median(expl)
    return {"kind": kind, "n": n, "size": size, "C": C, "predict": p, "explain": e, "e2e": statistics.median(e2e),
            "first_batch_s": statistics.median(first), "ratio": e / p, "repeats": repeats, "alone": statistics.median(alone)}


_RSS_CHILD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[4])
import numpy as np, keras
from channelgradcam.dataset import explain_dataset
kind, inputs, out = sys.argv[1:4]
size, C = (32, 3) if kind == "jpeg" else (32, 13)
keras.utils.set_random_seed(0)
inp = keras.Input((size, size, C))
h = keras.layers.Conv2D(16, 3, activation="relu")(inp)
h = keras.layers.Conv2D(32, 3, strides=2, activation="relu")(h)
h = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(h))
model = keras.Model(inp, keras.layers.Activation("softmax")(h))
def hwm():  # peak resident memory of this process image (ru_maxrss would include the parent's, copied at fork)
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
before = hwm()
t0 = time.perf_counter()
res = explain_dataset(model, inputs, class_names=["a", "b"], out=out, batch_size=32, examples=1, progress=False)
print(json.dumps({"n": len(res.table), "ablation": res.ablation is not None, "seconds": time.perf_counter() - t0,
                  "before_mb": before, "peak_mb": hwm()}))
"""


def peak_memory(kind: str, counts, tmp: Path) -> list:
    "Peak RSS of fresh processes explaining the first n files of one labelled folder, for each n in `counts`."
    folder = tmp / f"{kind}_rss"
    n = max(counts)
    paths = write_jpegs(folder, n, 32, classes=["a", "b"]) if kind == "jpeg" else write_tiffs(folder, n, 32, classes=["a", "b"])
    root = str(Path(__file__).resolve().parents[1])
    rows = []
    for c in counts:
        lst = tmp / f"{kind}_{c}.txt"
        lst.write_text("".join(f"{p}\n" for p in paths[:c]))
        res = subprocess.run([sys.executable, "-c", _RSS_CHILD, kind, f"@{lst}", str(tmp / f"{kind}_rss_out_{c}"), root],
                             capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
        if res.returncode != 0: raise RuntimeError(f"memory probe failed:\n{res.stderr[-3000:]}")
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return rows


def run(quick: bool = False) -> str:
    "Run the benchmark; return a markdown section."
    import tensorflow as tf
    n, repeats = (64, 1) if quick else (2000, 3)
    counts = (100, 1000) if quick else (1000, 10000)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        speed = [throughput(k, n, repeats, tmp) for k in ("jpeg", "tiff")]
        mem = {k: peak_memory(k, counts, tmp) for k in ("jpeg", "tiff")}
    gpus = tf.config.list_physical_devices("GPU")
    lines = ["## Data-set explanations (channelgradcam.dataset)", "",
             f"Device: {'GPU ×' + str(len(gpus)) if gpus else 'CPU only'}, {os.cpu_count()} CPU cores, TensorFlow "
             f"{tf.__version__}; batch {BATCH}; {'**quick mode: a smoke run, targets not expected to be met**' if quick else 'full run'}.",
             "", "### Throughput against `model.predict` on the same files", "",
             "| files | model | predict images/s | explain_dataset images/s (steady) | ratio | ChannelGradCAM alone images/s | "
             "explain_dataset ÷ alone | end to end images/s | first batch (trace) s |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for s in speed:
        what = f"{s['n']} {s['size']}-px JPEG" if s["kind"] == "jpeg" else f"{s['n']} 13-band {s['size']}-px float32 TIFF"
        lines.append(f"| {what} | ResNet50 (weights=None, C={s['C']}) | {s['predict']:.1f} | {s['explain']:.1f} | "
                     f"**{s['ratio']:.2f}×** | {s['alone']:.1f} | {s['explain'] / s['alone']:.2f} | {s['e2e']:.1f} | {s['first_batch_s']:.1f} |")
    lines += ["", f"Medians over {repeats} alternated repeat(s). Target: explain ≥ 0.45 × predict (forward + input-gradient "
              "backward pass against a forward pass; reading must not add more). \"ChannelGradCAM alone\" explains one batch "
              "already in memory: explain_dataset ÷ alone near 1 means reading, writing and bookkeeping add nothing."]
    for s in speed:
        lines.append(f"- {s['kind'].upper()}: {s['ratio']:.2f}× → {'PASS' if s['ratio'] >= 0.45 else 'FAIL'}"
                     + (" (quick mode: not the check)" if quick else ""))
    lines += ["", "### Peak memory against the number of images", "",
              "Fresh process per row; 32-px images and a small CNN (see the module docstring), labelled folder "
              "(ablation on), output folder, report with examples.", "",
              "| files | images | after model build MB | peak MB | seconds |", "| --- | ---: | ---: | ---: | ---: |"]
    for k, rows in mem.items():
        for r in rows:
            lines.append(f"| {'32-px JPEG' if k == 'jpeg' else '13-band 32-px float32 TIFF'} | {r['n']:,} | "
                         f"{r['before_mb']:.0f} | {r['peak_mb']:.0f} | {r['seconds']:.1f} |")
    lines.append("")
    for k, rows in mem.items():
        growth = rows[-1]["peak_mb"] / rows[0]["peak_mb"] - 1
        lines.append(f"- {k.upper()}: peak at {rows[-1]['n']:,} vs {rows[0]['n']:,} images: {growth:+.1%} → "
                     f"{'PASS' if growth <= 0.10 else 'FAIL'} (target ≤ +10 %)" + (" (quick mode: not the check)" if quick else ""))
    return "\n".join(lines + [""])


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: few files, one repeat")
    print(run(quick=ap.parse_args().quick))
