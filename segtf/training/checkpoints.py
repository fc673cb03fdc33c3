"""Resumable checkpoints: model, optimizer (its step drives the learning-rate schedule),
global step, epoch and best validation score, through `tf.train.Checkpoint`.

`tf.train.CheckpointManager` writes each checkpoint's data before its index and updates the
`checkpoint` state file by atomic rename, so a run killed while saving resumes from the
previous complete checkpoint. The last `keep` are kept, plus the best one under `best/`.
"""

from __future__ import annotations

import logging
import pathlib
import shutil
from dataclasses import dataclass

import keras
import tensorflow as tf

logger = logging.getLogger(__name__)


@dataclass
class ResumeState:
    step: int = 0
    epoch: int = 0  # epochs completed
    best_score: float = float("-inf")
    steps_per_epoch: int = 0


class Checkpoints:
    """Saves and restores training state in `directory` (chief writes; other workers write
    to a temporary folder that is removed, as tf.distribute multi-worker saving requires)."""

    def __init__(
        self,
        directory: str | pathlib.Path,
        model: keras.Model,
        optimizer: keras.optimizers.Optimizer,
        keep: int = 3,
        is_chief: bool = True,
        worker_index: int = 0,
    ):
        self.directory = pathlib.Path(directory)
        self.is_chief = is_chief
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.best = tf.Variable(float("-inf"), dtype=tf.float64, trainable=False, name="best")
        self.steps_per_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="spe")
        self.checkpoint = tf.train.Checkpoint(
            model=model,
            optimizer=optimizer,
            step=self.step,
            epoch=self.epoch,
            best=self.best,
            steps_per_epoch=self.steps_per_epoch,
        )
        write_dir = self.directory if is_chief else self.directory / f".worker_{worker_index}"
        self._write_dir = write_dir
        self.latest = tf.train.CheckpointManager(self.checkpoint, write_dir, max_to_keep=keep)
        self.best_manager = tf.train.CheckpointManager(
            self.checkpoint, write_dir / "best", max_to_keep=1
        )

    def _set(self, step: int, epoch: int, steps_per_epoch: int) -> None:
        self.step.assign(step)
        self.epoch.assign(epoch)
        self.steps_per_epoch.assign(steps_per_epoch)

    def save(self, step: int, epoch: int, steps_per_epoch: int) -> str:
        """Writes a checkpoint numbered by `step`; returns its path."""
        self._set(step, epoch, steps_per_epoch)
        path = self.latest.save(checkpoint_number=step)
        self._cleanup()
        logger.debug("checkpoint %s", path)
        return path

    def save_if_best(self, score: float, step: int, epoch: int, steps_per_epoch: int) -> bool:
        """Saves under best/ when `score` beats the best so far."""
        if not score > float(self.best.numpy()):
            return False
        self.best.assign(score)
        self._set(step, epoch, steps_per_epoch)
        self.best_manager.save(checkpoint_number=step)
        self._cleanup()
        logger.info("new best validation score %.4f at step %d", score, step)
        return True

    def _cleanup(self) -> None:
        if not self.is_chief:
            shutil.rmtree(self._write_dir, ignore_errors=True)

    def latest_path(self) -> str | None:
        return tf.train.latest_checkpoint(self.directory)

    def best_path(self) -> str | None:
        return tf.train.latest_checkpoint(self.directory / "best")

    def restore(self, path: str | None = None) -> ResumeState:
        """Restores `path` (default: the latest checkpoint); a fresh state if there is none."""
        path = path or self.latest_path()
        if not path:
            logger.info("no checkpoint in %s: starting from scratch", self.directory)
            return ResumeState()
        self.checkpoint.restore(path).assert_existing_objects_matched()
        state = ResumeState(
            int(self.step.numpy()),
            int(self.epoch.numpy()),
            float(self.best.numpy()),
            int(self.steps_per_epoch.numpy()),
        )
        logger.info("resumed from %s (step %d, epoch %d)", path, state.step, state.epoch)
        return state

    def restore_model_only(self, path: str) -> None:
        """Loads just the weights of a checkpoint into the model (e.g. the best one)."""
        tf.train.Checkpoint(model=self.checkpoint.model).restore(path).expect_partial()
