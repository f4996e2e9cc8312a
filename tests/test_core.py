"""TensorFlow quieted once (issue 19): every entry point's first TensorFlow import writes nothing to stderr, and
`import channelgradcam` alone imports no TensorFlow. Each check runs in a fresh interpreter, as a user's would."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _stderr_of(code: str) -> str:
    "stderr of a fresh `python -c code` run from the checkout, without the variables that change TensorFlow's logging."
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "CHANNELGRADCAM_DEBUG")}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr
    return r.stderr


@pytest.mark.parametrize("code", [
    "import channelgradcam.cam, tensorflow as tf; tf.zeros(1)",  # the explainer, then an op (device discovery)
    "import channelgradcam.surgery, keras; keras.layers.Dense(2)(keras.ops.zeros((1, 3)))",  # TensorFlow through keras
    "from channelgradcam.images import to_float; import keras; keras.ops.zeros(1)",  # a module that never imports it
])
def test_first_tensorflow_import_is_quiet(code):
    assert _stderr_of(code) == ""


def test_cli_is_quiet():
    assert _stderr_of("import sys; from channelgradcam.cli import main; sys.exit(main(['--help']))") == ""
    # a command that imports TensorFlow and then fails: its one error line is all stderr holds
    err = _stderr_of("import sys; from channelgradcam.cli import main\n"
                     "assert main(['explain', '--model', 'missing.keras', 'x.png', '--out', 'y.png']) == 1\n"
                     "assert 'tensorflow' in sys.modules")
    assert err.startswith("channelgradcam explain: error: Expected a .keras") and err.count("\n") == 1, err


def test_package_import_is_light():
    _stderr_of("import sys, channelgradcam; assert 'tensorflow' not in sys.modules, 'TensorFlow imported'")


def test_tensorflow_is_noisy_without_the_package():
    "The control: the same import without the package logs on this machine (else the tests above prove nothing)."
    assert _stderr_of("import tensorflow as tf; tf.zeros(1)") != ""
