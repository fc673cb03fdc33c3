"""benchmarks/bench_boundary.py: every model on every foreground val set, with the resizing
`--aspect` asks for, and a clear exit when the val folders are absent."""

import sys

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
    assert len(rows) == 2 * len(bench_boundary.VAL_SETS)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[2] == "1"
        assert all(0.0 <= float(v) <= 1.0 for v in cells[3:])


def test_absent_val_folders_exit_with_the_command_that_makes_them(tmp_path, capsys):
    assert bench_boundary.main(["--models", "x", "--data", str(tmp_path)]) == 2
    assert "prepare_training_folders.py" in capsys.readouterr().err
