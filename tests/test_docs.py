"""The docs as the site shows them. Quarto cannot run here (GitHub's deploy workflow builds the real site), so:

- `nbdev-proc-nbs` runs on a throw-away copy of the project and every page must come out of it, with its title and
  its whole summary, and with every image it references present in the processed tree;
- every processed page converts (nbdev's own cell keys and timings dropped, as the preview does); a code cell a page
  shows without an output is an example, not test code (no fastcore.test helper, assert or private name: such
  cells are `#| hide`), and every module page shows an example's output;
- `nbs/sidebar.yml` (written by hand, `custom_sidebar = true`) lists every page once and nothing else;
- with `--flags slow`: a local HTML preview of the processed pages (`nbconvert`'s HTML per page, Quarto's front
  matter turned into the title block, the sidebar added to each page) is opened page by page in headless Chromium:
  no broken internal link (pages, anchors, source links into this repository), no missing image, every page has its
  title, and no saved widget state renders a dead copy of a figure (controls that no kernel answers).

Pages are discovered (every notebook under nbs/, as nbdev finds them), never listed here.

    python -m pytest tests/test_docs.py --flags slow
"""
import ast
import html
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import yaml
from nbdev.config import get_config
from nbdev.doclinks import nbglob

from chromium import artifacts, chromium

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / "nbs"
NOTEBOOKS = sorted(nbglob(NBS, as_path=True))
CFG = get_config(ROOT)
SITE = f"{CFG.doc_host.rstrip('/')}{CFG.doc_baseurl.rstrip('/')}/"            # https://<user>.github.io/<repo>/
REPO = CFG.git_url.rstrip("/")                                                 # https://github.com/<user>/<repo>
RAW = f"https://raw.githubusercontent.com/{CFG.user}/{CFG.repo}/{CFG.branch}/"
BLOB = re.compile(re.escape(REPO) + r"/(?:blob|raw|tree)/" + re.escape(CFG.branch) + r"/([^?#]+)")


def _page_id(p):
    return str(p.relative_to(NBS))


def _run(cmd, cwd, timeout=None, **env):
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------- the processed tree (one nbdev-proc-nbs per session)

