import os
from collections import Counter

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import pytest  # noqa: E402
from data_factory import TINY_MODEL  # noqa: E402


def _bad_input_outcomes():
    """The bad-input suite's Counter of outcomes, when it ran in this process."""
    import sys

    return getattr(sys.modules.get("test_bad_input"), "OUTCOMES", None)


def pytest_sessionfinish(session):
    """In a pytest-xdist worker: hand the outcomes to the controlling process."""
    outcomes = _bad_input_outcomes()
    if outcomes and hasattr(session.config, "workeroutput"):
        session.config.workeroutput["bad_input_outcomes"] = dict(outcomes)


def pytest_configure(config):
    config.bad_input_outcomes = {}


def pytest_terminal_summary(terminalreporter):
    """The bad-input suite's count of kinds tried and their outcomes (when it ran)."""
    outcomes = dict(_bad_input_outcomes() or {}) or terminalreporter.config.bad_input_outcomes
    if outcomes:
        terminalreporter.write_line(
            f"bad-input suite: {sum(outcomes.values())} kinds tried; outcomes: "
            + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()))
        )


def _file_of(item) -> str:
    return item.nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config, items):
    """The files holding the most `slow` tests first (then the most tests), each file's tests
    kept in their order. pytest-xdist hands whole files to the processes in this order
    (`--no-loadscope-reorder` in pyproject.toml); its own order, most tests first, started the
    few-but-long training files last, leaving one process running them alone at the end."""
    count = Counter(_file_of(item) for item in items)
    slow = Counter(_file_of(item) for item in items if item.get_closest_marker("slow"))
    rank = {name: (-slow[name], -count[name], name) for name in count}
    items.sort(key=lambda item: rank[_file_of(item)])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """pytest-xdist, in the controlling process: a worker's bad-input outcomes, added up."""
    merged = node.config.bad_input_outcomes
    for kind, count in getattr(node, "workeroutput", {}).get("bad_input_outcomes", {}).items():
        merged[kind] = merged.get(kind, 0) + count


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
