"""Issue 22, item 1: the wheel installed with only its `[app]` extra serves a working explorer page.

The browser tests run in the dev environment, whose extra packages (JupyterLab, nbclient, ...) would hide a package
missing from `[app]` (as `ipykernel` was: the page answered "500: Internal Server Error"). Here the wheel is built
from the files a clone has and installed with `pip install "channelgradcam-….whl[app]"` into a fresh venv, which
then runs `channelgradcam explore`; Chromium loads the page and must see the explorer's widgets.

What the fresh venv sees besides what pip installs: TensorFlow is a 600 MB download, so the *base* dependencies
(the wheel's own Requires-Dist without extras, and theirs, recursively, as declared by the installed
packages) are offered to it from the dev environment as a read-only layer of links, one per installed package with its
metadata, so pip counts them as installed. Nothing else of the dev environment is visible: every package of the `app`
extra (Voilà, ipykernel and whatever they need beyond the base) must come from pip's resolution of `[app]`, from the
package index. The test proves that `[app]` on top of the base install is enough; it does not re-prove that the base
requirements' versions resolve from scratch (the packaging and CI installs do that).
"""
import importlib.metadata as md
import os
import re
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromium import artifacts, chromium, free_port, require_module
from test_packaging import _build, _clone

pytestmark = pytest.mark.slow  # builds a wheel, makes a venv, installs from the package index, drives a browser


def _norm(name): return re.sub(r"[-_.]+", "-", name).lower()


def _base_closure(wheel):
    "The installed distributions `pip install <wheel>` needs (no extras: the wheel's Requires-Dist), recursively."
    from email import message_from_string
    from packaging.requirements import Requirement
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        root = message_from_string(z.read(meta).decode()).get_all("Requires-Dist") or []
    dists = {_norm(d.metadata["Name"]): d for d in md.distributions()}
    todo, seen = [Requirement(r) for r in root], {}
    while todo:
        req = todo.pop()
        if req.marker is not None and not req.marker.evaluate({"extra": ""}): continue
        name = _norm(req.name)
        if name in seen or name not in dists: continue
        seen[name] = dists[name]
        todo += [Requirement(r) for r in (dists[name].requires or [])]
    return seen


def _base_layer(wheel, folder, prefix):
    """A folder of links to the base dependencies' installed files (top-level packages, modules and .dist-info), and
    copies in the venv `prefix` of their data files (`share/jupyter/...`: the widgets' JavaScript, for one)."""
    folder.mkdir()
    names, data = set(), set()
    for dist in _base_closure(wheel).values():
        for f in dist.files or []:
            top = f.parts[0]
            if top == "..":  # outside site-packages: data files under the prefix (scripts in bin/ are not needed)
                src = Path(dist.locate_file(f)).resolve()
                rel = src.relative_to(Path(sys.prefix).resolve()) if src.is_relative_to(Path(sys.prefix).resolve()) else None
                if rel is not None and rel.parts[0] == "share": data.add((src, rel))
                continue
            if top == "__pycache__" or top.endswith(".pth"): continue  # caches, other path hooks
            names.add((Path(dist.locate_file(top)), top))
    for src, top in names:
        if src.exists() and not (folder / top).exists(): (folder / top).symlink_to(src)
    for src, rel in data:
        if src.exists() and not (prefix / rel).exists():
            (prefix / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, prefix / rel)  # a copy: Voilà serves no file whose real path leaves its folder
    return folder


def _clean_env(**extra):
    "The environment without what points Python at the dev tree or venv (PYTHONPATH would put the checkout first)."
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    return {**env, **extra}


def _run(cmd, **kw):
    kw.setdefault("cwd", "/")  # not the checkout: `python -c` puts its folder first on the path
    res = subprocess.run(cmd, capture_output=True, text=True, env=kw.pop("env", _clean_env()), **kw)
    assert res.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res


def test_wheel_with_app_extra_serves_the_page(tmp_path):
    require_module("packaging")
    wheel = _build("wheel", _clone(tmp_path / "clone"), tmp_path / "dist")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    py = venv / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "channelgradcam-base-layer.pth").write_text(str(_base_layer(wheel, tmp_path / "base", venv)) + "\n")
    have = _run([str(py), "-m", "pip", "list", "--format=freeze"]).stdout.lower()
    for absent in ("voila", "ipykernel", "jupyter-server", "jupyter_server", "jupyterlab", "nbclient", "pytest"):
        assert f"\n{absent}==" not in "\n" + have, f"{absent} is visible in the fresh venv before the install:\n{have}"
    _run([str(py), "-m", "pip", "install", "--no-input", f"{wheel}[app]"], timeout=900)
    where = _run([str(py), "-c", "import channelgradcam, voila, ipykernel; print(channelgradcam.__file__, voila.__file__)"])
    assert all(str(venv) in p for p in where.stdout.split()), where.stdout   # the wheel's package, app from pip

    rng = np.random.default_rng(0)
    for c in ("cat", "dog"):
        (tmp_path / "set" / c).mkdir(parents=True)
        for j in range(2):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(tmp_path / "set" / c / f"{j}.png")
    model = _run([str(py), "-c", """if 1:
        import sys
        import channelgradcam  # its core quiets TensorFlow's first import
        import keras
        inp = keras.Input((16, 16, 3))
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, activation="relu")(inp))
        keras.Model(inp, keras.layers.Dense(2, activation="softmax")(x)).save(sys.argv[1])
        """, str(tmp_path / "m.keras")], cwd=tmp_path)
    assert model.returncode == 0

    out = artifacts("wheel_app")
    port = free_port()
    log = open(out / "explore.log", "w")
    env = _clean_env(PATH=f"{venv / 'bin'}:/usr/bin:/bin", HOME=str(tmp_path), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([str(venv / "bin" / "channelgradcam"), "explore", "--model", str(tmp_path / "m.keras"),
                             str(tmp_path / "set"), "--port", str(port), "--classes", "cat,dog"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()
        m = re.search(rf"(http://127\.0\.0\.1:{port}/\S*)", line)
        assert m, f"no address printed: {line!r}\n{(out / 'explore.log').read_text()[-3000:]}"
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            answer = page.goto(m.group(1), timeout=300_000)
            assert answer.status < 400, f"the page answered {answer.status}"
            try: page.wait_for_selector(".widget-slider", timeout=240_000)
            except Exception as e:  # noqa: BLE001 -- say what the page shows instead
                page.screenshot(path=out / "no_widgets.png")
                pytest.fail(f"no explorer widgets on the page ({e}); it shows: {page.inner_text('body')[:2000]}\n"
                            f"log: {(out / 'explore.log').read_text()[-2000:]}", pytrace=False)
            page.screenshot(path=out / "explorer.png")
            text = page.inner_text("body")
            assert "Internal Server Error" not in text and "Traceback" not in text, text[:2000]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:  # a failure above: Ctrl-C first, so that `explore` stops Voilà (its own session) and the kernel
            proc.send_signal(signal.SIGINT)
            try: proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