@pytest.fixture(scope="module")
def proc(tmp_path_factory):
    "A copy of the project after `nbdev-proc-nbs`: (copy root, its `_proc` folder, seconds it took)."
    work = tmp_path_factory.mktemp("docs") / "work"
    work.mkdir()
    for name in ("pyproject.toml", "README.md"):
        if (ROOT / name).exists(): shutil.copy2(ROOT / name, work / name)
    for name in ("nbs", "channelgradcam"):
        # symlinks=True: a linked folder stays a link, as nbdev meets it in a checkout (it does not follow links)
        shutil.copytree(ROOT / name, work / name, symlinks=True,
                        ignore=shutil.ignore_patterns("_proc", "_docs", "__pycache__", ".ipynb_checkpoints"))
    # nbdev-proc-nbs never calls Quarto, but without one on PATH it tries to download and install it (sudo, network):
    # a stand-in that only says why it is there
    stub = work.parent / "bin" / "quarto"
    stub.parent.mkdir()
    stub.write_text("#!/bin/sh\necho 'quarto stand-in of tests/test_docs.py: Quarto does not run in the tests' >&2\nexit 1\n")
    stub.chmod(0o755)
    t0 = time.monotonic()
    res = _run([str(Path(sys.executable).parent / "nbdev-proc-nbs")], cwd=work,
               PATH=f"{stub.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if res.returncode != 0: pytest.fail(f"nbdev-proc-nbs failed:\n{res.stderr[-3000:]}", pytrace=False)
    return work, work / "_proc", time.monotonic() - t0


def _front_matter(nb):
    "Quarto front matter of a processed notebook (its first raw cell), as a dict."
    c = nb.cells[0] if nb.cells else None
    if c is None or c.cell_type != "raw" or not c.source.lstrip().startswith("---"): return {}
    return yaml.safe_load(c.source.strip().strip("-")) or {}


def _source_summary(nb):
    "The H1 title and the whole `>` summary (all its lines) of a source notebook's first markdown cell."
    c = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if c is None: return None, None
    lines = c.source.splitlines()
    title = next((l[2:].strip() for l in lines if l.startswith("# ")), None)
    quote, started = [], False
    for l in lines:
        if l.startswith(">"): quote.append(l.lstrip(">").strip()); started = True
        elif started: break
    return title, " ".join(quote) or None


def test_docs_preprocessing(proc):
    work, cache, seconds = proc
    processed = {p.relative_to(cache).with_suffix("") for p in cache.rglob("*.ipynb")}
    expected = {p.relative_to(NBS).with_suffix("") for p in NOTEBOOKS}
    assert expected <= processed, f"docs preprocessing skipped {sorted(map(str, expected - processed))}"
    assert (work / "nbs" / "sidebar.yml").read_text() == (NBS / "sidebar.yml").read_text(), (
        "nbdev-proc-nbs rewrote nbs/sidebar.yml: set `custom_sidebar = true` in pyproject.toml's [tool.nbdev]")
    print(f"nbdev-proc-nbs: {seconds:.1f} s")


def test_every_page_has_its_title(proc):
    "The site's title block comes from the front matter nbdev makes of the H1 and the `>` summary: both whole."
    _, cache, _ = proc
    bad = []
    for p in NOTEBOOKS:
        fm = _front_matter(nbformat.read(cache / p.relative_to(NBS), as_version=4))
        title, summary = _source_summary(nbformat.read(p, as_version=4))
        if not fm.get("title"): bad.append(f"{_page_id(p)}: no title (the first markdown cell needs an `# H1`)")
        elif title and fm["title"] != title: bad.append(f"{_page_id(p)}: title {fm['title']!r}, the H1 says {title!r}")
        if summary and " ".join(str(fm.get("description", "")).split()) != " ".join(summary.split()):
            bad.append(f"{_page_id(p)}: the site shows the summary cut to {fm.get('description')!r}; "
                       f"nbdev reads only the first line of the `>` quote: put the summary on one line")
    assert not bad, "pages without their title block:\n" + "\n".join(bad)


# ---------------------------------------------------------------- what the pages show

_TESTS = {"test", "test_eq", "test_ne", "test_close", "test_fail", "test_is", "test_warns", "test_stdout", "test_eq_type"}


def _shown_code(cell):
    "The Python a page shows for `cell` (directives and magics dropped), parsed; None if it shows none."
    if cell.cell_type != "code" or not cell.get("source", "").strip(): return None
    if re.search(r"^#\|\s*(echo\s*:\s*false|include\s*:\s*false)", cell.source, re.M): return None
    src = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("#|", "%", "!")))
    try: return ast.parse(src) if src.strip() else None
    except SyntaxError: return None


def _test_code(tree):
    "Test helpers (fastcore.test) and asserts in `tree`, and the private names (`_x`) it uses."
    found = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Assert): found.add("assert")
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _TESTS: found.add(n.func.id)
        elif isinstance(n, ast.Name) and n.id.startswith("_") and not n.id.startswith("__") and n.id != "_": found.add(n.id)
        elif isinstance(n, ast.Attribute) and n.attr.startswith("_") and not n.attr.startswith("__"): found.add(n.attr)
        elif isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name.startswith("_") and not n.name.startswith("__"):
            found.add(n.name)
    return found


def _shows_output(cell):
    return any(o.get("output_type") in ("display_data", "execute_result", "stream") for o in cell.get("outputs", []))


