"""Benchmarks `segtf.segment`: latency at 512x512 and 1920x1080, and peak memory of tiled
inference versus image side (up to 4000 x 6000), each size in its own process.

    python benchmarks/bench_segment.py                 # everything
    python benchmarks/bench_segment.py --skip-memory   # latency only

Uses the default zoo model (segtf.zoo.DEFAULT_MODEL); when it is absent, an
UNTRAINED deeplabv3plus_lite with CamVid's 12 classes (same architecture, same cost) is used
and the tables say so. Peak memory is the process's peak resident set (VmHWM, reset after
the model is loaded and traced) above the resident set at that point.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
PHOTO = REPO / "apps" / "examples" / "street_person.jpg"
MEMORY_SIZES = ((1000, 1500), (2000, 3000), (3000, 4500), (4000, 6000))


def get_segmenter():
    """(Segmenter, description): the default zoo model, or an untrained stand-in."""
    import segtf
    import segtf.models
    from segtf import zoo

    try:
        return segtf.Segmenter("default", tile="auto"), f"{zoo.DEFAULT_MODEL} (trained)"
    except ValueError:
        model = segtf.models.build("deeplabv3plus_lite", num_classes=12)
        note = (
            f"UNTRAINED deeplabv3plus_lite, 12 classes ({zoo.DEFAULT_MODEL} not found "
            "in models/; same architecture and cost)"
        )
        return segtf.Segmenter(model, tile="auto"), note


def photo(height: int, width: int) -> np.ndarray:
    """The example street photo resized to (height, width), or a synthetic one."""
    from PIL import Image

    if PHOTO.is_file():
        with Image.open(PHOTO) as image:
            return np.asarray(image.convert("RGB").resize((width, height), Image.BILINEAR))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    noise = np.random.default_rng(0).random((height, width, 3)) * 40
    base = np.stack([xx / width * 200, yy / height * 200, (xx + yy) % 97], -1)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def latency(runs: int) -> None:
    segmenter, note = get_segmenter()
    print(f"model: {note}")
    print(f"machine: {os.cpu_count()} CPU cores, TensorFlow CPU")
    print(
        f"{'size (WxH)':>12} | {'first call s':>12} | {f'median of {runs} s':>13} | "
        f"{'min s':>6} | {'max s':>6}"
    )
    print("-" * 62)
    for height, width in ((512, 512), (1080, 1920)):
        image = photo(height, width)
        start = time.perf_counter()
        segmenter(image)
        first = time.perf_counter() - start
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            segmenter(image)
            times.append(time.perf_counter() - start)
        print(
            f"{f'{width}x{height}':>12} | {first:12.3f} | {statistics.median(times):13.3f} | "
            f"{min(times):6.3f} | {max(times):6.3f}"
        )


def _rss_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (Linux only)")


def memory_child(height: int, width: int, tile: int) -> None:
    """Runs in a fresh process: one segment() call, prints a JSON line with its peak RSS."""
    segmenter, note = get_segmenter()
    segmenter(photo(256, 384), tile=tile or 0)  # load + trace before measuring
    image = photo(height, width)
    with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
        f.write("5")  # resets VmHWM (peak RSS) to the current RSS
    base = _rss_kib("VmRSS")
    start = time.perf_counter()
    result = segmenter(image, tile=tile or 0)
    seconds = time.perf_counter() - start
    peak = _rss_kib("VmHWM")
    outputs = result.probabilities.nbytes + result.labels.nbytes
    print(
        json.dumps(
            {
                "h": height,
                "w": width,
                "tile": tile,
                "seconds": seconds,
                "peak_mib": (peak - base) / 1024,
                "outputs_mib": outputs / 2**20,
                "note": note,
            }
        )
    )


def memory(tile: int, untiled_up_to: int) -> None:
    print(
        f"\npeak memory of one segment() call above the loaded model (tile={tile}, "
        "overlap 0.25; each row a fresh process)"
    )
    print(
        f"{'size (WxH)':>10} | {'Mpx':>5} | {'mode':>9} | {'seconds':>7} | "
        f"{'peak MiB':>8} | {'outputs MiB':>11} | {'peak-outputs':>12} | {'B/px':>5}"
    )
    print("-" * 86)
    note = None
    for height, width in MEMORY_SIZES:
        modes = [tile] + ([0] if height * width <= untiled_up_to else [])
        for mode in modes:
            cmd = [sys.executable, __file__, "--child", str(height), str(width), str(mode)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
            if proc.returncode or not lines:
                print(f"{width}x{height} mode {mode}: failed ({proc.stderr.strip()[-300:]})")
                continue
            row = json.loads(lines[-1])
            note = row["note"]
            mpx = height * width / 1e6
            label = f"tiled {tile}" if mode else "whole"
            working = row["peak_mib"] - row["outputs_mib"]
            print(
                f"{f'{width}x{height}':>10} | {mpx:5.1f} | {label:>9} | {row['seconds']:7.1f} | "
                f"{row['peak_mib']:8.0f} | {row['outputs_mib']:11.0f} | {working:12.0f} | "
                f"{row['peak_mib'] * 2**20 / (mpx * 1e6):5.0f}"
            )
    print(f"model: {note}")
    print(
        "outputs = the returned float32 probabilities + uint8 labels (they grow with the "
        "pixel count by nature); peak-outputs = everything else: the input, the tile "
        "buffers and TensorFlow's working memory"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per size (5)")
    parser.add_argument("--tile", type=int, default=1024, help="tile size (1024)")
    parser.add_argument(
        "--untiled-up-to",
        type=float,
        default=6.1e6,
        help="also run without tiles up to this many pixels (6.1e6)",
    )
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        memory_child(*args.child)
        return
    if not args.skip_latency:
        latency(args.runs)
    if not args.skip_memory:
        memory(args.tile, args.untiled_up_to)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.path.insert(0, str(REPO))
    main()
