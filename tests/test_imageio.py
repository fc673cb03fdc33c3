"""read_image: every input kind decodes to RGB uint8; every bad input raises InvalidImageError."""

import io
import os
import pathlib
import stat

import numpy as np
import pytest
from data_factory import TINY_MODEL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from segtf.imageio import InvalidImageError, read_image, read_mask, write_png_atomic
from segtf.metrics.report import write_json
from segtf.zoo import ModelInfo, save_model_folder


def _rgb(h=20, w=30, seed=0):
    return (np.random.default_rng(seed).random((h, w, 3)) * 255).astype(np.uint8)


def _encode(image: Image.Image, fmt="PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


# --- every input kind -------------------------------------------------------------------------


def test_path_str_pathlib_bytes_file_and_pil_agree(tmp_path):
    array = _rgb()
    data = _encode(Image.fromarray(array))
    path = tmp_path / "a.png"
    path.write_bytes(data)
    results = [
        read_image(str(path)),
        read_image(path),
        read_image(data),
        read_image(bytearray(data)),
        read_image(io.BytesIO(data)),
        read_image(Image.fromarray(array)),
        read_image(array),
    ]
    for result in results:
        assert result.dtype == np.uint8 and result.shape == (20, 30, 3)
        np.testing.assert_array_equal(result, array)


def test_open_file_object(tmp_path):
    path = tmp_path / "a.jpg"
    Image.fromarray(_rgb()).save(path, quality=95)
    with open(path, "rb") as f:
        assert read_image(f).shape == (20, 30, 3)


@pytest.mark.parametrize(
    "array",
    [
        np.full((5, 7), 128, np.uint8),
        np.full((5, 7, 1), 128, np.uint8),
        np.full((5, 7, 3), 128, np.uint8),
        np.full((5, 7), 128 * 257, np.uint16),
        np.full((5, 7, 3), 0.502, np.float32),
        np.full((5, 7, 3), 0.502, np.float64),
    ],
    ids=["HxW", "HxWx1", "HxWx3", "uint16", "float32", "float64"],
)
def test_array_kinds(array):
    out = read_image(array)
    assert out.shape == (5, 7, 3) and out.dtype == np.uint8
    assert np.all(out == 128)


def test_rgba_array_is_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)  # black, fully transparent
    rgba[0, 0] = (10, 20, 30, 255)
    out = read_image(rgba)
    assert tuple(out[0, 0]) == (10, 20, 30) and tuple(out[1, 1]) == (255, 255, 255)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "1", "I;16"])
def test_pil_modes_are_converted(mode):
    image = Image.fromarray(_rgb(9, 11)).convert(mode if mode != "I;16" else "L")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image).astype(np.uint16) * 257)
        assert image.mode == "I;16"
    out = read_image(image)
    assert out.shape == (9, 11, 3) and out.dtype == np.uint8


def test_sixteen_bit_png_is_scaled_not_clipped():
    data = _encode(Image.fromarray(np.full((4, 4), 65535 // 2, np.uint16)))
    assert np.all(np.abs(read_image(data).astype(int) - 128) <= 1)


def test_cmyk_jpeg(tmp_path):
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(path)  # pure red in CMYK
    out = read_image(path)
    assert out.shape == (6, 8, 3) and out[..., 0].mean() > 200 and out[..., 1].mean() < 60


def test_exif_rotation_gives_displayed_orientation(tmp_path):
    array = np.zeros((20, 40, 3), np.uint8)
    array[:, :20] = 255  # left half white as stored
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rot.jpg"
    image.save(path, exif=exif, quality=95)
    out = read_image(path)
    assert out.shape == (40, 20, 3)  # displayed portrait
    assert out[:20].mean() > 200 and out[20:].mean() < 50  # stored left half is now on top


def test_animated_gif_uses_first_frame_with_warning():
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match="first"):
        out = read_image(buffer.getvalue())
    assert out[..., 0].mean() > 200 and out[..., 2].mean() < 50


# --- bad inputs ---------------------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG claiming a huge size: only the header is ever read, so this costs nothing."""
    import struct
    import zlib

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"")

    def wrap(body: bytes) -> bytes:
        return struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))

    return b"\x89PNG\r\n\x1a\n" + wrap(chunk) + wrap(idat)


@pytest.mark.parametrize(
    "source,match",
    [
        (b"this is not an image", "not an image"),
        (b"", "0 bytes"),
        (_png_header_only(100_000, 100_000), "max_pixels"),
        (_png_header_only(10_000, 10_000), "max_pixels"),
        (np.zeros((1, 1, 3), np.uint8), "too small"),
        (np.zeros((2, 100_000), np.uint8), "aspect"),
        (np.zeros((4, 4, 5), np.uint8), "not an image array"),
        (np.zeros((4, 4, 3), np.int64), "dtype"),
        (np.full((4, 4, 3), 200.0), "0..1"),
        (np.full((4, 4, 3), np.nan), "NaN"),
        (Image.new("F", (4, 4)), "unsupported image mode"),
        (12345, "unsupported input type"),
        ("/no/such/file.png", "no such file"),
    ],
    ids=[
        "text",
        "empty",
        "bomb",
        "bomb-10k",
        "1x1",
        "100000x2",
        "5-channel",
        "int64",
        "float255",
        "nan",
        "mode-F",
        "int",
        "missing",
    ],
)
def test_bad_inputs_raise_invalid_image_error(source, match):
    with pytest.raises(InvalidImageError, match=match) as info:
        read_image(source)
    assert isinstance(info.value, ValueError)


