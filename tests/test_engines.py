"""explain_dataset on Dask (issue 20): the same tables as one process, resume from part files, summarize, a worker
SIGKILLed mid-run, the driver killed mid-run, and the errors for a bad --engine, a missing extra, an unreachable
--scheduler. The cluster tests use a real `LocalCluster(n_workers=2, threads_per_worker=1)` and are slow."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TABLES = ("explanations.csv", "ablation_images.csv", "summary.csv", "ablation.csv")
KW = dict(class_names="a,b", batch_size=4, examples=1, progress=False)


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2", "MPLBACKEND": "Agg"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    "20 tiles (32 px, 5 bands) in two class folders, a few-layer CNN saved to a file, and its one-process run."
    from channelgradcam.dataset import explain_dataset
    import keras
    tmp = tmp_path_factory.mktemp("engines")
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        (tmp / "tiles" / cls).mkdir(parents=True)
        for k in range(10): np.save(tmp / "tiles" / cls / f"{k}.npy", rng.uniform(0, 1, (32, 32, 5)).astype(np.float32))
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 32, 5))
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(inp))
    keras.Model(inp, keras.layers.Dense(2, activation="softmax")(h)).save(tmp / "cnn.keras")
    explain_dataset(tmp / "cnn.keras", tmp / "tiles", out=tmp / "one", **KW)
    return tmp


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


def _same_tables(a, b):
    for f in TABLES: assert (a / f).read_bytes() == (b / f).read_bytes(), f


def _cli(*args):
    return subprocess.run([sys.executable, "-c", "import sys; from channelgradcam.cli import main; sys.exit(main(sys.argv[1:]))", *map(str, args)], capture_output=True, text=True,
                          env=_env(), cwd=ROOT, timeout=300)


@pytest.mark.slow  # ~18 s: waits for the unreachable scheduler's connect timeout
def test_unknown_engine_and_unreachable_scheduler(data):
    r = _cli("explain", "--model", data / "cnn.keras", data / "tiles", "--out", data / "bad1", "--engine", "spark")
    assert r.returncode == 1 and "--engine 'spark'" in r.stderr and "'dask'" in r.stderr, r.stderr
    assert not (data / "bad1").exists()
    r = _cli("explain", "--model", data / "cnn.keras", data / "tiles", "--out", data / "bad2", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9")
    assert r.returncode == 1 and "Expected a reachable Dask scheduler" in r.stderr and "tcp://127.0.0.1:9" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (data / "bad2").exists()


def test_dask_refuses_figures_and_maps(data):
    "Per-image figures and saved maps are the one-process run's: with --engine dask, one line saying so, nothing written."
    for flag, want in ((["--figures", "2"], "--figures 0"), (["--save-maps"], "no --save-maps")):
        r = _cli("explain", "--model", data / "cnn.keras", data / "tiles", "--out", data / "bad4", "--engine", "dask", *flag)
        assert r.returncode == 1 and f"Expected {want} with --engine 'dask'" in r.stderr, r.stderr  # flags, as typed
        assert "model of type" not in r.stderr, r.stderr  # the model is a file: only what is refused is named
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert not (data / "bad4").exists()


def test_dask_extra_missing(data):
    code = ("import sys; sys.modules['distributed'] = None\n"
            "from channelgradcam.cli import main\n"
            f"sys.exit(main(['explain', '--model', {str(data / 'cnn.keras')!r}, {str(data / 'tiles')!r}, '--out', {str(data / 'bad3')!r}, '--engine', 'dask']))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300)
    assert r.returncode == 1 and 'pip install "channelgradcam[dask]"' in r.stderr, r.stderr
    assert not (data / "bad3").exists()


@pytest.mark.slow
def test_dask_rows_resume_summarize(data, client):
    from channelgradcam.dataset import explain_dataset
    from channelgradcam.merge import summarize
    out = data / "dask"
    explain_dataset(data / "cnn.keras", data / "tiles", out=out, engine="dask", scheduler=client, **KW)
    _same_tables(data / "one", out)
    parts = sorted(p.name for p in (out / "parts").glob("part-*.json"))
    assert parts[:2] == ["part-000000000-000000004.json", "part-000000004-000000008.json"] and len(parts) == 5, parts
    # resume from parts: the merged tables and two parts gone, as if the driver died before merging them
    (out / "parts" / parts[1]).unlink(); (out / "parts" / parts[3]).unlink()
    for f in ("summary.csv", "ablation.csv"): (out / f).unlink()
    heads = {f: len((out / f).read_text().split("\n", 1)[0]) + 1 for f in ("explanations.csv", "ablation_images.csv")}
    (out / "progress.json").write_text(json.dumps({"rows": 0, "bytes": heads}))
    explain_dataset(data / "cnn.keras", data / "tiles", out=out, engine="dask", scheduler=client, resume=True, **KW)
    _same_tables(data / "one", out)
    # summarize: a Dask run and a one-process run give the same summary; a run with other settings is refused by name
    a, b = summarize([out], out=data / "sum_dask"), summarize([data / "one"], out=data / "sum_one")
    assert a.summary.equals(b.summary)
    for f in ("summary.csv", "ablation.csv"): assert (data / "sum_dask" / f).read_bytes() == (data / "sum_one" / f).read_bytes()
    explain_dataset(data / "cnn.keras", data / "tiles", out=data / "s1", shard="1/2", scale=2, **KW)
    explain_dataset(data / "cnn.keras", data / "tiles", out=data / "s2", shard="2/2", engine="dask", scheduler=client, **KW)
    with pytest.raises(ValueError, match="in values, scale"): summarize([data / "s1", data / "s2"])


@pytest.mark.slow
def test_dask_worker_killed(data, client):
    from channelgradcam.dataset import explain_dataset
    pids = list(client.run(os.getpid).values())
    killed = []
    def kill_one(done, total):
        if not killed: os.kill(pids[0], signal.SIGKILL); killed.append(done)
    explain_dataset(data / "cnn.keras", data / "tiles", out=data / "killed", engine="dask", scheduler=client,
                    callback=kill_one, **KW)
    assert killed and killed[0] < 20
    _same_tables(data / "one", data / "killed")


@pytest.mark.slow
def test_dask_driver_killed_then_resume(data):
    out = data / "driver"
    code = ("import os\nfrom channelgradcam.dataset import explain_dataset\n"
            "def die(done, total):\n    if done >= 8: os._exit(9)\n"
            "if __name__ == '__main__':\n"
            f"    explain_dataset({str(data / 'cnn.keras')!r}, {str(data / 'tiles')!r}, out={str(out)!r}, engine='dask', "
            f"workers=2, callback=die, **{KW!r})\n")
    (data / "die.py").write_text(code)
    r = subprocess.run([sys.executable, str(data / "die.py")], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=600)
    assert r.returncode == 9, r.stderr[-3000:]
    assert not (out / "summary.csv").exists() and len(list((out / "parts").glob("part-*.json"))) >= 2
    r = _cli("explain", "--model", data / "cnn.keras", data / "tiles", "--out", out, "--classes", "a,b", "--batch-size", "4",
             "--engine", "dask", "--workers", "2", "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    _same_tables(data / "one", out)


@pytest.mark.slow
def test_ray_map_batches(data):
    "The same predictor as a Ray Data actor class (pip install \"channelgradcam[ray]\"): rows equal explain_dataset's."
    ray = pytest.importorskip("ray")
    import json as js
    from channelgradcam.tables import csv_rows, explanation_columns, read_csv_table
    from channelgradcam.engines import ChannelGradCAMPredictor, predictor_settings
    run = js.loads((data / "one" / "run.json").read_text())
    one = read_csv_table(data / "one" / "explanations.csv", explanation_columns([f"ch{k}" for k in range(1, 6)]))
    settings = predictor_settings(["a", "b"], [f"ch{k}" for k in range(1, 6)], 5, (32, 32),
                                  value_policy={"model_range": None, "scale": None}, baselines=["mean", "zero"],
                                  dataset_mean=run["dataset_mean"], batch_size=4)
    items = [{"path": p, "label": ["a", "b"].index(y)} for p, y in zip(one["path"], one["label"])]
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}})
    try:
        ds = ray.data.from_items(items).map_batches(
            ChannelGradCAMPredictor, fn_constructor_kwargs={"model": str(data / "cnn.keras"), "settings": settings},
            batch_size=4, concurrency=2, batch_format="numpy")
        got = sorted(ds.take_all(), key=lambda r: list(one["path"]).index(str(r["path"])))
    finally:
        ray.shutdown()
    assert [str(r["path"]) for r in got] == list(one["path"])
    cols = explanation_columns([f"ch{k}" for k in range(1, 6)])
    text = csv_rows([[r[c].item() if hasattr(r[c], "item") else r[c] for c in cols] for r in got])
    want = (data / "one" / "explanations.csv").read_text().split("\n", 1)[1]
    assert [l for l in text.splitlines() if l not in want.splitlines()] == [], [l for l in want.splitlines() if l not in text.splitlines()]  # byte for byte


def _settings(data):
    "The predictor settings of the one-process run in `data / 'one'` (as a user builds them from its run.json)."
    from channelgradcam.engines import predictor_settings
    run = json.loads((data / "one" / "run.json").read_text())
    return predictor_settings(["a", "b"], [f"ch{k}" for k in range(1, 6)], 5, (32, 32),
                              value_policy={"model_range": None, "scale": None}, baselines=["mean", "zero"],
                              dataset_mean=run["dataset_mean"], batch_size=4)


def test_beam_handler_without_beam(monkeypatch):
    "Asking for the Beam handler where Beam is not installed: one line saying how to install it."
    for name in [m for m in sys.modules if m.split(".")[0] == "apache_beam"] + ["apache_beam"]:
        monkeypatch.setitem(sys.modules, name, None)
    from channelgradcam import engines
    with pytest.raises(ImportError, match=r'pip install "channelgradcam\[beam\]"'): engines._beam_handler_class()


@pytest.mark.slow
def test_beam_run_inference(data):
    """The same predictor as a Beam RunInference model handler on the DirectRunner (pip install "channelgradcam[beam]"):
    the explanations.csv and ablation_images.csv rows equal explain_dataset's, byte for byte."""
    beam = pytest.importorskip("apache_beam", reason='Apache Beam is its own extra (pip install "channelgradcam[beam]"): '
                               "apache-beam 2.78 needs protobuf<7 and pyarrow<26, so it is not in dev")
    from apache_beam.ml.inference.base import RunInference
    from channelgradcam.tables import ablation_columns, csv_rows, explanation_columns
    from channelgradcam.engines import ChannelGradCAMHandler
    names = [f"ch{k}" for k in range(1, 6)]
    lines = lambda f: (data / "one" / f).read_text().split("\n", 1)[1].splitlines()
    one = lines("explanations.csv")
    items = [(str(p), ["a", "b"].index(p.parent.name)) for p in sorted((data / "tiles").rglob("*.npy"))]
    with beam.Pipeline("DirectRunner") as p:
        (p | beam.Create(items) | RunInference(ChannelGradCAMHandler(str(data / "cnn.keras"), _settings(data)))
           | beam.Map(lambda r: json.dumps(r.inference)) | beam.io.WriteToText(str(data / "beam" / "rows")))
    got = [json.loads(line) for f in sorted((data / "beam").glob("rows*")) for line in f.read_text().splitlines()]
    assert sorted(r["path"] for r in got) == sorted(p for p, _ in items) and len(got) == len(one)
    assert sorted(csv_rows([[r[c] for c in explanation_columns(names)] for r in got]).splitlines()) == sorted(one)
    rest = ablation_columns(names, ["mean", "zero"])[4:]
    abl = csv_rows([[r["path"], r["label"], r["correct"], r["label_probability"], *[r[c] for c in rest]] for r in got])
    assert sorted(abl.splitlines()) == sorted(lines("ablation_images.csv"))


