"""Pytest options for the notebook test runner (see `test_notebooks.py`)."""


def pytest_addoption(parser):
    parser.addoption("--flags", default="",
                     help="space-separated nbdev test flags to run (cells carrying other `tst_flags` flags are skipped), "
                          "as `nbdev-test --flags`; CI passes `--flags slow`")
