"""Named training experiments: `get_experiment("camvid_deeplabv3plus_lite")`."""

from __future__ import annotations

import dataclasses
import os
import pathlib

from segtf.training.config import TrainConfig, load_file, merge

SHARED_DATA = pathlib.Path(
    os.environ.get("SEGTF_DATA", pathlib.Path(__file__).resolve().parents[3] / "shared" / "data")
)

# Training folders made from ../shared/data by `python tools/prepare_training_folders.py`
# (CamVid as folders, Oxford pet trimaps as alpha masks whose unknown band is 128, which the
# losses and metrics skip; horse and person linked).
DEV_DATA = pathlib.Path(
    os.environ.get("SEGTF_DEVDATA", pathlib.Path(__file__).resolve().parents[2] / ".devdata")
)
FOREGROUND_SETS = ("weizmann_horse", "ccp_person", "oxford_pet")

EXPERIMENTS: dict[str, TrainConfig] = {
    # The shipped road-scene model: DeepLabV3+ on ImageNet EfficientNet-Lite0, CamVid train.
    "camvid_deeplabv3plus_efficientnet_lite0": TrainConfig(
        experiment="camvid_deeplabv3plus_efficientnet_lite0",
        model="deeplabv3plus_efficientnet_lite0",
        dataset="camvid",
        train_data=str(SHARED_DATA / "camvid" / "train.txt"),
        val_data=str(SHARED_DATA / "camvid" / "val.txt"),
        init_from="imagenet",
        # Full-size crops: the 4th leg of the first zoo model gained 0.02 mIoU from them.
        crop_size=(352, 480),
        scale_range=(0.75, 1.5),
        batch_size=8,
        epochs=50,  # ~5 h on 2 cores: run with --time-budget, continue with --resume
        optimizer="adamw",
        learning_rate=1e-3,
        end_learning_rate=1e-5,
        weight_decay=1e-4,
        warmup_steps=45,  # one epoch
        class_weights="median_frequency",
        precise_bn_batches=30,
        val_every=3,
        cache=True,
        checkpoint_every=100,
        precision="float32",
        out_dir="runs/camvid_deeplabv3plus_efficientnet_lite0",
    ),
    # The foreground recipe: one model for people and animals, on ImageNet
    # EfficientNet-Lite0, trained on horse + person + pet drawn by image count (the Lite2
    # variants below make the shipped default).
    "foreground_refiner_efficientnet_lite0": TrainConfig(
        experiment="foreground_refiner_efficientnet_lite0",
        model="refiner_efficientnet_lite0",
        model_overrides={"working_side": 320},
        dataset="people_animals",
        train_data=[str(DEV_DATA / name / "train") for name in FOREGROUND_SETS],
        val_data=[str(DEV_DATA / name / "val") for name in FOREGROUND_SETS],
        init_from="imagenet",
        max_side=320,
        crop_size=(320, 320),
        scale_range=(0.75, 1.5),
        batch_size=8,
        epochs=5,
        optimizer="adamw",
        learning_rate=1e-3,
        end_learning_rate=1e-5,
        weight_decay=1e-4,
        warmup_steps=130,  # one epoch
        loss="birefnet",
        aux_losses={
            **{f"stage{i}_logits": ["birefnet", 0.5] for i in (5, 4, 3, 2, 1)},
            **{f"edge{i}_logits": ["gradient_aux", 0.5] for i in (4, 3, 2, 1)},
        },
        precise_bn_batches=30,
        cache=True,
        checkpoint_every=100,
        precision="float32",
        out_dir="runs/foreground_refiner_efficientnet_lite0",
    ),
    # CamVid (SegNet split, 11 classes) on the CPU-sized DeepLabV3+.
    "camvid_deeplabv3plus_lite": TrainConfig(
        experiment="camvid_deeplabv3plus_lite",
        model="deeplabv3plus_lite",
        dataset="camvid",
        train_data=str(SHARED_DATA / "camvid" / "train.txt"),
        val_data=str(SHARED_DATA / "camvid" / "val.txt"),
        crop_size=(352, 480),
        batch_size=8,
        epochs=120,
        optimizer="adamw",
        learning_rate=2e-3,
        weight_decay=1e-4,
        warmup_steps=200,
        class_weights="median_frequency",
        checkpoint_every=200,
        cache=True,
        out_dir="runs/camvid_deeplabv3plus_lite",
    ),
    # Binary foreground (matting-style) refiner with deep supervision and an edge head.
    "foreground_refiner_lite": TrainConfig(
        experiment="foreground_refiner_lite",
        model="refiner_lite",
        dataset="ccp_person",
        train_data=str(SHARED_DATA / "ccp_person" / "train"),
        val_data=str(SHARED_DATA / "ccp_person" / "val"),
        crop_size=(320, 320),
        batch_size=8,
        epochs=60,
        optimizer="adamw",
        learning_rate=1e-3,
        weight_decay=1e-4,
        warmup_steps=100,
        loss="birefnet",
        # Deep supervision on every stage, gradient-aware loss on every edge map: the
        # refiner's training outputs (weights as used for models/foreground_refiner_lite).
        aux_losses={
            **{f"stage{i}_logits": ["birefnet", 0.5] for i in (5, 4, 3, 2, 1)},
            **{f"edge{i}_logits": ["gradient_aux", 0.5] for i in (4, 3, 2, 1)},
        },
        checkpoint_every=200,
        cache=True,
        out_dir="runs/foreground_refiner_lite",
    ),
}