def _cube(data):
    "The 20 tiles of `data` as one DataArray[tile, y, x, band] (tile: the file's path), and their paths and labels."
    xr = pytest.importorskip("xarray")
    paths = [str(p) for p in sorted((data / "tiles").rglob("*.npy"))]
    cube = xr.DataArray(np.stack([np.load(p) for p in paths]), dims=("tile", "y", "x", "band"), coords={"tile": paths})
    return cube, paths, [["a", "b"].index(Path(p).parent.name) for p in paths]


def _predictor_rows(data, paths, labels):
    from channelgradcam.engines import ChannelGradCAMPredictor
    return ChannelGradCAMPredictor(str(data / "cnn.keras"), _settings(data)).predict(paths, labels)[0]


def _same_as_rows(ds, rows):
    "explain_tiles' Dataset holds the predictor's explanations.csv rows (path, predicted, probability, target, importance, degenerate)."
    from channelgradcam.tables import csv_rows, round6
    got = [[t, "", "ab"[p], round6(pr), "ab"[tg], *map(round6, imp), bool(dg)] for t, p, pr, tg, imp, dg in zip(
        ds.tile.values, ds.predicted.values, ds.probability.values, ds.target.values, ds.importance.values, ds.degenerate.values)]
    assert csv_rows(got) == csv_rows([[r[0], "", *r[2:]] for r in rows])


