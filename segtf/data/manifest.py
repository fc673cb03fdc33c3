"""The TFRecord folder manifest: its name and reader (shared by sources and tfrecords)."""

from __future__ import annotations

import json
from pathlib import Path

TFRECORD_MANIFEST = "segtf_tfrecords.json"
FORMAT = "segtf-tfrecords"


def read_manifest(directory) -> dict:
    path = Path(directory) / TFRECORD_MANIFEST
    if not path.exists():
        shards = sorted(p.name for p in Path(directory).glob("*.tfrecord*"))
        return {"shards": shards, "pairs": [], "sizes": [], "count": None}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path}: damaged TFRecord manifest ({err}); re-run `segtf data convert` into an "
            "empty folder"
        ) from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: damaged TFRecord manifest; re-run `segtf data convert`")
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{path} is not a segtf TFRecord manifest")
    return manifest
