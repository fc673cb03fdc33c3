"""Writing files and folders so a kill never leaves half of one under the final name: fill a
temporary sibling, then `os.replace` it into place."""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets


def temporary_sibling(path: str | os.PathLike, directory: bool = False) -> pathlib.Path:
    """Creates a new, uniquely named hidden file (or folder) beside `path`, to be filled and
    then renamed onto it.

    Unlike mkstemp / mkdtemp (private 0600 / 0700), it is created with the mode a plain
    open() / mkdir() gives under the user's umask, so outputs moved into place from it are as
    readable as any other file the user writes.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            if directory:
                os.mkdir(candidate, 0o777)
            else:
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return candidate
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yields a temporary path beside `path`; on success it is fsynced and moved onto `path`.

    A kill or an error leaves either the old file or nothing under the final name, never a
    half-written one (the temporary file is removed on errors).
    """
    tmp = temporary_sibling(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
