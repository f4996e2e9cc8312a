"""Execute one notebook the way `nbdev-test` does; exit 1 (with the failing cell's traceback on stderr) if it fails.

Usage: python tests/run_notebook.py NOTEBOOK [FLAG ...]
"""
import sys
from pathlib import Path

from nbdev.config import get_config
from nbdev.test import nb_test_cells, test_nb


def main(nb, *force_flags):
    cfg = get_config(Path(nb).resolve().parent)
    skip_flags = cfg.tst_flags.split() if isinstance(cfg.tst_flags, str) else list(cfg.tst_flags)
    cells = nb_test_cells(nb, skip_flags, list(force_flags))
    if not cells:
        sys.exit(f"{nb}: no code cell would run, so nothing was tested (empty notebook, or every cell skipped)")
    passed, seconds = test_nb(nb, skip_flags=skip_flags, force_flags=list(force_flags), basepath=cfg.config_path,
                              cell_timeout=cfg.cell_timeout)
    print(f"{nb}: {len(cells)} cells, {seconds:.1f} s, {'passed' if passed else 'FAILED'}")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main(*sys.argv[1:])
