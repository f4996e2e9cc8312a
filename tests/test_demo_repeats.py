"""The demo repeats itself: two runs of `channelgradcam demo --quick` (its smallest preset), each in a fresh process as
a user starts them, print the same tables in `report.md` — every number but the timings (issue 22, item 9: the README's
seed-0 tables are what a fresh run prints).

    python -m pytest tests/test_demo_repeats.py --flags slow
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _demo(out, data):
    "Run `channelgradcam demo --quick --data DATA --out OUT` in a new Python process; return report.md's table rows."
    code = "import sys; from channelgradcam.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-c", code, "demo", "--quick", "--data", data, "--out", str(out)], cwd=out.parent,
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    rows = [line for line in (out / "report.md").read_text().splitlines() if line.startswith("|")]
    return [line for line in rows if not line.startswith("| training time")]   # the one row that holds timings


@pytest.mark.slow
@pytest.mark.parametrize("data", ["shapes", "faces"])
def test_two_runs_print_the_same_tables(tmp_path, data):
    first, second = _demo(tmp_path / "first", data), _demo(tmp_path / "second", data)
    assert len(first) > 25, first                      # the tables are there: models, ablation, targets, faithfulness
    assert first == second, "\n".join(f"{a}\n{b}\n" for a, b in zip(first, second) if a != b)
