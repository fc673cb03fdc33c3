import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")


def pytest_terminal_summary(terminalreporter):
    """The bad-input suite's count of kinds tried and their outcomes (when it ran)."""
    import sys

    module = sys.modules.get("test_bad_input")
    outcomes = getattr(module, "OUTCOMES", None)
    if outcomes:
        terminalreporter.write_line(
            f"bad-input suite: {sum(outcomes.values())} kinds tried; outcomes: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
        )
