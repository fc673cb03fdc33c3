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


import pytest  # noqa: E402
from data_factory import TINY_MODEL  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A zoo-style folder of an untrained width-0.125 DeepLabV3+ with classes a, b, c."""
    import segtf.models
    from segtf.zoo import ModelInfo, save_model_folder

    config = segtf.models.get_config(
        "deeplabv3plus_lite", num_classes=3, **TINY_MODEL
    )
    info = ModelInfo(name="tiny", model=config, class_names=("a", "b", "c"))
    model = segtf.models.build_from_config(config)
    return save_model_folder(model, info, tmp_path_factory.mktemp("zoo") / "tiny")
