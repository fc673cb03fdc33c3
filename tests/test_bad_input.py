"""Bad and odd inputs over the CLI (issue 15): each case builds the input in a temporary
folder, runs the command, and asserts the exact outcome: exit code, a message naming the input
and the fix, no traceback, and every pre-existing user file byte-identical afterwards.
The terminal summary prints how many kinds were tried and their outcomes."""

from __future__ import annotations

import collections
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
from data_factory import TINY_MODEL
from PIL import Image

import segtf.models
from segtf.cli import main

OUTCOMES: collections.Counter = collections.Counter()


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir):
    return tiny_model_dir


def photo(path: pathlib.Path, size=(24, 32)) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), 120, np.uint8)).save(path)
    return path


def pair_folder(root: pathlib.Path, count: int = 2) -> pathlib.Path:
    for i in range(count):
        photo(root / "images" / f"p{i}.png")
        (root / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros((24, 32), np.uint8)).save(root / "masks" / f"p{i}.png")
    return root


def contents(folder: pathlib.Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def expect(kind: str, argv: list[str], code: int, needles: list[str], capsys, keep: pathlib.Path):
    before = contents(keep)
    result = main(argv)
    err = capsys.readouterr().err
    ok = result == code and all(n in err for n in needles) and "Traceback" not in err
    OUTCOMES[f"{'clean error' if code else 'handled'} exit {code}"] += 1
    assert result == code, (kind, result, err)
    for needle in needles:
        assert needle in err, (kind, needle, err)
    assert "Traceback" not in err, (kind, err)
    assert contents(keep) == before, f"{kind}: user files changed"
    assert ok


# --- damaged model folders ------------------------------------------------------------------


def damage_truncated_weights(folder):
    weights = folder / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:5000])


def damage_config_without_model(folder):
    data = json.loads((folder / "config.json").read_text())
    del data["model"]
    (folder / "config.json").write_text(json.dumps(data))


def damage_config_unknown_key(folder):
    data = json.loads((folder / "config.json").read_text())
    data["colour_scheme"] = "blue"
    (folder / "config.json").write_text(json.dumps(data))


def damage_config_not_json(folder):
    (folder / "config.json").write_text("{name: tiny,,,")


def damage_wrong_class_count(folder):
    data = json.loads((folder / "config.json").read_text())
    data["model"]["num_classes"] = 5
    (folder / "config.json").write_text(json.dumps(data))


def damage_other_models_weights(folder):
    config = segtf.models.get_config("pspnet_lite", num_classes=3, **TINY_MODEL)
    segtf.models.build_from_config(config).save_weights(folder / "model.weights.h5")


DAMAGES = {
    "truncated weights": (damage_truncated_weights, "model.weights.h5"),
    "config without model": (damage_config_without_model, "no 'model' section"),
    "config with unknown key": (damage_config_unknown_key, "unknown keys ['colour_scheme']"),
    "config not JSON": (damage_config_not_json, "not valid JSON"),
    "wrong class count": (damage_wrong_class_count, "model.weights.h5"),
    "weights of another model": (damage_other_models_weights, "model.weights.h5"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGES))
def test_damaged_model_folder(kind, model_dir, tmp_path, capsys):
    damage, needle = DAMAGES[kind]
    folder = tmp_path / "damaged"
    shutil.copytree(model_dir, folder)
    damage(folder)
    image = photo(tmp_path / "in" / "x.png")
    argv = ["segment", str(image), "--out", str(tmp_path / "out"), "--model", str(folder)]
    expect(kind, argv, 2, [str(folder), needle], capsys, tmp_path / "in")
    with pytest.raises(ValueError, match=str(folder)):
        segtf.Segmenter(folder)


