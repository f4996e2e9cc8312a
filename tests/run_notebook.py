"""Execute one notebook as Jupyter's "Run all" does: every code cell top to bottom in a fresh kernel, `#| hide`
cells included and nbdev not needed, in the notebook's folder; exit 1 (with the failing cell's traceback on
stderr) if a cell fails. One nbdev-test rule is kept: a cell carrying a test flag of pyproject.toml's `tst_flags`
(`#| slow`) runs only when that flag is named. A `#| eval: false` cell is refused: Run all runs it and nbdev-test
skips it, so the two would test different notebooks.

The kernel gets the environment this script has, less what a user's shell would not set (`MPLBACKEND`, `TF_*`),
so the package quiets TensorFlow and draws figures inline as it does for a user. The dev tools the test environment
has beside the package (nbdev, pytest) are made unimportable in that kernel, as they are in a user's.

Usage: python tests/run_notebook.py NOTEBOOK [FLAG ...]
"""
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbdev.config import get_config
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
# What TensorFlow's C++ core prints at start-up (CPU features, CUDA probing) and absl's pre-init notice: none of it
# may reach what a user sees (the package imports TensorFlow through core.quiet_tensorflow), in a notebook run here
# or in a saved output (tests/test_notebooks.py), which the docs site shows.
TF_NOISE = ("oneDNN custom operations", "cuInit", "cudart_stub", "cuda_dnn", "cpu_feature_guard", "absl::",
            "This TensorFlow binary is optimized", "Could not find cuda drivers", "computation placer", "TF-TRT")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks
_WITHOUT_DEV_TOOLS = 'import sys; sys.modules.update(dict.fromkeys(("nbdev", "pytest")))  # ImportError, as for a user'
_DIRECTIVE = re.compile(r"^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$")


def directives(source):
    "The nbdev directives (`#| name` or `#| name: value` lines) heading a cell, as {name: value}."
    out = {}
    for line in source.splitlines():
        if not line.strip(): continue
        m = _DIRECTIVE.match(line)
        if not m: break
        out[m[1]] = m[2]
    return out


def test_flags():
    "pyproject.toml's [tool.nbdev] tst_flags (the flags whose cells run only when named)."
    flags = get_config(ROOT).tst_flags or ""
    return flags.split() if isinstance(flags, str) else list(flags)


def run_all(nb_path, force_flags=(), timeout=900):
    "Execute `nb_path` in a fresh kernel, skipping cells with a test flag not in `force_flags`; returns (cells run, s)."
    nb_path = Path(nb_path).resolve()
    nb = nbformat.read(nb_path, as_version=4)
    skip = set(test_flags()) - set(force_flags)
    code = [c for c in nb.cells if c.cell_type == "code"]
    refused = [c.source.splitlines()[1:2] for c in code if directives(c.source).get("eval", "").lower() == "false"]
    if refused:
        sys.exit(f"{nb_path.name}: `#| eval: false` cells run on Jupyter's Run all but not under nbdev-test; make them "
                 f"plain cells or `#| slow` ones: {refused[:3]}")
    nb.cells = [c for c in nb.cells if c.cell_type != "code" or not (skip & directives(c.source).keys())]
    ran = sum(c.cell_type == "code" and bool(c.source.strip()) for c in nb.cells)
    if not ran:
        sys.exit(f"{nb_path}: no code cell would run, so nothing was tested (empty notebook, or every cell skipped)")
    nb.cells.insert(0, nbformat.v4.new_code_cell(_WITHOUT_DEV_TOOLS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "MPLBACKEND"))}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(nb_path.parent)}})
    saved = os.environ.copy()
    os.environ.clear(); os.environ.update(env)  # the kernel inherits this process's environment
    t0 = time.monotonic()
    try: client.execute()
    finally: os.environ.clear(); os.environ.update(saved)
    stderr = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                     if o.get("output_type") == "stream" and o.get("name") == "stderr")
    if (noise := [n for n in TF_NOISE if n in stderr]):
        sys.exit(f"{nb_path.name}: TensorFlow start-up noise {noise} in its outputs:\n{stderr[:3000]}")
    return ran, time.monotonic() - t0


def main(nb, *force_flags):
    try: ran, seconds = run_all(nb, force_flags)
    except CellExecutionError as e:
        print(f"{nb}: FAILED\n" + _ANSI.sub("", str(e)), file=sys.stderr)
        sys.exit(1)
    print(f"{nb}: {ran} cells, {seconds:.1f} s, passed")


if __name__ == "__main__":
    main(*sys.argv[1:])
