"""Subprocess tests: SIGKILL mid-epoch + --resume, and 2-worker MultiWorkerMirroredStrategy."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from data_factory import TINY_MODEL

SCRIPT = pathlib.Path(__file__).with_name("train_script.py")
ROOT = pathlib.Path(__file__).resolve().parents[1]

TINY = dict(
    model="deeplabv3plus_lite",
    model_overrides=dict(TINY_MODEL),
    train_data="synthetic:8",
    num_classes=3,
    crop_size=[32, 32],
    batch_size=2,
    optimizer="sgd",
    learning_rate=0.01,
    image_summaries=0,
    log_every=1,
)


def _env(**extra):
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=str(ROOT),
        CUDA_VISIBLE_DEVICES="",
        OMP_NUM_THREADS="1",
        TF_NUM_INTEROP_THREADS="1",
        TF_NUM_INTRAOP_THREADS="1",
    )
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _write_config(path: pathlib.Path, **fields) -> pathlib.Path:
    path.write_text(json.dumps({**TINY, **fields}))
    return path


def _start(config, out, sleep=0.0, **env):
    args = [sys.executable, str(SCRIPT), str(config), str(out)] + ([str(sleep)] if sleep else [])
    return subprocess.Popen(
        args, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _result(proc, timeout=150) -> dict:
    output, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, output[-3000:]
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_ends_at_the_same_step(tmp_path):
    run = tmp_path / "run"
    config = _write_config(
        tmp_path / "c.json",
        out_dir=str(run),
        epochs=2,
        steps_per_epoch=4,
        checkpoint_every=2,
        val_data="synthetic:2",
    )
    proc = _start(config, tmp_path / "a.npz", sleep=1.5)
    # Step 6 = mid-way through epoch 2. Wait until the state file names ckpt-6: its weights
    # file is complete before that, and a kill in between rightly resumes from ckpt-4.
    state = run / "checkpoints" / "state.json"

    def committed() -> bool:
        try:
            return json.loads(state.read_text())["latest"] == "ckpt-6.weights.h5"
        except (OSError, ValueError, KeyError):
            return False

    deadline = time.time() + 150
    while not committed() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert committed(), proc.communicate()[0][-3000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (run / "model").exists()  # it really died before the end
    history = (run / "history.csv").read_text().strip().splitlines()
    assert len(history) == 2  # header + epoch 1

    resumed = _write_config(
        tmp_path / "r.json",
        out_dir=str(run),
        epochs=2,
        steps_per_epoch=4,
        checkpoint_every=2,
        val_data="synthetic:2",
        resume=True,
    )
    proc = _start(resumed, tmp_path / "b.npz")
    output, _ = proc.communicate(timeout=150)
    assert proc.returncode == 0, output[-3000:]
    result = json.loads(output.strip().splitlines()[-1])
    assert "step 6, epoch 1" in output  # restarted at the checkpoint, mid-epoch 2
    assert result == {"step": 8, "iterations": 8}  # 2 epochs x 4 steps, none lost or redone
    rows = (run / "history.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]  # Keras' CSVLogger: 0-based
    assert (run / "model" / "model.weights.h5").is_file()


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_two_cpu_processes_train_the_same_weights(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    config = _write_config(
        tmp_path / "c.json",
        out_dir=str(tmp_path / "run"),
        batch_size=4,
        max_steps=3,
        steps_per_epoch=3,
        strategy="multi_worker",
        checkpoint_every=2,
    )
    procs = [
        _start(
            config,
            tmp_path / f"w{i}.npz",
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}}),
        )
        for i in range(2)
    ]
    results = [_result(p, timeout=200) for p in procs]
    assert results == [{"step": 3, "iterations": 3}] * 2
    a, b = (np.load(tmp_path / f"w{i}.npz") for i in range(2))
    assert len(a.files) == len(b.files) > 0
    for key in a.files:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6)
    assert (tmp_path / "run" / "model" / "config.json").is_file()
    assert not list((tmp_path / "run" / "checkpoints").glob(".worker_*"))