def test_pages_show_examples_not_tests(proc):
    """Issue 22, item 8: a code cell the site shows without an output is an example, not a test: no fastcore.test
    helper, no assert, no private name (such cells are `#| hide`); and every module page shows at least one output
    of an example (a picture or a value), besides the API documentation (`show_doc`)."""
    _, cache, _ = proc
    bad = []
    for p in NOTEBOOKS:
        nb = nbformat.read(cache / p.relative_to(NBS), as_version=4)
        shown = [(i, c, t) for i, c in enumerate(nb.cells)
                 if (t := _shown_code(c)) is not None and "show_doc(" not in c.source]  # show_doc: the API docs
        for i, c, t in shown:
            if not _shows_output(c) and (found := _test_code(t)):
                bad.append(f"{_page_id(p)} cell {i}: test code {sorted(found)[:4]} without an output; "
                           f"start the cell with `#| hide`: {c.source.strip().splitlines()[0][:70]!r}")
        module = any(re.search(r"^#\|\s*default_exp\b", c.source, re.M) for c in nbformat.read(p, as_version=4).cells
                     if c.cell_type == "code")
        if module and not any(_shows_output(c) for _, c, _ in shown):
            bad.append(f"{_page_id(p)}: no example on the page shows an output (a picture or a value)")
    assert not bad, f"{len(bad)} problem(s) on the docs pages:\n" + "\n".join(bad)


def test_every_page_converts(proc):
    "Issue 22, item 8: every processed page is a valid notebook once the preview's preprocessing has run."
    _, cache, _ = proc
    pages = [pg for pg in sorted(cache.rglob("*.ipynb")) if not any(x.startswith((".", "_")) for x in pg.relative_to(cache).parts)]
    assert len(pages) >= len(NOTEBOOKS), f"{len(pages)} processed pages for {len(NOTEBOOKS)} notebooks"
    bad = []
    for page in pages:
        try: nbformat.validate(_as_quarto_shows(nbformat.read(page, as_version=4)))
        except nbformat.ValidationError as e: bad.append(f"{page.relative_to(cache)}: {str(e).splitlines()[0]}")
    assert not bad, "pages nbconvert would reject:\n" + "\n".join(bad)


# ---------------------------------------------------------------- images a page references

_CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.S)
_MD_IMG = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
_HTML_IMG = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)


def _texts(cell):
    "Markdown/HTML a cell shows: a markdown cell's source, and its outputs' markdown and HTML."
    if cell.cell_type == "markdown": yield "md", cell.source
    for o in cell.get("outputs", []):
        for mime, kind in (("text/markdown", "md"), ("text/html", "html")):
            v = o.get("data", {}).get(mime)
            if v: yield kind, "".join(v) if isinstance(v, list) else v


def _image_refs(nb):
    "(cell index, src, attachments) for every image a notebook's markdown or HTML outputs show."
    for i, c in enumerate(nb.cells):
        for kind, text in _texts(c):
            text = _CODE.sub("", text) if kind == "md" else text
            srcs = (_MD_IMG.findall(text) if kind == "md" else []) + _HTML_IMG.findall(text)
            for src in srcs: yield i, html.unescape(src.strip()), c.get("attachments") or {}


def _repo_file(url):
    "The working-tree file an absolute URL into this repository names (raw or blob), or None."
    if url.startswith(RAW): return ROOT / unquote(urlsplit(url).path[len(urlsplit(RAW).path):])
    m = BLOB.match(url)
    return ROOT / unquote(m.group(1)) if m else None


def _image_problem(src, page, cache, attachments):
    "Why the image `src` on processed page `page` would be missing from the site, or None."
    if src.startswith("data:"): return None
    if src.startswith("attachment:"):
        return None if src[len("attachment:"):] in attachments else f"attachment {src} is not in the cell"
    if src.startswith(SITE):
        f = cache / unquote(urlsplit(src).path[len(urlsplit(SITE).path):])
        return None if f.is_file() else f"{src}: the site has no {f.relative_to(cache)}"
    if (f := _repo_file(src)) is not None:
        return None if f.is_file() else f"{src}: the repository has no {f.relative_to(ROOT)}"
    if urlsplit(src).scheme or src.startswith("//"): return None  # elsewhere on the web: not checked offline
    f = (page.parent / unquote(urlsplit(src).path)).resolve()
    if not f.is_relative_to(cache.resolve()): return f"{src}: outside the docs tree (Quarto publishes only _proc)"
    return None if f.is_file() else f"{src}: {f.relative_to(cache.resolve())} is not in the processed tree"


