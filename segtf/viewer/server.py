"""The `streamlit run apps/viewer.py` command line, shared by `segtf viewer` and the tests."""

from __future__ import annotations

import sys

from segtf.resources import resource_path

APP = resource_path("apps") / "viewer.py"


def streamlit_command(host: str, port: int, *, headless: bool = True, extra=()) -> list[str]:
    """Arguments that start the viewer on `host:port` (they override .streamlit/config.toml)."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--browser.gatherUsageStats",
        "false",
        *extra,
    ]
