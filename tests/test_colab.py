"""Colab's path (issue 22, item 3): every notebook a user opens has the Colab badge for its own path and, as its first
code cell, the one install cell; and a notebook opened where the package is not installed installs it and runs.

The run: a fresh virtual environment with Jupyter's executor only (nbconvert, ipykernel), `jupyter nbconvert --execute`
of a module notebook and of a tutorial (every cell, as "Run all" does), the install cell pointed at a copy of this
checkout by `CHANNELGRADCAM_INSTALL` (the files a clone has: tests/test_packaging.py's `_clone`). pip's cache makes it
a few minutes; `--flags slow`:

    python -m pytest tests/test_colab.py --flags slow
"""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbdev.doclinks import nbglob

from test_packaging import _clone

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
OPENED = [p for p in sorted(nbglob(NBS, as_path=True)) if p.name != "index.ipynb"]  # index: the README's page
COLAB = "https://colab.research.google.com/github/channelgradcam/channelgradcam/blob/main/nbs/"
RUN_FRESH = ["02_surgery.ipynb", "tutorials/stain_channels.ipynb"]  # a module notebook and a tutorial, both short


def _install_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "CHANNELGRADCAM_INSTALL" in c.source]


@pytest.mark.parametrize("nb", OPENED, ids=[str(p.relative_to(NBS)) for p in OPENED])
def test_badge_and_install_cell(nb):
    book = nbformat.read(nb, as_version=4)
    rel = nb.relative_to(NBS).as_posix()
    head = "".join(c.source for c in book.cells[:3] if c.cell_type == "markdown")
    assert f"]({COLAB}{rel})" in head, f"{rel}: no Colab badge linking {COLAB}{rel} in its first cells"
    code = [c for c in book.cells if c.cell_type == "code"]
    assert code and _install_cells(book) == code[:1], f"{rel}: the first code cell must be the one install cell"
    first = _install_cells(nbformat.read(OPENED[0], as_version=4))[0].source
    assert code[0].source == first, f"{rel}: its install cell differs from {OPENED[0].name}'s: one way for all"
    assert code[0].source.startswith("#| hide"), f"{rel}: the install cell must be `#| hide` (not on the docs pages)"


@pytest.mark.slow  # a fresh venv and the package's install from pip's cache (a few minutes)
def test_notebooks_run_where_the_package_is_missing(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "TF_", "MPLBACKEND"))}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", JUPYTER_DATA_DIR=str(tmp_path / "jupyter"),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    res = subprocess.run([str(py), "-m", "pip", "install", "-q", "nbconvert", "ipykernel"], cwd=tmp_path, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    missing = subprocess.run([str(py), "-c", "import channelgradcam"], cwd=tmp_path, env=env, capture_output=True,
                             text=True)  # not from the repository's root: `-c` puts the current folder on sys.path
    assert missing.returncode != 0, "the fresh venv already imports channelgradcam: the install cell would not be tested"
    env["CHANNELGRADCAM_INSTALL"] = str(_clone(tmp_path / "checkout"))
    for i, rel in enumerate(RUN_FRESH):
        work = tmp_path / "run" / Path(rel).stem
        work.mkdir(parents=True)
        nbformat.write(nbformat.read(NBS / rel, as_version=4), work / Path(rel).name)  # runs there, not in nbs/
        res = subprocess.run([str(py), "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
                              "--ExecutePreprocessor.timeout=900", Path(rel).name], cwd=work, env=env,
                             capture_output=True, text=True)
        assert res.returncode == 0, f"{rel} failed in a fresh venv:\n{res.stderr[-8000:]}"
        out = nbformat.read(work / Path(rel).name, as_version=4)
        printed = "".join(o.get("text", "") for o in _install_cells(out)[0].outputs).strip()
        print(f"{rel}: install cell printed {printed!r}")
        if i == 0: assert printed.endswith(f"installed {env['CHANNELGRADCAM_INSTALL']}"), f"{rel}: no install:\n{printed}"
        else: assert printed == "", f"{rel}: the package is installed, yet the install cell printed {printed!r}"