def test_images_exist_in_processed_tree(proc):
    _, cache, _ = proc
    bad, n = [], 0
    for page in sorted(cache.rglob("*.ipynb")):
        if any(part.startswith((".", "_")) for part in page.relative_to(cache).parts): continue
        for i, src, att in _image_refs(nbformat.read(page, as_version=4)):
            n += 1
            if (why := _image_problem(src, page, cache, att)): bad.append(f"{page.relative_to(cache)} cell {i}: {why}")
    assert n, "no page references an image: the check would test nothing (the home page shows the demo's figure)"
    assert not bad, "images missing from the docs:\n" + "\n".join(bad)


def test_image_check_sees_a_missing_image(tmp_path):
    "The image check itself: a broken relative link and an absolute repository URL to no file are both caught."
    cache = tmp_path / "_proc"
    (cache / "assets").mkdir(parents=True)
    (cache / "assets" / "a.png").write_bytes(b"png")
    page = cache / "p.ipynb"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "![ok](assets/a.png) ![gone](assets/b.png) `![code](x.png)` <img src=\"../outside.png\">"
        f" ![raw]({RAW}nbs/assets/no_such.png) ![web](https://example.org/x.png)")])
    found = {src: _image_problem(src, page, cache, {}) for _, src, _ in _image_refs(nb)}
    assert set(found) == {"assets/a.png", "assets/b.png", "../outside.png", f"{RAW}nbs/assets/no_such.png",
                          "https://example.org/x.png"}
    assert {s for s, why in found.items() if why} == {"assets/b.png", f"{RAW}nbs/assets/no_such.png", "../outside.png"}


# ---------------------------------------------------------------- the sidebar

def _sidebar_entries(items):
    for it in items or []:
        if isinstance(it, str): yield it
        elif isinstance(it, dict):
            if it.get("href") or it.get("file"): yield it.get("href") or it.get("file")
            yield from _sidebar_entries(it.get("contents"))


def _sidebar():
    y = yaml.safe_load((NBS / "sidebar.yml").read_text())
    return list(_sidebar_entries(y["website"]["sidebar"]["contents"]))


def test_sidebar_lists_every_page_once():
    assert CFG.custom_sidebar, "pyproject.toml [tool.nbdev] needs `custom_sidebar = true` (else nbdev rewrites it)"
    entries = _sidebar()
    pages = {_page_id(p) for p in NOTEBOOKS}
    dup = sorted({e for e in entries if entries.count(e) > 1})
    not_pages = [e for e in entries if e not in pages]
    missing = sorted(pages - set(entries))
    assert not (dup or not_pages or missing), (
        f"nbs/sidebar.yml: listed twice {dup}; not a page {not_pages}; missing pages {missing} (add them)")


# ---------------------------------------------------------------- the HTML preview, opened in a browser

def _pandoc_id(text):
    "The id Quarto (pandoc) gives a heading: lower case, punctuation but `_-.` dropped, spaces to `-`, from a letter on."
    s = re.sub(r"[^\w\s.\-]", "", text.replace("¶", "").strip().lower())
    return re.sub(r"^[^a-z]+", "", re.sub(r"\s+", "-", s))


_CELL_KEYS = {"cell_type", "id", "metadata", "source", "attachments", "outputs", "execution_count"}


def _as_quarto_shows(nb):
    "Apply the Quarto cell options nbdev leaves (`#| echo/output/include: false`) and drop nbdev's own cell keys."
    cells = []
    for c in nb.cells:
        for k in set(c) - _CELL_KEYS: del c[k]
        c.metadata.pop("execution", None)  # nbdev's timings, not in the notebook schema
        if c.cell_type == "code":
            opts = dict(re.findall(r"^#\|\s*([\w-]+)\s*:\s*(.*?)\s*$", c.source, re.M))
            if opts.get("include") == "false": continue
            if opts.get("output") == "false": c.outputs = []
            if opts.get("echo") == "false": c.metadata.setdefault("tags", []).append("remove_input")
            c.source = re.sub(r"^#\|.*\n?", "", c.source, flags=re.M)
        cells.append(c)
    nb.cells = cells
    return nb


