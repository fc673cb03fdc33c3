"""`--strategy auto|default|mirrored|multi_worker|tpu` -> where training runs.

TensorFlow backend: a tf.distribute strategy. JAX backend: `keras.distribution.DataParallel`
over every local device when there are several (auto / mirrored), else one device.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass

import keras

logger = logging.getLogger(__name__)

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


@dataclass
class Placement:
    """The replicas a run trains on and how to enter their scope."""

    strategy: object | None  # tf.distribute.Strategy (TensorFlow) or None
    distribution: object | None  # keras.distribution.Distribution (JAX) or None
    replicas: int
    is_chief: bool = True
    worker: int = 0

    def scope(self):
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()


def make_placement(name: str = "auto", strategy=None) -> Placement:
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    backend = keras.backend.backend()
    if backend == "tensorflow":
        strategy = strategy or make_strategy(name)
        is_chief, worker = task_info(strategy)
        return Placement(strategy, None, strategy.num_replicas_in_sync, is_chief, worker)
    if name in ("multi_worker", "tpu"):
        raise ValueError(f"strategy {name} needs the TensorFlow backend (KERAS_BACKEND={backend})")
    devices = keras.distribution.list_devices()
    if name in ("auto", "mirrored") and len(devices) > 1:
        distribution = keras.distribution.DataParallel(devices=devices)
        logger.info("strategy: DataParallel over %d devices", len(devices))
        return Placement(None, distribution, len(devices))
    return Placement(None, None, 1)


def make_strategy(name: str = "auto"):
    """auto: multi_worker when TF_CONFIG names a cluster, mirrored with several GPUs, else the
    default (one device) strategy. multi_worker reads the cluster from TF_CONFIG."""
    import tensorflow as tf

    if name == "auto":
        gpus = tf.config.list_physical_devices("GPU")
        name = (
            "multi_worker" if _cluster_workers() > 1 else "mirrored" if len(gpus) > 1 else "default"
        )
    if name == "default":
        strategy = tf.distribute.get_strategy()
    elif name == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
    elif name == "multi_worker":
        if not os.environ.get("TF_CONFIG"):
            raise ValueError(
                "strategy multi_worker needs TF_CONFIG (cluster and task) set for "
                "every worker process"
            )
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
    logger.info(
        "strategy: %s with %d replica(s)", type(strategy).__name__, strategy.num_replicas_in_sync
    )
    return strategy


def _cluster_workers() -> int:
    config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    return len(config.get("cluster", {}).get("worker", []))


def task_info(strategy) -> tuple[bool, int]:
    """(is_chief, worker index): worker 0 (or the only process) is the chief that writes."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True, 0
    task_id = int(resolver.task_id or 0)
    is_chief = resolver.task_type == "chief" or (resolver.task_type == "worker" and task_id == 0)
    return is_chief, task_id
