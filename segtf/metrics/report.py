"""Evaluation reports: a JSON file, a confusion-matrix plot, a per-class IoU bar chart,
prediction overlays, and a readable text table."""

from __future__ import annotations

import json
import math
import os
import pathlib

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global backend state

from segtf.atomic import atomic_path


def write_json(path: str | os.PathLike, data: dict) -> pathlib.Path:
    """Writes JSON atomically (NaN written as null)."""
    path = pathlib.Path(path)
    text = json.dumps(_clean(data), indent=2) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _clean(value):
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def plot_confusion(matrix, class_names, path: str | os.PathLike) -> pathlib.Path:
    """Row-normalised confusion matrix (recall per true class) as a PNG."""
    matrix = np.asarray(matrix, np.float64)
    rows = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    n = len(class_names)
    fig = Figure(figsize=(1.0 + 0.55 * n, 1.0 + 0.5 * n))
    ax = fig.add_subplot()
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(n):
            if rows[i, j] >= 0.01:
                ax.text(
                    j,
                    i,
                    f"{rows[i, j]:.2f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if rows[i, j] > 0.5 else "black",
                )
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return pathlib.Path(path)


def plot_per_class_iou(per_class: dict, path: str | os.PathLike, mean_iou: float | None = None):
    """Horizontal bar chart of per-class IoU (classes never seen shown empty)."""
    names = list(per_class)
    values = [per_class[k] if per_class[k] is not None else 0.0 for k in names]
    fig = Figure(figsize=(6, 1.0 + 0.3 * len(names)))
    ax = fig.add_subplot()
    ax.barh(range(len(names)), values, color="#4878a8")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("IoU")
    if mean_iou is not None:
        ax.axvline(mean_iou, color="#c44", linestyle="--", label=f"mIoU {mean_iou:.3f}")
        ax.legend(loc="lower right", fontsize=8)
    for i, v in enumerate(values):
        ax.text(min(v + 0.01, 0.9), i, f"{v:.3f}", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return pathlib.Path(path)


def format_table(result: dict) -> str:
    """The headline metrics and, for semantic tasks, per-class IoU as aligned text."""
    metrics = result["metrics"]
    lines = [
        f"model {result['model']}  data {result['data']}  images {result['images']}"
        f"  tta {result['tta']}  tile {result['tile']}"
    ]
    for key, value in metrics.items():
        if isinstance(value, float | int):
            lines.append(
                f"  {key:<24} {value:>8.4f}"
                if isinstance(value, float)
                else f"  {key:<24} {value:>8d}"
            )
    if "per_class_iou" in metrics:
        lines.append(f"  {'class':<24} {'IoU':>8} {'acc':>8}")
        for name, iou in metrics["per_class_iou"].items():
            acc = metrics["per_class_accuracy"].get(name)
            fmt = lambda v: f"{v:>8.4f}" if v is not None else f"{'-':>8}"  # noqa: E731
            lines.append(f"  {name:<24} {fmt(iou)} {fmt(acc)}")
    return "\n".join(lines)
