"""benchmarks/machine.py: the CPU line that speed tables carry (int8 gains depend on it)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import machine  # noqa: E402

X86 = """processor\t: 0
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni
processor\t: 1
model name\t: AMD EPYC 9R14
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni
"""
ARM = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes crc32 asimddp\n"


def test_model_and_flags_come_from_the_first_processor():
    model, flags = machine.cpu_fields(X86)
    assert model == "AMD EPYC 9R14"
    assert {"avx2", "avx512_vnni"} <= flags


def test_the_line_names_the_int8_dot_product_instructions_or_says_none(tmp_path):
    x86, arm, older = (tmp_path / name for name in ("x86", "arm", "older"))
    x86.write_text(X86)
    arm.write_text(ARM)
    older.write_text(X86.replace(" avx512f avx512_vnni", ""))
    assert machine.describe_cpu(str(x86)).startswith("AMD EPYC 9R14, ")
    assert machine.describe_cpu(str(x86)).endswith("int8 dot products: avx512_vnni")
    assert machine.describe_cpu(str(arm)).endswith("int8 dot products: asimddp")
    assert machine.describe_cpu(str(older)).endswith("int8 dot products: none")
    assert machine.describe_cpu(str(tmp_path / "absent")).endswith("unknown (no CPU flags readable)")
