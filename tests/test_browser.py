"""The explorer in a real browser: Voilà (the web page) and JupyterLab (the notebook path users take), each serving a
generated notebook with a tiny model and random images, driven by headless Chromium through Playwright.

Each interaction (image slider by keyboard, class, method) must change the rendered figure (screenshots of the image
element compared pixel by pixel) and show the expected label in the page; no TensorFlow log noise may reach the page.
Screenshots and server logs go to `tests/artifacts/<voila|lab>/`. Run with `--flags slow` (CI does):

    python -m pytest tests/test_browser.py --flags slow
"""
import io
import json
import re
import secrets
import sys
import time

import nbformat
import numpy as np
import pytest
from PIL import Image

from chromium import Server, artifacts, chromium, free_port, quiet_env, require_flag, require_module

CLASSES = ["cat", "dog", "fox"]  # the model always predicts "cat": picking "dog" must change the figure
METHODS = ("ChannelGradCAM", "LayerCAM")
N_IMAGES = 4
# What TensorFlow / absl / CUDA print on start-up; none of it may reach the page
NOISE = re.compile(r"oneDNN|cuInit|CUDA|cuDNN|cuBLAS|cuFFT|absl|TF-TRT|tensorflow|computation_placer|"
                   r"Unable to register|This TensorFlow binary|WARNING: All log messages|[IWE]\d{4} \d\d:\d\d|Traceback")
APPEAR_S, CHANGE_S = 300, 120  # generous: two cores shared with other jobs; a change usually shows within a second

SOURCE = f'''\
import numpy as np
from channelgradcam.explore import explore   # the package first: it keeps start-up logs off the page
import keras

keras.utils.set_random_seed(0)
inputs = keras.Input((32, 32, 3))
x = keras.layers.Conv2D(6, 3, activation="relu", name="conv_a")(inputs)
x = keras.layers.Conv2D(6, 3, activation="relu", name="conv_b")(x)
x = keras.layers.GlobalAveragePooling2D()(x)
head = keras.layers.Dense(3, activation="softmax", bias_initializer=keras.initializers.Constant([8.0, 0.0, 0.0]))
model = keras.Model(inputs, head(x))         # predicts class 0 for every image
images = np.random.default_rng(0).uniform(0, 1, ({N_IMAGES}, 32, 32, 3)).astype("float32")
explore(model, images, labels=[0, 1, 2, 0], class_names={CLASSES!r}, channel_names=["red", "green", "blue"])
'''


def _notebook(tmp_path):
    "The generated notebook, alone in a folder of its own (the folder the server serves)."
    folder = tmp_path / "served"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(SOURCE)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "explore.ipynb"
    nbformat.write(nb, path)
    return path


# ---------------------------------------------------------------- driving the explorer (whatever page it is in)

def _figure(scope):
    "The largest image shown in `scope`: the explorer's figure (no other big image is on the page)."
    imgs = scope.locator("img")
    best, area = None, 0
    for i in range(imgs.count()):
        box = imgs.nth(i).bounding_box()
        if box and box["width"] * box["height"] > area: best, area = imgs.nth(i), box["width"] * box["height"]
    return best if area > 2500 else None


def _pixels(png):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def _differs(a, b):
    a, b = _pixels(a), _pixels(b)
    return a.shape != b.shape or np.abs(a - b).max() > 0


def _shot(scope, timeout):
    "A screenshot of the figure, once it is on screen and two shots in a row agree (no update half drawn)."
    end, last = time.monotonic() + timeout, None
    while time.monotonic() < end:
        fig = _figure(scope)
        if fig is not None:
            try: png = fig.screenshot(timeout=10_000, animations="disabled")
            except Exception: png = None  # noqa: BLE001 -- the element was replaced while we looked; look again
            if png is not None and last is not None and not _differs(png, last): return png
            last = png
        time.sleep(0.5)
    return None


def _changed_shot(scope, before, timeout=CHANGE_S):
    "Wait for the figure to differ from `before` and settle; its screenshot, or None when it never changed."
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        png = _shot(scope, max(end - time.monotonic(), 1))
        if png is not None and _differs(png, before): return png
        time.sleep(0.5)
    return None


def _select(scope, must_have):
    "The `select` whose options include `must_have` (the class picker has 'predicted', the method picker 'LayerCAM')."
    sels = scope.locator("select")
    for i in range(sels.count()):
        if any(must_have in t for t in sels.nth(i).locator("option").all_inner_texts()): return sels.nth(i)
    pytest.fail(f"no select with an option {must_have!r} on the page", pytrace=False)


def _selected_text(sel):
    return sel.evaluate("s => s.options[s.selectedIndex].text")


def _check_no_noise(page, scope, where):
    bad = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    texts = [t for t in bad.all_inner_texts() if t.strip()]
    found = NOISE.findall(scope.inner_text())
    assert not texts and not found, (f"{where}: start-up log noise on the page: stderr outputs {texts[:3]!r}, "
                                     f"matches {sorted(set(found))[:10]}")


