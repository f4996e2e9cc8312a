"""Helpers shared by the browser tests (`test_browser.py`, `test_docs.py`): headless Chromium through Playwright,
local servers that are always stopped and the artefacts folder.

The browser is Debian's `chromium` package (`apt-get install -y chromium`), driven by the `playwright` Python package
with `executable_path` set to it: `playwright install` (which downloads a browser of its own) is never used.
"""
import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHANNELGRADCAM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "tests" / "artifacts"
HOW_TO_INSTALL = ("install Debian's browser (`apt-get install -y chromium`, as root) and the Python packages of the "
                  "app extra (`pip install -e \".[dev,app]\"`); `bash .ci/run` does both")


def artifacts(name):
    "A fresh folder `tests/artifacts/<name>` for screenshots and logs (the folder ignores itself in git)."
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("# test artefacts (screenshots, server logs): never committed\n*\n")
    d = ARTIFACTS / name
    if d.exists():
        for f in sorted(d.rglob("*"), reverse=True):
            f.rmdir() if f.is_dir() else f.unlink()
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def chromium():
    "Headless Chromium (a Playwright `Browser`); the test FAILS, with the reason, when it cannot be had."
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        pytest.fail(f"the browser tests need the `playwright` Python package ({e}): {HOW_TO_INSTALL}", pytrace=False)
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Chromium at {CHROMIUM}, which is missing: {HOW_TO_INSTALL}",
                    pytrace=False)
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, timeout=60_000)
        except Exception as e:  # noqa: BLE001 -- any failure to start the browser is reported the same way
            pytest.fail(f"headless Chromium ({CHROMIUM}) could not be started: {e}\n{HOW_TO_INSTALL}", pytrace=False)
        try: yield browser
        finally: browser.close()


def require_module(name):
    "Fail (never skip) when a package the browser tests need is missing, saying how to get it."
    import importlib.util
    if importlib.util.find_spec(name) is None:
        pytest.fail(f"the browser tests need the `{name}` package, which is not installed: {HOW_TO_INSTALL}",
                    pytrace=False)


def free_port():
    "A TCP port free on 127.0.0.1 right now."
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def quiet_env(**extra):
    "The environment a user has: no TensorFlow log level set for them (the package must quiet TensorFlow itself)."
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "JUPYTER_PLATFORM_DIRS")}
    env.update(PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p), **extra)
    return env


class Server:
    "A local web server started as its own process group; `stop()` ends the group (kernels included)."
    def __init__(self, cmd, url, log, cwd, env, ready_timeout=180):
        self.url, self.log = url, Path(log)
        self._log = open(self.log, "w")
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        try: self._wait(ready_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited with status {self.proc.returncode} before answering:\n{self.tail()}",
                            pytrace=False)
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status < 500: return
            except urllib.error.HTTPError as e:
                if e.code < 500: return
            except OSError: pass
            time.sleep(0.5)
        pytest.fail(f"the server did not answer {self.url} within {timeout} s:\n{self.tail()}", pytrace=False)

    def tail(self, n=4000):
        self._log.flush()
        return self.log.read_text(errors="replace")[-n:]

    def _descendants(self):
        "Ids of the processes the server started (kernels run in sessions of their own, so not in its group)."
        children = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try: fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError: continue
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        out, todo = [], [self.proc.pid]
        while todo:
            for c in children.get(todo.pop(), []):
                out.append(c)
                todo.append(c)
        return out

    def stop(self):
        "Stop the server (SIGTERM: it shuts its kernels down), then kill whatever it started that is still alive."
        kids = self._descendants()
        if self.proc.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(ProcessLookupError): os.killpg(self.proc.pid, sig)
                try:
                    self.proc.wait(15)
                    break
                except subprocess.TimeoutExpired: continue
        for pid in kids:
            with contextlib.suppress(ProcessLookupError, PermissionError): os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError): os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()
