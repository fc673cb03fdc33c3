"""Reading TFDS datasets with `image` + `segmentation_mask` features ("tfds:NAME[:split]").

Nothing is ever downloaded: the dataset must already be prepared under `data_dir` (by
`tfds build`, e.g. with the builders in `datasets/`, or by `download_and_prepare()` run by
the user). Datasets whose builder code is not importable (such as those built from
`datasets/`) are opened from their prepared folder with `tfds.builder_from_directory`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import tensorflow as tf

from segtf.data.report import DataError

logger = logging.getLogger(__name__)

IMAGE_KEY, MASK_KEY = "image", "segmentation_mask"


def parse_tfds_source(source: str) -> tuple[str, str]:
    """'tfds:oxford_iiit_pet:train' -> ('oxford_iiit_pet', 'train'); split defaults to train."""
    _, _, rest = source.partition(":")
    name, _, split = rest.partition(":")
    if not name:
        raise ValueError(f"{source!r}: expected 'tfds:NAME[:SPLIT]'")
    return name, split or "train"


def _prepared_dir(name: str, data_dir: str | None) -> Path | None:
    """`data_dir/NAME[/CONFIG]/VERSION` holding a prepared dataset (newest version)."""
    root = Path(data_dir or Path.home() / "tensorflow_datasets").expanduser() / name
    infos = sorted(root.glob("**/dataset_info.json")) if root.exists() else []
    return infos[-1].parent if infos else None


def segmentation_features():
    """The features segtf's TFDS builders write: what `make_dataset("tfds:...")` reads
    (the catalogue's `image` + `segmentation_mask` convention, plus the file name)."""
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(None, None, 3)),
            "segmentation_mask": tfds.features.Image(shape=(None, None, 1), encoding_format="png"),
            "file_name": tfds.features.Text(),
        }
    )


def load_builder(name: str, data_dir: str | None):
    import tensorflow_datasets as tfds

    prepared = _prepared_dir(name, data_dir)
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as err:  # not in the catalogue / code not importable here
        if prepared is None:
            raise DataError(
                f"TFDS dataset {name!r} is neither registered nor prepared under "
                f"{data_dir or '~/tensorflow_datasets'} ({str(err).splitlines()[0]}). Build it first, e.g. "
                f"`tfds build datasets/{name} --data_dir DIR --manual_dir SRC`, and pass "
                "data_dir=DIR."
            ) from None
        return tfds.builder_from_directory(str(prepared))
    if not Path(builder.data_dir, "dataset_info.json").exists():
        if prepared is not None:
            return tfds.builder_from_directory(str(prepared))
        raise DataError(
            f"TFDS dataset {name!r} is not prepared in {builder.data_dir}; segtf never "
            "downloads. Prepare it yourself (tfds build / builder.download_and_prepare()) "
            "and pass its data_dir."
        )
    return builder


def tfds_dataset(source: str, data_dir: str | None = None) -> tf.data.Dataset:
    """(image uint8 (H, W, 3), mask int32 (H, W, C)) pairs of a prepared TFDS split."""
    name, split = parse_tfds_source(source)
    builder = load_builder(name, data_dir)
    features = builder.info.features
    missing = [k for k in (IMAGE_KEY, MASK_KEY) if k not in features]
    if missing:
        raise DataError(
            f"TFDS dataset {name!r} has no {missing} feature(s) (it has "
            f"{sorted(features.keys())}); segtf needs 'image' + 'segmentation_mask'"
        )
    if split not in builder.info.splits:
        raise DataError(
            f"TFDS dataset {name!r} has no split {split!r}; splits: "
            f"{sorted(builder.info.splits.keys())}"
        )
    ds = builder.as_dataset(split=split, shuffle_files=False)
    logger.info("TFDS %s[%s]: %d examples", name, split, builder.info.splits[split].num_examples)

    def to_pair(example):
        image = example[IMAGE_KEY]
        image = tf.image.grayscale_to_rgb(image) if image.shape[-1] == 1 else image[..., :3]
        mask = tf.cast(example[MASK_KEY], tf.int32)
        if mask.shape.rank == 2:
            mask = mask[..., None]
        return image, mask

    return ds.map(to_pair, num_parallel_calls=tf.data.AUTOTUNE)
