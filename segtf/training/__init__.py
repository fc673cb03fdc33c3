"""Training: config, named experiments, the distributed / mixed-precision training loop."""

from segtf.training.config import TrainConfig
from segtf.training.experiments import get_experiment, list_experiments, resolve_config
from segtf.training.schedules import PolyWarmup
from segtf.training.trainer import Trainer, TrainResult, train

__all__ = [
    "PolyWarmup",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "get_experiment",
    "list_experiments",
    "resolve_config",
    "train",
]