# The same CamVid recipe with PSPNet's auxiliary loss.
EXPERIMENTS["camvid_pspnet_lite"] = dataclasses.replace(
    EXPERIMENTS["camvid_deeplabv3plus_lite"],
    experiment="camvid_pspnet_lite",
    model="pspnet_lite",
    optimizer="sgd",
    learning_rate=0.01,
    weight_decay=TrainConfig.weight_decay,
    warmup_steps=TrainConfig.warmup_steps,
    aux_losses={"aux_logits": ["cross_entropy", 0.4]},
    out_dir="runs/camvid_pspnet_lite",
)


# The foreground recipe on the larger ImageNet EfficientNet-Lite2 (260 px ImageNet training,
# 5.6 M parameters; ~0.12 s a 512x512 photo here), with more epochs for the larger encoder.
EXPERIMENTS["foreground_refiner_efficientnet_lite2"] = dataclasses.replace(
    EXPERIMENTS["foreground_refiner_efficientnet_lite0"],
    experiment="foreground_refiner_efficientnet_lite2",
    model="refiner_efficientnet_lite2",
    epochs=10,
    out_dir="runs/foreground_refiner_efficientnet_lite2",
)
# The baseline that shows what the refiner adds (boundary IoU): DeepLabV3+ on the same
# ImageNet backbone, data, working size, loss and budget, without the refiner's stages.
EXPERIMENTS["foreground_deeplabv3plus_efficientnet_lite2"] = dataclasses.replace(
    EXPERIMENTS["foreground_refiner_efficientnet_lite2"],
    experiment="foreground_deeplabv3plus_efficientnet_lite2",
    model="deeplabv3plus_efficientnet_lite2",
    model_overrides={"working_side": 320, "num_classes": 1, "task": "foreground"},
    aux_losses={},
    out_dir="runs/foreground_deeplabv3plus_efficientnet_lite2",
)
# The refiner's reconstruction stages on that baseline's own DeepLabV3+ head (localisation):
# started from a trained baseline (init_from), it shows what the stages add to that model.
EXPERIMENTS["foreground_refiner_on_deeplabv3plus_efficientnet_lite2"] = dataclasses.replace(
    EXPERIMENTS["foreground_refiner_efficientnet_lite2"],
    experiment="foreground_refiner_on_deeplabv3plus_efficientnet_lite2",
    model="refiner_on_deeplabv3plus_efficientnet_lite2",
    out_dir="runs/foreground_refiner_on_deeplabv3plus_efficientnet_lite2",
)
# The shipped default's stages: P2 and an 8-wide full-size pass (no P1), for the 0.15 s a
# 512 photo target; trained alone on the frozen baseline (its card quotes every command).
EXPERIMENTS["foreground_refiner_p2_on_deeplabv3plus_efficientnet_lite2"] = dataclasses.replace(
    EXPERIMENTS["foreground_refiner_on_deeplabv3plus_efficientnet_lite2"],
    experiment="foreground_refiner_p2_on_deeplabv3plus_efficientnet_lite2",
    model="refiner_p2_on_deeplabv3plus_efficientnet_lite2",
    out_dir="runs/foreground_refiner_p2_on_deeplabv3plus_efficientnet_lite2",
)

# The fast foreground model: MediaPipe's selfie network (~0.1 M parameters at 256 x 256, the
# speed of the free selfie peer), started from that peer's published weights (the .tflite in
# ../shared/peers, Apache-2.0, sha256-checked) and fine-tuned on the default recipe's people
# and animals. No BatchNorm (the published convs are folded), so no precise-BN pass.
PEERS = SHARED_DATA.parent / "peers"
EXPERIMENTS["foreground_selfie_mobilenetv3"] = dataclasses.replace(
    EXPERIMENTS["foreground_refiner_efficientnet_lite0"],
    experiment="foreground_selfie_mobilenetv3",
    model="selfie_mobilenetv3",
    model_overrides={"backbone_weights": str(PEERS / "selfie_segmentation.tflite")},
    init_from="",
    max_side=256,
    crop_size=(256, 256),
    aux_losses={},
    epochs=10,
    learning_rate=5e-4,
    precise_bn_batches=0,
    out_dir="runs/foreground_selfie_mobilenetv3",
)


def list_experiments() -> list[str]:
    return sorted(EXPERIMENTS)


def get_experiment(name: str, **overrides) -> TrainConfig:
    """A copy of the named experiment's config with `overrides` applied."""
    if name not in EXPERIMENTS:
        raise ValueError(f"Unknown experiment {name!r}; known: {', '.join(list_experiments())}")
    return dataclasses.replace(EXPERIMENTS[name], **overrides)


def resolve_config(
    experiment: str | None = None, files: list[str] = (), overrides: dict | None = None
) -> TrainConfig:
    """Experiment defaults, then each file, then overrides (later wins)."""
    data = get_experiment(experiment).to_dict() if experiment else TrainConfig().to_dict()
    for path in files:
        data = merge(data, load_file(path))
    data = merge(data, overrides or {})
    return TrainConfig.from_dict(data)

