"""benchmarks/bench_dilated_conv.py: the same zoo weights with segtf's and keras's dilated
Conv2D, compared on logits and timed in turns."""

import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_dilated_conv  # noqa: E402

import segtf.models.blocks as blocks  # noqa: E402
from segtf.models.layers import Conv2D  # noqa: E402

MODEL = "camvid_deeplabv3plus_efficientnet_lite0"


def test_keras_variant_has_keras_convs_and_the_builder_is_restored():
    model = bench_dilated_conv.load_with_keras_dilated_convs(MODEL)
    assert not any(isinstance(layer, Conv2D) for layer in model.layers)
    assert blocks.NativeDilationConv2D is Conv2D


def test_prints_one_row_per_model_with_equal_logits(capsys):
    assert bench_dilated_conv.main(["--models", MODEL, "--repeats", "1"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(f"| {MODEL}"))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells[1] == "360x480"
    assert float(cells[2]) < 1e-4  # same weights, same logits
    assert re.fullmatch(r"\d+\.\d\dx", cells[5])
