"""Sharded TFRecords: `segtf data convert SRC --out DIR` writes them, the pipeline reads them.

Each record holds the *encoded* image and mask bytes as found on disk (no re-compression,
so the round trip is lossless), their size and names. Only files TensorFlow's decoders would
read differently are re-encoded, losslessly, as PNG: palette ("P") or 1-bit masks become
8-bit class-index PNGs, TIFF / WebP / CMYK images become RGB PNGs. A JSON manifest lists
the shards, the pairs and their sizes.
"""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

from segtf.data.decode import TF_IMAGE_EXTENSIONS, TF_IMAGE_MODES, TF_MASK_MODES
from segtf.data.manifest import FORMAT, TFRECORD_MANIFEST, read_manifest  # noqa: F401

logger = logging.getLogger(__name__)

FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "mask/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "image/name": tf.io.FixedLenFeature([], tf.string),
}


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def encoded_image(path: str) -> bytes:
    """The file's bytes, or a lossless RGB PNG when TensorFlow cannot decode it as is."""
    with Image.open(path) as image:
        if Path(path).suffix.lower() in TF_IMAGE_EXTENSIONS and image.mode in TF_IMAGE_MODES:
            return Path(path).read_bytes()
        return _png_bytes(np.asarray(image.convert("RGB")))


def encoded_mask(path: str) -> bytes:
    """The file's bytes, or an 8-bit PNG of the same values (palette indices, 1-bit, 16-bit)."""
    with Image.open(path) as mask:
        if Path(path).suffix.lower() in TF_IMAGE_EXTENSIONS and mask.mode in TF_MASK_MODES:
            return Path(path).read_bytes()
        values = np.asarray(mask)
    if values.max(initial=0) > 255:
        raise ValueError(f"{path}: mask values up to {values.max()} do not fit 8 bits")
    return _png_bytes(values.astype(np.uint8))


def make_example(image_path: str, mask_path: str, size: tuple[int, int]) -> bytes:
    def feature(value):
        if isinstance(value, bytes):
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

    features = {
        "image/encoded": feature(encoded_image(image_path)),
        "mask/encoded": feature(encoded_mask(mask_path)),
        "image/width": feature(int(size[0])),
        "image/height": feature(int(size[1])),
        "image/name": feature(Path(image_path).stem.encode()),
    }
    example = tf.train.Example(features=tf.train.Features(feature=features))
    return example.SerializeToString()


def write_tfrecords(pairs, sizes, out_dir, shard_size: int = 256) -> list[str]:
    """Writes validated `pairs` ((W, H) in `sizes[pair]`) as shards + manifest in `out_dir`.

    Shards are written under temporary names and renamed when complete, the manifest last,
    so an interrupted conversion never looks like a finished one.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if (out / TFRECORD_MANIFEST).exists() or any(out.glob("*.tfrecord")):
        raise FileExistsError(f"{out} already holds TFRecords: choose an empty --out folder")
    num_shards = max(1, -(-len(pairs) // shard_size))
    shards, counts = [], []
    for shard in range(num_shards):
        name = f"data-{shard:05d}-of-{num_shards:05d}.tfrecord"
        tmp = out / f".{name}.tmp"
        chunk = pairs[shard * shard_size : (shard + 1) * shard_size]
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for pair in chunk:
                writer.write(make_example(pair[0], pair[1], sizes[pair]))
        os.replace(tmp, out / name)
        shards.append(name)
        counts.append(len(chunk))
        logger.info("wrote %s", out / name)
    manifest = {
        "format": FORMAT,
        "version": 1,
        "count": len(pairs),
        "shards": shards,
        "shard_counts": counts,  # records per shard: a truncated shard reads back fewer
        "pairs": [list(p) for p in pairs],
        "sizes": [list(sizes[p]) for p in pairs],
    }
    tmp = out / f".{TFRECORD_MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, out / TFRECORD_MANIFEST)
    return [str(out / s) for s in shards]


def parse_example(record: tf.Tensor) -> dict[str, tf.Tensor]:
    return tf.io.parse_single_example(record, FEATURES)


def shard_problem(path: str, expected: int | None) -> str | None:
    """None when the shard's records all read back with their checksums (and as many as the
    manifest says), else what is wrong: a truncated or corrupted shard would otherwise stop
    training from inside the iterator, or silently drop records."""
    if not Path(path).is_file():
        return "shard file is missing"
    count = 0
    try:
        for _ in tf.data.TFRecordDataset(path):
            count += 1
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as err:
        return f"damaged shard ({err.message.splitlines()[0][:160]})"
    if expected is not None and count != expected:
        return f"damaged shard (truncated: {count} of its {expected} records read back)"
    return None


def check_shards(directory, files: list[str], counts=None) -> None:
    """Reads every shard once; raises one `DataError` naming each damaged shard."""
    from segtf.data.report import BadItem, DataReport

    fix = f"convert the data again into an empty folder (segtf data convert SRC --out {directory}.new)"
    counts = list(counts) if counts else [None] * len(files)
    report = DataReport(
        bad=[
            BadItem((f,), problem, fix)
            for f, n in zip(files, counts, strict=True)
            if (problem := shard_problem(f, n))
        ]
    )
    report.raise_or_skip(False, what=f"{len(files)} TFRecord shard(s) in {directory}")


def tfrecord_dataset(directory, parallel: bool = False) -> tf.data.Dataset:
    """Serialized records of `directory`'s shards (each checked once): in file order, or
    (parallel) interleaved from several shards at once (still deterministic under tf.data's
    deterministic option)."""
    manifest = read_manifest(directory)
    files = [str(Path(directory) / s) for s in manifest["shards"]]
    if not files:
        raise FileNotFoundError(f"{directory}: no .tfrecord shards")
    check_shards(directory, files, manifest.get("shard_counts"))
    reads = min(4, len(files)) if parallel else None
    return tf.data.TFRecordDataset(files, num_parallel_reads=reads)
