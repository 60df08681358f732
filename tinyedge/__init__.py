"""tinyedge: from a trained model to a validated int8 model running on a microcontroller."""

import os

# tensorflow-model-optimization needs tf_keras models; this must be set before TensorFlow is first
# imported anywhere in the process, so it lives here rather than in the user's shell.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter is noise for a CLI user; real errors still raise.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