def test_garbage_keras_file_is_not_reported_missing(tmp_path, capsys):
    path = tmp_path / "model.keras"
    path.write_bytes(b"definitely not a zip")
    (tmp_path / "model.json").write_text(
        json.dumps({"name": "x", "model": {"num_classes": 3}})
    )
    image = photo(tmp_path / "in" / "x.png")
    argv = ["segment", str(image), "--out", str(tmp_path / "out"), "--model", str(path)]
    expect("garbage .keras", argv, 2, [str(path), "not a loadable .keras model"], capsys, tmp_path / "in")


# --- training config ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, needle",
    [
        ("model_overrides.widht=0.5", "unknown model_overrides keys ['widht']"),
        ("steps_per_epoch=abc", "'steps_per_epoch' takes int"),
        ("learning_rate=fast", "'learning_rate' takes float"),
    ],
)
def test_bad_training_setting_names_the_key(setting, needle, tmp_path, capsys):
    argv = ["train", "-e", "camvid_deeplabv3plus_lite", "--set", setting, "--dry-run"]
    expect(setting, argv, 2, [needle], capsys, tmp_path)


@pytest.mark.parametrize(
    "settings, needle",
    [
        # A softmax over one class is constant: it once trained with loss 0 and val score 1.0.
        (["num_classes=1"], "num_classes=1 with task semantic"),
        (["task=foreground"], "num_classes=11 with task foreground"),
        (["num_classes=1", "task=semantic", "model_overrides.task=foreground"],
         "task=semantic and model_overrides.task=foreground disagree"),
    ],
)
def test_task_and_classes_that_cannot_train_are_refused(settings, needle, tmp_path, capsys):
    argv = ["train", "-e", "camvid_deeplabv3plus_lite", "--dry-run"]
    for setting in settings:
        argv += ["--set", setting]
    expect(" ".join(settings), argv, 2, [needle], capsys, tmp_path)


def test_yaml_syntax_error_names_the_file(tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text("epochs: [3\nbatch_size: 2\n")
    argv = ["train", "-e", "camvid_deeplabv3plus_lite", "-c", str(path), "--dry-run"]
    expect("yaml syntax", argv, 2, [f"config file {path} cannot be read"], capsys, tmp_path)


# --- data and outputs ------------------------------------------------------------------------


def test_decompression_bomb_in_a_dataset_is_one_bad_item(tmp_path, capsys):
    data = pair_folder(tmp_path / "data")
    bomb = data / "images" / "bomb.png"
    Image.new("L", (20000, 20000)).save(bomb)  # 400 Mpx of zeros: a few hundred KB
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(data / "masks" / "bomb.png")
    before = contents(data)
    code = main(["data", "check", str(data), "--task", "foreground", "--skip-bad"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "bomb.png" in captured.out and "too large to decode safely" in captured.out
    assert "2 good pair(s), 1 bad" in captured.out
    assert contents(data) == before
    OUTCOMES["handled exit 0"] += 1
    argv = ["data", "check", str(data), "--task", "foreground"]
    expect("bomb without --skip-bad", argv, 2, ["bomb.png", "too large"], capsys, data)


def test_empty_dataset_fails(tmp_path, capsys):
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "masks").mkdir()
    argv = ["data", "check", str(tmp_path / "data"), "--task", "foreground"]
    expect("empty dataset", argv, 2, ["no usable image / mask pairs"], capsys, tmp_path)


def test_data_convert_twice(tmp_path, capsys):
    data = pair_folder(tmp_path / "data")
    out = tmp_path / "records"
    assert main(["data", "convert", str(data), "--task", "foreground", "--out", str(out)]) == 0
    capsys.readouterr()
    argv = ["data", "convert", str(data), "--task", "foreground", "--out", str(out)]
    expect("convert twice", argv, 2, [str(out)], capsys, tmp_path)


def test_evaluate_out_is_an_existing_file_checked_first(model_dir, tmp_path, capsys):
    data = pair_folder(tmp_path / "data")
    report = tmp_path / "report.txt"
    report.write_text("mine")
    argv = ["evaluate", str(model_dir), str(data), "--out", str(report)]
    expect("evaluate --out file", argv, 2, [f"--out {report} is an existing file"], capsys, tmp_path)


def test_export_out_is_an_existing_file(model_dir, tmp_path, capsys):
    target = tmp_path / "export.bin"
    target.write_text("mine")
    argv = ["export", str(model_dir), "--out", str(target)]
    expect("export --out file", argv, 2, [f"--out {target} is an existing file"], capsys, tmp_path)


def test_bad_scales_name_the_option(model_dir, tmp_path, capsys):
    data = pair_folder(tmp_path / "data")
    argv = ["evaluate", str(model_dir), str(data), "--scales", "a,b"]
    expect("--scales a,b", argv, 2, ["--scales 'a,b'"], capsys, tmp_path)


def test_unexpected_error_gives_one_line_and_a_traceback_file(monkeypatch, capsys, tmp_path):
    import segtf.cli.models_cmd as models_cmd

    def broken(args):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(models_cmd, "run", broken)
    code = main(["models"])
    err = capsys.readouterr().err
    assert code == 1 and "unexpected error RuntimeError: simulated bug" in err
    report = pathlib.Path(err.split("traceback is in ")[1].split(";")[0])
    assert "Traceback" in report.read_text() and "Traceback" not in err
    OUTCOMES["unexpected: summary + file, exit 1"] += 1


def can_mount_tmpfs(target: pathlib.Path, options: str = "size=200k") -> bool:
    target.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)],
                          capture_output=True)
    return done.returncode == 0


