"""Train a segtf model: `python train_tf.py --experiment camvid_deeplabv3plus_lite`.

A thin entry point; the work is in `segtf.training` (see docs/training.md).
"""

from __future__ import annotations

import argparse
import logging
import sys

from segtf.cli.train_cmd import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    add_arguments(parser)
    args = parser.parse_args(argv)
    args.command_line = ["train_tf.py", *(sys.argv[1:] if argv is None else argv)]
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"train_tf.py: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
