"""The tutorials under `nbs/tutorials/` as saved run in tests/test_notebooks.py, as every notebook does (Jupyter's
"Run all" in a fresh kernel, tests/run_notebook.py). Here: the channel-1 experiment once more, with its `DATA` switch
set to the other value that needs no download, every cell run (`--flags slow` is needed: minutes), in a scratch
folder so the working tree is never touched; and its switch is a plain variable (issue 11, item 19).

    python -m pytest tests/test_tutorials.py --flags slow
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "nbs" / "tutorials").glob("*.ipynb"))
SWITCH = re.compile(r'^DATA = "(\w+)"', re.M)  # the channel-1 experiment's plain switch variable
CASES = [(ROOT / "nbs" / "tutorials" / "channel1_experiment.ipynb", "faces")]  # "shapes", as saved: test_notebooks


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


@pytest.mark.slow  # executes a whole tutorial (minutes)
@pytest.mark.parametrize("nb,data", CASES, ids=[f"{nb.stem}-{d}" for nb, d in CASES])
def test_tutorial_runs(nb, data, tmp_path):
    src = tmp_path / nb.name
    nbformat.write(_switch(nbformat.read(nb, as_version=4), data), src)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, str(ROOT / "tests" / "run_notebook.py"), str(src), "slow"], cwd=tmp_path,
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"{nb.name} (DATA = {data!r}) failed:\n{res.stderr[-8000:]}"