@pytest.fixture()
def read_only_folder(tmp_path):
    """A small tmpfs holding one user file, then remounted read-only."""
    folder = tmp_path / "readonly"
    if not can_mount_tmpfs(folder):
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights)")
    try:
        (folder / "keep.txt").write_text("precious")
        done = subprocess.run(["mount", "-o", "remount,ro", str(folder)], capture_output=True)
        if done.returncode != 0:
            pytest.skip("cannot remount the tmpfs read-only here")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_segment_into_a_read_only_folder(model_dir, read_only_folder, tmp_path, capsys):
    image = photo(tmp_path / "in" / "x.png")
    for out in (read_only_folder, read_only_folder / "out"):
        expect("segment into a read-only folder",
               ["segment", str(image), "--out", str(out), "--model", str(model_dir)], 1,
               ["FAILED", "x.png", "read-only", "choose another folder"], capsys, read_only_folder)
    assert (read_only_folder / "keep.txt").read_text() == "precious"


def test_export_into_a_read_only_folder(model_dir, read_only_folder, capsys):
    expect("export into a read-only folder",
           ["export", str(model_dir), "--out", str(read_only_folder / "export")], 2,
           ["read-only", "choose another folder"], capsys, read_only_folder)


def test_train_into_a_read_only_folder(read_only_folder, tmp_path, capsys):
    data = pair_folder(tmp_path / "data")
    expect("train into a read-only folder",
           ["train", "--set", f"train_data={data}", "--set", f"val_data={data}",
            "--set", "model=deeplabv3plus_lite", "--set", "num_classes=2", "--epochs", "1",
            "--out", str(read_only_folder / "run")], 2,
           ["read-only", "choose another folder"], capsys, read_only_folder)


def test_full_disk_says_no_space_left(model_dir, tmp_path, capsys):
    small = tmp_path / "small"
    if not can_mount_tmpfs(small):
        pytest.skip("cannot mount a small tmpfs here (needs root and mount rights)")
    try:
        (small / "filler").write_bytes(b"\0" * 190_000)
        image = photo(tmp_path / "in" / "x.png", size=(200, 300))
        code = main(["segment", str(image), "--out", str(small / "out"), "--model", str(model_dir),
                     "--save", "mask,overlay,probs"])
        err = capsys.readouterr().err
        assert code == 1
        assert "No space left on device" in err or "no space left on device" in err, err
        assert not [p for p in (small / "out").rglob("*") if p.is_file() and p.name.startswith(".")]
        OUTCOMES["reported per file, exit 1"] += 1
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


