"""Exported-cell sizes per notebook (issue 19's grain: average <= 15 lines, max <= 60), printed as a table.

    python tests/cell_sizes.py [--check]

A report while the notebooks are being cut down; `--check` exits 1 when a notebook is over either bound."""
import sys
from pathlib import Path

import nbformat

AVERAGE, MOST = 15, 60


def exported_cells(nb) -> list:
    "Line counts of the cells nbdev exports (directive lines not counted)."
    out = []
    for c in nb.cells:
        lines = c.source.splitlines()
        if c.cell_type == "code" and lines and lines[0].strip() in ("#| export", "#|export"):
            out.append(sum(1 for ln in lines if ln.strip() and not ln.lstrip().startswith("#|")))
    return out


def table(root: Path) -> list:
    "(notebook, cells, average, max) for every notebook that exports code."
    rows = []
    for f in sorted(root.glob("nbs/*.ipynb")):
        n = exported_cells(nbformat.read(f, as_version=4))
        if n: rows.append((f.name, len(n), sum(n) / len(n), max(n)))
    return rows


if __name__ == "__main__":
    rows = table(Path(__file__).resolve().parents[1])
    print(f"{'notebook':<20} {'cells':>5} {'average':>8} {'max':>5}")
    for name, n, avg, most in rows: print(f"{name:<20} {n:>5} {avg:>8.1f} {most:>5}")
    over = [r[0] for r in rows if r[2] > AVERAGE or r[3] > MOST]
    print(f"over the bounds (average {AVERAGE}, max {MOST}): {', '.join(over) or 'none'}")
    sys.exit(1 if "--check" in sys.argv and over else 0)
