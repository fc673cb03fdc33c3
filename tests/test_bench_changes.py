"""benchmarks/bench_changes.py: where two models' decisions differ, against the ground truth."""

import sys

import numpy as np
from data_factory import make_folder_dataset, tiny_refiner_folder

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_changes  # noqa: E402


def test_changes_are_placed_and_judged_against_the_ground_truth():
    truth = np.zeros((100, 100), np.uint8)  # boundary IoU's band width here: 3 pixels
    truth[30:70, 30:70] = 255
    truth[28:30, 28:72] = 128  # an undecided strip along the top edge
    before = truth == 255
    after = before.copy()
    after[29, 50] = True  # in the undecided strip: neither right nor wrong
    after[50, 71] = True  # a background pixel next to the right edge turned foreground: broken
    after[69, 50] = False  # a foreground pixel on the bottom edge dropped: broken
    before[10, 10] = True  # far out in the background, wrong before, right after: fixed
    counts = bench_changes.change_counts(before, after, truth)
    assert counts == {"undecided": 1, "near": 2, "far": 1, "fixed": 1, "broken": 2}
    assert bench_changes.change_counts(before, before, truth) == dict.fromkeys(counts, 0)


def test_a_model_against_itself_changes_nothing(tmp_path, capsys):
    folder = tiny_refiner_folder(tmp_path)
    for name in bench_changes.VAL_SETS:
        make_folder_dataset(tmp_path / "data" / name / "val", n=2, size=(40, 56), foreground=True)
    argv = ["--models", str(folder), str(folder), "--aspect", "square", "--data",
            str(tmp_path / "data"), "--limit", "1"]
    assert bench_changes.main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| {folder}")]
    assert len(rows) == len(bench_changes.VAL_SETS)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2:] == ["0", "0.000%", "0.0%", "0.0%", "0.0%", "0", "0"]


def test_absent_val_folders_exit_with_the_command_that_makes_them(tmp_path, capsys):
    assert bench_changes.main(["--models", "x", "y", "--data", str(tmp_path)]) == 2
    assert "prepare_training_folders.py" in capsys.readouterr().err
