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
    "package_cmd",
    "evaluate_cmd",
    "segment_cmd",
    "export_cmd",
    "serve_cmd",
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
    args.command_line = ["segtf", *(sys.argv[1:] if argv is None else argv)]  # as typed
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
    except KeyboardInterrupt:
        print(f"segtf {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as err:
        # User errors (bad paths, names, data, full disks) get one clear line, no traceback.
        print(f"segtf {args.command}: error: {describe_error(err)}", file=sys.stderr)
        return 2
    except Exception as err:  # noqa: BLE001  (a bug: summary here, traceback in a file)
        report = write_traceback()
        print(
            f"segtf {args.command}: unexpected error {type(err).__name__}: {err}\n"
            f"  the full traceback is in {report}; please include it in a bug report",
            file=sys.stderr,
        )
        return 1


def describe_error(err: BaseException, folder=None) -> str:
    """One line for the user: OS errors say what happened to which file in plain words.
    `folder`: where a write failed; a short write there with the disk full (numpy and Pillow
    report "N requested and M written" without an errno) is named as such."""
    import errno
    import shutil

    if isinstance(err, OSError) and not err.errno and folder is not None:
        try:
            if shutil.disk_usage(folder).free < 1 << 20:
                return f"{folder}: no space left on device: free some space or choose another folder"
        except OSError:
            pass
    if isinstance(err, OSError) and not isinstance(err, ValueError) and err.errno:
        where = f"{err.filename}: " if err.filename else ""
        fixes = {
            errno.ENOSPC: "no space left on device: free some space or choose another folder",
            errno.EEXIST: "already exists: remove it, choose another name, or pass --overwrite",
            errno.ENOTDIR: "is not a folder: give a folder path",
            errno.EISDIR: "is a folder: give a file path",
            errno.EACCES: "permission denied: choose a folder you can write to",
            errno.EROFS: "the file system is read-only: choose another folder",
            errno.ENOENT: "no such file or folder: check the path",
        }
        return where + fixes.get(err.errno, err.strerror or str(err))
    return str(err)


def write_traceback() -> str:
    import tempfile
    import traceback

    with tempfile.NamedTemporaryFile(
        "w", prefix="segtf-error-", suffix=".txt", delete=False
    ) as f:
        traceback.print_exc(file=f)
        return f.name


if __name__ == "__main__":
    sys.exit(main())
