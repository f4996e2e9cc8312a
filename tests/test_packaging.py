"""The source distribution, built offline from the files a clone has: it ships the package and nothing that needs the
rest of the repository (no tests, notebooks, assets or benchmarks: MANIFEST.in prunes them), it builds a wheel on
its own, and its long description (the README, PyPI's page) shows images by absolute URLs that exist.

Building needs the setuptools that pyproject.toml's [build-system] asks for, installed beside pytest (the dev extra).
"""
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email import message_from_string
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = re.compile(r"(PKG-INFO|README\.md|LICENSE|pyproject\.toml|setup\.cfg|MANIFEST\.in|"
                     r"channelgradcam/[A-Za-z0-9_]+\.py|channelgradcam/templates/[A-Za-z0-9_.]+\.j2|channelgradcam\.egg-info/[A-Za-z_]+\.txt|"
                     r"channelgradcam\.egg-info/PKG-INFO)")
NEVER = ("tests/", "nbs/", "benchmarks/", "assets", ".ci/", ".github/")
_BUILD = """import sys
from setuptools import build_meta
kind, out = sys.argv[1:]
print((build_meta.build_sdist if kind == "sdist" else build_meta.build_wheel)(out))
"""


def _clone(dst):
    "The files a fresh clone of the working tree has (tracked, or new and not ignored), links kept as links."
    res = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True)
    if res.returncode != 0: pytest.fail(f"git ls-files failed (the test needs a git checkout):\n{res.stderr}")
    for rel in sorted(set(filter(None, res.stdout.split("\0")))):
        src, out = ROOT / rel, dst / rel
        if not (src.exists() or src.is_symlink()) or (src.is_dir() and not src.is_symlink()): continue  # deleted
        if any((ROOT / q).is_symlink() for q in Path(rel).parents if str(q) != "."): continue  # gone behind a link
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, out, follow_symlinks=False)
    return dst


