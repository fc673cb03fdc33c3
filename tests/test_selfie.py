"""The selfie architecture (MediaPipe's network transcribed to keras.layers): any input size,
stable layer names, and, with the published file at hand, the same output as that file."""

import numpy as np
import pytest
from data_factory import SHARED_DATA

from segtf.models import build, build_from_config, get_config

PEER = SHARED_DATA.parent / "peers" / "selfie_segmentation.tflite"


def test_selfie_network_answers_at_the_input_size_with_names_that_do_not_depend_on_the_build():
    config = get_config("selfie_mobilenetv3", working_side=64)
    first = build_from_config(config)
    second = build_from_config(config)  # a second build in the same session (as the trainer does)
    assert [layer.name for layer in first.layers] == [layer.name for layer in second.layers]
    assert not [layer.name for layer in first.layers
                if layer.weights and not layer.name.startswith("selfie_k")]
    images = np.random.default_rng(0).uniform(0, 255, (2, 70, 90, 3)).astype("float32")
    assert tuple(first(images).shape) == (2, 70, 90, 1)


def test_selfie_architecture_refuses_shapes_its_weights_cannot_fill():
    with pytest.raises(ValueError, match="one-channel foreground"):
        build("selfie_mobilenetv3", num_classes=3)


def test_a_file_that_is_not_the_selfie_model_is_refused(tmp_path):
    pytest.importorskip("ai_edge_litert")
    fake = tmp_path / "selfie_segmentation.tflite"
    fake.write_bytes(b"TFL3" + bytes(64))
    with pytest.raises(ValueError, match="sha256"):
        build("selfie_mobilenetv3", backbone_weights=str(fake))
    with pytest.raises(ValueError, match="no ImageNet weights"):
        build("selfie_mobilenetv3", backbone_weights="imagenet")


@pytest.mark.shared_data
def test_published_weights_give_the_published_models_answer():
    """Every kernel of the file lands in the right conv: the Keras model's probabilities on a
    real photo match the file run by LiteRT (float16 weights read as float32 in both)."""
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    if not PEER.is_file():
        pytest.skip(f"{PEER} is absent")
    from PIL import Image

    from segtf.imageio import read_image

    photo = read_image(sorted((SHARED_DATA / "ccp_person" / "val" / "images").iterdir())[0])
    x = np.asarray(Image.fromarray(photo).resize((256, 256), Image.BILINEAR), np.float32)
    model = build("selfie_mobilenetv3", backbone_weights=str(PEER))
    ours = 0.5 + 0.5 * np.tanh(0.5 * np.asarray(model(x[None]))[0, ..., 0])  # sigmoid, no overflow
    interpreter = interpreter_module.Interpreter(model_path=str(PEER))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x[None] / 255.0)
    interpreter.invoke()
    reference = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0, ..., 0]
    assert 0.05 < (reference > 0.5).mean() < 0.95  # a photo with a person in it
    np.testing.assert_allclose(ours, reference, atol=1e-3)
