"""`segtf train`: train a model from a named experiment, config files and overrides
(the same as `python train_tf.py`)."""

from __future__ import annotations

import argparse
import logging

logger = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The training options shared by `segtf train` and `train_tf.py`."""
    parser.add_argument("--experiment", "-e", help="named experiment (see --list)")
    parser.add_argument(
        "--config",
        "-c",
        action="append",
        default=[],
        metavar="FILE",
        help="YAML / JSON config file (repeatable; later files win)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set epochs=3 "
        "--set model_overrides.width=0.5 (values parsed as YAML)",
    )
    parser.add_argument("--model", help="model name (segtf models)")
    parser.add_argument("--train-data", help="training data (folder, list file, TFRecords)")
    parser.add_argument("--val-data", help="validation data")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--steps", type=int, dest="max_steps", help="total training steps")
    parser.add_argument("--batch-size", type=int, help="global batch size")
    parser.add_argument(
        "--time-budget",
        type=float,
        dest="time_budget",
        metavar="SECONDS",
        help="stop cleanly (validated, checkpointed) after this wall-clock time",
    )
    parser.add_argument("--out", dest="out_dir", help="run folder (checkpoints, logs, model)")
    parser.add_argument(
        "--precision", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16")
    )
    parser.add_argument(
        "--strategy", choices=("auto", "default", "mirrored", "multi_worker", "tpu")
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        default=None,
        help="continue from the latest checkpoint in the run folder",
    )
    parser.add_argument(
        "--init-from",
        help="start from a zoo model / model folder / .weights.h5 (fine-tune; a different "
        "class count gets a new classifier) or 'imagenet' (the backbone's installed weights)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        default=None,
        help="start a fresh run in a non-empty run folder (its config, history and model go)",
    )
    parser.add_argument("--list", action="store_true", help="list the named experiments")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")


def _overrides(args: argparse.Namespace) -> dict:
    from segtf.training.config import merge, parse_overrides

    direct = {
        key: getattr(args, key)
        for key in (
            "model",
            "epochs",
            "max_steps",
            "batch_size",
            "out_dir",
            "precision",
            "strategy",
            "resume",
            "overwrite",
            "init_from",
            "time_budget",
        )
        if getattr(args, key, None) is not None
    }
    for key in ("train_data", "val_data"):
        if getattr(args, key, None) is not None:
            direct[key] = getattr(args, key)
    return merge(parse_overrides(args.set), direct)


def shown_command(argv: list[str] | None = None) -> str:
    """The command line as a user would type it again (`segtf train ...`)."""
    import pathlib
    import shlex
    import sys

    argv = list(sys.argv if argv is None else argv)
    program = pathlib.Path(argv[0]).name if argv else "segtf"
    head = "python train_tf.py" if program == "train_tf.py" else "segtf train"
    rest = argv[1:]
    if head == "segtf train" and rest[:1] == ["train"]:
        rest = rest[1:]
    return " ".join([head, shlex.join(rest)]).strip()


def record_command(out_dir: str, command: str) -> None:
    """Appends the command to the run's `commands.txt` (one line per start or resume):
    `segtf package` quotes it in the model card."""
    import datetime
    import pathlib

    path = pathlib.Path(out_dir) / "commands.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{stamp}\t{command}\n")


def run(args: argparse.Namespace) -> int:
    from segtf.training import Trainer, list_experiments, resolve_config
    from segtf.training.callbacks import TrainingDiverged

    if args.list:
        print("\n".join(list_experiments()))
        return 0
    config = resolve_config(args.experiment, args.config, _overrides(args))
    if args.dry_run:
        import yaml

        from segtf.training.data import label_info

        label_info(config)  # refuses a task / class count that cannot train, as a run would
        print(yaml.safe_dump(config.to_dict(), sort_keys=False))
        return 0
    trainer = Trainer(config)
    if trainer.is_chief:
        record_command(config.out_dir, shown_command(getattr(args, "command_line", None)))
    try:
        result = trainer.fit()
    except TrainingDiverged as err:
        logger.error("%s", err)
        return 3
    stopped = f" ({result.stopped_early}: --resume continues)" if result.stopped_early else ""
    print(
        f"trained {result.step} steps{stopped}; best validation score {result.best_score:.4f}; "
        f"model folder {result.model_dir}"
    )
    return 0


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a segmentation model", description=__doc__.splitlines()[0]
    )
    add_arguments(parser)
    parser.set_defaults(func=run)