def _build_preview(cache, out):
    "One HTML file per processed page at its site path (front matter `output-file`); returns {source rel: html rel}."
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor
    exporter = HTMLExporter(template_name="lab")
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}), enabled=True)
    pages, sidebar = {}, _sidebar()
    for page in sorted(cache.rglob("*.ipynb")):
        rel = page.relative_to(cache)
        if any(part.startswith((".", "_")) for part in rel.parts): continue
        nb = _as_quarto_shows(nbformat.read(page, as_version=4))
        fm = _front_matter(nb)
        pages[str(rel)] = dict(html=str(rel.parent / fm.get("output-file", rel.with_suffix(".html").name)),
                               title=fm.get("title"), nb=nb, fm=fm)
    for rel, p in pages.items():
        nb, fm = p["nb"], p["fm"]
        if fm: nb.cells = nb.cells[1:]
        up = "../" * (len(Path(p["html"]).parts) - 1)
        nav = "".join(f'<li><a href="{up}{html.escape(pages[e]["html"] if e in pages else e)}">'
                      f'{html.escape(str(pages[e]["title"] if e in pages else e))}</a></li>' for e in sidebar)
        head = (f'<nav id="quarto-sidebar"><ul>{nav}</ul></nav>'
                f'<header id="title-block-header"><h1 class="title">{html.escape(str(fm.get("title", "")))}</h1>'
                f'<div class="description">{html.escape(str(fm.get("description", "")))}</div></header>')
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(head))
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": str(fm.get("title") or "")}})
        # Quarto links a notebook to its page: `x.ipynb` → its output file
        for src, q in pages.items():
            target = os.path.relpath(q["html"], Path(p["html"]).parent)
            source = os.path.relpath(src, Path(rel).parent)
            body = re.sub(r'href="' + re.escape(source) + r'(#[^"]*)?"', lambda m: f'href="{target}{m.group(1) or ""}"',
                          body)
        dst = out / p["html"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(body)
    for f in cache.rglob("*"):  # the non-page files Quarto publishes (assets, styles)
        rel = f.relative_to(cache)
        if f.is_file() and f.suffix != ".ipynb" and not any(part.startswith((".", "_")) for part in rel.parts):
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, out / rel)
    return {rel: p["html"] for rel, p in pages.items()}, {p["html"]: p["title"] for p in pages.values()}


_PAGE_FACTS = """() => {
  const state = (() => { const s = document.querySelector('script[type="application/vnd.jupyter.widget-state+json"]');
                         try { return s ? JSON.parse(s.textContent).state || {} : {}; } catch (e) { return {}; } })();
  const dead = [];
  for (const v of document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')) {
    let id; try { id = JSON.parse(v.textContent).model_id; } catch (e) { continue; }
    if (!state[id]) { dead.push(`widget ${id} has no saved state (renders as nothing)`); continue; }
    const seen = new Set(), todo = [id];
    while (todo.length) {
      const m = state[todo.pop()]; if (!m || seen.has(m)) continue; seen.add(m);
      const bufs = (m.buffers || []).filter(b => (b.data || '').length > 0);
      if (/Image|Output/.test(m.model_name) && (bufs.length || (m.state && m.state.outputs && m.state.outputs.length)))
        dead.push(`widget ${id} saves a ${m.model_name} with a picture: a dead copy of the figure`);
      const refs = JSON.stringify(m.state || {}).match(/IPY_MODEL_[0-9a-f]+/g) || [];
      for (const r of refs) todo.push(r.slice(10));
    }
  }
  const reprs = [];
  for (const o of document.querySelectorAll('.jp-OutputArea-output')) {
    const t = o.innerText.trim();
    if (/^(VBox|HBox|Box|GridBox|Tab|Accordion|IntSlider|FloatSlider|Dropdown|Image|Output|interactive)\\(/.test(t))
      reprs.push(t.slice(0, 80));
  }
  return {
    title: document.title,
    h1: [...document.querySelectorAll('h1.title')].map(h => h.innerText.trim()),
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    images: [...document.querySelectorAll('img')].map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    headings: [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => h.innerText),
    dead: dead.concat(reprs.map(t => `an output shows a widget's text form: ${t}`)),
  };
}"""


