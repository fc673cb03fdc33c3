"""Training pieces: config resolution, schedule, precision, the loop on a tiny model."""

import dataclasses
import json

import keras
import numpy as np
import pytest
from data_factory import TINY_MODEL, tiny_model_overrides

from segtf.models import build, get_config
from segtf.training import PolyWarmup, TrainConfig, Trainer, resolve_config
from segtf.training.config import parse_overrides
from segtf.training.experiments import get_experiment, list_experiments
from segtf.training.precision import resolve_precision


def test_poly_schedule_with_warmup_values_and_serialization():
    s = PolyWarmup(0.1, total_steps=10, warmup_steps=2, power=1.0)
    values = [float(s(t)) for t in range(12)]
    assert values[0] == pytest.approx(0.05) and values[1] == pytest.approx(0.1)
    assert values[2] == pytest.approx(0.1) and values[6] == pytest.approx(0.05)
    assert values[10] == pytest.approx(0.0) and values[11] == pytest.approx(0.0)
    clone = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(s))
    assert float(clone(6)) == pytest.approx(0.05)


def test_config_layers_experiment_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("epochs: 7\nmodel_overrides: {width: 0.5}\n")
    cfg = resolve_config(
        "camvid_deeplabv3plus_lite",
        [str(path)],
        parse_overrides(["batch_size=2", "crop_size=64", "model_overrides.output_stride=8"]),
    )
    assert cfg.epochs == 7 and cfg.batch_size == 2 and cfg.crop_size == (64, 64)
    assert cfg.model_overrides == {"width": 0.5, "output_stride": 8}
    assert cfg.dataset == "camvid"
    with pytest.raises(ValueError, match="Unknown training config keys"):
        TrainConfig.from_dict({"epoch": 3})


def test_precision_auto_is_float32_on_cpu():
    assert resolve_precision("auto") == "float32"
    with pytest.raises(ValueError):
        resolve_precision("float8")


TINY = dict(
    model="pspnet_lite",
    model_overrides=dict(TINY_MODEL),
    train_data="synthetic:4",
    val_data="synthetic:2",
    num_classes=3,
    crop_size=(32, 32),
    batch_size=2,
    epochs=1,
    image_summaries=1,
    log_every=1,
    checkpoint_every=1,
    keep_checkpoints=1,
)


def test_tiny_run_with_aux_loss_writes_everything(tmp_path):
    cfg = TrainConfig(
        **TINY,
        out_dir=str(tmp_path / "run"),
        label_smoothing=0.1,
        aux_losses={"aux_logits": ["focal", 0.4]},
    )
    trainer = Trainer(cfg)
    assert set(trainer.model.output) == {"logits", "aux_logits"}  # PSPNet training graph
    result = trainer.fit()
    run = tmp_path / "run"
    assert result.step == 2 and int(keras.ops.convert_to_numpy(trainer.optimizer.iterations)) == 2
    assert (run / "config.yaml").is_file() and (run / "history.csv").is_file()
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"aux_logits_loss", "logits_loss", "val_mean_iou"} <= set(header)
    assert list((run / "logs" / "validation_images").glob("events.*"))
    assert list((run / "logs" / "train").glob("events.*"))  # Keras' TensorBoard callback
    assert len(list((run / "checkpoints").glob("ckpt-*.weights.h5"))) == 1  # keep_checkpoints
    assert (run / "checkpoints" / "best.weights.h5").is_file()
    from segtf.zoo import load_model

    model, info = load_model(run / "model")
    assert not isinstance(model.output, dict) and info.model.num_classes == 3
    assert info.extra["weights"] == "best"
    assert model(np.zeros((1, 32, 32, 3), "float32")).shape == (1, 32, 32, 3)
    with pytest.raises(ValueError, match="--resume"):
        Trainer(cfg).fit()


