"""Every notebook under `nbs/` is one test item, executed as Jupyter's "Run all" does (tests/run_notebook.py: a fresh
kernel without nbdev, every cell but the `#| slow` ones unless `--flags slow` names them), plus the checks that keep the
exported package, the cleaned notebooks and the README in step with the notebooks, and their saved outputs clean.
(The docs checks are in test_docs.py, the browser tests in test_browser.py.)"""
import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from nbdev.doclinks import nbglob

from run_notebook import TF_NOISE

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(nbglob(ROOT / "nbs", as_path=True))
# The notebooks that take longest to run (seconds, measured with `--durations` on the 2-core machine): in the full suite
# (`--flags slow`, the README's and CI's command) only, so that `python -m pytest` stays an everyday check of ~5 minutes.
HEAVY = {"05_train.ipynb": 62, "11_cli.ipynb": 61, "08_dataset.ipynb": 28, "03_cam.ipynb": 26, "12_engines.ipynb": 22,
         "tutorials/stain_channels.ipynb": 22}


def _run(cmd, cwd, timeout=None):
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _nb_id(p):
    return str(p.relative_to(ROOT / "nbs"))


def test_notebooks_found():
    assert NOTEBOOKS, f"no notebook found under {ROOT / 'nbs'}: a run that tests nothing must fail"


def test_heavy_notebooks_exist():
    missing = sorted(set(HEAVY) - {_nb_id(p) for p in NOTEBOOKS})
    assert not missing, f"HEAVY names notebooks that are not under nbs/: {missing}"


@pytest.mark.parametrize("nb", [pytest.param(p, marks=pytest.mark.slow) if _nb_id(p) in HEAVY else p for p in NOTEBOOKS],
                         ids=[_nb_id(p) for p in NOTEBOOKS])
def test_notebook(nb, request):
    flags = request.config.getoption("--flags").split()
    res = _run([sys.executable, str(ROOT / "tests" / "run_notebook.py"), str(nb), *flags], cwd=nb.parent)
    if res.returncode != 0:
        pytest.fail(f"{_nb_id(nb)} failed:\n{res.stderr[-20000:]}\n{res.stdout[-5000:]}", pytrace=False)


def _copy_project(dst):
    """A throw-away copy of what nbdev reads and writes, so the checks never touch the working tree."""
    dst.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dst / name)
    for name in ("nbs", "channelgradcam"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("_proc", "_docs", "__pycache__",
                                                                              ".ipynb_checkpoints"))
    return dst


def _changed_files(a, b):
    """Relative paths that differ between folders `a` and `b` (added, removed or changed)."""
    cmp, out = filecmp.dircmp(a, b, ignore=["__pycache__", "_proc", "_docs", ".ipynb_checkpoints", "sidebar.yml"]), []
    def walk(c, rel):
        out.extend(str(rel / n) for n in c.left_only + c.right_only)
        out.extend(str(rel / n) for n in c.common_files if not filecmp.cmp(Path(c.left) / n, Path(c.right) / n,
                                                                            shallow=False))
        for n, sub in c.subdirs.items():
            walk(sub, rel / n)
    walk(cmp, Path())
    return sorted(out)


@pytest.mark.parametrize("command", ["nbdev-export", "nbdev-clean"])
def test_tree_unchanged_by(command, tmp_path):
    work = _copy_project(tmp_path / "work")
    bindir = Path(sys.executable).parent
    res = _run([str(bindir / command)], cwd=work)
    assert res.returncode == 0, f"{command} failed:\n{res.stderr}"
    changed = [p for folder in ("nbs", "channelgradcam") for p in _changed_files(ROOT / folder, work / folder)]
    assert not changed, f"`{command}` changes {changed}: run `nbdev-export && nbdev-clean` and commit the result"


def test_readme_in_step_with_index(tmp_path):
    res = _run([sys.executable, "-m", "nbconvert", "--to", "markdown", str(ROOT / "nbs" / "index.ipynb"),
                "--output-dir", str(tmp_path), "--output", "README"], cwd=ROOT)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text(), (
        "README.md is out of step with nbs/index.ipynb: run "
        "`jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README`")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[_nb_id(p) for p in NOTEBOOKS])
def test_saved_outputs_free_of_tensorflow_noise(nb):
    import nbformat
    texts = [str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", ""))
             for c in nbformat.read(nb, as_version=4).cells if c.cell_type == "code" for o in c.get("outputs", [])]
    noisy = [t.strip().splitlines()[0][:120] for t in texts if any(n in t for n in TF_NOISE)]
    assert not noisy, f"{_nb_id(nb)} saved TensorFlow start-up logging in its outputs: {noisy[:3]}"
