"""Nothing a user has is overwritten or lost (issue 15's data-loss cases): each test builds
the user's files, runs the command, and checks every one of them is byte-identical after."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from data_factory import TINY_MODEL
from PIL import Image

from segtf.cli import main

TINY = dict(num_classes=3, **TINY_MODEL)


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir):
    return tiny_model_dir


def photo(path: pathlib.Path) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(path)
    return path


def contents(folder: pathlib.Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_existing_output_is_kept_when_only_others_are_missing(model_dir, tmp_path, capsys):
    source = photo(tmp_path / "in" / "street.png")
    out = tmp_path / "out"
    out.mkdir()
    (out / "street.mask.png").write_bytes(b"precious")
    code = main(["segment", str(source), "--out", str(out), "--model", str(model_dir),
                 "--save", "mask,overlay"])
    assert code == 0, capsys.readouterr().err
    assert (out / "street.mask.png").read_bytes() == b"precious"
    assert (out / "street.overlay.png").stat().st_size > 0  # the missing one is written
    code = main(["segment", str(source), "--out", str(out), "--model", str(model_dir),
                 "--save", "mask,overlay", "--overwrite"])
    assert code == 0
    assert (out / "street.mask.png").read_bytes() != b"precious"


def test_out_set_to_the_parent_of_an_input_folder_is_refused(model_dir, tmp_path, capsys):
    photos = tmp_path / "d" / "photos"
    photo(photos / "x.png")
    (photos / "x.mask.png").write_bytes(b"ground truth")
    before = contents(tmp_path / "d")
    code = main(["segment", str(photos), "--out", str(tmp_path / "d"), "--model", str(model_dir)])
    err = capsys.readouterr().err
    assert code == 2
    assert "inside the input folder" in err and "Traceback" not in err
    assert contents(tmp_path / "d") == before


def test_a_fresh_training_run_refuses_a_non_empty_folder(tmp_path, capsys):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "config.yaml").write_text("mine: true\n")
    (run / "history.csv").write_text("epoch,loss\n1,0.5\n")
    (run / "model" / "notes.txt").write_text("keep me")
    before = contents(run)
    code = main(["train", "-e", "camvid_deeplabv3plus_lite", "--out", str(run), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"out_dir {run} is not empty" in err and "--overwrite" in err
    assert "Traceback" not in err
    assert contents(run) == before
