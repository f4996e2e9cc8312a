"""`precision=` through the data-set path and the CLI: bfloat16 compute close to float32, recorded with the run, and
a bad value refused before anything is written."""
import json

import numpy as np
import pandas as pd
import pytest

import channelgradcam  # noqa: F401 (its core quiets TensorFlow's first import)
import keras


@pytest.fixture
def folder(tmp_path):
    "(model file, a folder of 8-bit PNG crops of scikit-image's photos in two class sub-folders)."
    from PIL import Image
    from skimage import data
    from channelgradcam.models import build_model
    keras.utils.set_random_seed(0)
    build_model(2, (32, 32, 3), backbone="small_cnn", weights=None).save(tmp_path / "m.keras")
    for cls, photo in (("cat", data.chelsea()), ("coffee", data.coffee())):
        (tmp_path / "set" / cls).mkdir(parents=True)
        for j in range(8):
            Image.fromarray(photo[20 * j:20 * j + 32, 30 * j:30 * j + 32]).save(tmp_path / "set" / cls / f"{j}.png")
    return tmp_path / "m.keras", tmp_path / "set"


def test_bfloat16_dataset_run_is_close_and_recorded(tmp_path, folder, capsys):
    from channelgradcam.cli import main
    model, images = folder
    common = ["explain", str(images), "--model", str(model), "--classes", "cat,coffee", "--batch-size", "8"]
    assert main([*common, "--out", str(tmp_path / "f32")]) == 0
    assert main([*common, "--out", str(tmp_path / "bf16"), "--precision", "bfloat16"]) == 0
    assert json.loads((tmp_path / "bf16" / "run.json").read_text())["settings"]["precision"] == "bfloat16"
    a, b = (pd.read_csv(tmp_path / d / "explanations.csv") for d in ("f32", "bf16"))
    cols = [c for c in a.columns if c.startswith("importance_")]
    assert np.abs(a[cols].to_numpy() - b[cols].to_numpy()).max() < 0.05  # measured here: 0.02 (untrained small_cnn)
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "bf16"), "--resume"]) == 1  # float32 cannot continue a bfloat16 run
    assert "--precision 'float32' (the run has 'bfloat16')" in capsys.readouterr().err


def test_bad_precision_writes_nothing(tmp_path, folder):
    from channelgradcam.dataset import explain_dataset
    model, images = folder
    with pytest.raises(ValueError, match="Received: precision='float16'"):
        explain_dataset(str(model), images, out=tmp_path / "out", precision="float16", progress=False)
    assert not (tmp_path / "out").exists()
