"""The explorer in a real browser: Voilà (the web page `channelgradcam explore` serves, started by
`server.start_server`) and JupyterLab (the notebook path users take), driven by headless Chromium through Playwright.

In each: the per-image view (image slider by keyboard, class, method) must change the rendered figure (screenshots of
the image element compared pixel by pixel) and show the expected choice in the page; the data-set view (class picker,
sorting channel, order) must redraw its summary and sort its gallery, and a click on a thumbnail's picture must open
that image in the per-image view. The figure must be shown at its natural size with twice its pixels (crisp on
high-DPI screens), no two controls may overlap or leave the page and no text may be under 10 px (at 1280×800, and in
Voilà at 390×844, a phone, where the figure scrolls sideways), and no TensorFlow log noise may reach the page. Screenshots, bounding boxes, server logs and timings go to
`tests/artifacts/<voila|lab>/`; `tests/artifacts/voila/explorer.png` is the README's picture. Run with `--flags slow`
(CI does):

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

from chromium import Server, artifacts, chromium, free_port, quiet_env, require_module

pytestmark = pytest.mark.slow  # every test here drives a browser: `--flags slow` (CI passes it)

CLASSES = ["cat", "dog", "fox"]  # the JupyterLab page's model always predicts "cat": picking "dog" must change the figure
METHODS = ("ChannelGradCAM", "LayerCAM")
N_IMAGES = 4
PIXEL_RATIO = 2  # the explorer draws its figure with this many pixels per CSS pixel
# What TensorFlow / absl / CUDA print on start-up; none of it may reach the page
NOISE = re.compile(r"oneDNN|cuInit|CUDA|cuDNN|cuBLAS|cuFFT|absl|TF-TRT|tensorflow|computation_placer|"
                   r"Unable to register|This TensorFlow binary|WARNING: All log messages|[IWE]\d{4} \d\d:\d\d|Traceback")
APPEAR_S, CHANGE_S = 300, 120  # generous: two cores shared with other jobs; a change usually shows within a second
LAPTOP, PHONE = {"width": 1280, "height": 800}, {"width": 390, "height": 844}

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
    "The generated notebook for JupyterLab, alone in a folder of its own (the folder the server serves)."
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
    "The largest image shown in `scope`: the figure of the tab on show (thumbnails are smaller)."
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


def _text(t):
    "Text as a user reads it (ipywidgets writes the spaces of option labels as non-breaking spaces)."
    return t.replace("\xa0", " ").strip()


def _select(scope, must_have):
    "The visible `select` whose options include `must_have` (e.g. 'predicted': the class picker of the image tab)."
    sels = scope.locator("select")
    for i in range(sels.count()):
        s = sels.nth(i)
        if s.is_visible() and any(must_have in _text(t) for t in s.locator("option").all_inner_texts()): return s
    pytest.fail(f"no visible select with an option {must_have!r} on the page", pytrace=False)


def _choose(sel, pick):
    "Select the option for which `pick(text)` holds (text as read); its text."
    raw = next((t for t in sel.locator("option").all_inner_texts() if pick(_text(t))), None)
    if raw is None: pytest.fail(f"no option to choose among {sel.locator('option').all_inner_texts()}", pytrace=False)
    sel.select_option(label=raw)
    return _text(raw)


def _selected_text(sel):
    return _text(sel.evaluate("s => s.options[s.selectedIndex].text"))


def _check_no_noise(page, scope, where):
    bad = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    texts = [t for t in bad.all_inner_texts() if t.strip()]
    found = NOISE.findall(scope.inner_text())
    assert not texts and not found, (f"{where}: start-up log noise on the page: stderr outputs {texts[:3]!r}, "
                                     f"matches {sorted(set(found))[:10]}")


def _tab(scope, title):
    "Click the explorer's tab `title` ('Image' or 'Data set')."
    scope.locator(".lm-TabBar-tab, .p-TabBar-tab").filter(has_text=title).first.click()


# Every leaf widget on show (a widget with no widget inside it, or the tab bar) with its box, cut to what a box that
# scrolls sideways shows of it (a figure wider than a phone scrolls in its box), and the grid it sits in (a
# thumbnail's picture and the clear button over it share one); the size of every text on show; the figure's pixels
_LAYOUT = """(root) => {
  const leaves = [...root.querySelectorAll('.jupyter-widgets, .lm-TabBar')].filter(e =>
      !e.querySelector('.jupyter-widgets, .lm-TabBar') && e.getClientRects().length > 0);
  const grids = [...root.querySelectorAll('.widget-gridbox')];
  const boxes = leaves.map(e => { const r = e.getBoundingClientRect();
      let x0 = r.left, x1 = r.right;
      for (let a = e.parentElement; a && a !== root.parentElement; a = a.parentElement) {
        if (['auto', 'scroll'].includes(getComputedStyle(a).overflowX)) {
          const q = a.getBoundingClientRect(); x0 = Math.max(x0, q.left); x1 = Math.min(x1, q.right); } }
      const grid = e.parentElement ? e.parentElement.closest('.widget-gridbox') : null;
      return {what: e.className.replace(/\\s+/g, ' ').slice(0, 60), text: (e.innerText || '').trim().slice(0, 30),
              x: x0, y: r.top, w: x1 - x0, h: r.height, grid: grid ? grids.indexOf(grid) : -1}; })
      .filter(b => b.w > 0 && b.h > 0);
  const texts = [...root.querySelectorAll('*')].filter(e => e.getClientRects().length > 0 &&
      (e.tagName === 'SELECT' || [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())))
      .map(e => ({px: parseFloat(getComputedStyle(e).fontSize),
                  text: (e.tagName === 'SELECT' ? e.value : e.innerText || '').trim().slice(0, 30)}));
  const imgs = [...root.querySelectorAll('img')].filter(i => i.getClientRects().length > 0).map(i => {
      const r = i.getBoundingClientRect(); return {w: r.width, h: r.height, nw: i.naturalWidth, nh: i.naturalHeight}; });
  return {boxes, texts, imgs, vw: document.documentElement.clientWidth, dpr: window.devicePixelRatio};
}"""


MIN_TEXT_PX = 10  # the smallest text legible on a phone, in CSS pixels (09_explore checks the figures' text at natural size)


def _check_layout(page, scope, out, name, where):
    """No two controls overlap and none leaves the page; the figure shows at its natural size (never shrunk: its text
    stays legible; a wider figure than the page scrolls sideways) with 2x pixels; no text on show is under
    MIN_TEXT_PX. Artefacts: png + json."""
    page.wait_for_timeout(300)  # let the layout settle after a resize or a tab switch
    facts = scope.evaluate(_LAYOUT)
    (out / f"layout_{name}.json").write_text(json.dumps(facts, indent=1))
    page.screenshot(path=out / f"layout_{name}.png", full_page=True)
    boxes, vw, problems = facts["boxes"], facts["vw"], []
    for i, a in enumerate(boxes):
        if a["x"] < -1 or a["x"] + a["w"] > vw + 1:
            problems.append(f"{a['what']!r} {a['text']!r} leaves the page ({a['x']:.0f}..{a['x'] + a['w']:.0f} of {vw})")
        for b in boxes[i + 1:]:
            ox = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
            oy = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
            if ox > 1 and oy > 1 and not (a["grid"] >= 0 and a["grid"] == b["grid"]):
                problems.append(f"{a['what']!r} {a['text']!r} overlaps {b['what']!r} {b['text']!r} ({ox:.0f}x{oy:.0f} px)")
    assert boxes, f"{where} {name}: no control on show"
    assert not problems, f"{where} {name}: layout problems (see {out}/layout_{name}.png):\n" + "\n".join(problems)
    fig = max(facts["imgs"], key=lambda i: i["w"] * i["h"])
    natural = fig["nw"] / PIXEL_RATIO
    assert abs(fig["w"] - natural) <= 1, (f"{where} {name}: the figure is shown {fig['w']:.0f} px wide; its natural "
                                          f"size is {natural:.0f} px ({fig['nw']} pixels at ratio {PIXEL_RATIO})")
    small = [t for t in facts["texts"] if t["px"] < MIN_TEXT_PX]
    assert facts["texts"] and not small, f"{where} {name}: text under {MIN_TEXT_PX} px on a {vw} px page: {small[:5]}"
    assert fig["nw"] >= PIXEL_RATIO * fig["w"] - 1, (f"{where} {name}: {fig['nw']} pixels shown {fig['w']:.0f} px wide: "
                                                     f"blurry on a screen of pixel ratio {PIXEL_RATIO}")
    return facts


def _interact(page, scope, out, where, pick_class):
    "Slider, class and method: each must change the figure and show its choice. Screenshots go to `out`."
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
    target = _choose(cls, lambda t: t.endswith(pick_class))
    new = _changed_shot(scope, shot)
    assert new is not None, f"{where}: the figure did not change after picking class {target!r}"
    (out / "2_class.png").write_bytes(new)
    assert pick_class in _selected_text(cls), f"{where}: the class picker shows {_selected_text(cls)!r}"
    shot = new

    meth = _select(scope, METHODS[1])
    _choose(meth, lambda t: t == METHODS[1])
    new = _changed_shot(scope, shot)
    assert new is not None, f"{where}: the figure did not change after switching the method to {METHODS[1]}"
    (out / "3_method.png").write_bytes(new)
    assert _selected_text(meth) == METHODS[1], f"{where}: the method picker shows {_selected_text(meth)!r}"
    assert pick_class in _selected_text(cls), f"{where}: the class choice was lost when the method changed"
    _choose(meth, lambda t: t == METHODS[0])
    new = _changed_shot(scope, new)
    assert new is not None, f"{where}: the figure did not change back to {METHODS[0]}"
    page.screenshot(path=out / "page_end.png", full_page=True)
    _check_no_noise(page, scope, where)


def _gallery(scope):
    "(percent, image index, title) of each visible thumbnail button, in page order (read at once: it is redrawn often)."
    out = []
    found = scope.evaluate("""root => [...root.querySelectorAll('.widget-button')]
        .filter(b => b.getClientRects().length > 0).map(b => [b.innerText, b.title || ''])""")
    for text, title in found:
        pct, m = text.split("%")[0].strip(), re.match(r"open image (\d+)", title)
        if m and pct.isdigit(): out.append((int(pct), int(m.group(1)), title))
    return out


def _wait_gallery(scope, where, check, what, timeout=CHANGE_S):
    "Wait until the gallery is on show and `check(gallery)` holds; the gallery."
    end, g = time.monotonic() + timeout, []
    while time.monotonic() < end:
        g = _gallery(scope)
        if g and check(g): return g
        time.sleep(0.5)
    pytest.fail(f"{where}: the gallery never showed {what}; it shows {g}", pytrace=False)


def _wait_caption(scope, where, words, timeout=CHANGE_S):
    """Wait until the gallery's caption reads `words`. The explorer writes the caption after the thumbnails, so from then
    on the thumbnails on show are the new ones (a click on a replaced one would reach no widget)."""
    caption, text = scope.get_by_text("click one to open it"), ""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = _text(" ".join(caption.all_inner_texts()))
        if words in text: return
        time.sleep(0.5)
    pytest.fail(f"{where}: the gallery caption never read {words!r}; it reads {text!r}", pytrace=False)


def _dataset_view(page, scope, out, where, pick_group, sort_channel):
    "The data-set tab: class, sorting channel and order redraw the summary and sort the gallery; a click opens an image."
    image_shot = before = _shot(scope, CHANGE_S)
    shown = scope.locator(".widget-slider").first.locator(".widget-readout").inner_text().strip()
    _tab(scope, "Data set")
    g = _wait_gallery(scope, where, lambda g: True, "any image", timeout=APPEAR_S)
    summary = _changed_shot(scope, before)
    assert summary is not None, f"{where}: the data-set tab shows no summary figure"
    (out / "4_dataset.png").write_bytes(summary)
    assert [p for p, _, _ in g] == sorted((p for p, _, _ in g), reverse=True), f"{where}: gallery not highest first: {g}"

    _choose(_select(scope, "(all)"), lambda t: t.startswith(pick_group + " "))
    _wait_caption(scope, where, f"Images of {pick_group} by")
    g = _wait_gallery(scope, where, lambda g: all(pick_group in t for _, _, t in g), f"only images of {pick_group!r}")
    new = _changed_shot(scope, summary)
    assert new is not None, f"{where}: the summary did not change for class {pick_group!r}"
    (out / "5_class.png").write_bytes(new)

    _choose(_select(scope, sort_channel), lambda t: t == sort_channel)
    _wait_caption(scope, where, f"{pick_group} by {sort_channel} importance")
    after = _changed_shot(scope, new)  # the sorting channel's bar turns red
    assert after is not None, f"{where}: the summary did not mark the channel {sort_channel!r}"
    (out / "6_channel.png").write_bytes(after)
    _choose(_select(scope, "lowest first"), lambda t: t == "lowest first")
    _wait_caption(scope, where, f"{sort_channel} importance, lowest first")
    g = _wait_gallery(scope, where, lambda g: [p for p, _, _ in g] == sorted(p for p, _, _ in g) and
                      all(pick_group in t for _, _, t in g), "its images lowest first")
    page.screenshot(path=out / "page_dataset.png", full_page=True)

    _, index, title = g[-1]  # a click on its picture (the thumbnail, not its caption) opens it
    cell = scope.locator(f'.widget-vbox:has(> .widget-button[title="{title}"])')  # its picture and caption button
    cell.locator("img").first.click(force=True)  # force: a mouse click at its centre, whatever lies on top takes it
    page.wait_for_selector(".widget-slider .noUi-handle", state="visible", timeout=CHANGE_S * 1000)
    new = _changed_shot(scope, image_shot) if str(index) != shown else _shot(scope, CHANGE_S)
    assert new is not None, f"{where}: clicking {title!r} did not show image {index} in the image tab"
    (out / "7_opened.png").write_bytes(new)
    readout = scope.locator(".widget-slider").first.locator(".widget-readout").inner_text().strip()
    assert readout == str(index), f"{where}: clicking {title!r} shows image {readout}, expected {index}"
    _check_no_noise(page, scope, where)


# ---------------------------------------------------------------- the two servers

@pytest.fixture(scope="module")
def browser():
    with chromium() as b: yield b


def _page(browser, viewport=LAPTOP):
    ctx = browser.new_context(viewport=viewport)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return ctx, page, errors


def _trained_model(folder):
    """A model of this package that learned the synthetic mix (only channel 'key' decides disk or cross), saved with
    its test images as PNG files in class sub-folders: (model file, image folder, predicted class of image 1)."""
    import keras
    from channelgradcam.mixing import mix_plan, mixed_arrays, synthetic_shapes
    from channelgradcam.images import list_images, read_image, to_float
    from channelgradcam.models import build_model
    keras.utils.set_random_seed(0)
    classes = ("disk", "cross")
    tr, te = synthetic_shapes(160, size=32, class_names=classes, seed=0), synthetic_shapes(12, size=32, class_names=classes, seed=1)
    xtr, ytr = mixed_arrays(tr, mix_plan(tr.labels, n_channels=3, key_channel=0, seed=0))
    xte, yte = mixed_arrays(te, mix_plan(te.labels, n_channels=3, key_channel=0, scheme="random", seed=1))
    model = build_model(2, (32, 32, 3), backbone="small_cnn", weights=None)
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(xtr, ytr, epochs=8, batch_size=32, verbose=0)
    model.save(folder / "model.keras")
    for i, (x, y) in enumerate(zip(xte, yte)):
        (folder / "images" / classes[y]).mkdir(parents=True, exist_ok=True)
        Image.fromarray((np.clip(x, 0, 1) * 255).round().astype(np.uint8)).save(folder / "images" / classes[y] / f"{classes[y]}_{i:02d}.png")
    second = list_images(folder / "images").paths[1]  # image 1 of the explorer (files in sorted order)
    pred = int(np.argmax(model.predict(to_float(read_image(second))[None], verbose=0)[0]))
    return folder / "model.keras", folder / "images", classes, classes[1 - pred]


def test_explorer_in_voila(browser, tmp_path, monkeypatch):
    "The web page of `channelgradcam explore`: `server.start_server` (Voilà on 127.0.0.1) with a model file and a folder."
    require_module("voila")
    out = artifacts("voila")
    t0 = time.monotonic()
    model_file, images, classes, other = _trained_model(tmp_path)
    t_model = time.monotonic() - t0
    from channelgradcam.server import start_server
    for k, v in quiet_env(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime")).items(): monkeypatch.setenv(k, v)
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)  # the page must be quiet without the user's help
    t1 = time.monotonic()
    server = start_server(model_file, [images], port=free_port(), class_names=list(classes),
                          channel_names=["key", "other 1", "other 2"])
    try:
        ctx, page, errors = _page(browser)
        try:
            page.goto(server.url, timeout=APPEAR_S * 1000)
            body = page.locator("body")
            _interact(page, body, out, "Voilà", other)
            _check_layout(page, body, out, "laptop_image", "Voilà")
            _dataset_view(page, body, out, "Voilà", "cross", "other 1")
            _tab(body, "Data set")
            _check_layout(page, body, out, "laptop_dataset", "Voilà")
            page.set_viewport_size(PHONE)
            _check_layout(page, body, out, "phone_dataset", "Voilà")
            _tab(body, "Image")
            _check_layout(page, body, out, "phone_image", "Voilà")
            page.set_viewport_size(LAPTOP)
            _choose(_select(body, "predicted"), lambda t: t == "predicted")
            slider = body.locator(".widget-slider").first
            slider.locator(".noUi-handle").focus()
            for _ in range(60):  # back to image 0 for the README's picture
                if slider.locator(".widget-readout").inner_text().strip() == "0": break
                page.keyboard.press("ArrowLeft")
                page.wait_for_timeout(100)
            assert _shot(body, CHANGE_S) is not None, "Voilà: the figure did not settle on image 0"
            page.evaluate("document.activeElement && document.activeElement.blur()")
            app = body.locator(".widget-tab").first
            app.screenshot(path=out / "explorer.png", animations="disabled")  # the README's picture
            assert not errors, f"Voilà: JavaScript errors on the page: {errors[:3]}"
        except BaseException:
            page.screenshot(path=out / "page_failed.png", full_page=True)
            print(server.log_tail())
            raise
        finally: ctx.close()
    finally:
        (out / "voila.log").write_text(server.log_tail(200_000))
        server.stop()
    seconds = time.monotonic() - t0
    (out / "timing.txt").write_text(f"model and images {t_model:.1f} s; page and browser {time.monotonic() - t1:.1f} s; "
                                    f"total {seconds:.1f} s\n")
    print(f"Voilà browser test: {seconds:.1f} s (of which training the model {t_model:.1f} s)")


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
        ctx, page, errors = _page(browser)
        try:
            page.goto(f"http://127.0.0.1:{port}/lab/tree/{nb.name}?token={token}&reset", timeout=APPEAR_S * 1000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=APPEAR_S * 1000)
            page.get_by_text(re.compile(r"\| Idle")).wait_for(timeout=APPEAR_S * 1000)  # the kernel is connected
            if page.locator(".jp-Dialog").count():               # a kernel dialog despite the setting: accept it
                page.locator(".jp-Dialog .jp-mod-accept").click()
            _run_first_cell(page)
            scope = page.locator(".jp-Notebook .jp-OutputArea").first
            _interact(page, scope, out, "JupyterLab", CLASSES[1])
            _check_layout(page, scope, out, "laptop_image", "JupyterLab")
            _dataset_view(page, scope, out, "JupyterLab", CLASSES[0], "green")  # cat: two images, so order matters
            _tab(scope, "Data set")
            _check_layout(page, scope, out, "laptop_dataset", "JupyterLab")
        except BaseException:
            page.screenshot(path=out / "page_failed.png", full_page=True)
            print(server.tail())
            raise
        finally: ctx.close()
    finally: server.stop()
    seconds = time.monotonic() - t0
    (out / "timing.txt").write_text(f"total {seconds:.1f} s\n")
    print(f"JupyterLab browser test: {seconds:.1f} s")


HOSTILE_CLASS = "<img src=x onerror=alert(1)>"  # a class folder named by a hostile user
HOSTILE_FILE = "<img src=y onerror=alert(2)><b>bold.png"
HOSTILE_CHANNEL = "<i>R"


def test_explorer_escapes_names(browser, tmp_path):
    """Class folders, file names and channel names that are HTML reach the Voilà page as text: no script runs (no
    dialog, no injected element) and the names show literally."""
    require_module("voila")
    import keras
    from channelgradcam.server import start_server
    rng = np.random.default_rng(0)
    for c, names in ((HOSTILE_CLASS, [HOSTILE_FILE, "plain.png"]), ("dog", ["0.png", "1.png"])):
        (tmp_path / "set" / c).mkdir(parents=True)
        for n in names:
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "set" / c / n)
    keras.utils.set_random_seed(0)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(inp))
    keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x)).save(tmp_path / "m.keras")
    out = artifacts("escaping")
    server = start_server(tmp_path / "m.keras", tmp_path / "set", port=free_port(), class_names=[HOSTILE_CLASS, "dog"],
                          channel_names=[HOSTILE_CHANNEL, "G", "B"])
    ctx, page, errors = _page(browser)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(server.url, timeout=APPEAR_S * 1000)
        page.wait_for_selector(".widget-slider", timeout=APPEAR_S * 1000)
        scope = page.locator("body")
        _tab(scope, "Data set")
        _wait_gallery(scope, "escaping", lambda g: len(g) == 4, "the four images", timeout=APPEAR_S)
        _choose(_select(scope, "(all)"), lambda t: t.startswith(HOSTILE_CLASS + " "))
        _wait_caption(scope, "escaping", f"Images of {HOSTILE_CLASS} by")
        _choose(_select(scope, HOSTILE_CHANNEL), lambda t: t == HOSTILE_CHANNEL)
        _wait_caption(scope, "escaping", f"by {HOSTILE_CHANNEL} importance")
        page.screenshot(path=out / "escaped.png", full_page=True)
        text = page.inner_text("body")
        injected = page.evaluate("""() => [...document.querySelectorAll('img[src="x"], img[src="y"], i:not([class]), b')]
            .filter(e => e.tagName !== 'B' || e.textContent.includes('bold')).map(e => e.outerHTML)""")
    finally:
        (out / "voila.log").write_text(server.log_tail(20000))
        ctx.close()
        server.stop()
    assert not dialogs, f"a script ran on the page: alert({dialogs}); page errors: {errors[:3]}"
    assert not injected, f"markup from names reached the page as elements: {injected}"
    for name in (HOSTILE_CLASS, HOSTILE_CHANNEL, HOSTILE_FILE[:20]):
        assert name in text, f"{name!r} is not shown literally on the page"
