"""Model configuration: variants are data, changed with `dataclasses.replace`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

WORKING_ASPECTS = ("keep", "square")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a segtf model."""

    architecture: str = "deeplabv3plus"  # "deeplabv3plus", "pspnet", "psp_aspp" or "refiner"
    backbone: str = "xception65"  # an Xception variant, "resnet50" or "efficientnet_lite0..2"
    num_classes: int = 21
    output_stride: int = 16  # 8 for the best accuracy, 32 for speed
    width: float = 1.0  # channel multiplier for the backbone: < 1 for CPU-sized models
    head_filters: int = 256  # ASPP / decoder width
    separable_head: bool = True  # separable 3x3 convs in ASPP / decoder (paper) or dense ones
    psp_bins: tuple[int, ...] = (1, 2, 3, 6)
    dropout: float = 0.1
    aux_head: bool = False  # PSPNet auxiliary classifier on the stride-16 features (training)
    task: str = "semantic"  # "semantic" (softmax over classes) or "foreground" (sigmoid alpha)
    working_side: int = 0  # > 0: the model first resizes inputs so the longer side is this
    # (the scale it was trained at) and resizes its output back; 0 = run at the input's size
    working_aspect: str = "keep"  # "keep" the photo's aspect ratio, or "square": side x side
    # (every photo squashed to the square crops the model was trained on)
    input_size: tuple[int, int] = (512, 512)  # size used for benchmarks / fixed-size export
    backbone_weights: str | None = None  # local weights file only (never downloaded)
    class_names: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)  # architecture-specific settings (refiner)

    def __post_init__(self):
        if self.working_aspect not in WORKING_ASPECTS:
            raise ValueError(f"working_aspect={self.working_aspect!r}: use one of "
                             f"{', '.join(WORKING_ASPECTS)}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"Unknown model config keys {sorted(unknown)}; valid: {sorted(known)}")
        values = dict(data)
        for key in ("psp_bins", "input_size", "class_names"):
            if key in values and values[key] is not None:
                values[key] = tuple(values[key])
        return cls(**values)
