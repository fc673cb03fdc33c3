"""`segtf viewer`: starts the Streamlit viewer (apps/viewer.py) on localhost."""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys

from segtf.viewer.server import APP, streamlit_command


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "viewer",
        help="open the web viewer: upload a photo, pick a model, see the segmentation",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--port", type=int, default=8501, help="port to listen on (8501)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (127.0.0.1: this computer only; 0.0.0.0 shares "
        "the viewer with your network)",
    )
    parser.add_argument(
        "--zoo",
        default=None,
        help="folder of model folders to offer (default: models/ or $SEGTF_ZOO)",
    )
    parser.add_argument("--browser", action="store_true", help="open a browser tab")
    parser.set_defaults(func=run)


def build_command(args: argparse.Namespace) -> list[str]:
    """The `streamlit run` command line for `args` (the flags override .streamlit/config.toml)."""
    if not 0 < args.port < 65536:
        raise ValueError(f"--port {args.port} is not a port number: use 1-65535, e.g. 8501")
    return streamlit_command(
        args.host, args.port, headless=not args.browser, extra=("--server.maxUploadSize", "20")
    )


def run(args: argparse.Namespace) -> int:
    if not APP.is_file():
        raise FileNotFoundError(
            f"{APP} is missing: the viewer ships with the source checkout of segtf (apps/viewer.py)"
        )
    env = dict(os.environ)
    if args.zoo:
        zoo = pathlib.Path(args.zoo).expanduser().resolve()
        if not zoo.is_dir():
            raise FileNotFoundError(f"--zoo {args.zoo}: no such folder")
        env["SEGTF_ZOO"] = str(zoo)
    print(f"segtf viewer: http://{args.host}:{args.port}  (Ctrl+C to stop)", file=sys.stderr)
    command = build_command(args)
    os.chdir(APP.parents[1])  # so .streamlit/config.toml applies
    if os.name == "posix":
        # Become the streamlit process: a Ctrl+C or `kill` reaches the server itself.
        os.execve(command[0], command, env)
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0