@pytest.mark.slow
def test_stop_at_step_ends_cleanly_on_the_whole_runs_schedule(tmp_path):
    """stop_at_step replays a leg a time budget cut: it stops at that step (validated,
    checkpointed) with the learning rate of the whole run's schedule, refuses to resume
    while still set, and --resume with it cleared runs to the end."""
    cfg = TrainConfig(**{**TINY, "epochs": 2}, out_dir=str(tmp_path / "run"), stop_at_step=1)
    trainer = Trainer(cfg)
    result = trainer.fit()
    assert result.step == 1 and result.stopped_early == "stop_at_step 1 reached"
    assert trainer.total_steps == 4  # 2 epochs x 2 steps: the schedule of the whole run
    whole_run = PolyWarmup(cfg.learning_rate, 4, cfg.warmup_steps, cfg.poly_power)
    lr = float(keras.ops.convert_to_numpy(trainer.optimizer.learning_rate))
    assert lr == pytest.approx(float(keras.ops.convert_to_numpy(whole_run(1))), rel=1e-6)
    assert lr > 0  # a schedule cut to 1 step (max_steps=1) would have decayed to 0 here
    assert (tmp_path / "run" / "checkpoints" / "best.weights.h5").is_file()
    with pytest.raises(ValueError, match="stop_at_step=1 is already reached"):
        Trainer(dataclasses.replace(cfg, resume=True)).fit()
    resumed = Trainer(dataclasses.replace(cfg, resume=True, stop_at_step=0)).fit()
    assert resumed.step == 4 and resumed.stopped_early == ""


def test_nan_loss_stops_with_a_message(tmp_path):
    cfg = TrainConfig(
        **{**TINY, "val_data": ""},
        out_dir=str(tmp_path / "run"),
        learning_rate=float("nan"),
        optimizer="sgd",
    )
    from segtf.training.callbacks import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="loss is nan at step"):
        Trainer(cfg).fit()


