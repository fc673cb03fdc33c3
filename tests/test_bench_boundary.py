"""benchmarks/bench_boundary.py: every model on every foreground val set, with the resizing
`--aspect` asks for, and a clear exit when the val folders are absent."""

import sys

import pytest
from data_factory import make_folder_dataset, tiny_refiner_folder

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_boundary  # noqa: E402


def test_table_has_a_row_per_model_and_set_at_the_asked_aspect(tmp_path, capsys):
    folder = tiny_refiner_folder(tmp_path)
    for name in bench_boundary.VAL_SETS:
        make_folder_dataset(tmp_path / "data" / name / "val", n=2, size=(40, 56), foreground=True)
    assert bench_boundary.load(str(folder), "square")[1].model.working_aspect == "square"
    network, info = bench_boundary.load(str(folder), None, 32)  # own aspect, another side
    assert (info.model.working_aspect, info.model.working_side) == ("keep", 32)
    assert network.get_layer("working_size").side == 32
    argv = ["--models", str(folder), str(folder), "--aspect", "square", "--data",
            str(tmp_path / "data"), "--limit", "1"]
    assert bench_boundary.main(argv) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| {folder}")]
    assert len(rows) == 3 * len(bench_boundary.VAL_SETS)  # two models, then the pairs
    table, paired = rows[: 2 * len(bench_boundary.VAL_SETS)], rows[2 * len(bench_boundary.VAL_SETS):]
    for row in table:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == "1"
        assert all(0.0 <= float(v) <= 1.0 for v in cells[3:])
    # The same model twice: the paired table says no difference on any image.
    assert len(paired) == len(bench_boundary.VAL_SETS)
    for row in paired:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[3:] == ["+0.0000", "+0.0000 to +0.0000", "0"]


def test_worst_names_the_images_in_the_order_they_were_measured(tmp_path, capsys):
    folders = []
    for name in bench_boundary.VAL_SETS:
        folders.append(tmp_path / name / "val")
        make_folder_dataset(folders[-1], n=3, size=(40, 56), foreground=True)
    per_image = {}
    for name in bench_boundary.VAL_SETS:
        per_image["a", name] = [0.9, 0.5, 0.7]
        per_image["b", name] = [0.8, 0.6, 0.4]  # trails most on the third image, then the first
    bench_boundary.print_worst(per_image, ["a", "b"], folders, 2)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| b |")]
    assert len(rows) == 2 * len(bench_boundary.VAL_SETS)
    images = sorted(p.name for p in (folders[0] / "images").iterdir())
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows[:2]]
    assert [c[2] for c in cells] == [images[2], images[0]]
    assert [c[5] for c in cells] == ["-0.3000", "-0.1000"]


def test_paired_interval_brackets_the_mean_difference():
    mean, low, high = bench_boundary.paired_interval([0.5] * 4, [0.6] * 4)
    assert (mean, low, high) == pytest.approx((0.1, 0.1, 0.1))
    a = [0.70, 0.80, 0.60, 0.90, 0.75, 0.65]
    b = [0.72, 0.79, 0.66, 0.91, 0.70, 0.69]
    mean, low, high = bench_boundary.paired_interval(a, b)
    assert mean == pytest.approx(sum(b) / 6 - sum(a) / 6)
    assert low < mean < high and low >= -0.05 and high <= 0.06  # within the extreme differences


def test_absent_val_folders_exit_with_the_command_that_makes_them(tmp_path, capsys):
    assert bench_boundary.main(["--models", "x", "--data", str(tmp_path)]) == 2
    assert "prepare_training_folders.py" in capsys.readouterr().err


def test_recipe_interval_resamples_the_runs_as_well_as_the_images():
    same = [[0.6, 0.7, 0.8]] * 2
    assert bench_boundary.recipe_interval(same, same) == pytest.approx((0.0, 0.0, 0.0))
    # Two seeds of the first recipe at 0.5 and 0.7, two of the other at 0.65: the mean gains
    # 0.05, but a resample of the first recipe's runs can be 0.7 twice (-0.05) or 0.5 twice
    # (+0.15), a quarter of the draws each, so the interval spans both.
    first = [[0.5] * 5, [0.7] * 5]
    other = [[0.65] * 5, [0.65] * 5]
    mean, low, high = bench_boundary.recipe_interval(first, other)
    assert (mean, low, high) == pytest.approx((0.05, -0.05, 0.15))


def test_paired_runs_cancel_what_each_pair_shares():
    # Two first runs at 0.5 and 0.7, each fine-tuned two ways; the second way adds 0.02 to
    # both. Resampled apart, the runs' spread swamps it; as pairs, only the 0.02 is left.
    first = [[0.5] * 5, [0.7] * 5]
    other = [[0.52] * 5, [0.72] * 5]
    mean, low, high = bench_boundary.recipe_interval(first, other)
    assert mean == pytest.approx(0.02) and low < 0 < high
    assert bench_boundary.recipe_interval(first, other, paired=True) == pytest.approx(
        (0.02, 0.02, 0.02))


def test_paired_runs_needs_recipes(capsys):
    with pytest.raises(SystemExit):
        bench_boundary.main(["--models", "a", "b", "--paired-runs"])
    assert "give --runs-per-recipe N" in capsys.readouterr().err


@pytest.mark.slow
def test_recipes_table_averages_each_group_of_runs(tmp_path, capsys):
    folder = tiny_refiner_folder(tmp_path)
    for name in bench_boundary.VAL_SETS:
        make_folder_dataset(tmp_path / "data" / name / "val", n=2, size=(40, 56), foreground=True)
    argv = ["--models", *[str(folder)] * 4, "--data", str(tmp_path / "data"), "--limit", "1"]
    with pytest.raises(SystemExit):  # 4 models do not split into groups of 3
        bench_boundary.main([*argv, "--runs-per-recipe", "3"])
    assert "groups of that many runs" in capsys.readouterr().err
    assert bench_boundary.main([*argv, "--runs-per-recipe", "2"]) == 0
    out = capsys.readouterr().out
    recipes = [line for line in out.split("recipes of 2 runs")[1].splitlines()
               if line.startswith(f"| {folder}, {folder} |")]
    assert len(recipes) == 2 * len(bench_boundary.VAL_SETS)
    first, second = recipes[: len(bench_boundary.VAL_SETS)], recipes[len(bench_boundary.VAL_SETS):]
    for row in first:
        cells = [c.strip() for c in row.strip("|").split("|")]
        runs = [float(v) for v in cells[3].split(" / ")]
        assert len(runs) == 2 and runs[0] == runs[1] == pytest.approx(float(cells[4]), abs=1e-4)
        assert cells[5:] == ["", ""]
    for row in second:  # the same weights: no difference, whatever is resampled
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[5:] == ["+0.0000", "+0.0000 to +0.0000"]
    assert bench_boundary.main([*argv, "--runs-per-recipe", "2", "--paired-runs"]) == 0
    out = capsys.readouterr().out
    assert "interval over run pairs (the i-th runs of both recipes together)" in out
    recipes = out.split("recipes of 2 runs")[1]
    assert recipes.count("| +0.0000 | +0.0000 to +0.0000 |") == len(bench_boundary.VAL_SETS)
