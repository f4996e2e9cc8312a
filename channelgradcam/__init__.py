"""Per-input-channel class activation maps for Keras CNNs: which channel drove the decision, and where"""

__version__ = "0.2.0"  # the one source of the version: a release tag must be v<this> (.github/workflows/release.yaml)

from . import core  # noqa: F401 (imported first by every entry point: it quiets TensorFlow's first import, from anywhere)

# The entry points most users need, importable from the package itself. They load on first use, so that
# `import channelgradcam` stays light (no TensorFlow until something needs it).
_EXPORTS = {"ChannelGradCAM": "cam", "LayerCAM": "cam", "GradCAM": "cam", "GradCAMPlusPlus": "cam", "CAMResult": "cam",
            "read_image": "images", "explain_dataset": "dataset", "summarize": "merge", "build_model": "models",
            "load_model": "models", "show_channel_cams": "viz", "run_demo": "demo"}
__all__ = list(_EXPORTS)

def __getattr__(name):
    if name not in _EXPORTS: raise AttributeError(f"module 'channelgradcam' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)

def __dir__(): return sorted([*globals(), *_EXPORTS])
