"""Regression tests for `channelgradcam.metrics` that are not lessons of the notebook."""
import keras
import numpy as np

from channelgradcam.metrics import channel_ablation


def _model(C=3, seed=0):
    "A small softmax CNN reading every channel (so every channel's ablation changes the score)."
    keras.utils.set_random_seed(seed)
    inp = keras.Input((12, 12, C))
    h = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inp)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inp, keras.layers.Dense(3, activation="softmax", name="predictions")(h))


def test_dataset_mean_fill_is_baseline_values():
    """The data-set layer's "mean" ablation (the data set's channel means, built today as a model behind a
    `Rescaling(offset=mean)` fed `x - mean` and ablated with zeros) is `channel_ablation(..., baseline=means)`."""
    model = _model()
    x = np.random.default_rng(1).random((8, 12, 12, 3), dtype=np.float32)
    means = x.mean(axis=(0, 1, 2)) + np.float32(0.1)
    inp = keras.Input(model.input_shape[1:])
    shifted = keras.Model(inp, model(keras.layers.Rescaling(1.0, offset=means, name="dataset_mean")(inp)))
    y = np.arange(8) % 3                                          # true classes: their probabilities are scored
    old = channel_ablation(shifted, x - means, targets=y, baseline="zero", score="prob")
    new = channel_ablation(model, x, targets=y, baseline=means, score="prob")
    np.testing.assert_allclose(new, old, atol=1e-6)
    assert np.abs(new).max() > 1e-3  # the fills matter: the test can fail


def test_named_fills_unchanged_by_given_values():
    "The named fills keep their numbers: a per-image channel mean given as values equals baseline='mean'."
    model = _model(seed=2)
    x = np.random.default_rng(2).random((4, 12, 12, 3), dtype=np.float32)
    per_image = x.mean(axis=(1, 2), keepdims=True)                # (B,1,1,C): each image's own channel means
    np.testing.assert_allclose(channel_ablation(model, x, baseline=per_image), channel_ablation(model, x, baseline="mean"),
                               atol=1e-6)
    np.testing.assert_array_equal(channel_ablation(model, x, baseline=np.zeros(3)), channel_ablation(model, x, baseline="zero"))
