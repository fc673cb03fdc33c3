"""segtf.segment: every input kind, orientation, odd sizes, results, bad inputs."""

import io

import numpy as np
import pytest
from data_factory import TINY_MODEL, tiny_model_folder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import segtf
import segtf.models
from segtf.zoo import ModelInfo, save_model_folder

TINY = dict(num_classes=3, **TINY_MODEL)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    model = segtf.models.build("deeplabv3plus_lite", **TINY)
    config = segtf.models.get_config("deeplabv3plus_lite", **TINY)
    info = ModelInfo(
        name="tiny",
        model=config,
        class_names=("sky", "road", "car"),
        palette=((0, 0, 255), (128, 128, 128), (255, 0, 0)),
    )
    return save_model_folder(model, info, tmp_path_factory.mktemp("zoo") / "tiny")


@pytest.fixture(scope="module")
def fg_dir(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("zoo"), "deeplabv3plus_lite", "tiny_fg",
                             num_classes=1, task="foreground")


def _rgb(h, w, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _png(array) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def test_all_input_kinds_give_the_same_labels(model_dir, tmp_path):
    array = _rgb(33, 47)
    path = tmp_path / "x.png"
    path.write_bytes(_png(array))
    reference = segtf.segment(array, model_dir)
    assert reference.labels.shape == (33, 47)
    for source in (
        str(path),
        path,
        _png(array),
        io.BytesIO(_png(array)),
        Image.fromarray(array),
        array.astype(np.float32) / 255.0,
        array.astype(np.uint16) * 257,
    ):
        np.testing.assert_array_equal(segtf.segment(source, model_dir).labels, reference.labels)


@pytest.mark.parametrize("shape", [(2, 2), (31, 17), (65, 97), (101, 3)])
def test_labels_have_the_input_size_for_odd_sizes(model_dir, shape):
    result = segtf.segment(_rgb(*shape), model_dir)
    assert result.labels.shape == shape and result.probabilities.shape == (*shape, 3)
    assert np.issubdtype(result.labels.dtype, np.integer) and result.labels.max() < 3


def test_grayscale_rgba_palette_cmyk_inputs(model_dir):
    base = Image.fromarray(_rgb(20, 24))
    for mode in ("L", "RGBA", "P", "CMYK", "LA"):
        assert segtf.segment(base.convert(mode), model_dir).labels.shape == (20, 24)
    assert segtf.segment(np.zeros((20, 24, 4), np.uint8), model_dir).labels.shape == (20, 24)


def test_exif_rotated_jpeg_gives_mask_in_displayed_orientation(model_dir, tmp_path):
    stored = _rgb(30, 50)
    image = Image.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 8  # display = stored rotated 90 degrees counter-clockwise
    path = tmp_path / "rotated.jpg"
    image.save(path, exif=exif, quality=95)
    result = segtf.segment(path, model_dir)
    assert result.labels.shape == (50, 30) and result.image.shape == (50, 30, 3)
    displayed = np.asarray(Image.open(path).transpose(Image.Transpose.ROTATE_90))
    assert np.abs(result.image.astype(int) - displayed.astype(int)).mean() < 2


def test_result_drawing_and_saving(model_dir, tmp_path):
    result = segtf.segment(_rgb(20, 30), model_dir)
    assert result.class_names == ("sky", "road", "car")
    assert result.palette.shape == (3, 3) and tuple(result.palette[0]) == (0, 0, 255)
    assert result.alpha is None and result.mask is None
    assert result.overlay(opacity=0.3).shape == (20, 30, 3)
    np.testing.assert_array_equal(result.overlay(opacity=0.0), result.image)
    np.testing.assert_array_equal(result.overlay(opacity=1.0), result.colour_mask())
    cut = result.cutout(classes=["road", 2])
    assert cut.shape == (20, 30, 4) and cut.dtype == np.uint8
    with pytest.raises(ValueError, match="classes"):
        result.cutout()
    assert result.inference_time > 0 and result.total_time >= result.inference_time
    saved = result.save(tmp_path / "mask.png")
    assert Image.open(saved).size == (30, 20)


def test_foreground_model_gives_alpha_mask_and_cutout(fg_dir):
    result = segtf.segment(_rgb(25, 35), fg_dir)
    assert result.task == "foreground" and result.alpha.shape == (25, 35)
    assert 0.0 <= result.alpha.min() and result.alpha.max() <= 1.0
    assert result.mask.dtype == bool and result.labels.shape == (25, 35)
    cut = result.cutout()
    assert cut.shape == (25, 35, 4)
    np.testing.assert_array_equal(cut[..., 3], np.rint(result.alpha * 255).astype(np.uint8))
    assert result.to_image().mode == "L"


def test_segmenter_tta_tiles_and_keras_model(model_dir):
    segmenter = segtf.Segmenter(model_dir)
    image = _rgb(70, 90)
    plain = segmenter(image)
    assert segmenter(image, tta=True).labels.shape == (70, 90)
    tiled = segtf.segment(image, segmenter, tile=48)
    assert np.abs(tiled.probabilities - plain.probabilities).max() < 0.05
    model, _ = segtf.load_model(model_dir)
    assert segtf.load_model(model_dir)[0] is model  # cached
    bare = segtf.segment(image, model)
    np.testing.assert_allclose(bare.probabilities, plain.probabilities, atol=1e-5)


def test_pixel_limit_can_be_raised(model_dir):
    data = _png(_rgb(40, 40))
    with pytest.raises(segtf.InvalidImageError, match="max_pixels"):
        segtf.segment(data, model_dir, max_pixels=1000)
    assert segtf.segment(data, model_dir, max_pixels=2000).labels.shape == (40, 40)


def test_unknown_model_is_named():
    with pytest.raises(ValueError, match="no-such-model"):
        segtf.segment(_rgb(8, 8), "no-such-model")


@pytest.mark.parametrize(
    "source,match",
    [
        (b"GIF89a not really", "not an image"),
        (b"", "0 bytes"),
        (np.zeros((1, 1, 3), np.uint8), "too small"),
        (np.zeros((2, 100_000), np.uint8), "aspect"),
        (Image.new("F", (8, 8)), "mode"),
        ("/nonexistent/photo.jpg", "no such file"),
    ],
)
def test_bad_inputs_raise_invalid_image_error(model_dir, source, match):
    with pytest.raises(segtf.InvalidImageError, match=match):
        segtf.segment(source, model_dir)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.one_of(
        st.binary(max_size=300),
        hnp.arrays(
            dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.int16]),
            shape=hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=12),
        ),
    )
)
def test_random_inputs_give_an_error_or_a_valid_result(model_dir, source):
    try:
        result = segtf.segment(source, model_dir)
    except segtf.InvalidImageError:
        return
    assert result.labels.shape == result.image.shape[:2]