def test_explain_tiles_rows(data):
    "A DataArray of the tiles, explained in blocks of 4 (Dask's threads here): the predictor's rows on the same pixels."
    from channelgradcam.engines import explain_tiles
    cube, paths, labels = _cube(data)
    ds = explain_tiles(cube, data / "cnn.keras", batch_size=4)
    assert ds.importance.dims == ("tile", "band") and list(ds.band.values) == [f"ch{k}" for k in range(1, 6)]
    assert ds.importance.data.chunks == ((4,) * 5, (5,))  # lazy: one block per 4 tiles
    _same_as_rows(ds.compute(), _predictor_rows(data, paths, labels))


def test_explain_tiles_builds_without_tensorflow(data):
    "Building the Dataset runs nothing (map_blocks has meta=): TensorFlow is not even imported in the driver."
    pytest.importorskip("xarray")
    code = ("import sys, numpy as np, xarray as xr\nfrom channelgradcam.engines import explain_tiles\n"
            "cube = xr.DataArray(np.zeros((6, 32, 32, 5), np.float32), dims=('tile', 'y', 'x', 'band'))\n"
            f"ds = explain_tiles(cube, {str(data / 'cnn.keras')!r}, batch_size=4)\n"
            "print(ds.importance.shape, 'tensorflow' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300)
    assert r.returncode == 0 and r.stdout.split() == ["(6,", "5)", "False"], r.stderr[-3000:]


def test_explain_tiles_bad_input(data):
    from channelgradcam.engines import explain_tiles
    cube, _, _ = _cube(data)
    with pytest.raises(ValueError, match=r"Expected an xarray.DataArray with dims \('tile', 'y', 'x', 'band'\). Received: ndarray"):
        explain_tiles(cube.values, data / "cnn.keras")
    with pytest.raises(ValueError, match=r"Received: DataArray with dims \('tile', 'band', 'y', 'x'\)"):
        explain_tiles(cube.transpose("tile", "band", "y", "x"), data / "cnn.keras")
    with pytest.raises(ValueError, match="scale= / input_range= for integer ones. Received: tiles of dtype uint16"):
        explain_tiles((cube * 10000).astype(np.uint16), data / "cnn.keras")


@pytest.mark.slow
def test_explain_tiles_on_cluster(data, client):
    "The same Dataset computed on a LocalCluster's two workers (each builds the explainer once from the model file)."
    from channelgradcam.engines import explain_tiles
    cube, paths, labels = _cube(data)
    ds = client.compute(explain_tiles(cube, data / "cnn.keras", batch_size=4)).result()
    _same_as_rows(ds, _predictor_rows(data, paths, labels))


@pytest.mark.slow
def test_dask_queue_bounded(data, client):
    "20 one-image tasks on 2 worker threads: at most 2 per thread are submitted ahead (not all 20 at once); rows all there."
    from channelgradcam.dataset import explain_dataset
    seen = []
    def count(done, total): seen.append(client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)))
    run = explain_dataset(data / "cnn.keras", data / "tiles", out=data / "queue", engine="dask", scheduler=client,
                          callback=count, **{**KW, "batch_size": 1})
    assert len(seen) == 20 and max(seen) <= 6, seen
    assert sorted(run.table["path"]) == sorted(str(p) for p in (data / "tiles").rglob("*.npy"))
