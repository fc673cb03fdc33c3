"""`--strategy auto|default|mirrored|multi_worker|tpu` -> a tf.distribute strategy."""

from __future__ import annotations

import json
import logging
import os

import tensorflow as tf

logger = logging.getLogger(__name__)

STRATEGIES = ("auto", "default", "mirrored", "multi_worker", "tpu")


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """auto: multi_worker when TF_CONFIG names a cluster, mirrored with several GPUs, else the
    default (one device) strategy. multi_worker reads the cluster from TF_CONFIG."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
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


def task_info(strategy: tf.distribute.Strategy) -> tuple[bool, int]:
    """(is_chief, worker index): worker 0 (or the only process) is the chief that writes."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True, 0
    task_id = int(resolver.task_id or 0)
    is_chief = resolver.task_type == "chief" or (resolver.task_type == "worker" and task_id == 0)
    return is_chief, task_id
