"""The data-set report with hostile names, as a user's folders can carry them: a class folder named
`<img src=x onerror=alert(1)>`, one named like a spreadsheet formula, file and channel names with Markdown and HTML
in them. No script may run when `report.html` is opened in Chromium, no name may add markup or a link to
`report.md`, no CSV cell may start a formula, and our own CSVs must read back to the original names (`summarize`).
The page must not overflow a laptop (1280×800) or a phone (390×844); its screenshots go to `tests/artifacts/report/`
(printed). The model reads only channel G, so the report must point out that G leads in importance for the first class
while replacing G by its data-set mean costs nothing there.

    python -m pytest tests/test_report.py --flags slow
"""
import csv
import re

import numpy as np
import pytest
from PIL import Image

from chromium import artifacts, chromium

XSS_CLASS = "<img src=x onerror=alert(1)>"
FORMULA_CLASS = '=HYPERLINK("e.vil")'
CLASSES = [XSS_CLASS, FORMULA_CLASS]
CHANNELS = ["<svg onload=window.__xss=1>", "G", "+B"]
FILES = ["-2+3.png", "a*b_[x](http:e.vil).png", "@x.png", "plain.png"]
VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def _key_model():
    "Class 0 when the mean of channel 1 (G) is above 0.4, else class 1: fixed weights, nothing trained."
    import keras
    inp = keras.Input((16, 16, 3))
    g = keras.layers.Conv2D(1, 1, activation="relu", kernel_initializer=keras.initializers.Constant([[[[0.0], [1.0], [0.0]]]]),
                            bias_initializer="zeros")(inp)
    g = keras.layers.GlobalAveragePooling2D()(g)
    out = keras.layers.Dense(2, activation="softmax", kernel_initializer=keras.initializers.Constant([[20.0, -20.0]]),
                             bias_initializer=keras.initializers.Constant([-8.0, 8.0]))(g)
    return keras.Model(inp, out)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    "A folder of small PNGs in hostile class folders, explained with `out=`: (output folder, result)."
    from channelgradcam.dataset import explain_dataset
    root = tmp_path_factory.mktemp("hostile")
    rng = np.random.default_rng(0)
    for cls, (lo, hi) in zip(CLASSES, [(0.6, 1.0), (0.0, 0.2)]):
        (root / "images" / cls).mkdir(parents=True)
        for f in FILES:
            x = rng.uniform(0, 1, (16, 16, 3)); x[..., 1] = rng.uniform(lo, hi)
            Image.fromarray((x * 255).round().astype(np.uint8)).save(root / "images" / cls / f)
    out = root / "report"
    r = explain_dataset(_key_model(), root / "images", channel_names=CHANNELS, class_names=CLASSES, out=out, scale=255, examples=1,
                        figures=1, progress=False)
    return out, r


def test_markdown_and_csv_keep_names_inert(run):
    from channelgradcam.merge import summarize
    out, r = run
    assert sorted(r.table["label"].unique()) == sorted(CLASSES)
    from markdown_it import MarkdownIt
    md = (out / "report.md").read_text()
    page = MarkdownIt("commonmark").enable("table").render(md)  # raw HTML passes through, as on GitHub before sanitising
    assert "<img src=\"x\"" not in page and "<img src=x" not in page and "<svg" not in page, "a name added HTML to report.md"
    assert "<a href" not in page, "a name added a link to report.md"
    assert "<em>" not in page and "<strong>" not in page, "a name added emphasis to report.md"
    assert "&lt;img src=x onerror=alert(1)&gt;" in page, "the class name must be shown as text"
    assert "<code>" not in page, "a name opened a code span"
    assert f"Importance and ablation disagree for class {XSS_CLASS.replace('<', '&lt;').replace('>', '&gt;')}: G leads" in page
    for table in page.split("<table>")[1:]:  # a pipe in a name must not add a cell
        cells = [len(re.findall(r"<t[hd][ >]", tr)) for tr in table.split("</table>")[0].split("<tr>")[1:]]
        assert len(set(cells)) == 1, f"rows of different lengths {cells} in {table[:400]}"
    for name in ("explanations.csv", "summary.csv", "ablation.csv", "confusion.csv", "examples.csv"):
        with open(out / name, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        for row in rows:
            for cell in row:
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    float(cell)  # only numbers may start so (e.g. -0.5); anything else is a formula to a spreadsheet
    with open(out / "explanations.csv", newline="", encoding="utf-8") as f:
        first = next(r_ for r_ in csv.DictReader(f) if r_["label"].lstrip("'") == FORMULA_CLASS)
    assert first["label"] == "'" + FORMULA_CLASS, first
    float(first["probability"])  # numbers stay numbers
    back = summarize([out])
    assert back.table["label"].tolist() == r.table["label"].tolist()
    assert back.table["path"].tolist() == r.table["path"].tolist()
    assert sorted({e["class"] for e in back.examples}) == sorted(CLASSES)


@pytest.mark.slow
def test_report_html_in_chromium(run):
    out, r = run
    shots = artifacts("report")
    with chromium() as browser:
        for name, viewport in VIEWPORTS.items():
            ctx = browser.new_context(viewport=viewport)
            page = ctx.new_page()
            dialogs, errors = [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((out / "report.html").as_uri())
            page.wait_for_load_state("load")
            page.wait_for_timeout(300)  # an onerror of a broken image fires after load
            assert dialogs == [], f"{name}: a script ran in report.html (dialog {dialogs})"
            assert page.evaluate("window.__xss === undefined"), f"{name}: a script ran in report.html (window.__xss set)"
            assert errors == [], f"{name}: page errors {errors}"
            assert page.locator("img[src='x']").count() == 0 and page.locator("svg").count() == 0
            body = page.inner_text("body")
            assert XSS_CLASS in body and CHANNELS[0] in body, "the names must be shown as text"
            assert f"Importance and ablation disagree for class {XSS_CLASS}: G leads in importance" in body
            width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width <= inner, f"{name}: the page overflows: scrollWidth {width} > innerWidth {inner}"
            heads = page.evaluate("[...document.querySelectorAll('th')].map(t => t.textContent)")
            assert "" not in heads, f"{name}: a table has a blank header cell: {heads}"
            summary = page.locator("img[alt='summary']")
            natural = summary.evaluate("i => i.naturalWidth")
            assert natural >= 550, f"the summary figure is {natural} px wide"
            shown = summary.evaluate("i => i.getBoundingClientRect().width")  # not shrunk: its text keeps its size
            assert abs(shown - natural) < 1, f"{name}: the summary figure is shown {shown:.0f} px wide, not its {natural} px"
            path = shots / f"report_{viewport['width']}x{viewport['height']}.png"
            page.screenshot(path=str(path), full_page=True)
            print(f"screenshot: {path}")
            ctx.close()