def test_list_file_with_a_latin1_byte_names_the_file(tmp_path, capsys):
    data = pair_folder(tmp_path / "data")
    listing = tmp_path / "train.txt"
    listing.write_bytes(b"images/p0.png masks/p0.png\nimages/caf\xe9.png masks/p1.png\n")
    shutil.copytree(data, tmp_path / "images_parent", dirs_exist_ok=True)
    argv = ["data", "check", str(listing), "--task", "foreground"]
    expect("latin-1 list file", argv, 2, [str(listing), "not UTF-8", "save the list file as UTF-8"],
           capsys, tmp_path)


def test_malformed_list_line_is_one_skipped_item(tmp_path, capsys):
    pair_folder(tmp_path)
    listing = tmp_path / "train.txt"
    listing.write_text("images/p0.png masks/p0.png\nonly_one_field.png\nimages/p1.png masks/p1.png\n")
    before = contents(tmp_path)
    code = main(["data", "check", str(listing), "--task", "foreground", "--skip-bad"])
    out = capsys.readouterr().out
    assert code == 0 and "2 good pair(s), 1 bad" in out and "train.txt:2" in out, out
    assert contents(tmp_path) == before
    OUTCOMES["handled exit 0"] += 1
    argv = ["data", "check", str(listing), "--task", "foreground"]
    expect("malformed line without --skip-bad", argv, 2, ["train.txt:2", "IMAGE MASK"], capsys, tmp_path)


def test_corrupt_tfrecord_manifest_names_the_file(tmp_path, capsys):
    data = pair_folder(tmp_path / "data")
    out = tmp_path / "records"
    assert main(["data", "convert", str(data), "--task", "foreground", "--out", str(out)]) == 0
    capsys.readouterr()
    manifest = out / "segtf_tfrecords.json"
    manifest.write_text("{not json")
    argv = ["data", "check", str(out), "--task", "foreground"]
    expect("corrupt manifest", argv, 2, [str(manifest), "damaged TFRecord manifest"], capsys, tmp_path)


def test_fifo_and_symlink_loop_in_a_folder_are_reported(model_dir, tmp_path, capsys):
    import os

    inputs = tmp_path / "in"
    photo(inputs / "good.png")
    os.mkfifo(inputs / "pipe.png")
    (inputs / "loop.png").symlink_to(inputs / "loop.png")
    code = main(["segment", str(inputs), "--out", str(tmp_path / "out"), "--model", str(model_dir)])
    err = capsys.readouterr().err
    assert code == 1
    assert "FAILED" in err and "pipe.png" in err and "loop.png" in err and "not a regular file" in err
    assert (tmp_path / "out" / "in" / "good.mask.png").is_file()
    OUTCOMES["reported per file, exit 1"] += 1


def test_big_endian_uint16_array_is_accepted():
    import segtf

    value = np.full((8, 8, 3), 65535, dtype=">u2")
    assert (segtf.read_image(value) == 255).all()
    OUTCOMES["handled exit 0"] += 1


def test_multi_frame_image_of_the_caller_is_not_moved():
    import segtf

    frames = [Image.new("RGB", (8, 8), c) for c in ("red", "blue")]
    buffer = __import__("io").BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    image = Image.open(buffer)
    image.seek(1)
    rgb = segtf.read_image(image)
    assert image.tell() == 1  # the caller's object is where they left it
    assert rgb[0, 0, 0] > 200 and rgb[0, 0, 2] < 50  # frame 0 (red) was used
    OUTCOMES["handled exit 0"] += 1


def test_decompression_bomb_in_an_evaluation_set(model_dir, tmp_path, capsys):
    data = pair_folder(tmp_path / "data")
    Image.new("L", (20000, 20000)).save(data / "images" / "bomb.png")
    Image.fromarray(np.zeros((24, 32), np.uint8)).save(data / "masks" / "bomb.png")
    argv = ["evaluate", str(model_dir), str(data)]
    expect("bomb in evaluate", argv, 2, ["bomb.png", "too large to decode safely"], capsys, data)
