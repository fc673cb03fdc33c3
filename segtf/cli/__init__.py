"""The `segtf` command line: one sub-command module per job.

Each module in `segtf.cli` that defines `register(subparsers)` adds its sub-command;
imports are lazy so `segtf --help` stays fast and TensorFlow loads only when needed.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Sub-command modules, in the order `segtf --help` lists them.
COMMAND_MODULES = (
    "models_cmd",
    "data_cmd",
    "train_cmd",
    "evaluate_cmd",
    "segment_cmd",
    "export_cmd",
    "viewer_cmd",
)


def _version() -> str:
    from segtf import __version__

    return __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="segtf", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log more detail (and TensorFlow's own lines)"
    )
    parser.add_argument("--version", action="version", version=f"segtf {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"segtf.cli.{module_name}")
        except ModuleNotFoundError as err:
            if err.name == f"segtf.cli.{module_name}":
                continue  # that sub-command is not part of this install
            raise
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if not args.verbose:
        from segtf.cli.quiet import import_backend_quietly

        import_backend_quietly()
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        # User errors (bad paths, names, data) get one clear line, not a traceback.
        print(f"segtf {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
