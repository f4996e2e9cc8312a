"""Per-input-channel class activation maps for Keras CNNs: which channel drove the decision, and where

Modules:

- `channelgradcam.data`: Image folders and synthetic shapes → each file decoded once into a channel cache → mix plans (which image goes into which channel) → `tf.data` batches for the channel-1 experiment."""

__version__ = "0.1.0"
