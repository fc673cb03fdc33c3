"""benchmarks/bench_models.py: models are timed in turns, so a burst of load on the machine
falls on every model alike instead of on whichever model was being timed."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_models  # noqa: E402


def test_models_take_turns_on_every_repeat(monkeypatch):
    calls = []
    # Each call of a model advances a fake clock by a per-model amount: medians are exact.
    elapsed = {"fast": 1, "slow": 3}
    now = [0.0]

    def timed(name):
        def fn(x):
            calls.append(name)
            now[0] += elapsed[name]
            return x
        return fn

    monkeypatch.setattr(bench_models.time, "perf_counter", lambda: now[0])
    medians = bench_models.interleaved_medians({"fast": timed("fast"), "slow": timed("slow")},
                                               x=0, repeats=3)
    # Two warm-up calls each, then the models alternate on every repeat.
    assert calls == ["fast", "fast", "slow", "slow"] + ["fast", "slow"] * 3
    assert medians == {"fast": 1.0, "slow": 3.0}
