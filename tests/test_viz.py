"""Regression tests for `channelgradcam.figures` that are not lessons of the notebook."""
import base64
import io
from pathlib import Path

import nbformat
import numpy as np
from PIL import Image

from channelgradcam.figures import show_channels, smallest_text_px

NB = Path(__file__).resolve().parents[1] / "nbs" / "06a_figures.ipynb"


def _saved_pngs(nb):
    "(cell source, PIL image) of every PNG a notebook has saved."
    return [(c.source, Image.open(io.BytesIO(base64.b64decode(o["data"]["image/png"]))))
            for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if "image/png" in o.get("data", {})]


def test_saved_figures_at_natural_size():
    """Issue 22, item 5: the docs page's saved figures are drawn at the figures' own dpi (100, where 8-pt text is 11 px),
    not at 72 dpi: the first one (`show_channels` of two five-channel 24-px images with labels) has the pixel size
    the same figure has at its natural size today, and its text is at least 10 px there."""
    pngs = _saved_pngs(nbformat.read(NB, as_version=4))
    assert pngs, "06a_figures has no saved figures"
    src, png = next((s, p) for s, p in pngs if "show_channels(x5" in s)
    fig = show_channels(np.zeros((2, 24, 24, 5), np.float32), labels=[0, 1], class_names=["disk", "square"])
    assert png.size == tuple(int(round(v)) for v in fig.get_size_inches() * fig.dpi), (png.size, fig.dpi)
    fig.canvas.draw()
    assert smallest_text_px(fig) >= 10
