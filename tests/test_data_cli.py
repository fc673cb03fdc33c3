"""`segtf data check|stats` on small datasets with problems."""

from data_factory import make_folder_dataset

from segtf.cli import main


def test_check_fails_with_the_file_named(tmp_path, capsys):
    root = make_folder_dataset(tmp_path, n=3)
    (root / "masks" / "001.png").write_bytes(b"")
    assert main(["data", "check", str(root), "--num-classes", "4"]) == 2
    err = capsys.readouterr().err
    assert "001.png: file is empty (0 bytes)" in err and "--skip-bad" in err


def test_check_skip_bad_prints_the_count(tmp_path, capsys):
    root = make_folder_dataset(tmp_path, n=3)
    (root / "masks" / "001.png").write_bytes(b"")
    assert main(["data", "check", str(root), "--num-classes", "4", "--skip-bad"]) == 0
    out = capsys.readouterr().out
    assert "skipped 1 bad item(s)" in out and "2 good pair(s), 1 bad" in out


def test_stats_needs_classes(tmp_path, capsys):
    root = make_folder_dataset(tmp_path, n=1)
    assert main(["data", "stats", str(root)]) == 2
    assert "--num-classes" in capsys.readouterr().err
    assert main(["data", "stats", str(root), "--num-classes", "4"]) == 0
    assert "weight" in capsys.readouterr().out


def test_stats_foreground(tmp_path, capsys):
    root = make_folder_dataset(tmp_path, n=2, foreground=True)
    assert main(["data", "stats", str(root), "--task", "foreground"]) == 0
    assert "foreground" in capsys.readouterr().out
