"""Checks on output paths the sub-commands share (made before any work starts)."""

from __future__ import annotations


def check_output_folder(path: str | None, option: str) -> None:
    """An output folder option must not name an existing file (checked before any work)."""
    import pathlib

    if path and pathlib.Path(path).exists() and not pathlib.Path(path).is_dir():
        raise ValueError(f"{option} {path} is an existing file: give a folder (new or existing)")
