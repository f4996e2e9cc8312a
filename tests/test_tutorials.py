"""Every tutorial under `nbs/tutorials/` runs as a user runs it: `jupyter nbconvert --execute`, every cell top to bottom
in a fresh kernel (no nbdev flags honoured: `#| slow`, `#| hide` and `#| eval: false` cells all run, as Jupyter's
"Run all" and Colab run them), in a scratch folder so the working tree is never touched. The channel-1 experiment runs
twice, once per value of its `DATA` switch that needs no download. Saved outputs must hold no TensorFlow start-up
noise (issue 11, item 20).

Slow (a few minutes): run with `--flags slow` (CI does):

    python -m pytest tests/test_tutorials.py --flags slow
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from test_notebooks import TF_NOISE

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "nbs" / "tutorials").glob("*.ipynb"))
SWITCH = re.compile(r'^DATA = "(\w+)"', re.M)  # the channel-1 experiment's plain switch variable
CASES = [(nb, None) for nb in TUTORIALS] + [(ROOT / "nbs" / "tutorials" / "channel1_experiment.ipynb", "faces")]


def _switch(nb, data):
    "`nb` with its `DATA = ...` line set to `data`; exactly one cell may hold the switch, and it must be a plain one."
    cells = [c for c in nb.cells if c.cell_type == "code" and SWITCH.search(c.source)]
    assert len(cells) == 1, f"expected one cell holding the plain `DATA = \"...\"` switch, found {len(cells)}"
    assert not cells[0].source.lstrip().startswith("#|"), "the switch cell must not carry nbdev directives"
    cells[0].source = SWITCH.sub(f'DATA = "{data}"', cells[0].source)
    return nb


def test_tutorials_found():
    assert TUTORIALS, f"no tutorial under {ROOT / 'nbs' / 'tutorials'}: a run that tests nothing must fail"


def test_channel1_switch_is_plain():
    "Issue 11, item 19: the data switch is a plain variable (no `#| eval: false` cell that only nbdev skips), no fastcore."
    nb = nbformat.read(ROOT / "nbs" / "tutorials" / "channel1_experiment.ipynb", as_version=4)
    _switch(nb, "shapes")
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert not [s for s in code if "#| eval: false" in s], "a cell that only nbdev skips breaks Jupyter's Run all"
    assert not [s for s in code if "fastcore" in s], "fastcore is not a runtime dependency"


@pytest.mark.slow  # executes whole tutorials (minutes)
@pytest.mark.parametrize("nb,data", CASES, ids=[nb.stem + (f"-{d}" if d else "") for nb, d in CASES])
def test_tutorial_runs(nb, data, tmp_path):
    book = nbformat.read(nb, as_version=4)
    if data: _switch(book, data)
    src = tmp_path / nb.name
    nbformat.write(book, src)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "MPLBACKEND"))}  # as a user's shell has it
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    res = subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                          "--ExecutePreprocessor.timeout=900", "--output", "executed.ipynb", str(src)],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"{nb.name} ({data or 'as saved'}) failed under nbconvert:\n{res.stderr[-8000:]}"
    out = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    stderr = "".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.outputs
                     if o.get("output_type") == "stream" and o.get("name") == "stderr")
    assert not [n for n in TF_NOISE if n in stderr], f"TensorFlow start-up noise in the outputs of {nb.name}:\n{stderr[:3000]}"
