"""The explorer's web server (`server.start_server`, `channelgradcam explore`) as a visitor meets it: it listens on
127.0.0.1 only, and whoever lacks the page's token (another user of the machine, a web page that rebinds a name to
127.0.0.1) gets no page, no kernel, no file browser and no file; even with the token no file is served from disk,
through `../` paths raw or percent-encoded. Ctrl-C on `channelgradcam explore` leaves no process behind.
"""
import http.client
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromium import ROOT, free_port, quiet_env, require_module

MARKER = b"channelgradcam-secret-4f1d"  # in a file outside the inputs: no answer may carry it


def _tiny_model(path):
    import channelgradcam  # noqa: F401 (its core quiets TensorFlow's first import)
    import keras
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x)).save(path)
    return path


def _inputs(tmp_path):
    "A model file, a folder of two classes of PNGs, and a secret PNG and text file beside the folder (not inputs)."
    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (tmp_path / "set" / c).mkdir(parents=True)
        for j in range(2):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "set" / c / f"{j}.png")
    (tmp_path / "secret.png").write_bytes(b"\x89PNG\r\n\x1a\n" + MARKER)
    (tmp_path / "secret.txt").write_bytes(MARKER)
    return _tiny_model(tmp_path / "model.keras"), tmp_path / "set"


def _get(port, path, method="GET", headers=None, follow=True):
    "(status, body) of one request sent exactly as written (no normalising of `../`), following a redirect on the server."
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        c.request(method, path, body=b"{}" if method == "POST" else None, headers=headers or {})
        r = c.getresponse()
        status, body, to = r.status, r.read(), r.getheader("Location")
    finally: c.close()
    if follow and 300 <= status < 400 and to:
        to = urllib.parse.urlsplit(to)
        assert to.netloc in ("", f"127.0.0.1:{port}"), f"{path} redirects off the server: {to}"
        return _get(port, urllib.parse.urlunsplit(("", "", to.path, to.query, "")), method, headers, follow=False)
    return status, body


def _listening(port):
    "Local addresses (hex, as /proc/net/tcp* writes them) of the sockets listening on `port`."
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.rsplit(":", 1)
            if state == "0A" and int(p, 16) == port: out.append(addr)
    return out


LOOPBACK = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1


def _probe_paths(inputs, tmp_path):
    "What a visitor tries: Jupyter's file browser and APIs, an input file, files outside the inputs, logs, `../` paths."
    one_input = str(next(inputs.rglob("*.png")))
    up = "../" * 12
    paths = ["/tree", "/tree/", "/api/contents", "/api/contents/", "/api/kernels", "/api/sessions", "/api/kernelspecs",
             "/api/terminals", "/lab", "/voila/tree", "/voila/render/channelgradcam-explorer.ipynb",
             "/files" + one_input, "/voila/files" + one_input, "/voila/files/" + up + one_input.lstrip("/"),
             "/voila/files/voila.log", "/voila/files/voila.json", "/voila/files/channelgradcam-explorer.ipynb"]
    for secret in (tmp_path / "secret.png", tmp_path / "secret.txt", Path("/etc/passwd")):
        rel = str(secret).lstrip("/")
        paths += ["/files/" + rel, "/voila/files/" + up + rel, "/voila/files//" + rel,
                  "/voila/files/" + urllib.parse.quote(up + rel, safe=""),                      # %2e%2e%2f...
                  "/voila/files/" + up.replace("../", "%2e%2e/") + rel, "/voila/files/" + up.replace("../", "..%2f") + rel,
                  "/voila/static/" + up + rel, "/voila/templates/" + up + rel, "/voila/labextensions/" + up + rel,
                  "/voila/api/themes/" + up + rel, "/" + up + rel]
    return paths, Path(one_input).read_bytes()


def _check_answer(path, status, body, token, input_bytes):
    for secret, what in ((MARKER, "a file outside the inputs"), (b"root:x:0:", "/etc/passwd"), (input_bytes, "an input file"),
                         (token.encode() or MARKER, "the token"), (b'"execution_state"', "a kernel list"),
                         (b'"type": "directory"', "a file listing"), (b"jp-DirListing", "a file browser")):
        assert secret not in body, f"GET {path} answered {status} with {what}: {body[:300]!r}"


