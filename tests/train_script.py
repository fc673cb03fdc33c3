"""Runs one training process for the subprocess tests: `python train_script.py CONFIG.json
OUT.npz [STEP_SLEEP_SECONDS]` (not collected by pytest)."""

import json
import logging
import sys
import time

import keras
import numpy as np

from segtf.training import TrainConfig, Trainer


class SlowSteps(keras.callbacks.Callback):
    """Slows steps down so the test can kill the run between two checkpoints."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_begin(self, batch, logs=None):
        time.sleep(self.seconds)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = TrainConfig.from_dict(json.loads(open(sys.argv[1]).read()))
    sleep = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    trainer = Trainer(config, callbacks=[SlowSteps(sleep)] if sleep else ())
    result = trainer.fit()
    np.savez(sys.argv[2], *[keras.ops.convert_to_numpy(w) for w in trainer.model.weights])
    iterations = int(keras.ops.convert_to_numpy(trainer.optimizer.iterations))
    print(json.dumps({"step": result.step, "iterations": iterations}))


if __name__ == "__main__":
    main()