def test_file_errors_name_the_file(tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InvalidImageError, match="empty.png.*empty"):
        read_image(empty)
    truncated = tmp_path / "cut.jpg"
    truncated.write_bytes(_encode(Image.fromarray(_rgb(64, 64)), "JPEG")[:300])
    with pytest.raises(InvalidImageError, match="cut.jpg.*truncated"):
        read_image(truncated)
    with pytest.raises(InvalidImageError, match="folder"):
        read_image(tmp_path)


def test_wide_image_file_and_raised_pixel_limit(tmp_path):
    path = tmp_path / "wide.png"
    Image.new("RGB", (100_000, 2)).save(path)
    with pytest.raises(InvalidImageError, match="aspect"):
        read_image(path)
    data = _encode(Image.new("RGB", (100, 100)))
    with pytest.raises(InvalidImageError, match="max_pixels"):
        read_image(data, max_pixels=5000)
    assert read_image(data, max_pixels=20_000).shape == (100, 100, 3)
    # Past Pillow's own limit (2 x 89 Mpx) a raised limit is honoured too: the header of a
    # 200 Mpx PNG passes the size check and fails only on its (missing) pixel data.
    with pytest.raises(InvalidImageError, match="truncated"):
        read_image(_png_header_only(20_000, 10_000), max_pixels=300_000_000)


def test_unsupported_mode_file(tmp_path):
    path = tmp_path / "float.tif"
    Image.new("F", (4, 4)).save(path)
    with pytest.raises(InvalidImageError, match="mode"):
        read_image(path)


# --- property test ------------------------------------------------------------------------------


def _valid_or_invalid_image_error(source):
    try:
        out = read_image(source)
    except InvalidImageError:
        return
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=512),
        st.binary(max_size=256).map(lambda b: b"\x89PNG\r\n\x1a\n" + b),
        st.binary(max_size=256).map(lambda b: b"\xff\xd8\xff\xe0" + b),
        st.binary(max_size=256).map(lambda b: b"GIF89a" + b),
    )
)
def test_random_bytes_never_crash(data):
    _valid_or_invalid_image_error(data)


@settings(max_examples=150, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.uint16, np.float32, np.float64, np.int32, np.bool_]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6),
    )
)
def test_random_arrays_never_crash(array):
    _valid_or_invalid_image_error(array)


def test_damaged_real_files_never_crash():
    data = _encode(Image.fromarray(_rgb(32, 32)), "JPEG")
    rng = np.random.default_rng(0)
    for _ in range(30):
        damaged = bytearray(data)
        for i in rng.integers(0, len(data), 8):
            damaged[i] = int(rng.integers(0, 256))
        _valid_or_invalid_image_error(bytes(damaged))


# --- masks and atomic writes ------------------------------------------------------------------


def test_read_mask_palette_gives_indices(tmp_path):
    mask = Image.fromarray(np.array([[0, 1], [2, 255]], np.uint8)).convert("P")
    mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [7] * (256 * 3 - 9))
    path = tmp_path / "m.png"
    mask.save(path)
    np.testing.assert_array_equal(read_mask(path), [[0, 1], [2, 255]])


def test_write_png_atomic_leaves_no_temp_files(tmp_path):
    out = write_png_atomic(tmp_path / "sub" / "x.png", _rgb(5, 6))
    assert out.is_file() and read_image(out).shape == (5, 6, 3)
    assert [p.name for p in pathlib.Path(tmp_path / "sub").iterdir()] == ["x.png"]


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_outputs_get_the_usual_permissions_not_private_temp_ones(tmp_path, umask_022):
    # mkstemp / mkdtemp make 0600 / 0700 entries; outputs must read like plain writes.
    png = write_png_atomic(tmp_path / "mask.png", np.zeros((4, 4), np.uint8))
    report = write_json(tmp_path / "report.json", {"a": 1})
    assert stat.S_IMODE(png.stat().st_mode) == 0o644
    assert stat.S_IMODE(report.stat().st_mode) == 0o644

    from segtf import models

    config = models.get_config("deeplabv3plus_lite", **TINY_MODEL)
    folder = save_model_folder(
        models.build_from_config(config), ModelInfo(name="m", model=config), tmp_path / "m", card="x"
    )
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    for name in ("config.json", "MODEL_CARD.md", "model.weights.h5"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o644, name
