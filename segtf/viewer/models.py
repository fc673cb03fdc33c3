"""The models the viewer offers: model folders in a zoo directory, and what their cards say."""

from __future__ import annotations

import os
import pathlib
from dataclasses import dataclass

from segtf import zoo
from segtf.tasks import result_classes


@dataclass(frozen=True)
class ZooEntry:
    """A model folder and its info (config.json)."""

    path: pathlib.Path
    info: zoo.ModelInfo

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def task(self) -> str:
        return self.info.task

    @property
    def label(self) -> str:
        """What the model picker shows: name, task, number of classes."""
        if self.task == "foreground":
            return f"{self.name} (foreground cut-out)"
        return f"{self.name} ({len(self.class_names)} classes)"

    @property
    def class_names(self) -> tuple[str, ...]:
        return result_classes(self.info)[0]

    @property
    def palette(self) -> tuple[tuple[int, int, int], ...]:
        """The card's palette, completed with the PASCAL VOC colour map where it is short."""
        return tuple(tuple(int(v) for v in c) for c in result_classes(self.info)[1])

    def card(self) -> str:
        """MODEL_CARD.md, or "" when the folder has none."""
        card = self.path / zoo.CARD_FILE
        return card.read_text(encoding="utf-8") if card.is_file() else ""

    def weights_stamp(self) -> float:
        """Modification time of the weights: part of the model cache key, so a retrained
        model is picked up without restarting the viewer."""
        weights = self.path / zoo.WEIGHTS_FILE
        return weights.stat().st_mtime if weights.is_file() else 0.0


def zoo_dir() -> pathlib.Path:
    """The zoo directory: `$SEGTF_ZOO` read now (so tests and `segtf viewer --zoo` can point
    the page at another folder after segtf was imported), else `segtf.zoo.ZOO_DIR`."""
    return pathlib.Path(os.environ.get("SEGTF_ZOO") or zoo.ZOO_DIR)


def list_entries(directory: str | os.PathLike | None = None) -> list[ZooEntry]:
    """Model folders under `directory` whose config.json reads; the default model first."""
    directory = pathlib.Path(directory) if directory else zoo_dir()
    if not directory.is_dir():
        return []
    entries = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not (path / zoo.CONFIG_FILE).is_file():
            continue
        try:
            entries.append(ZooEntry(path, zoo.load_info(path)))
        except (ValueError, KeyError, TypeError):
            continue  # a half-written or foreign folder is not offered
    return sorted(entries, key=lambda e: (e.name != zoo.DEFAULT_MODEL, e.name))


# Errors and times are not shares of anything: shown as numbers, never as percentages.
ABSOLUTE_METRICS = {"mae", "loss"}


def format_metrics(metrics: dict) -> list[tuple[str, str]]:
    """Card metrics as (label, value) pairs for display: fractions as percentages."""
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict) and not key.startswith("per_class"):  # per validation set
            rows += [(f"{key} {label}", text) for label, text in format_metrics(value)]
            continue
        label = key.replace("_", " ")
        if key in ABSOLUTE_METRICS and isinstance(value, float):
            rows.append((label, f"{value:.4f}"))
        elif isinstance(value, float) and 0 <= value <= 1 and "time" not in key and "ms" not in key:
            rows.append((label, f"{100 * value:.1f}%"))
        elif isinstance(value, float):
            rows.append((label, f"{value:.3g}"))
        elif isinstance(value, (int, str)):
            rows.append((label, str(value)))
    return rows
