"""Keeps TensorFlow's start-up chatter (absl, oneDNN, CUDA probing) off a normal run's stderr.

TensorFlow's C++ side writes straight to file descriptor 2 while it is imported, before any
Python logging setting can reach it, and TF_CPP_MIN_LOG_LEVEL does not cover every line.
So the import runs with descriptor 2 pointed at a temporary file; with `--verbose` nothing
is hidden.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import warnings


@contextlib.contextmanager
def stderr_to_file():
    """Sends descriptor 2 to a temporary file for the duration; yields the file."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield sink
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def import_backend_quietly() -> None:
    """Imports TensorFlow (when it is the Keras backend) and Keras without their log lines."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", message=r".*tf\.lite\.Interpreter is deprecated.*")
    with stderr_to_file():
        if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
            with contextlib.suppress(ImportError):
                import tensorflow as tf

                tf.get_logger().setLevel(logging.ERROR)
        with contextlib.suppress(ImportError):
            import keras  # noqa: F401
    with contextlib.suppress(ImportError):
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
