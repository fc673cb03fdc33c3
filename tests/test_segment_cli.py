"""`segtf segment`: files and folders in, atomic outputs, skips, failures and exit codes."""

import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from data_factory import TINY_MODEL
from PIL import Image

import segtf.models
from segtf.atomic import atomic_path
from segtf.cli import main
from segtf.cli.segment_cmd import output_path
from segtf.imageio import read_image, read_mask
from segtf.zoo import ModelInfo, save_model_folder

TINY = dict(num_classes=3, **TINY_MODEL)
REPO = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    config = segtf.models.get_config("deeplabv3plus_lite", **TINY)
    model = segtf.models.build_from_config(config)
    info = ModelInfo(name="tiny", model=config, class_names=("a", "b", "c"))
    return save_model_folder(model, info, tmp_path_factory.mktemp("zoo") / "tiny")


def _photos(folder: pathlib.Path, count: int = 3, size=(24, 32)) -> list[pathlib.Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"img{i}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def _snapshot(folder: pathlib.Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_folder_recursive_with_bad_file_and_skip(model_dir, tmp_path, capsys):
    inputs = tmp_path / "in"
    _photos(inputs)
    _photos(inputs / "nested", count=1)
    (inputs / "broken.png").write_bytes(b"not a png")
    before = _snapshot(inputs)
    out = tmp_path / "out"
    code = main(
        [
            "segment",
            str(inputs),
            "--out",
            str(out),
            "--model",
            str(model_dir),
            "--save",
            "mask,overlay,probs",
        ]
    )
    captured = capsys.readouterr()
    assert code == 1  # one file failed
    assert "broken.png" in captured.err and "not an image" in captured.err
    assert "segmented 4 images" in captured.out and "images/s" in captured.out
    mask = read_mask(out / "in" / "nested" / "img0.mask.png")
    assert mask.shape == (24, 32) and mask.max() < 3
    assert read_image(out / "in" / "img1.overlay.png").shape == (24, 32, 3)
    assert np.load(out / "in" / "img2.probs.npy").shape == (24, 32, 3)
    assert _snapshot(inputs) == before  # inputs untouched
    assert not list(out.rglob(".*.tmp"))

    # Second run: everything that exists is skipped (the broken file fails again).
    stamp = (out / "in" / "img0.mask.png").stat().st_mtime_ns
    code = main(
        [
            "segment",
            str(inputs),
            "--out",
            str(out),
            "--model",
            str(model_dir),
            "--save",
            "mask",
            "--glob",
            "img*",
        ]
    )
    assert code == 0 and "skipped 4 existing" in capsys.readouterr().out
    assert (out / "in" / "img0.mask.png").stat().st_mtime_ns == stamp
    main(
        [
            "segment",
            str(inputs / "img0.png"),
            "--out",
            str(out),
            "--model",
            str(model_dir),
            "--save",
            "mask",
            "--overwrite",
        ]
    )
    assert "segmented 1 images" in capsys.readouterr().out


def test_missing_input_fails_but_others_run(model_dir, tmp_path, capsys):
    (photo,) = _photos(tmp_path / "in", count=1)
    code = main(
        [
            "segment",
            str(photo),
            str(tmp_path / "nope.jpg"),
            "--out",
            str(tmp_path / "out"),
            "--model",
            str(model_dir),
        ]
    )
    captured = capsys.readouterr()
    assert code == 1 and "nope.jpg" in captured.err
    assert (tmp_path / "out" / "img0.mask.png").is_file()


def test_refuses_to_write_into_inputs(model_dir, tmp_path, capsys):
    inputs = tmp_path / "in"
    _photos(inputs, count=1)
    code = main(
        ["segment", str(inputs), "--out", str(inputs / "results"), "--model", str(model_dir)]
    )
    assert code == 2 and "outside the inputs" in capsys.readouterr().err
    assert not (inputs / "results").exists()


def test_cutout_needs_classes_for_semantic_models(model_dir, tmp_path, capsys):
    (photo,) = _photos(tmp_path / "in", count=1)
    args = [
        "segment",
        str(photo),
        "--out",
        str(tmp_path / "out"),
        "--model",
        str(model_dir),
        "--save",
        "cutout",
    ]
    assert main(args) == 2 and "--classes" in capsys.readouterr().err
    assert main([*args, "--classes", "b,c"]) == 0
    assert Image.open(tmp_path / "out" / "img0.cutout.png").mode == "RGBA"


def test_bad_save_kind_is_named(tmp_path, capsys):
    assert main(["segment", "x.jpg", "--out", str(tmp_path), "--save", "masks"]) == 2
    assert "--save" in capsys.readouterr().err


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "x.png"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a png")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_kill_mid_run_leaves_only_complete_pngs(model_dir, tmp_path):
    inputs = tmp_path / "in"
    _photos(inputs, count=40, size=(96, 128))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = open(tmp_path / "stderr.txt", "wb")  # a file: a full pipe would block the run
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "segtf",
            "segment",
            str(inputs),
            "--out",
            str(out),
            "--model",
            str(model_dir),
            "--save",
            "mask,overlay",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(list(out.rglob("*.png"))) < 6:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    log.close()
    written = list(out.rglob("*.png"))
    errors = (tmp_path / "stderr.txt").read_text(errors="replace")[-2000:]
    assert written, f"the run produced no output before the deadline: {errors}"
    for path in written:
        with Image.open(path) as image:
            image.load()  # raises on a truncated PNG
    assert output_path(out / "in" / "img0", "mask") in written
