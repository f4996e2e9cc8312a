"""Inputs as users bring them: TIFFs saved with tifffile's defaults, models with several outputs, subclassed models
and input ranges that are not a division. Each test builds its input the way a user would (their library's
defaults), not shaped to this package's code."""
import numpy as np
import pytest
import tifffile

from channelgradcam.core import quiet_tensorflow
quiet_tensorflow()
import keras  # noqa: E402

from channelgradcam.cam import ChannelGradCAM  # noqa: E402
from channelgradcam.images import read_image  # noqa: E402
from channelgradcam.surgery import input_range_layer  # noqa: E402


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
        explain_dataset(str(model), str(folder), classes="cold,warm", out=resumed, batch_size=4, progress=False, callback=stop)
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
    res = explain_dataset(str(model), str(folder), classes="cold,warm", out=tmp_path / "python", batch_size=4, progress=False)
    assert _tables(tmp_path / "python") == tables
    import pandas as pd
    pd.testing.assert_frame_equal(res.table.fillna(""), pd.read_csv(whole / "explanations.csv", keep_default_na=False),
                                  check_dtype=False)
