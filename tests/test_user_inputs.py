"""Inputs as users bring them: TIFFs saved with tifffile's defaults, models with several outputs, subclassed models
and input ranges that are not a division. Each test builds its input the way a user would (their library's
defaults), not shaped to this package's code."""
import numpy as np
import pytest
import tifffile

import channelgradcam  # noqa: F401 (its core quiets TensorFlow's first import)
import keras

from channelgradcam.cam import ChannelGradCAM
from channelgradcam.images import read_image
from channelgradcam.surgery import input_range_layer


def small_cnn(channels, classes=2, seed=0, size=32):
    "A small CNN on (size, size, channels) pixels in [0, 1], with seeded weights."
    keras.utils.set_random_seed(seed)
    inp = keras.Input((size, size, channels))
    x = input_range_layer((0, 1))(inp)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(classes, activation="softmax")(x))


def tiff_layouts(hwc):
    "{name: (kwargs of tifffile.imwrite, array)}: the ways people save the (H, W, C) array `hwc`."
    chw = np.ascontiguousarray(hwc.transpose(2, 0, 1))
    out = {"plain_hwc": ({}, hwc), "plain_chw": ({}, chw),
           "minisblack_contig": (dict(photometric="minisblack", planarconfig="contig"), hwc),
           "minisblack_separate": (dict(photometric="minisblack", planarconfig="separate"), chw),
           "ome_chw": (dict(ome=True), chw), "ome_hwc": (dict(ome=True), hwc),
           "geotiff_like": (dict(photometric="minisblack", planarconfig="separate", tile=(16, 16), compression="zlib"), chw)}
    if hwc.shape[-1] == 1:  # one band: no planar configuration to choose; users write (H, W)
        out.update({k: ({**kw, "planarconfig": None}, hwc[..., 0]) for k, (kw, a) in out.items() if "planarconfig" in kw})
        out["plain_hw"] = ({}, hwc[..., 0])
    if hwc.dtype in (np.uint8, np.uint16, np.float32):  # ImageJ stores only these
        out["imagej_cyx"] = (dict(imagej=True, metadata={"axes": "CYX"}), chw)
        out["imagej_hwc"] = (dict(imagej=True), hwc)
    return out


@pytest.mark.parametrize("channels", [1, 3, 5])
def test_tiff_layouts_give_the_same_explanation(tmp_path, channels):
    "Known answer: every way of saving the same uint16 pixels explains exactly as the array itself does."
    rng = np.random.default_rng(channels)
    hwc = rng.integers(0, 65535, (32, 32, channels), endpoint=True).astype(np.uint16)
    explainer = ChannelGradCAM(small_cnn(channels))
    want = explainer.explain(hwc)
    for name, (kw, arr) in tiff_layouts(hwc).items():
        f = tmp_path / f"{name}.tif"
        tifffile.imwrite(f, arr, **kw)
        got = explainer.explain(read_image(f, channels=channels))
        np.testing.assert_array_equal(got.maps, want.maps, err_msg=name)
        np.testing.assert_array_equal(got.outputs, want.outputs, err_msg=name)


def onet_like(size=24):
    "A 3-output face model as MTCNN's ONet is built: box (B,4), landmarks (B,10), face probability (B,2); inputs x/127.5-1."
    keras.utils.set_random_seed(1)
    inp = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu")(inp)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(16, activation="relu")(x)
    return keras.Model(inp, [keras.layers.Dense(4, name="box")(x), keras.layers.Dense(10, name="landmarks")(x),
                             keras.layers.Dense(2, activation="softmax", name="prob")(x)])


@pytest.fixture
def faces(tmp_path):
    "(model file, folder of 8-bit PNG crops in class sub-folders, the model): crops of scikit-image's photos, as a user saves them."
    from PIL import Image
    from skimage import data
    model = onet_like()
    model.save(tmp_path / "onet.keras")
    photo = data.astronaut()
    for k, cls in enumerate(["face", "other"]):
        (tmp_path / "crops" / cls).mkdir(parents=True)
        for j in range(3):
            y, x = 40 + 90 * k + 20 * j, 150 + 30 * j
            Image.fromarray(photo[y:y + 24, x:x + 24]).save(tmp_path / "crops" / cls / f"{cls}{j}.png")
    return tmp_path / "onet.keras", tmp_path / "crops", model