def _build(kind, src, out):
    res = subprocess.run([sys.executable, "-c", _BUILD, kind, str(out)], cwd=src, capture_output=True, text=True)
    assert res.returncode == 0, f"building the {kind} failed:\n{res.stderr[-5000:]}"
    return out / res.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def sdist(tmp_path_factory):
    import setuptools
    need = re.search(r'"setuptools\s*>=\s*([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    have = tuple(int(x) for x in re.findall(r"\d+", setuptools.__version__)[:2])
    if need and have < tuple(int(x) for x in need[1].split(".")[:2]):
        pytest.fail(f"building needs setuptools>={need[1]} (pyproject.toml [build-system]); this environment has "
                    f"{setuptools.__version__}: `pip install -e \".[dev]\"` installs it", pytrace=False)
    tmp = tmp_path_factory.mktemp("sdist")
    return _build("sdist", _clone(tmp / "clone"), tmp / "dist")


def _members(path):
    with tarfile.open(path) as tar:
        names = [m.name for m in tar.getmembers() if m.isfile() or m.issym()]
    top = {n.split("/", 1)[0] for n in names}
    assert len(top) == 1, f"the sdist should hold one top folder, it holds {sorted(top)}"
    return sorted(n.split("/", 1)[1] for n in names)


def test_sdist_ships_the_package_and_nothing_that_needs_the_repository(sdist):
    names = _members(sdist)
    modules = sorted(f"channelgradcam/{p.name}" for p in (ROOT / "channelgradcam").glob("*.py"))
    modules += sorted(f"channelgradcam/templates/{p.name}" for p in (ROOT / "channelgradcam" / "templates").glob("*.j2"))
    missing = [m for m in modules + ["README.md", "LICENSE", "pyproject.toml", "PKG-INFO"] if m not in names]
    never = [n for n in names if n.startswith(NEVER)]
    unexpected = [n for n in names if not SHIPPED.fullmatch(n)]
    assert not (missing or never or unexpected), (
        f"sdist {sdist.name}: missing {missing}; must not ship {never}; unexpected {unexpected} "
        "(ship what the tests need or none of it: MANIFEST.in prunes tests, nbs, assets, benchmarks)")


def test_sdist_builds_a_wheel_on_its_own(sdist, tmp_path):
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    src = next(p for p in tmp_path.iterdir() if p.is_dir())
    wheel = _build("wheel", src, tmp_path / "wheel")
    with zipfile.ZipFile(wheel) as z: names = z.namelist()
    assert "channelgradcam/cam.py" in names and not any(n.startswith(("tests/", "nbs/")) for n in names), names
    templates = sorted(f"channelgradcam/templates/{p.name}" for p in (ROOT / "channelgradcam" / "templates").glob("*.j2"))
    assert templates and set(templates) <= set(names), f"the wheel lacks report templates {sorted(set(templates) - set(names))}"


_RENDER = """import channelgradcam, sys
from channelgradcam.report import render, table
assert channelgradcam.__file__.startswith(sys.argv[1]), channelgradcam.__file__
print(render("T", [table(["a"], [["<b>"]])], "html").count("&lt;b&gt;"), render("T", [table(["a"], [["1"]])]), sep="")
"""


def test_installed_wheel_renders_reports(sdist, tmp_path):
    "`pip install` of the wheel brings the report templates: a report renders from the installed package."
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    src = next(p for p in tmp_path.iterdir() if p.is_dir())
    wheel, site = _build("wheel", src, tmp_path / "wheel"), tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(site)}
    res = subprocess.run([sys.executable, "-c", _RENDER, str(site)], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout == "1# T\n\n| a |\n|---|\n| 1 |\n\n", repr(res.stdout)


def _repo_file(url):
    "The working-tree file an absolute URL into this repository (raw or blob, default branch) names, or None."
    from nbdev.config import get_config
    cfg = get_config(ROOT)
    for prefix in (f"https://raw.githubusercontent.com/{cfg.user}/{cfg.repo}/{cfg.branch}/",
                   f"{cfg.git_url.rstrip('/')}/raw/{cfg.branch}/", f"{cfg.git_url.rstrip('/')}/blob/{cfg.branch}/"):
        if url.startswith(prefix): return ROOT / url[len(prefix):].split("?")[0].split("#")[0]
    return None


def _readme_images(text):
    return re.findall(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)", text) + re.findall(r"<img\b[^>]*?\bsrc=[\"']([^\"']+)", text)


def test_readme_images_are_absolute_urls(sdist):
    "PyPI shows the README without the repository around it: every image needs an absolute https URL."
    with tarfile.open(sdist) as tar:
        pkg_info = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        meta = message_from_string(tar.extractfile(pkg_info).read().decode())
    description = meta.get_payload() or meta.get("Description", "")
    images = _readme_images(description)
    assert images, "the long description shows no image: expected the README's (is README.md the readme?)"
    relative = [s for s in images if not s.startswith("https://")]
    assert not relative, (f"README images with relative URLs, broken on PyPI: {relative}; use "
                          "https://raw.githubusercontent.com/<user>/<repo>/main/nbs/assets/<file> (edit nbs/index.ipynb)")
    gone = [s for s in images if (f := _repo_file(s)) is not None and not f.is_file()]
    assert not gone, f"README images pointing at files the repository does not have: {gone}"


def _version():
    "The package's version, from its one source (channelgradcam/__init__.py), read without importing it."
    return re.search(r'^__version__ = "([^"]+)"', (ROOT / "channelgradcam" / "__init__.py").read_text(), re.M)[1]


def test_version_from_its_one_source(sdist):
    "The sdist's metadata, CHANGELOG.md's newest entry and CITATION.cff carry `channelgradcam.__version__`."
    v = _version()
    with tarfile.open(sdist) as tar:
        pkg_info = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"))
        meta = message_from_string(tar.extractfile(pkg_info).read().decode())
    assert meta["Version"] == v, f"sdist version {meta['Version']}, channelgradcam.__version__ is {v}"
    newest = re.search(r"^## (\S+)", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert newest and newest[1] == v, f"CHANGELOG.md's newest entry is {newest and newest[1]}, the version is {v}"
    cff = re.search(r"^version: (\S+)$", (ROOT / "CITATION.cff").read_text(), re.M)
    assert cff and cff[1] == v, f"CITATION.cff says version {cff and cff[1]}, the version is {v}"


def test_cli_version():
    "`channelgradcam --version` prints the package's version and exits 0 (argparse's version action)."
    code = "import sys; from channelgradcam.cli import main; sys.exit(main(['--version']))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0 and res.stdout.strip() == f"channelgradcam {_version()}", (res.returncode, res.stdout,
                                                                                       res.stderr[-2000:])