def test_cli_dry_run_prints_the_resolved_config(capsys):
    import argparse

    from segtf.cli.train_cmd import add_arguments, run

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert (
        run(
            parser.parse_args(
                [
                    "-e",
                    "camvid_deeplabv3plus_lite",
                    "--epochs",
                    "2",
                    "--set",
                    "precision=float32",
                    "--dry-run",
                ]
            )
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "epochs: 2" in out and "precision: float32" in out


def test_write_config_is_plain_yaml(tmp_path):
    import yaml

    from segtf.training.config import write_config

    write_config(TrainConfig(), tmp_path / "c.yaml")
    data = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert TrainConfig.from_dict(data) == TrainConfig()
    json.dumps(data)


@pytest.mark.parametrize("name", list_experiments())
def test_every_experiment_trains_every_training_output(name):
    # An output without a loss in aux_losses is never trained (the refiner experiment once
    # named keys its model does not have, leaving all deep supervision off).
    config = get_experiment(name)
    tiny = tiny_model_overrides(get_config(config.model))
    model = build(config.model, with_aux=True, **tiny)
    outputs = set(model.output) if isinstance(model.output, dict) else {"logits"}
    assert outputs - {"logits"} <= set(config.aux_losses), sorted(outputs)


def test_fine_tune_from_a_zoo_folder_with_other_classes(tmp_path):
    """init_from a model folder with 5 classes into a 3-class run: the backbone's weights
    come along, the classifier is new, and the trained model loads back."""
    import segtf.models
    from segtf.zoo import ModelInfo, load_model, save_model_folder

    source_config = segtf.models.get_config(
        "pspnet_lite", num_classes=5, **TINY_MODEL
    )
    source = segtf.models.build_from_config(source_config)
    folder = save_model_folder(source, ModelInfo(name="five", model=source_config), tmp_path / "five")
    cfg = TrainConfig(**TINY, out_dir=str(tmp_path / "run"), init_from=str(folder))
    trainer = Trainer(cfg)
    probe = "xception_entry1_skip_conv"
    np.testing.assert_array_equal(
        trainer.model.get_layer(probe).get_weights()[0], source.get_layer(probe).get_weights()[0]
    )
    assert trainer.model.get_layer("classifier_conv").get_weights()[0].shape[-1] == 3
    trainer.fit()
    model, info = load_model(tmp_path / "run" / "model")
    assert info.model.num_classes == 3 and info.model.backbone_weights is None
    assert model(np.zeros((1, 32, 32, 3), "float32")).shape == (1, 32, 32, 3)


def test_colour_coded_dataset_streams_synthetic_labels(tmp_path):
    # CamVid's spec maps mask colours to classes; synthetic smoke-test data is already
    # labelled, so the trainer's stream must not push its one-channel labels through the
    # colour lookup (`segtf train -e camvid_... --set train_data=synthetic:4` once stopped
    # with a raw TensorFlow ValueError from the palette code).
    from segtf.training.data import label_info, make_train_data, synthetic_arrays

    cfg = TrainConfig(**{**TINY, "num_classes": 0, "input_pipeline": "tf.data"}, dataset="camvid")
    labels = label_info(cfg)
    assert labels.num_classes == 11 and labels.palette
    _, batch_labels = next(iter(make_train_data(cfg, labels).stream()))
    _, expected = synthetic_arrays(4, cfg.crop_size, 11, "semantic", seed=1)
    assert set(np.unique(batch_labels.numpy())) <= set(np.unique(expected))


def test_init_from_names_what_it_accepts(tmp_path):
    cfg = TrainConfig(**TINY, out_dir=str(tmp_path / "run"), init_from="no_such_model")
    with pytest.raises(ValueError, match="init_from 'no_such_model': not a .weights.h5"):
        Trainer(cfg)


@pytest.mark.slow
def test_head_warmup_trains_only_the_layers_init_from_left_new(tmp_path, caplog):
    """From a model folder (inference graph) into a training graph with PSPNet's aux head:
    the warm-up moves the aux head only, every loaded layer stays as loaded, and the run's
    own optimizer then trains from step 0 on its schedule."""
    import segtf.models
    from segtf.zoo import ModelInfo, save_model_folder

    source_config = segtf.models.get_config("pspnet_lite", num_classes=3, **TINY_MODEL)
    source = segtf.models.build_from_config(source_config)
    folder = save_model_folder(source, ModelInfo(name="src", model=source_config), tmp_path / "src")
    cfg = TrainConfig(
        **TINY, out_dir=str(tmp_path / "run"), init_from=str(folder), head_warmup_steps=3,
        head_warmup_learning_rate=1e-2,
    )
    trainer = Trainer(cfg)
    new = set(trainer.new_layers)
    assert new and all(name.startswith("aux") for name in new), sorted(new)
    before = {layer.name: layer.get_weights() for layer in trainer.model.layers if layer.weights}
    result = trainer.warm_up_new_layers()
    assert np.isfinite(result["first_loss"]) and np.isfinite(result["last_loss"])
    for layer in trainer.model.layers:
        if not layer.weights:
            continue
        assert layer.trainable, layer.name  # unfrozen again for the run
        after = layer.get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(before[layer.name], after, strict=True))
        assert same == (layer.name not in new), layer.name
    assert trainer.model.optimizer is trainer.optimizer
    assert int(keras.ops.convert_to_numpy(trainer.optimizer.iterations)) == 0
    with caplog.at_level("INFO", logger="segtf.training.warmup"):
        trainer.fit()  # a run at step 0 warms up itself (here a second time)
    assert "warmed up" in caplog.text
    assert int(keras.ops.convert_to_numpy(trainer.optimizer.iterations)) == 2
    moved = trainer.model.get_layer("xception_entry1_skip_conv").get_weights()[0]
    assert not np.array_equal(moved, source.get_layer("xception_entry1_skip_conv").get_weights()[0])


def test_head_warmup_needs_an_init_from_model(tmp_path):
    cfg = TrainConfig(**TINY, out_dir=str(tmp_path / "run"), head_warmup_steps=2)
    with pytest.raises(ValueError, match="head_warmup_steps warms up the layers init_from"):
        Trainer(cfg)


def test_freeze_loaded_layers_trains_only_the_new_layers_for_the_whole_run(tmp_path):
    """The model folder's layers (BatchNorm statistics included, precise-BN pass and all) come
    out of a whole run as loaded; only the aux head init_from left new has moved."""
    import segtf.models
    from segtf.zoo import ModelInfo, save_model_folder

    source_config = segtf.models.get_config("pspnet_lite", num_classes=3, **TINY_MODEL)
    source = segtf.models.build_from_config(source_config)
    folder = save_model_folder(source, ModelInfo(name="src", model=source_config), tmp_path / "src")
    cfg = TrainConfig(
        **TINY, out_dir=str(tmp_path / "run"), init_from=str(folder), freeze_loaded_layers=True,
        precise_bn_batches=2, learning_rate=1e-2,
    )
    trainer = Trainer(cfg)
    new = set(trainer.new_layers)
    assert new and all(name.startswith("aux") for name in new), sorted(new)
    before = {layer.name: layer.get_weights() for layer in trainer.model.layers if layer.weights}
    trainer.fit()
    for layer in trainer.model.layers:
        if not layer.weights:
            continue
        after = layer.get_weights()
        same = all(np.array_equal(a, b) for a, b in zip(before[layer.name], after, strict=True))
        assert same == (layer.name not in new), layer.name


def test_freeze_loaded_layers_says_when_nothing_would_train(tmp_path):
    import segtf.models
    from segtf.zoo import ModelInfo, save_model_folder

    with pytest.raises(ValueError, match="freeze_loaded_layers keeps the layers init_from"):
        Trainer(TrainConfig(**TINY, out_dir=str(tmp_path / "a"), freeze_loaded_layers=True))
    source_config = segtf.models.get_config("pspnet_lite", num_classes=3, **TINY_MODEL)
    source = segtf.models.build_from_config(source_config)
    folder = save_model_folder(source, ModelInfo(name="src", model=source_config), tmp_path / "src")
    cfg = TrainConfig(**{**TINY, "aux_losses": {}}, out_dir=str(tmp_path / "b"),
                      init_from=str(folder), freeze_loaded_layers=True)
    with pytest.raises(ValueError, match="filled every layer, so nothing would train"):
        Trainer(cfg)


def test_foreground_run_names_the_softmax_loss_to_change():
    from segtf.training.objective import output_losses

    config = TrainConfig(task="foreground", num_classes=1)
    with pytest.raises(ValueError, match="^loss=cross_entropy: "):
        output_losses(config, 1, "foreground", ["aux_logits", "logits"])
    config = dataclasses.replace(config, loss="birefnet")
    with pytest.raises(ValueError, match="^aux_losses.aux_logits=cross_entropy: "):
        output_losses(config, 1, "foreground", ["aux_logits", "logits"])
    config = dataclasses.replace(config, aux_losses={"aux_logits": ["bce", 0.4]})
    losses, weights = output_losses(config, 1, "foreground", ["aux_logits", "logits"])
    assert list(losses) == ["aux_logits", "logits"] and weights == {"aux_logits": 0.4, "logits": 1.0}


def test_task_comes_from_the_model_when_no_dataset_says_it():
    from segtf.training.data import label_info

    assert label_info(TrainConfig(model="refiner_lite", num_classes=1)).task == "foreground"
    assert label_info(TrainConfig(model="pspnet_lite", num_classes=3)).task == "semantic"
    overridden = TrainConfig(model="pspnet_lite", num_classes=1,
                             model_overrides={"task": "foreground"})
    assert label_info(overridden).task == "foreground"
