"""Resumable checkpoints on any Keras backend: `ckpt-<step>.weights.h5` (model and optimizer
state: `save_weights` writes both, and the optimizer's step drives the learning-rate
schedule), `best.weights.h5`, and `state.json` naming the latest.

Every file is written to a temporary name and renamed into place, and `state.json` only
after its checkpoint is complete, so a run killed while saving resumes from the previous
checkpoint. The last `keep` checkpoints are kept. Only the chief process writes.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
from dataclasses import asdict, dataclass

import keras

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"  # inside a run folder
STATE_FILE = "state.json"
BEST_FILE = "best.weights.h5"


@dataclass
class RunState:
    step: int = 0
    steps_per_epoch: int = 0
    latest: str = ""  # file name of the latest checkpoint
    best_score: float = float("-inf")
    best_step: int = -1


def _save_weights_atomically(model: keras.Model, path: pathlib.Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp.weights.h5")
    model.save_weights(tmp)
    os.replace(tmp, path)


class Checkpoints:
    """Saves and restores training state in `directory`."""

    def __init__(self, directory, model: keras.Model, keep: int = 3, is_chief: bool = True):
        self.directory = pathlib.Path(directory)
        self.model, self.keep, self.is_chief = model, max(1, keep), is_chief
        self.state = RunState()
        self.saved_step = -1

    def _write_state(self) -> None:
        path = self.directory / STATE_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(asdict(self.state), indent=1), encoding="utf-8")
        os.replace(tmp, path)

    def save(self, step: int, steps_per_epoch: int, model=None) -> pathlib.Path | None:
        """Writes `ckpt-<step>.weights.h5`, then points state.json at it. Pass the model as
        a callback sees it (`callback.model`): on JAX that syncs its state mid-epoch."""
        self.saved_step = step
        if not self.is_chief:
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"ckpt-{step}.weights.h5"
        _save_weights_atomically(model or self.model, path)
        self.state.step, self.state.steps_per_epoch, self.state.latest = (
            step,
            steps_per_epoch,
            path.name,
        )
        self._write_state()
        self._prune()
        logger.debug("checkpoint %s", path)
        return path

    def _prune(self) -> None:
        numbered = sorted(
            self.directory.glob("ckpt-*.weights.h5"),
            key=lambda p: int(p.name.split("-")[1].split(".")[0]),
        )
        for old in numbered[: -self.keep]:
            old.unlink(missing_ok=True)

    def save_if_best(self, model: keras.Model, score: float, step: int) -> bool:
        if not score > self.state.best_score:
            return False
        self.state.best_score, self.state.best_step = float(score), step
        if self.is_chief:
            self.directory.mkdir(parents=True, exist_ok=True)
            _save_weights_atomically(model, self.directory / BEST_FILE)
            self._write_state()
        logger.info("new best validation score %.4f at step %d", score, step)
        return True

    def latest_path(self) -> pathlib.Path | None:
        state = self.read_state()
        if state is None or not state.latest:
            return None
        path = self.directory / state.latest
        return path if path.is_file() else None

    def best_path(self) -> pathlib.Path | None:
        path = self.directory / BEST_FILE
        return path if path.is_file() and self.state.best_step >= 0 else None

    def read_state(self) -> RunState | None:
        path = self.directory / STATE_FILE
        if not path.is_file():
            return None
        try:
            return RunState(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"{path} is damaged ({err}): delete the checkpoints folder to start afresh"
            ) from None

    def restore(self) -> RunState:
        """Loads the latest checkpoint (model and optimizer); a fresh state if none."""
        path = self.latest_path()
        if path is None:
            logger.info("no checkpoint in %s: starting from scratch", self.directory)
            return self.state
        self.state = self.read_state()
        self.model.load_weights(path)
        self.saved_step = self.state.step
        epoch = self.state.step // max(self.state.steps_per_epoch, 1)
        logger.info("resumed from %s (step %d, epoch %d)", path, self.state.step, epoch)
        return self.state
