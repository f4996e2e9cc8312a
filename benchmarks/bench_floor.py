"""The floor (what the hardware allows) and the engine's levers, on small multi-band tiles and 224-px RGB images.

Run alone: `python benchmarks/bench_floor.py [--quick]` (prints a markdown section), or call `run(quick=False) -> str`.

Floor, per (model, image size × bands, batch): a bare compiled forward pass; forward + input gradient in TensorFlow
(`GradientTape` inside a `tf.function`, and the same with `jit_compile=True`); the same in JAX (Keras 3 with
`KERAS_BACKEND=jax` in a subprocess: `jax.jit(jax.grad(...))` over `model.stateless_call`) and in PyTorch (CPU
autograd, an equivalent `small_cnn` and torchvision's resnet50, in a subprocess); ChannelGradCAM's time ÷ each.

Levers, against today's engine (ChannelGradCAM, float32, no XLA), with the maps' max relative difference
max|maps − maps_float32| / max|maps_float32| on the same images and weights:
(a) the explainer's compiled step with `jit_compile=True`; (b) the model computed in bfloat16 (Keras
`mixed_bfloat16` policy, float32 variables, maps in float32); (c) the engine step on Keras's JAX backend (the same
weights, `jax.grad` of the target logit w.r.t. the input, maps = ReLU(gradient) × input, which is what ChannelGradCAM
computes at its identity `channel_conv`).

Models: `small_cnn` (+ global pooling and a 10-class logit layer) and ResNet50 (weights=None, 10 classes, logits),
random weights. TensorFlow rows are interleaved (A B C … A B C …) in one process; JAX and torch rows run in their own
processes right after, in the same window. Medians of `repeats` calls after warm-up. A framework that is not installed
gives no rows and a note saying so (jax is in the `bench` extra; torch and torchvision CPU wheels are installed by hand:
`pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu`).
Duration on the 2-core development CPU: --quick about 3 min, full run about 20 min.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
HERE = os.path.dirname(os.path.abspath(__file__))
try:  # run from a checkout without installing the package
    import channelgradcam  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(HERE))

K = 10  # classes
WIDTHS = (16, 16, 32, 32, 64, 64)  # channelgradcam.models's small_cnn


def configs(quick=False):
    "(model, size, bands, batches): 64-px 13-band tiles and 224-px RGB; ResNet50 at 224 px trimmed to batch ≤ 8."
    if quick: return [("small_cnn", 64, 13, (1, 8)), ("resnet50", 64, 13, (1,))]
    return [("small_cnn", 64, 13, (1, 8, 32)), ("small_cnn", 224, 3, (1, 8, 32)),
            ("resnet50", 64, 13, (1, 8, 32)), ("resnet50", 224, 3, (1, 8))]


def keras_model(name, size, bands):
    "The model with logits out (no softmax), built with the current Keras backend."
    import keras
    from channelgradcam.models import small_cnn
    shape = (size, size, bands)
    if name == "resnet50":
        return keras.applications.ResNet50(weights=None, input_shape=shape, classes=K, classifier_activation=None)
    base = small_cnn(shape, WIDTHS)
    x = keras.layers.GlobalAveragePooling2D()(base.output)
    return keras.Model(base.input, keras.layers.Dense(K, name="logits")(x), name="small_cnn_clf")


def median_times(fns, repeats):
    "{name: median seconds}: each fn called once to warm up, then all interleaved round-robin `repeats` times."
    for f in fns.values(): f()
    times = {n: [] for n in fns}
    for _ in range(repeats):
        for n, f in fns.items():
            t = time.perf_counter(); f(); times[n].append(time.perf_counter() - t)
    return {n: statistics.median(v) for n, v in times.items()}


def rel_diff(a, b):
    import numpy as np
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def tf_rows(cfg, repeats, workdir):
    "TensorFlow floor rows and levers (a) and (b) for one config; writes weights and inputs for the JAX process."
    import keras
    import numpy as np
    import tensorflow as tf
    from channelgradcam.cam import ChannelGradCAM
    name, size, bands, batches = cfg
    keras.utils.set_random_seed(0)
    model = keras_model(name, size, bands)
    wpath = os.path.join(workdir, f"{name}_{size}_{bands}.weights.h5")
    model.save_weights(wpath)
    keras.config.set_dtype_policy("mixed_bfloat16")
    try: bf16 = keras_model(name, size, bands)
    finally: keras.config.set_dtype_policy("float32")
    bf16.set_weights(model.get_weights())

    fwd = tf.function(lambda x: model(x, training=False))
    def grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = tf.reduce_sum(tf.reduce_max(model(x, training=False), axis=-1))
        return tape.gradient(s, x)
    grad_fn, grad_xla = tf.function(grad), tf.function(grad, jit_compile=True)
    cam, cam_bf16 = ChannelGradCAM(model), ChannelGradCAM(bf16)
    cam_xla = ChannelGradCAM(model)
    cam_xla._fn = tf.function(lambda x, idx, target_fn=None: cam_xla._step(x, idx, target_fn), jit_compile=True)
    out = []
    for b in batches:
        x = np.random.default_rng(b).random((b, size, size, bands), dtype=np.float32)
        np.save(os.path.join(workdir, f"{name}_{size}_{bands}_{b}.npy"), x)
        xt = tf.constant(x)
        fns = {"tf_forward": lambda: fwd(xt).numpy(), "tf_grad": lambda: grad_fn(xt).numpy(),
               "tf_grad_xla": lambda: grad_xla(xt).numpy(), "cgc": lambda: cam(x),
               "cgc_xla": lambda: cam_xla(x), "cgc_bf16": lambda: cam_bf16(x)}
        t = median_times(fns, repeats)
        m0 = cam(x).maps
        np.save(os.path.join(workdir, f"maps_{name}_{size}_{bands}_{b}.npy"), m0)
        diffs = {"cgc_xla": rel_diff(cam_xla(x).maps, m0), "cgc_bf16": rel_diff(cam_bf16(x).maps, m0)}
        imp0 = cam(x).importance
        diffs["cgc_bf16_importance"] = float(np.abs(cam_bf16(x).importance - imp0).max())
        out.append({"model": name, "size": size, "bands": bands, "batch": b, "times": t, "diffs": diffs})
        print(f"[floor] tf {name} {size}x{bands} b{b}: {t}", file=sys.stderr, flush=True)
    return out


def jax_part(cfgs, repeats, workdir):
    "Run in the KERAS_BACKEND=jax subprocess: JAX floor rows and lever (c), as JSON on stdout."
    import jax
    import jax.numpy as jnp
    import numpy as np
    res = []
    for name, size, bands, batches in cfgs:
        model = keras_model(name, size, bands)
        model.load_weights(os.path.join(workdir, f"{name}_{size}_{bands}.weights.h5"))
        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        def logits(tv, ntv, x): return model.stateless_call(tv, ntv, x, training=False)[0]
        def score(x, tv, ntv): return jnp.sum(jnp.max(logits(tv, ntv, x), axis=-1))
        def target_logit(x, tv, ntv):
            z = logits(tv, ntv, x)
            return jnp.sum(jnp.take_along_axis(z, jax.lax.stop_gradient(jnp.argmax(z, -1))[:, None], axis=-1))
        fwd, grad = jax.jit(logits), jax.jit(jax.grad(score))
        @jax.jit
        def engine(x, tv, ntv):  # ChannelGradCAM's maps at the identity channel_conv: ReLU(∂y_t/∂x) · x
            maps = jax.nn.relu(jax.grad(target_logit)(x, tv, ntv)) * x
            return maps, maps.sum(-1), maps.sum(axis=(1, 2))
        for b in batches:
            x = jnp.asarray(np.load(os.path.join(workdir, f"{name}_{size}_{bands}_{b}.npy")))
            fns = {"jax_forward": lambda: np.asarray(fwd(tv, ntv, x)),
                   "jax_grad": lambda: np.asarray(grad(x, tv, ntv)),
                   "jax_engine": lambda: [np.asarray(r) for r in engine(x, tv, ntv)]}
            t = median_times(fns, repeats)
            m0 = np.load(os.path.join(workdir, f"maps_{name}_{size}_{bands}_{b}.npy"))
            res.append({"model": name, "size": size, "bands": bands, "batch": b, "times": t,
                        "diffs": {"jax_engine": rel_diff(np.asarray(engine(x, tv, ntv)[0]), m0)}})
            print(f"[floor] jax {name} {size}x{bands} b{b}: {t}", file=sys.stderr, flush=True)
    return res


def torch_part(cfgs, repeats, workdir):
    "Run in a subprocess: torch CPU autograd floor rows (equivalent small_cnn; torchvision resnet50), JSON on stdout."
    import numpy as np
    import torch
    from torch import nn
    try: import torchvision
    except ImportError: torchvision = None
    torch.manual_seed(0)
    res = []
    for name, size, bands, batches in cfgs:
        if name == "resnet50":
            if torchvision is None: continue
            net = torchvision.models.resnet50(weights=None, num_classes=K)
            net.conv1 = nn.Conv2d(bands, 64, 7, 2, 3, bias=False)
        else:
            layers, c = [], bands
            for i, w in enumerate(WIDTHS):
                layers += [nn.Conv2d(c, w, 3, padding=1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
                if i % 2 == 1 and i < len(WIDTHS) - 1: layers.append(nn.MaxPool2d(2))
                c = w
            net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, K))
        net.eval()
        for p in net.parameters(): p.requires_grad_(False)
        for b in batches:
            x = torch.from_numpy(np.load(os.path.join(workdir, f"{name}_{size}_{bands}_{b}.npy"))).permute(0, 3, 1, 2).contiguous()
            def forward():
                with torch.inference_mode(): return net(x).numpy()
            def grad():
                xg = x.clone().requires_grad_(True)
                net(xg).max(dim=1).values.sum().backward()
                return xg.grad.numpy()
            t = median_times({"torch_forward": forward, "torch_grad": grad}, repeats)
            res.append({"model": name, "size": size, "bands": bands, "batch": b, "times": t, "diffs": {}})
            print(f"[floor] torch {name} {size}x{bands} b{b}: {t}", file=sys.stderr, flush=True)
    return res


def subprocess_rows(part, cfgs, repeats, workdir):
    "Rows from `part` ('jax' or 'torch') run in its own process; (rows, note) — note says why there are none."
    env = {**os.environ, "KERAS_BACKEND": "jax" if part == "jax" else "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([os.path.dirname(HERE), os.environ.get("PYTHONPATH", "")])}
    mod = {"jax": "jax", "torch": "torch"}[part]
    probe = subprocess.run([sys.executable, "-c", f"import {mod}; print({mod}.__version__)"], capture_output=True, text=True)
    how = ("`pip install -e \".[bench]\"`" if part == "jax" else
           "`pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu`")
    if probe.returncode != 0: return [], f"{mod} not installed ({how}): its rows skipped"
    r = subprocess.run([sys.executable, __file__, "--part", part, "--workdir", workdir, "--repeats", str(repeats),
                        "--configs", json.dumps(cfgs)], capture_output=True, text=True, env=env)
    sys.stderr.write(r.stderr[-2000:] if r.returncode else "")
    if r.returncode != 0: return [], f"{mod} part failed (exit {r.returncode}): {r.stderr.strip().splitlines()[-1:]}"
    note = f"{mod} {probe.stdout.strip()}"
    if part == "torch" and subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True).returncode:
        note += f" (torchvision not installed ({how}): no torch ResNet50 rows)"
    return json.loads(r.stdout.strip().splitlines()[-1]), note


LABELS = {"tf_forward": "TF bare forward (tf.function)", "tf_grad": "TF forward + input gradient (tape in tf.function)",
          "tf_grad_xla": "TF forward + input gradient, jit_compile=True", "jax_forward": "JAX bare forward (jit)",
          "jax_grad": "JAX forward + input gradient (jit(grad))", "torch_forward": "torch bare forward (inference_mode)",
          "torch_grad": "torch forward + input gradient (autograd)"}
LEVERS = {"cgc_xla": "(a) jit_compile=True step", "cgc_bf16": "(b) mixed_bfloat16 model", "jax_engine": "(c) JAX engine step"}


def run(quick=False, repeats=None) -> str:
    repeats = repeats or (3 if quick else 5)
    import tensorflow as tf
    import keras
    cfgs = configs(quick)
    start = time.time()
    with tempfile.TemporaryDirectory() as workdir:
        rows = [r for c in cfgs for r in tf_rows(c, repeats, workdir)]
        notes = []
        for part in ("jax", "torch"):
            extra, note = subprocess_rows(part, cfgs, repeats, workdir)
            notes.append(note)
            for e in extra:
                row = next(r for r in rows if all(r[k] == e[k] for k in ("model", "size", "bands", "batch")))
                row["times"].update(e["times"]); row["diffs"].update(e["diffs"])
    load = os.getloadavg()
    lines = ["## The floor and the levers (`benchmarks/bench_floor.py`)\n",
             f"CPU only, {os.cpu_count()} cores; TensorFlow {tf.__version__}, Keras {keras.__version__}; "
             f"{'; '.join(notes)}. Medians of {repeats} interleaved calls after warm-up; load average at the end "
             f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min). Models with random weights, logits out: "
             f"small_cnn (6 conv-BN-ReLU, 10 classes), ResNet50 (weights=None, 10 classes). "
             f"{'Quick run (not numbers to quote). ' if quick else ''}Wall time {time.time() - start:.0f} s.\n",
             "### Floor: ms per call, and ChannelGradCAM ÷ each\n",
             "| model | input | batch | method | ms/call | ChannelGradCAM ÷ this |", "| --- | --- | ---: | --- | ---: | ---: |"]
    for r in rows:
        t, where = r["times"], f"| {r['model']} | {r['size']} px × {r['bands']} | {r['batch']} |"
        for k, label in LABELS.items():
            v = t.get(k)
            lines.append(f"{where} {label} | " + ("— | — |" if v is None else f"{1e3 * v:.1f} | {t['cgc'] / v:.2f} |"))
        lines.append(f"{where} **ChannelGradCAM (today: float32, no XLA)** | {1e3 * t['cgc']:.1f} | 1.00 |")
    lines += ["", "### Levers: speed-up over today's ChannelGradCAM and the maps' max relative difference from its float32 maps\n",
              "| model | input | batch | lever | ms/call | speed-up (today ÷ lever) | max rel. map difference |",
              "| --- | --- | ---: | --- | ---: | ---: | ---: |"]
    for r in rows:
        t, d = r["times"], r["diffs"]
        for k, label in LEVERS.items():
            if k not in t: continue
            extra = f" (importance: max abs diff {d['cgc_bf16_importance']:.1e})" if k == "cgc_bf16" else ""
            lines.append(f"| {r['model']} | {r['size']} px × {r['bands']} | {r['batch']} | {label} | {1e3 * t[k]:.1f} | "
                         f"{t['cgc'] / t[k]:.2f} | {d[k]:.1e}{extra} |")
    lines.append("")
    print(f"[floor] raw: {json.dumps(rows)}", file=sys.stderr, flush=True)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="two configs, few repeats: a smoke run")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--part", choices=["jax", "torch"], help=argparse.SUPPRESS)
    p.add_argument("--workdir", help=argparse.SUPPRESS)
    p.add_argument("--configs", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.part:
        cfgs = [tuple(c) for c in json.loads(a.configs)]
        print(json.dumps((jax_part if a.part == "jax" else torch_part)(cfgs, a.repeats, a.workdir)))
    else:
        print(run(a.quick, a.repeats))
