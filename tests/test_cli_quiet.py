"""A normal `segtf` run prints only segtf's own lines: no absl / oneDNN / CUDA start-up lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import segtf
import segtf.models

NOISE = re.compile(r"absl|oneDNN|onednn|cuda|cuInit|I0000|E0000|W0000|cpu_feature_guard|TF_ENABLE")


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir):
    return tiny_model_dir


def run_segtf(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "segtf", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_segment_run_has_no_backend_noise(model_dir, tmp_path):
    image = tmp_path / "photo.png"
    Image.fromarray(np.full((32, 48, 3), 128, np.uint8)).save(image)
    done = run_segtf("segment", str(image), "--out", str(tmp_path / "out"), "--model", str(model_dir))
    assert done.returncode == 0, done.stderr
    assert "segmented 1 images" in done.stdout
    noisy = [line for line in done.stderr.splitlines() if NOISE.search(line)]
    assert not noisy, noisy


def test_verbose_brings_the_backend_lines_back(model_dir, tmp_path):
    done = run_segtf("--verbose", "models", "deeplabv3plus_lite")
    assert done.returncode == 0, done.stderr
    assert "deeplabv3plus_lite" in done.stdout
    assert NOISE.search(done.stderr), done.stderr  # TF's lines reach stderr again


def test_version_and_instant_model_list():
    done = run_segtf("--version")
    assert done.stdout.strip() == f"segtf {segtf.__version__}"
    done = run_segtf("models")
    assert done.returncode == 0
    assert "| refiner_efficientnet_lite0 | refiner | efficientnet_lite0 | foreground |" in done.stdout
    assert not [line for line in done.stderr.splitlines() if NOISE.search(line)], done.stderr
