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
        return contextlib.nullcontext()  # a JAX distribution is set globally


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
        # Global, not a scope: fit shards each batch by the distribution active at the time.
        keras.distribution.set_distribution(distribution)
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
        patch_multi_worker_logs()
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


def build_for_strategy(model, element_spec) -> None:
    """Builds the compiled model from the input's element spec before `fit`, and turns off
    Keras' own pre-fit build under a tf.distribute strategy. That build reduces the first
    distributed batch with `strategy.reduce`, which fails under MultiWorkerMirroredStrategy
    (keras-team/keras#20585), and it consumes that batch, shifting the input stream by one
    (so a resumed run would not see the batches the interrupted one would have)."""
    if getattr(model, "_distribute_strategy", None) is None:
        return
    from keras import tree

    batch = tree.map_structure(
        lambda spec: keras.KerasTensor(tuple(spec.shape), spec.dtype.name), element_spec
    )
    model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None


def patch_multi_worker_logs() -> None:
    """Keras 3 averages each step's logged values over workers with
    `strategy.reduce("MEAN", v, axis=0)`, which fails for scalar losses under
    MultiWorkerMirroredStrategy (keras-team/keras#20585). Scalars are averaged with
    axis=None instead; everything else (and every other strategy) is left to Keras. Only
    the logged numbers pass through here, never the gradients."""
    from keras import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica
    if getattr(original, "segtf_patched", False):
        return

    def reduce_per_replica(values, strategy, reduction="auto"):
        if reduction not in ("auto", "mean") or not tf_trainer._collective_all_reduce_multi_worker(
            strategy
        ):
            return original(values, strategy, reduction)

        def reduce(value):
            if strategy.experimental_local_results(value)[0].shape.rank == 0:
                return strategy.reduce("MEAN", value, axis=None)
            return original(value, strategy, reduction)

        return tree.map_structure(reduce, values)

    reduce_per_replica.segtf_patched = True
    tf_trainer.reduce_per_replica = reduce_per_replica


def statistics_sync(model, strategy):
    """A function that averages the non-trainable float variables (BatchNorm moving
    statistics) over all replicas and workers, or None with one replica. Keras 3 keeps them
    per replica, so without it each worker would validate and save its own; timm's
    `distribute_bn` does the same at epoch ends."""
    if strategy is None or strategy.num_replicas_in_sync == 1:
        return None
    import tensorflow as tf

    variables = [v for v in model.non_trainable_variables if "float" in str(v.dtype)]
    if not variables:
        return None

    @tf.function
    def sync():
        local = strategy.run(lambda: [tf.identity(v.value) for v in variables])
        for variable, values in zip(variables, local, strict=True):
            variable.assign(strategy.reduce(tf.distribute.ReduceOp.MEAN, values, axis=None))

    return sync


class SyncStatistics(keras.callbacks.Callback):
    """Runs `sync` before anything reads the statistics: every `every` steps (the
    checkpoint steps), at epoch ends (validation, checkpoint) and at the end."""

    def __init__(self, sync, counter, every: int):
        super().__init__()
        self.sync, self.counter, self.every = sync, counter, every

    def on_train_batch_end(self, batch, logs=None):
        if self.every and self.counter.step % self.every == 0:
            self.sync()

    def on_epoch_end(self, epoch, logs=None):
        self.sync()

    def on_train_end(self, logs=None):
        self.sync()
