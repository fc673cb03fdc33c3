"""The one trainer end to end on each Keras backend, in fresh processes (the backend is
fixed at import): `segtf train` on two foreground sources -> `segtf package` -> load ->
segment, and the JAX run with TensorFlow made unimportable (a JAX-only GPU machine)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests.data_factory import TINY_MODEL, make_folder_dataset

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Runs a module with TensorFlow unimportable, as on a machine that has only JAX.
WITHOUT_TF = """
import importlib.abc, runpy, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("no TensorFlow on this machine")
sys.meta_path.insert(0, Block())
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module", autouse=True)
def jax_compilation_cache(tmp_path_factory):
    """JAX's on-disk compilation cache, shared by this module's processes (through the
    environment `_env` copies): they compile the same tiny train / eval steps, and XLA
    compiling them again in every process was most of their time."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JAX_COMPILATION_CACHE_DIR", str(tmp_path_factory.mktemp("jax_cache")))
        patch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        patch.setenv("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
        yield


def _env(backend: str) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=str(ROOT), CUDA_VISIBLE_DEVICES="")
    env.update(TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    return env


def _segtf(args, backend, without_tf=False, timeout=900):
    prefix = [sys.executable, "-c", WITHOUT_TF] if without_tf else [sys.executable, "-m"]
    done = subprocess.run(
        [*prefix, "segtf", *args], env=_env(backend), capture_output=True, text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("fg")
    for name, size in (("horses", (48, 64)), ("people", (64, 48))):
        for split, n in (("train", 6), ("val", 2)):
            make_folder_dataset(root / name / split, n=n, size=size, foreground=True)
    return root


def _train_args(data: pathlib.Path, out: pathlib.Path, pipeline: str) -> list[str]:
    sources = f"[{data / 'horses' / 'train'}, {data / 'people' / 'train'}]"
    vals = f"[{data / 'horses' / 'val'}, {data / 'people' / 'val'}]"
    return [
        "train", "--model", "refiner_lite", "--out", str(out), "--steps", "4",
        "--batch-size", "2",
        "--set", f"model_overrides={json.dumps({**TINY_MODEL, 'working_side': 64})}",
        "--set", "dataset=people_animals", "--set", f"train_data={sources}",
        "--set", f"val_data={vals}", "--set", "train_weights=[1, 3]",
        "--set", "crop_size=[32, 32]", "--set", "steps_per_epoch=2",
        "--set", "loss=birefnet", "--set", "aux_losses={stage2_logits: [birefnet, 0.5]}",
        "--set", "precise_bn_batches=2", "--set", f"input_pipeline={pipeline}",
        "--set", "precision=float32", "--set", "checkpoint_every=1",
    ]  # fmt: skip


SEGMENT = """
import json, sys
import numpy as np
import segtf
result = segtf.segment(np.full((40, 56, 3), 128, np.uint8), model=sys.argv[1])
print(json.dumps({"shape": list(result.alpha.shape), "finite": bool(np.isfinite(result.alpha).all()),
                  "names": list(result.class_names)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend, pipeline, without_tf",
    [("tensorflow", "tf.data", False), ("jax", "numpy", True)],
)
def test_train_package_load_segment(two_sources, tmp_path, backend, pipeline, without_tf):
    run = tmp_path / "run"
    printed = _segtf(_train_args(two_sources, run, pipeline), backend, without_tf)
    assert "trained 4 steps" in printed, printed[-2000:]
    assert f"{pipeline} input" in printed
    assert (run / "commands.txt").read_text().count("segtf train") == 1
    state = json.loads((run / "checkpoints" / "state.json").read_text())
    assert state["step"] == 4 and state["best_step"] in (2, 4)
    header = (run / "history.csv").read_text().splitlines()[0]
    assert "val_score" in header and "stage2_logits_loss" in header

    zoo = tmp_path / "zoo"
    printed = _segtf(["package", str(run), "--name", "tiny_fg", "--zoo", str(zoo)], backend)
    card = (zoo / "tiny_fg" / "MODEL_CARD.md").read_text()
    assert "segtf train --model refiner_lite" in card and "mae" in card
    config = json.loads((zoo / "tiny_fg" / "config.json").read_text())
    assert set(config["metrics"]) == {"horses", "people"}
    assert 0.0 <= config["metrics"]["horses"]["mae"] <= 1.0

    # A leg from the packaged folder: its stage heads (not in the inference graph) warm up alone.
    leg = [*_train_args(two_sources, tmp_path / "leg", pipeline), "--init-from", str(zoo / "tiny_fg")]
    printed = _segtf([*leg, "--set", "head_warmup_steps=2"], backend, without_tf)
    assert "warmed up 5 new layers (stage1_conv, stage2_conv" in printed, printed[-2000:]
    assert "trained 4 steps" in printed

    done = subprocess.run(
        [sys.executable, "-c", SEGMENT, str(zoo / "tiny_fg")], env=_env(backend),
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"shape": [40, 56], "finite": True, "names": ["background", "foreground"]}


@pytest.mark.slow
def test_jax_resume_continues_at_the_step_and_the_same_batches(two_sources, tmp_path):
    """The NumPy stream is a function of the global step: a run stopped by its time budget
    after step 1 (mid-epoch) and resumed ends with the same weights as one run straight
    through to step 4."""
    straight, halves = tmp_path / "straight", tmp_path / "halves"
    common = ["--set", "val_data=", "--set", "precise_bn_batches=0"]
    _segtf([*_train_args(two_sources, straight, "numpy"), *common], "jax")
    first = [*_train_args(two_sources, halves, "numpy"), *common]
    printed = _segtf([*first, "--time-budget", "0.001"], "jax")
    assert "time budget spent at step 1" in printed and "--resume continues" in printed
    printed = _segtf([*first, "--resume"], "jax")
    assert "from step 1" in printed and "trained 4 steps" in printed

    import h5py

    def weights(run):
        with h5py.File(run / "model" / "model.weights.h5") as f:
            out = []
            f.visititems(lambda n, o: out.append(np.asarray(o)) if hasattr(o, "shape") else None)
            return out

    for a, b in zip(weights(straight), weights(halves), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


DATA_PARALLEL = """
import json, sys
import keras
from segtf.training import TrainConfig, Trainer
cfg = TrainConfig(model="pspnet_lite", model_overrides=json.loads(sys.argv[2]),
    train_data="synthetic:8", val_data="synthetic:2", num_classes=3, crop_size=(32, 32),
    batch_size=4, max_steps=2, steps_per_epoch=2, image_summaries=0, checkpoint_every=1,
    out_dir=sys.argv[1], precise_bn_batches=0)
trainer = Trainer(cfg)
result = trainer.fit()
print(json.dumps({"replicas": trainer.placement.replicas,
                  "distribution": type(keras.distribution.distribution()).__name__,
                  "step": result.step, "jit": trainer.model.jit_compile}))
"""


@pytest.mark.slow
def test_jax_data_parallel_over_two_devices(tmp_path):
    """On JAX, strategy auto spreads each batch over every local device
    (`keras.distribution.DataParallel`); two CPU devices stand in for two GPUs. The step is
    jitted (un-jitted, JAX dispatches and compiles every op of every step on its own)."""
    env = dict(_env("jax"), XLA_FLAGS="--xla_force_host_platform_device_count=2")
    done = subprocess.run(
        [sys.executable, "-c", DATA_PARALLEL, str(tmp_path / "run"), json.dumps(TINY_MODEL)],
        env=env,
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"replicas": 2, "distribution": "DataParallel", "step": 2, "jit": True}
    assert (tmp_path / "run" / "model" / "model.weights.h5").is_file()
