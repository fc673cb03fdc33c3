"""The maintainer tools under tools/: the loss ablation's variants reach the trainer's loss,
and its table reads the evaluation results of every finished variant and seed."""

import argparse
import importlib.util
import itertools
import json
import pathlib

import pytest

from segtf import losses

TOOLS = pathlib.Path(__file__).resolve().parents[1] / "tools"


def load_tool(name):
    spec = importlib.util.spec_from_file_location(f"tools_{name}", TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ablation():
    return load_tool("loss_ablation")


REFINER_OUTPUTS = ["logits", "stage2_logits", "edge1_logits"]


@pytest.mark.parametrize("variant", ["bce", "bce_iou", "bce_iou_ssim", "full"])
def test_each_ablation_variant_reaches_the_trainers_loss(ablation, variant, tmp_path):
    from segtf.training.objective import output_losses

    args = argparse.Namespace(
        data=[tmp_path / "horse"], model="refiner_lite", epochs=3, seed=7, out=tmp_path
    )
    config = ablation.variant_config(args, variant)
    loss, weights = output_losses(config, 1, "foreground", REFINER_OUTPUTS)

    expected = {"bce": (1, 0, 0), "bce_iou": (1, 1, 0), "bce_iou_ssim": (1, 1, 1), "full": (1, 1, 1)}
    stage_loss = loss["stage2_logits"].loss  # inside the trainer's target-resizing wrapper
    assert isinstance(stage_loss, losses.BinaryMixLoss)
    assert (stage_loss.bce, stage_loss.iou, stage_loss.ssim) == tuple(map(float, expected[variant]))
    assert weights.get("edge1_logits", 0.0) == ablation.VARIANTS[variant][1]
    assert weights["logits"] == 1.0
    # Every variant trains with the same budget: only the loss settings differ.
    assert config.epochs == 3 and config.seed == 7


def test_ablation_variants_build_up_one_part_at_a_time(ablation, tmp_path):
    from segtf.losses import get_loss

    parts = []
    for loss, edge in ablation.VARIANTS.values():
        mix = get_loss(loss, num_classes=1)
        parts.append((mix.bce, mix.iou, mix.ssim, edge))
    for before, after in itertools.pairwise(parts):
        assert sum(a != b for a, b in zip(before, after, strict=True)) == 1


def write_results(folder, variant, per_set):
    (folder / variant).mkdir(parents=True)
    (folder / variant / "results.json").write_text(json.dumps(per_set))


def test_ablation_report_over_seeds_gives_mean_and_half_range(ablation, tmp_path):
    seed0, seed1 = tmp_path / "seed0", tmp_path / "seed1"
    for folder, mae in ((seed0, 0.125), (seed1, 0.175)):
        write_results(folder, "bce", {"ccp_person": {"mae": mae, "max_f": 0.8, "boundary_iou": 0.5}})
    # Only seed 0 finished the full variant: a single value, shown as it is.
    write_results(seed0, "full", {"ccp_person": {"mae": 0.05, "max_f": 0.8, "boundary_iou": 0.6}})

    text = ablation.table(ablation.collect([seed0, seed1]))

    rows = text.splitlines()
    assert (
        rows[2]
        == "| ccp_person | bce | 0.1500 ± 0.0250 | 0.8000 ± 0.0000 | - | - | - | 0.5000 ± 0.0000 |"
    )
    assert rows[3] == "| ccp_person | full | 0.0500 | 0.8000 | - | - | - | 0.6000 |"
    assert len(rows) == 4  # header, rule, one row per (val set, variant) with results


def test_shrunk_folders_train_on_what_the_trainer_would_have_read(tmp_path):
    """Shrinking ahead of time gives the pairs `load_pairs(max_side=...)` gives from the
    originals: masks identical, images within JPEG error; small JPEGs copied byte for byte."""
    import numpy as np
    from data_factory import make_folder_dataset

    from segtf.data.arrays import load_pairs
    from segtf.data.validate import LabelRules

    shrink = load_tool("shrink_training_folders")
    big = make_folder_dataset(tmp_path / "set" / "train", n=2, size=(120, 90), foreground=True)
    small = make_folder_dataset(tmp_path / "small" / "train", n=1, size=(20, 30),
                                image_ext=".jpg", foreground=True)
    out = tmp_path / "out"
    assert shrink.shrink_folder(big, out / "set" / "train", max_side=40, quality=95) == 2
    assert shrink.shrink_folder(small, out / "small" / "train", max_side=40, quality=95) == 1

    rules = LabelRules(num_classes=2, task="foreground")
    original = load_pairs(str(big), rules, max_side=40)
    shrunk = load_pairs(str(out / "set" / "train"), rules, max_side=40)
    for a, b in zip(original.masks, shrunk.masks, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(original.images, shrunk.images, strict=True):
        assert a.shape == b.shape == (40, 30, 3)
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 12  # JPEG of random noise
    copied = out / "small" / "train" / "images" / "000.jpg"
    assert copied.read_bytes() == (small / "images" / "000.jpg").read_bytes()


def square_with_band(size=100, side=40, band=4):
    """A uint8 mask: a decided square of `side` pixels inside an undecided ring `band` wide."""
    import numpy as np

    mask = np.zeros((size, size), np.uint8)
    start = (size - side) // 2
    mask[start - band:start + side + band, start - band:start + side + band] = 128
    mask[start:start + side, start:start + side] = 255
    return mask


def square(size, side):
    import numpy as np

    mask = np.zeros((size, size), bool)
    start = (size - side) // 2
    mask[start:start + side, start:start + side] = True
    return mask


def test_undecided_band_is_where_any_predicted_edge_scores_a_perfect_boundary(tmp_path, capsys):
    """The premise the tool measures: an edge drawn anywhere inside the undecided ring gets
    boundary IoU 1 through segtf's metrics, one drawn beyond it does not; the tool reports the
    ring's width against boundary IoU's band d."""
    from PIL import Image

    from segtf.metrics.binary import binary_scores

    mask = square_with_band()
    for side, perfect in ((40, True), (44, True), (48, True), (52, False), (36, False)):
        score = binary_scores([square(100, side).astype(float)], [mask])["boundary_iou"]
        assert (score == 1.0) is perfect, (side, score)

    tool = load_tool("undecided_band")
    measures = tool.band_measures(mask)
    assert measures["d"] == 3  # 2% of a 141-pixel diagonal
    assert 4.0 < measures["band_width"] < 5.0  # 704 ring pixels over a 156-pixel contour
    assert tool.band_measures(square(100, 40).astype("uint8") * 255) is None  # no ring

    folder = tmp_path / "masks"
    folder.mkdir()
    Image.fromarray(mask).save(folder / "a.png")
    Image.fromarray(square(100, 40).astype("uint8") * 255).save(folder / "b.png")
    (folder / "c.png").write_bytes(b"not a png")
    assert tool.main([str(folder)]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "3 masks, 1 with an undecided (128) band" in out
    assert "c.png: skipped, not a readable PNG" in captured.err
    assert "| d | 3.000 | 3.000 | 3.000 |" in out
    assert tool.main([str(tmp_path / "absent")]) == 2


def test_schedule_replays_xdist_handing_out_files_as_processes_run_low(tmp_path):
    schedule = load_tool("test_schedule")
    log = tmp_path / "suite.log"
    log.write_text(
        "====== slowest durations ======\n"
        "90.00s call     tests/test_long.py::test_a\n"
        "5.00s setup    tests/test_long.py::test_a\n"
        "10.00s call     tests/test_many.py::test_1\n"
        "10.00s call     tests/test_many.py::test_2\n"
        "10.00s call     tests/test_many.py::test_3\n"
        "30.00s call     tests/test_mid.py::test_b\n"
    )
    seconds = schedule.read_durations(log)
    assert seconds["tests/test_long.py::test_a"] == 95.0  # setup + call
    ids = [*(f"tests/test_many.py::test_{i}" for i in (1, 2, 3)),
           "tests/test_mid.py::test_b", "tests/test_long.py::test_a"]  # fmt: skip
    # Most tests first: the long file goes out last and runs alone from 30 s to 125 s.
    xdist = schedule.files_in_order(ids, xdist_order=True)
    assert [group[0] for group in xdist][0] == "tests/test_many.py::test_1"
    assert schedule.simulate(xdist, seconds, 2) == (125.0, 95.0)
    # Long file first: it runs beside the rest (95 s; the other process ends at 60 s).
    long_first = [["tests/test_long.py::test_a"], *schedule.files_in_order(ids[:4], False)]
    assert schedule.simulate(long_first, seconds, 2) == (95.0, 35.0)
