"""`--precision auto|float32|mixed_float16|mixed_bfloat16` -> a Keras dtype policy."""

from __future__ import annotations

import logging

import keras

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")


def resolve_precision(name: str = "auto", strategy_name: str = "") -> str:
    """auto: mixed_float16 on a GPU, mixed_bfloat16 on a TPU, float32 on a CPU."""
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {name!r}")
    if name != "auto":
        return name
    if strategy_name == "tpu":
        return "mixed_bfloat16"
    return "mixed_float16" if has_gpu() else "float32"


def has_gpu() -> bool:
    """A GPU visible to the active Keras backend."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    return False


def apply_precision(name: str = "auto", strategy_name: str = "") -> str:
    """Sets the global Keras dtype policy (before models are built) and returns its name.
    Models keep float32 logits (their classifier layer is float32); losses cast to float32;
    mixed_float16 loss scaling is done by `keras.optimizers.LossScaleOptimizer`."""
    policy = resolve_precision(name, strategy_name)
    keras.mixed_precision.set_global_policy(policy)
    logger.info("precision: %s", policy)
    return policy


def wrap_optimizer(optimizer: keras.optimizers.Optimizer, policy: str):
    """Dynamic loss scaling for float16 (bfloat16 has float32's range and needs none)."""
    if policy == "mixed_float16" and not isinstance(
        optimizer, keras.optimizers.LossScaleOptimizer
    ):
        return keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer
