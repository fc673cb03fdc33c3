"""`segtf segment` cut-out options (rembg-style): --threshold, --bg-color / --bg-image,
--refine-foreground, and pipes (`segtf segment - -o -`)."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest
from data_factory import tiny_model_folder
from PIL import Image

from segtf import matting
from segtf.cli import main


@pytest.fixture(scope="module")
def fg_model(tmp_path_factory):
    return tiny_model_folder(tmp_path_factory.mktemp("zoo"), "deeplabv3plus_lite", "tiny_fg",
                             ("animal",), num_classes=1, task="foreground")


@pytest.fixture()
def photo(tmp_path):
    path = tmp_path / "in" / "pet.png"
    path.parent.mkdir()
    rng = np.random.default_rng(1)
    Image.fromarray((rng.random((40, 56, 3)) * 255).astype(np.uint8)).save(path)
    return path


def segment(*args: str) -> int:
    return main(["segment", *args])


def test_threshold_gives_a_binary_mask(fg_model, photo, tmp_path):
    out = tmp_path / "out"
    assert segment(str(photo), "-o", str(out), "--model", str(fg_model), "--save", "mask",
                   "--threshold", "0.5") == 0
    mask = np.asarray(Image.open(out / "pet.mask.png"))
    assert set(np.unique(mask)) <= {0, 255}
    assert mask.shape == (40, 56)


def test_cutout_over_a_colour_is_rgb_and_shows_the_colour_where_alpha_is_zero(
    fg_model, photo, tmp_path
):
    out = tmp_path / "out"
    assert segment(str(photo), "-o", str(out), "--model", str(fg_model), "--save", "cutout,mask",
                   "--threshold", "0.5", "--bg-color", "#00ff00") == 0
    cut = Image.open(out / "pet.cutout.png")
    assert cut.mode == "RGB"
    background = np.asarray(Image.open(out / "pet.mask.png")) == 0
    pixels = np.asarray(cut)
    assert (pixels[background] == (0, 255, 0)).all()
    source = np.asarray(Image.open(photo))
    assert (pixels[~background] == source[~background]).all()


def test_cutout_over_an_image_takes_the_input_size(fg_model, photo, tmp_path):
    backdrop = tmp_path / "beach.png"
    Image.fromarray(np.full((300, 200, 3), 90, np.uint8)).save(backdrop)
    out = tmp_path / "out"
    assert segment(str(photo), "-o", str(out), "--model", str(fg_model), "--save", "cutout",
                   "--bg-image", str(backdrop), "--refine-foreground") == 0
    cut = Image.open(out / "pet.cutout.png")
    assert (cut.mode, cut.size) == ("RGB", (56, 40))


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--bg-color", "ultraviolet"], "background colour 'ultraviolet'"),
        (["--threshold", "1.5"], "--threshold 1.5"),
        (["--bg-image", "/no/such/beach.png"], "--bg-image"),
        (["--bg-color", "white", "--bg-image", "x.png"], "give one background"),
    ],
)
def test_bad_finishing_options_say_which_and_how(fg_model, photo, tmp_path, capsys, extra, needle):
    code = segment(str(photo), "-o", str(tmp_path / "out"), "--model", str(fg_model), *extra)
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_refine_foreground_removes_the_old_background_from_soft_edges():
    # A red object on a blue background with a soft alpha ramp in between: the mixed pixels
    # are purple; their estimated foreground colour must be redder than the raw pixel.
    h, w = 64, 96
    alpha = np.clip((np.arange(w) - 40) / 16.0, 0, 1)[None].repeat(h, 0).astype(np.float32)
    red, blue = np.array([220, 30, 30], np.float32), np.array([20, 40, 230], np.float32)
    image = (alpha[..., None] * red + (1 - alpha[..., None]) * blue).astype(np.uint8)
    fg = matting.estimate_foreground(image, alpha).astype(np.float32)
    mixed = (alpha > 0.2) & (alpha < 0.8)
    raw_blue, est_blue = image[mixed][:, 2].mean(), fg[mixed][:, 2].mean()
    assert est_blue < raw_blue - 60, (raw_blue, est_blue)
    assert np.abs(fg[alpha == 1] - red).max() <= 2  # solid foreground is untouched


def test_pipe_reads_stdin_and_writes_one_png_to_stdout(fg_model, photo):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "segtf", "segment", "-", "-o", "-", "--model", str(fg_model),
         "--save", "cutout"],
        input=photo.read_bytes(), capture_output=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()
    image = Image.open(io.BytesIO(done.stdout))
    assert (image.format, image.mode, image.size) == ("PNG", "RGBA", (56, 40))


def test_pipe_refuses_several_outputs(fg_model, photo, capsys):
    code = segment(str(photo), "-o", "-", "--model", str(fg_model), "--save", "mask,overlay")
    assert code == 2 and "writes one PNG" in capsys.readouterr().err
