"""Pytest options for the notebook test runner (see `test_notebooks.py`) and the `slow` marker's gate."""
import pytest


def pytest_addoption(parser):
    parser.addoption("--flags", default="",
                     help="space-separated nbdev test flags to run (cells carrying other `tst_flags` flags are skipped), "
                          "as `nbdev-test --flags`; CI passes `--flags slow`")


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: runs only when `--flags` names slow (as nbdev's `#| slow` cells; CI does)")


def pytest_collection_modifyitems(config, items):
    "Skip the tests marked `slow` unless `--flags` names slow."
    if "slow" in config.getoption("--flags").split(): return
    skip = pytest.mark.skip(reason="needs `--flags slow` (CI runs it)")
    for item in items:
        if item.get_closest_marker("slow"): item.add_marker(skip)
