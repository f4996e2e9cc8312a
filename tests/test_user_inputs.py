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
