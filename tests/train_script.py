"""Runs one training process for the subprocess tests: `python train_script.py CONFIG.json
OUT.npz [STEP_SLEEP_SECONDS]` (not collected by pytest)."""

import json
import logging
import sys
import time

import numpy as np

from segtf.training import TrainConfig, Trainer


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = TrainConfig.from_dict(json.loads(open(sys.argv[1]).read()))
    sleep = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    if sleep:  # slow steps down so the test can kill the run between two checkpoints
        make = Trainer._make_train_step

        def slow(self):
            step = make(self)

            def run(*args):
                time.sleep(sleep)
                return step(*args)

            return run

        Trainer._make_train_step = slow
    trainer = Trainer(config)
    result = trainer.fit()
    np.savez(sys.argv[2], *[w.numpy() for w in trainer.model.weights])
    print(
        json.dumps({"step": result.step, "iterations": int(trainer.optimizer.iterations.numpy())})
    )


if __name__ == "__main__":
    main()