def test_multi_output_model_and_input_range_from_the_cli(tmp_path, faces, capsys):
    "A 3-output model fed x/127.5-1: refused without --output (listing the outputs); by name and by index the same table."
    import pandas as pd
    from PIL import Image
    from channelgradcam import cli
    model_file, crops, model = faces
    assert cli.main(["explain", "--model", str(model_file), str(crops), "--out", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    for want in ["--output", "'box' (None, 4)", "'landmarks' (None, 10)", "'prob' (None, 2)"]: assert want in err, err
    assert not (tmp_path / "none").exists()
    runs = {"name": ["--output", "prob", "--input-range", "-1,1"], "index": ["--output", "2", "--input-range=-1,1"]}
    runs = {k: [*v, "--classes", "face,other"] for k, v in runs.items()}  # the folders name the classes: labels, ablation
    tables = {}
    for k, flags in runs.items():
        assert cli.main(["explain", "--model", str(model_file), str(crops), "--out", str(tmp_path / k), *flags]) == 0
        tables[k] = pd.read_csv(tmp_path / k / "explanations.csv")
        assert "[-1, 1] (input_range)" in (tmp_path / k / "report.md").read_text()
    pd.testing.assert_frame_equal(tables["name"], tables["index"])
    x = np.stack([np.asarray(Image.open(crops / p.split("crops/")[-1]), np.float32) for p in tables["name"]["path"]])
    want = model.predict(x / 127.5 - 1, verbose=0)[2]
    np.testing.assert_allclose(tables["name"]["probability"], want.max(1), rtol=1e-5)
    assert (tmp_path / "name" / "ablation.csv").exists()


def test_input_range_bad_values(tmp_path, faces, capsys):
    "Bad --input-range values and --input-range with --scale: one line naming the flag, nothing written."
    from channelgradcam import cli
    model_file, crops, _ = faces
    for flags, want in [(["--input-range", "1,-1"], "--input-range '1,-1'"), (["--input-range", "-1"], "--input-range '-1'"),
                        (["--input-range", "-1,1", "--scale", "255"], "not both")]:
        out = tmp_path / "out"
        assert cli.main(["explain", "--model", str(model_file), str(crops), "--out", str(out), "--output", "prob", *flags]) == 1
        err = capsys.readouterr().err
        assert want in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()


def test_explorer_takes_output_and_input_range(faces):
    "The explorer explains the chosen output of a multi-output model on the mapped pixels."
    from channelgradcam.explore import Explorer
    model_file, crops, model = faces
    with pytest.raises(ValueError, match="output="): Explorer(model, crops)
    ex = Explorer(model_file, crops, output="prob", input_range=(-1, 1))
    assert ex.K == 2 and "(input_range)" in ex.values
    np.testing.assert_allclose(ex.image(0), np.asarray(read_image(ex.paths[0]), np.float32) / 127.5 - 1, atol=1e-6)


class SubclassedONet(keras.Model):
    "ONet as MTCNN's loader builds it: a keras.Model subclass wiring its layers in `call`, no keras.Input; box, landmarks, prob."
    def __init__(self, **kw):
        super().__init__(**kw)
        self.conv1 = keras.layers.Conv2D(8, 3, activation="relu")
        self.pool = keras.layers.MaxPooling2D()
        self.conv2 = keras.layers.Conv2D(8, 3, activation="relu")
        self.flatten = keras.layers.Flatten()
        self.dense = keras.layers.Dense(16, activation="relu")
        self.box, self.landmarks = keras.layers.Dense(4), keras.layers.Dense(10)
        self.prob = keras.layers.Dense(2, activation="softmax")

    def call(self, x):
        h = self.dense(self.flatten(self.conv2(self.pool(self.conv1(x)))))
        return self.box(h), self.landmarks(h), self.prob(h)


def test_subclassed_model_equals_a_float64_tape():
    "A subclassed 3-output model, built by calling it on data: ChannelGradCAM's maps equal a float64 GradientTape's."
    import tensorflow as tf
    from skimage import data
    keras.utils.set_random_seed(2)
    photo = data.astronaut()
    x = np.stack([photo[y:y + 24, 200:224] for y in (40, 90, 140)]).astype(np.float32) / 255
    net = SubclassedONet()
    net(x)  # built by a call on data, as a loader leaves it
    with pytest.warns(UserWarning, match="logit"):  # its softmax sits inside the opaque call: the probability is explained
        res = ChannelGradCAM(net, output=2).explain(x, targets=1)
    net64 = SubclassedONet(dtype="float64")
    net64(x.astype(np.float64))
    net64.set_weights([w.astype(np.float64) for w in net.get_weights()])
    x64 = tf.constant(x, tf.float64)
    with tf.GradientTape() as tape:
        tape.watch(x64)
        p = net64(x64)[2][:, 1]
    g = tape.gradient(p, x64).numpy()
    want = np.maximum(np.maximum(g, 0) * x, 0)  # LayerCAM at the identity: ReLU(ReLU(∂p/∂x) · x), per channel
    np.testing.assert_allclose(res.outputs, net64(x64)[2].numpy(), rtol=1e-5)
    assert np.abs(res.maps - want).max() <= 1e-5 * want.max(), np.abs(res.maps - want).max() / want.max()
    got = ChannelGradCAM(net, output=2, score="prob", input_shape=(24, 24, 3)).explain(x, targets=1)
    np.testing.assert_array_equal(got.maps, res.maps)


def test_subclassed_model_needs_what_it_lacks():
    "Never called: input_shape= is asked for; LayerCAM at an inner layer: the error names what is needed."
    from channelgradcam.cam import LayerCAM
    with pytest.raises(ValueError, match=r"Expected input_shape=\(H, W, C\)"): ChannelGradCAM(SubclassedONet(), output=2)
    net = SubclassedONet()
    net(np.zeros((1, 24, 24, 3), np.float32))
    with pytest.raises(ValueError, match="layer-level methods .* rebuilt on a keras.Input"): LayerCAM(net, "conv2d", output=2)
    from channelgradcam.targets import select_output
    with pytest.raises(ValueError, match=r"ChannelGradCAM\(model, input_shape=\(H, W, C\)\)"): select_output(net, 2)


def test_several_images_load_the_model_once(tmp_path, faces, capsys, monkeypatch):
    "`explain a.png b.png c.png --out fig.png`: one figure and one JSON line per image, the model loaded once for all."
    import json
    from channelgradcam import cli, models
    model_file, crops, _ = faces
    images = sorted(str(p) for p in crops.rglob("*.png"))[:3]
    loads = []
    real = models.load_model
    monkeypatch.setattr(models, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    flags = ["--output", "prob", "--input-range=-1,1"]
    assert cli.main(["explain", "--model", str(model_file), *images, "--out", str(tmp_path / "fig.png"), *flags]) == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert [l["image"] for l in lines] == images and len(loads) == 1, (len(lines), len(loads))
    assert sorted(p.name for p in tmp_path.glob("fig-*.png")) == sorted(f"fig-{p.rsplit('/', 1)[-1][:-4]}.png" for p in images)


def test_resume_knows_the_output(tmp_path, faces):
    "A run of a multi-output model resumes with the same output (by name or index) and refuses another one."
    from channelgradcam.dataset import explain_dataset
    model_file, crops, _ = faces
    out = tmp_path / "run"
    first = explain_dataset(model_file, crops, output="prob", input_range=(-1, 1), out=out, ablation=False, progress=False)
    again = explain_dataset(model_file, crops, output=2, input_range=(-1, 1), out=out, resume=True, ablation=False, progress=False)
    assert list(again.table["path"]) == list(first.table["path"])
    with pytest.raises(ValueError, match="output='landmarks' \\(the run has 'prob'\\)"):
        explain_dataset(model_file, crops, output="landmarks", input_range=(-1, 1), out=out, resume=True, ablation=False,
                        progress=False)


def test_subclassed_model_explains_a_folder(faces):
    "explain_dataset on a subclassed 3-output model built by a call on data: the chosen output's probabilities."
    from PIL import Image
    from channelgradcam.dataset import explain_dataset
    _, crops, _ = faces
    net = SubclassedONet()
    net(np.zeros((1, 24, 24, 3), np.float32))
    with pytest.warns(UserWarning, match="logit"):
        res = explain_dataset(net, crops, output=2, input_range=(-1, 1), ablation=False, progress=False)
    x = np.stack([np.asarray(Image.open(p), np.float32) for p in res.table["path"]]) / 127.5 - 1
    np.testing.assert_allclose(res.table["probability"], np.asarray(net(x)[2]).max(1), rtol=1e-5)


def test_kaggle_named_folder_is_labelled_by_explain(tmp_path):
    "A folder named as Kaggle's cats-vs-dogs (cat.1.jpg, dog.1.jpg): `explain` labels it as `train` does, so it runs the ablation."
    import pandas as pd
    from PIL import Image
    from skimage import data
    from channelgradcam.cli import main
    from channelgradcam.data import index_images
    folder = tmp_path / "train"
    folder.mkdir()
    for cls, photo in (("cat", data.chelsea()), ("dog", data.coffee())):
        for j in range(3):
            Image.fromarray(photo[40 * j:40 * j + 64, 60 * j:60 * j + 64]).save(folder / f"{cls}.{j + 1}.jpg")
    small_cnn(3).save(tmp_path / "model.keras")
    out = tmp_path / "out"
    assert main(["explain", str(folder), "--model", str(tmp_path / "model.keras"), "--classes", "cat,dog", "--out", str(out)]) == 0
    table = pd.read_csv(out / "explanations.csv", keep_default_na=False)
    want = index_images(folder)  # the labels `train` reads from the same folder
    test_labels = dict(zip(map(str, want.paths), (want.classes[k] for k in want.labels)))
    assert list(table["label"]) == [test_labels[p] for p in table["path"]]
    assert (out / "ablation.csv").is_file()


TABLES = ("explanations.csv", "summary.csv", "ablation.csv", "ablation_images.csv", "confusion.csv")


def _tiff_folder(root, channels=5, per_layout=1):
    "A data set as users save it: two class sub-folders, each holding every TIFF layout of `tiff_layouts` (uint16)."
    rng = np.random.default_rng(1)
    for cls, bright in (("cold", 0.3), ("warm", 0.7)):  # the classes differ in brightness, so the model may tell them apart
        (root / cls).mkdir(parents=True)
        for k in range(per_layout):
            hwc = (rng.uniform(0, 1, (32, 32, channels)) * bright * 65535).astype(np.uint16)
            for name, (kw, arr) in tiff_layouts(hwc).items():
                tifffile.imwrite(root / cls / f"{name}-{k}.tif", arr, **kw)
    return root


def _tables(folder):
    return {name: (folder / name).read_text() for name in TABLES}


def test_tiff_folder_end_to_end(tmp_path, capsys):
    """A folder mixing the TIFF layouts users write (plain imwrite HWC/CHW, minisblack contig/separate, ImageJ, OME,
    GeoTIFF-like) through `channelgradcam explain`: every table, the report and the ablation; an interrupted run
    continued with --resume, --shard 1/2 + 2/2 merged by `summarize`, and the Python `explain_dataset` all give the
    single run's tables."""
    from channelgradcam.cli import main
    from channelgradcam.dataset import explain_dataset
    folder = _tiff_folder(tmp_path / "bands")
    n = len(list(folder.rglob("*.tif")))
    model = tmp_path / "model.keras"
    small_cnn(5).save(model)
    common = ["--model", str(model), "--classes", "cold,warm", "--batch-size", "4"]

    whole = tmp_path / "whole"
    assert main(["explain", str(folder), *common, "--out", str(whole)]) == 0
    for f in (*TABLES, "report.md", "report.html", "summary.png", "run.json"):
        assert (whole / f).is_file(), f
    tables = _tables(whole)
    assert len(tables["explanations.csv"].splitlines()) == n + 1  # header + every image: no layout refused
    assert len(tables["ablation_images.csv"].splitlines()) == n + 1  # every image is labelled by its class folder
    assert "mean" in tables["ablation.csv"] and "zero" in tables["ablation.csv"]
    report = (whole / "report.md").read_text()
    assert f"{n} images" in report and "blation" in report

    # an interrupted run (Ctrl-C after the first batch), then `explain --resume` finishes it
    resumed = tmp_path / "resumed"
    def stop(done, total): raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        explain_dataset(str(model), str(folder), class_names="cold,warm", out=resumed, batch_size=4, progress=False, callback=stop)
    assert len((resumed / "explanations.csv").read_text().splitlines()) == 4 + 1  # one batch committed, not the rest
    assert main(["explain", str(folder), *common, "--out", str(resumed), "--resume"]) == 0
    assert "resumed after 4" in capsys.readouterr().err
    assert _tables(resumed) == tables

    # two shards merged by `summarize`
    parts = [tmp_path / f"part{i}" for i in (1, 2)]
    for i, d in enumerate(parts, 1):
        assert main(["explain", str(folder), *common, "--out", str(d), "--shard", f"{i}/2"]) == 0
    merged = tmp_path / "merged"
    assert main(["summarize", *map(str, parts), "--out", str(merged)]) == 0
    assert _tables(merged) == tables

    # the Python API on the same folder: the same tables, in memory and on disk
    res = explain_dataset(str(model), str(folder), class_names="cold,warm", out=tmp_path / "python", batch_size=4, progress=False)
    assert _tables(tmp_path / "python") == tables
    import pandas as pd
    pd.testing.assert_frame_equal(res.table.fillna(""), pd.read_csv(whole / "explanations.csv", keep_default_na=False),
                                  check_dtype=False)
