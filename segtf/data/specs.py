"""Known datasets: class names, palettes, label maps (`get_dataset_spec("camvid")`)."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_IGNORE_LABEL = 255


@dataclass(frozen=True)
class DatasetSpec:
    """What segtf needs to know about a dataset's labels.

    Attributes:
        name: registry name.
        task: "semantic" (int class masks) or "foreground" (binary / soft alpha masks).
        num_classes: classes the model predicts (1 for foreground tasks).
        class_names: one name per class index.
        palette: RGB colour per class index, for colour-coded masks and visualisation.
        label_map: raw mask value -> training label, applied in-graph (e.g. CamVid's
            "Unlabelled" 11 -> 255 ignore).
        ignore_label: label excluded from losses and metrics.
        layout: where the files are, relative to `../shared/data/<name>` (for docs / tests).
    """

    name: str
    task: str
    num_classes: int
    class_names: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...] = ()
    label_map: dict[int, int] = field(default_factory=dict)
    ignore_label: int = DEFAULT_IGNORE_LABEL
    layout: dict[str, str] = field(default_factory=dict)


# Colours from the SegNet tutorial scripts (see ../shared/data/camvid/README.md).
_CAMVID_CLASSES = (
    ("Sky", (128, 128, 128)),
    ("Building", (128, 0, 0)),
    ("Pole", (192, 192, 128)),
    ("Road", (128, 64, 128)),
    ("Pavement", (60, 40, 222)),
    ("Tree", (128, 128, 0)),
    ("SignSymbol", (192, 128, 128)),
    ("Fence", (64, 64, 128)),
    ("Car", (64, 0, 128)),
    ("Pedestrian", (64, 64, 0)),
    ("Bicyclist", (0, 128, 192)),
)

_FOREGROUND_LAYOUT = {"train": "train", "val": "val"}

SPECS: dict[str, DatasetSpec] = {
    "camvid": DatasetSpec(
        name="camvid",
        task="semantic",
        num_classes=11,
        class_names=tuple(name for name, _ in _CAMVID_CLASSES),
        palette=tuple(colour for _, colour in _CAMVID_CLASSES),
        label_map={11: DEFAULT_IGNORE_LABEL},
        layout={"train": "train.txt", "val": "val.txt"},
    ),
    "weizmann_horse": DatasetSpec(
        name="weizmann_horse",
        task="foreground",
        num_classes=1,
        class_names=("horse",),
        palette=((255, 255, 255),),
        layout=_FOREGROUND_LAYOUT,
    ),
    "ccp_person": DatasetSpec(
        name="ccp_person",
        task="foreground",
        num_classes=1,
        class_names=("person",),
        palette=((255, 255, 255),),
        layout=_FOREGROUND_LAYOUT,
    ),
    # One general foreground model for people and animals (horse + person + pet together).
    "people_animals": DatasetSpec(
        name="people_animals",
        task="foreground",
        num_classes=1,
        class_names=("foreground",),
        palette=((255, 255, 255),),
        layout=_FOREGROUND_LAYOUT,
    ),
}


def list_dataset_specs() -> list[str]:
    return sorted(SPECS)


def get_dataset_spec(name: str) -> DatasetSpec:
    """Returns the label description of a known dataset, e.g. `get_dataset_spec("camvid")`."""
    key = name.lower().replace("-", "_")
    if key not in SPECS:
        raise ValueError(f"Unknown dataset {name!r}. Known: {', '.join(list_dataset_specs())}")
    return SPECS[key]