def test_server_answers_only_the_page(tmp_path):
    "`start_server` on 127.0.0.1 only; without the token: no page, no kernel, no file; with it: still no file from disk."
    require_module("voila")
    from channelgradcam.server import _children, start_server
    model, inputs = _inputs(tmp_path)
    with start_server(model, inputs, class_names=["cat", "dog"]) as server:
        port = urllib.parse.urlsplit(server.url).port
        token = urllib.parse.parse_qs(urllib.parse.urlsplit(server.url).query).get("token", [""])[0]
        where = _listening(port)
        assert where and set(where) <= LOOPBACK, f"listening on {where}, expected 127.0.0.1 only"
        assert not token or token not in " ".join(Path(f"/proc/{server.proc.pid}/cmdline").read_text().split("\0"))  # not in `ps`
        paths, input_bytes = _probe_paths(inputs, tmp_path)
        for path in ["/", "/?token=wrong", *paths]:                       # a visitor without the token
            status, body = _get(port, path)
            _check_answer(path, status, body, token, input_bytes)
            assert b"application/vnd.jupyter.widget-view+json" not in body, f"GET {path}: the page without the token"
        status, _ = _get(port, "/api/kernels", "POST")
        assert status in (403, 404, 405), f"POST /api/kernels answered {status}"
        for path in [p for p in paths if p.startswith("/voila/")]:          # the page's holder: still no file from disk
            sep = "&" if "?" in path else "?"
            status, body = _get(port, f"{path}{sep}token={token}")
            _check_answer(path, status, body, token, input_bytes)
            assert status >= 400 or path.startswith(("/voila/static/", "/voila/labextensions/", "/voila/api/themes/")), \
                f"GET {path} with the token answered {status}: {body[:200]!r}"
        status, _ = _get(port, f"/api/kernels?token={token}", "POST", {"Content-Type": "application/json"})
        assert status in (403, 404, 405), f"POST /api/kernels with the token answered {status}"
        assert _children(server.proc.pid) == [], "a kernel was started for a visitor"


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_explore_command_page_token_and_ctrl_c(tmp_path, stop):
    """`channelgradcam explore` as a user runs it: the printed address (with its token) gives the page; the page's
    kernel refuses a visitor without the token (its REST and websocket URLs); Ctrl-C or `kill` stops everything: exit
    status 0, no process left, the port closed. Started as a shell starts a background job (`... &`: SIGINT ignored),
    which Python would keep: Ctrl-C then did nothing, and `kill` left Voilà and its kernel running."""
    require_module("voila")
    from channelgradcam.server import _children
    model, inputs = _inputs(tmp_path)
    port = free_port()
    work = tmp_path / "tmp"
    work.mkdir()
    env = quiet_env(TMPDIR=str(work), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-c", "import sys; from channelgradcam.cli import main; sys.exit(main())",
           "explore", "--model", str(model), str(inputs), "--port", str(port), "--classes", "cat,dog"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(rf"The explorer is at (http://127\.0\.0\.1:{port}/\?token=([\w-]+)) \(Ctrl-C stops it\)", line.strip())
        assert m, line
        url = m.group(1)
        status, page = _get(port, url.split(str(port), 1)[1])
        assert status == 200 and b"application/vnd.jupyter.widget-view+json" in page and b"Traceback" not in page, page[-2000:]
        running = _children(proc.pid)
        assert len(running) >= 2, running                                  # Voilà and the page's kernel
        kernel = re.search(rb'"kernelId":\s*"([0-9a-f-]{36})"', page) or re.search(rb"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", page)
        assert kernel, "no kernel id in the page"
        kid = kernel.group(1).decode()
        status, body = _get(port, f"/api/kernels/{kid}")
        assert status == 403, (status, body[:200])
        ws = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
        status, body = _get(port, f"/api/kernels/{kid}/channels", headers=ws)
        assert status == 403, f"the kernel's websocket answered a visitor without the token: {status} {body[:200]!r}"
        proc.send_signal(getattr(signal, stop))                            # Ctrl-C, or kill
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:  # a failure above: SIGTERM first, so that `explore` stops Voilà (its own session) too
            proc.send_signal(signal.SIGTERM)
            try: proc.wait(60)
            except subprocess.TimeoutExpired: proc.kill()
    out = proc.stdout.read()
    assert "Stopping the explorer" in out and "Traceback" not in out, out
    assert [p for p in running if Path(f"/proc/{p}").exists()] == []        # nothing it started is left
    assert list(work.glob("channelgradcam-explore-*")) == []               # its folder is gone
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)           # nobody listens