def _interact(page, scope, out, where):
    "Slider, class and method: each must change the figure and show its label. Screenshots go to `out`."
    page.wait_for_selector(".widget-slider .noUi-handle", timeout=APPEAR_S * 1000)
    shot = _shot(scope, APPEAR_S)
    assert shot is not None, f"{where}: the explorer's figure never appeared"
    (out / "0_start.png").write_bytes(shot)
    page.screenshot(path=out / "page_start.png", full_page=True)
    _check_no_noise(page, scope, where)

    slider = scope.locator(".widget-slider").first
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    new = _changed_shot(scope, shot)
    assert new is not None, f"{where}: the figure did not change after moving the image slider"
    (out / "1_image.png").write_bytes(new)
    readout = slider.locator(".widget-readout").inner_text().strip()
    assert readout == "1", f"{where}: the image slider reads {readout!r} after one step right, expected 1"
    shot = new

    cls = _select(scope, "predicted")
    target = next(t for t in cls.locator("option").all_inner_texts() if CLASSES[1] in t)
    cls.select_option(label=target)
    new = _changed_shot(scope, shot)
    assert new is not None, f"{where}: the figure did not change after picking class {target!r}"
    (out / "2_class.png").write_bytes(new)
    assert CLASSES[1] in _selected_text(cls), f"{where}: the class picker shows {_selected_text(cls)!r}"
    shot = new

    meth = _select(scope, METHODS[1])
    meth.select_option(label=METHODS[1])
    new = _changed_shot(scope, shot)
    assert new is not None, f"{where}: the figure did not change after switching the method to {METHODS[1]}"
    (out / "3_method.png").write_bytes(new)
    assert _selected_text(meth) == METHODS[1], f"{where}: the method picker shows {_selected_text(meth)!r}"
    assert CLASSES[1] in _selected_text(cls), f"{where}: the class choice was lost when the method changed"
    page.screenshot(path=out / "page_end.png", full_page=True)
    _check_no_noise(page, scope, where)


# ---------------------------------------------------------------- the two servers

@pytest.fixture(scope="module")
def browser(request):
    require_flag(request)
    with chromium() as b: yield b


def _page(browser, out):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page, errors


def test_explorer_in_voila(browser, tmp_path):
    require_module("voila")
    out = artifacts("voila")
    nb = _notebook(tmp_path)
    port = free_port()
    cmd = [sys.executable, "-m", "voila", str(nb.name), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
           "--Voila.port_retries=0", "--show_tracebacks=True", "--token="]
    url = f"http://127.0.0.1:{port}/"
    t0 = time.monotonic()
    # readiness probe on a path that is not the notebook: a GET of the notebook itself would start a kernel
    server = Server(cmd, url + "readiness-probe", out / "voila.log", cwd=nb.parent, env=quiet_env(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime")))
    try:
        ctx, page, errors = _page(browser, out)
        try:
            page.goto(url, timeout=APPEAR_S * 1000)
            _interact(page, page.locator("body"), out, "Voilà")
            assert not errors, f"Voilà: JavaScript errors on the page: {errors[:3]}"
        except BaseException:
            page.screenshot(path=out / "page_failed.png", full_page=True)
            print(server.tail())
            raise
        finally: ctx.close()
    finally: server.stop()
    print(f"Voilà browser test: {time.monotonic() - t0:.1f} s")


def _run_first_cell(page, tries=3):
    "Run the notebook's cell with Shift+Enter, as a user does, until its prompt shows that it ran or runs."
    prompt = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt")
    for _ in range(tries):
        page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if re.search(r"\[(\*|\d+)\]", prompt.inner_text()): return
            time.sleep(0.5)
    pytest.fail(f"JupyterLab: the cell did not start after {tries} Shift+Enter (prompt {prompt.inner_text()!r})",
                pytrace=False)


def test_explorer_in_jupyterlab(browser, tmp_path):
    require_module("jupyterlab")
    out = artifacts("lab")
    nb = _notebook(tmp_path)
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ServerApp.port={port}",
           "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={nb.parent}", "--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.extension_manager=readonly",
           "--allow-root"]
    env = quiet_env(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"),
                    JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "lab-workspaces"))
    # a user's settings: start the notebook's kernel without asking, no news pop-up
    for name, value in {"notebook-extension/tracker": {"autoStartDefaultKernel": True},
                        "apputils-extension/notification": {"fetchNews": "false"}}.items():
        f = tmp_path / "lab-settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps(value))
    t0 = time.monotonic()
    server = Server(cmd, f"http://127.0.0.1:{port}/api/status?token={token}", out / "lab.log", cwd=nb.parent, env=env)
    try:
        ctx, page, errors = _page(browser, out)
        try:
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{nb.name}?token={token}&reset", timeout=APPEAR_S * 1000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=APPEAR_S * 1000)
            page.get_by_text(re.compile(r"\| Idle")).wait_for(timeout=APPEAR_S * 1000)  # the kernel is connected
            if page.locator(".jp-Dialog").count():               # a kernel dialog despite the setting: accept it
                page.locator(".jp-Dialog .jp-mod-accept").click()
            _run_first_cell(page)
            _interact(page, page.locator(".jp-Notebook .jp-OutputArea").first, out, "JupyterLab")
        except BaseException:
            page.screenshot(path=out / "page_failed.png", full_page=True)
            print(server.tail())
            raise
        finally: ctx.close()
    finally: server.stop()
    print(f"JupyterLab browser test: {time.monotonic() - t0:.1f} s")
