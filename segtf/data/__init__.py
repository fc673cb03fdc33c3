"""segtf input pipelines: finding pairs, validating them, tf.data datasets, statistics.

`make_dataset(source, num_classes=...)` is the entry point; see docs/data.md. Listing,
validation and the NumPy loader (`segtf.data.arrays`) need no TensorFlow: `make_dataset`
imports it on first use, so the trainer's NumPy input runs on a JAX-only machine.
"""

from segtf.data.report import BadItem, DataError, DataReport
from segtf.data.sources import find_pairs
from segtf.data.specs import DatasetSpec, get_dataset_spec, list_dataset_specs
from segtf.data.stats import ClassStatistics, class_statistics
from segtf.data.validate import validate_pairs


def __getattr__(name: str):
    if name == "make_dataset":
        from segtf.data.pipeline import make_dataset

        return make_dataset
    raise AttributeError(f"module 'segtf.data' has no attribute {name!r}")


__all__ = [
    "BadItem",
    "ClassStatistics",
    "DataError",
    "DataReport",
    "DatasetSpec",
    "class_statistics",
    "find_pairs",
    "get_dataset_spec",
    "list_dataset_specs",
    "make_dataset",
    "validate_pairs",
]