@pytest.mark.slow
def test_docs_in_browser(proc):
    _, cache, _ = proc
    out = artifacts("docs")
    preview = out / "site"
    t0 = time.monotonic()
    to_html, titles = _build_preview(cache, preview)
    t_build = time.monotonic() - t0
    assert len(to_html) >= len(NOTEBOOKS), f"preview has {len(to_html)} pages for {len(NOTEBOOKS)} notebooks"
    site_root = preview.resolve().as_uri() + "/"
    problems, unchecked = [], set()

    def route(r):  # raw files of this repository come from the working tree; the rest of the web is not reached
        url = r.request.url
        if (f := _repo_file(url)) is not None:
            return r.fulfill(path=f) if f.is_file() else r.fulfill(status=404, body="not in the repository")
        if url.startswith(SITE):
            f = preview / unquote(urlsplit(url).path[len(urlsplit(SITE).path):])
            return r.fulfill(path=f) if f.is_file() else r.fulfill(status=404, body="not on the site")
        unchecked.add(url)
        return r.abort()

    facts = {}
    with chromium() as browser:
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        ctx.route(re.compile(r"^https?://"), route)
        page = ctx.new_page()
        for rel, h in to_html.items():
            page.goto(preview.joinpath(h).resolve().as_uri(), wait_until="load", timeout=60_000)
            facts[h] = page.evaluate(_PAGE_FACTS)
            page.screenshot(path=out / (h.replace("/", "__") + ".png"))
        ctx.close()

    def local(url):
        "(preview page path or file, anchor) for a URL into the site or the preview; None when it is elsewhere."
        u = urlsplit(url)
        if url.startswith(site_root): return unquote(u.path[len(urlsplit(site_root).path):]), u.fragment
        if url.startswith(SITE): return unquote(u.path[len(urlsplit(SITE).path):]) or "index.html", u.fragment
        return None

    for h, f in facts.items():
        if f["title"] != titles[h] or f["h1"] != [titles[h]]:
            problems.append(f"{h}: page title {f['title']!r}, heading {f['h1']}, expected {titles[h]!r}")
        for img in f["images"]:
            if not img["ok"] and img["src"] not in unchecked: problems.append(f"{h}: missing image {img['src']}")
        problems += [f"{h}: {d}" for d in f["dead"]]
        for url in f["links"]:
            if (rf := _repo_file(url)) is not None:
                line = re.fullmatch(r"L(\d+)", urlsplit(url).fragment)
                if not rf.exists(): problems.append(f"{h}: link to {url}: the repository has no {rf.relative_to(ROOT)}")
                elif line and rf.is_file() and int(line[1]) > len(rf.read_text(errors="replace").splitlines()):
                    problems.append(f"{h}: link to {url}: {rf.relative_to(ROOT)} is shorter")
                continue
            if (loc := local(url)) is None: continue
            path, anchor = loc
            path = path.removesuffix(".md")  # llms.txt style `page.html.md` is the same page in Markdown
            target = path if path in facts else (path.rstrip("/") + "/index.html").lstrip("/")
            if target not in facts:
                if not (preview / path).is_file(): problems.append(f"{h}: broken link {url}")
                continue
            if anchor:
                ids = set(facts[target]["ids"]) | {_pandoc_id(t) for t in facts[target]["headings"]}
                if anchor not in ids and anchor.lower() not in ids:
                    problems.append(f"{h}: link {url}: no #{anchor} on {target}")
    print(f"docs preview: {len(facts)} pages, built in {t_build:.1f} s, checked in "
          f"{time.monotonic() - t0 - t_build:.1f} s; not checked (outside the site and the repository): "
          f"{sorted(unchecked)[:8]}{' …' if len(unchecked) > 8 else ''}")
    assert not problems, f"{len(problems)} problem(s) in the docs preview ({out}):\n" + "\n".join(problems)
