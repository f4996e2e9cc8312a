"""ruff over the package (code exported from the notebooks), the tests and the benchmarks, with the rules in pyproject.toml."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_finds_nothing():
    r = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "channelgradcam", "tests", "benchmarks"],
                       cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


MOST_LINES = 500  # issue 19: a module is one job a reader can hold in mind; past this, split it by job


def test_modules_stay_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / "channelgradcam").glob("*.py") if p.name != "_modidx.py"}
    big = {k: v for k, v in sizes.items() if v > MOST_LINES}
    assert sizes and not big, f"modules over {MOST_LINES} lines (split them by job): {big}"


def test_exported_cells_at_fastcore_grain():
    "Per notebook, exported cells average at most 15 lines and none is over 60 (`python tests/cell_sizes.py` prints the table)."
    sys.path.insert(0, str(ROOT / "tests"))
    from cell_sizes import AVERAGE, MOST, table
    rows = table(ROOT)
    over = [f"{name}: {n} cells, average {avg:.1f}, max {most}" for name, n, avg, most in rows if avg > AVERAGE or most > MOST]
    assert rows and not over, f"over the bounds (average {AVERAGE}, max {MOST}): {over}"


def test_every_module_and_top_level_name_imports():
    "A name moved to another module breaks its importers only when they load: load every module and every lazy export."
    import importlib
    import channelgradcam
    for p in sorted((ROOT / "channelgradcam").glob("*.py")):
        if p.stem != "__init__": importlib.import_module(f"channelgradcam.{p.stem}")
    for name in channelgradcam.__all__: assert getattr(channelgradcam, name) is not None, name
