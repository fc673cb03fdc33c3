"""One line naming the CPU a benchmark ran on.

Speed ratios between runtimes depend on the CPU's instructions, above all int8: XNNPACK's
integer kernels gain most from dot-product instructions (x86 VNNI, Arm dotprod), so the same
int8 file was 1.8x TF's speed on one AMD EPYC without VNNI and 3.1-3.8x on one with it.
"""

from __future__ import annotations

import os
import pathlib
import platform

# CPU flags that give int8 dot products, as /proc/cpuinfo names them (x86, then Arm).
INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp")


def cpu_fields(cpuinfo: str) -> tuple[str, set[str]]:
    """(model name, flag set) of the first processor in a /proc/cpuinfo text."""
    model, flags = "", set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model or platform.processor() or platform.machine(), flags


def describe_cpu(cpuinfo_path: str = "/proc/cpuinfo") -> str:
    """e.g. 'AMD EPYC, 2 cores, int8 dot products: avx512_vnni avx_vnni'."""
    path = pathlib.Path(cpuinfo_path)
    model, flags = cpu_fields(path.read_text() if path.is_file() else "")
    dot = " ".join(flag for flag in INT8_DOT_FLAGS if flag in flags)
    known = dot or ("none" if flags else "unknown (no CPU flags readable)")
    return f"{model}, {os.cpu_count()} cores, int8 dot products: {known}"
