"""`segtf segment`: segments image files and folders into an output folder.

Outputs per image (chosen with --save): `<stem>.mask.png` (palette PNG: class indices with
class colours; foreground models: the alpha matte), `<stem>.overlay.png`, `<stem>.cutout.png`
(RGBA) and `<stem>.probs.npy` (float16 probabilities). Inputs are never written to; every
output is written atomically; a bad file is reported and skipped.
"""

from __future__ import annotations

import argparse
import fnmatch
import logging
import pathlib
import sys
import time
from dataclasses import dataclass

from segtf.imageio import IMAGE_SUFFIXES

logger = logging.getLogger(__name__)

KINDS = ("mask", "overlay", "cutout", "probs")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "segment",
        help="segment images or folders of images into --out",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image files or folders; - reads one from stdin"
    )
    parser.add_argument(
        "-o",
        "--out",
        required=True,
        help="output folder (created if needed); - writes the one --save output to stdout",
    )
    parser.add_argument(
        "--model",
        default="default",
        help="zoo model name, model folder, .keras file, or a .tflite / .onnx file from `segtf "
        "export --format tflite / onnx` (default: the default zoo model)",
    )
    parser.add_argument(
        "--runtime",
        choices=("tensorflow", "litert"),
        default="tensorflow",
        help="tensorflow (default) or litert: LiteRT's XNNPACK CPU kernels (a zoo model is "
        "converted once and cached; .tflite files always run on LiteRT, .onnx files on ONNX "
        "Runtime)",
    )
    parser.add_argument(
        "--quantize",
        choices=("none", "float16"),
        default="none",
        help="with --runtime litert: float16 weights (int8 files come from segtf export)",
    )
    parser.add_argument(
        "--save",
        default="mask,overlay",
        help=f"comma-separated outputs from {','.join(KINDS)} (mask,overlay)",
    )
    parser.add_argument(
        "--glob",
        default=None,
        help="file-name pattern for folders, e.g. '*.jpg' (default: all images)",
    )
    parser.add_argument(
        "--tta",
        action="store_true",
        help="multi-scale + flip test-time augmentation (about 6x slower)",
    )
    parser.add_argument(
        "--tile",
        type=int,
        default=None,
        help="tile size for sliding-window inference (default: automatic "
        "above ~4 Mpx; 0 = never tile)",
    )
    parser.add_argument("--opacity", type=float, default=0.5, help="overlay opacity (0.5)")
    parser.add_argument(
        "--classes",
        default=None,
        help="semantic models: comma-separated classes kept by --save cutout",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        help="raise the decompression-bomb limit (default ~89 Mpx)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    cut = parser.add_argument_group("mask and cut-out finishing (foreground models mostly)")
    cut.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="hard edges: masks become binary (0/255) and cut-outs opaque at this alpha (e.g. 0.5)",
    )
    cut.add_argument(
        "--bg-color",
        default=None,
        help="cut-outs over this colour ('#rrggbb', 'R,G,B' or white/black/green...) as RGB",
    )
    cut.add_argument("--bg-image", default=None, help="cut-outs over this image (resized to cover)")
    cut.add_argument(
        "--refine-foreground",
        action="store_true",
        help="estimate foreground colours at soft edges so hair and fur lose the old "
        "background's halo",
    )
    parser.set_defaults(func=run)


@dataclass
class Job:
    """One input image and the base path (without the `.kind.ext` suffix) of its outputs."""

    source: pathlib.Path
    base: pathlib.Path


def parse_kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"--save {text!r}: choose from {','.join(KINDS)}, e.g. --save mask,overlay"
        )
    return kinds


def output_path(base: pathlib.Path, kind: str) -> pathlib.Path:
    return base.with_name(f"{base.name}.{kind}.{'npy' if kind == 'probs' else 'png'}")


def _is_within(path: pathlib.Path, folder: pathlib.Path) -> bool:
    return path == folder or folder in path.parents


def collect_jobs(
    inputs: list[str],
    out: pathlib.Path,
    pattern: str | None,
) -> tuple[list[Job], list[tuple[str, str]]]:
    """Expands files and folders (recursively) into jobs; returns (jobs, problems)."""
    out = out.resolve()
    jobs: list[Job] = []
    problems: list[tuple[str, str]] = []
    for text in inputs:
        path = pathlib.Path(text).expanduser()
        if path.is_dir():
            root = path.resolve()
            # Outputs of a folder go to out/<folder name>/: with --out set to the folder's
            # parent, that is the input folder itself.
            if _is_within(out, root) or _is_within(out / root.name, root):
                raise ValueError(
                    f"--out {out} would put outputs inside the input folder {path}: choose an "
                    "output folder outside the inputs (segtf never writes there)"
                )
            for file in sorted(root.rglob("*")):
                if file.name.startswith(".") or not _matches(file, pattern):
                    continue
                if not file.is_file():  # a FIFO, socket, broken link or symlink loop
                    if not file.is_dir():
                        problems.append((str(file), "not a regular file (a pipe, socket or "
                                         "broken / looping link); replace it with the image"))
                    continue
                relative = file.relative_to(root).with_suffix("")
                jobs.append(Job(file, out / root.name / relative))
        elif path.is_file():
            jobs.append(Job(path.resolve(), out / path.stem))
        else:
            problems.append((text, "no such file or folder; check the path"))
    return _drop_clashes(jobs, problems)


def _matches(file: pathlib.Path, pattern: str | None) -> bool:
    if pattern:
        return fnmatch.fnmatch(file.name, pattern)
    return file.suffix.lower() in IMAGE_SUFFIXES


def _drop_clashes(jobs: list[Job], problems: list) -> tuple[list[Job], list]:
    """Two inputs may not share outputs; no output may be an input file."""
    inputs = {job.source for job in jobs}
    seen: dict[pathlib.Path, pathlib.Path] = {}
    kept = []
    for job in jobs:
        if job.base in seen:
            problems.append(
                (
                    str(job.source),
                    f"its outputs would clash with those of "
                    f"{seen[job.base]}; rename one or run them separately",
                )
            )
        elif any(output_path(job.base, kind) in inputs for kind in KINDS):
            problems.append(
                (
                    str(job.source),
                    "an output would overwrite an input file; use another --out folder",
                )
            )
        else:
            seen[job.base] = job.source
            kept.append(job)
    return kept, problems


def missing_kinds(job: Job, kinds: list[str], overwrite: bool) -> list[str]:
    """The outputs to write: all with --overwrite, else only those not there yet (a user's
    existing file is never replaced without --overwrite)."""
    return list(kinds) if overwrite else [k for k in kinds if not output_path(job.base, k).exists()]


@dataclass(frozen=True)
class Finish:
    """How masks and cut-outs are finished (the CLI's cut-out options, checked once)."""

    opacity: float = 0.5
    classes: list[str] | None = None
    threshold: float | None = None
    background: object = None  # an RGB tuple or an RGB array
    refine_foreground: bool = False

    def picture(self, result, kind: str):
        """The PIL image or array written for `kind` (not for probs)."""
        if kind == "mask":
            return result.to_image(threshold=self.threshold)
        if kind == "overlay":
            return result.overlay(opacity=self.opacity)
        return result.cutout(
            None if result.task == "foreground" else self.classes,
            threshold=self.threshold,
            background=self.background,
            refine_foreground=self.refine_foreground,
        )


def make_finish(args: argparse.Namespace) -> Finish:
    from segtf.imageio import read_image
    from segtf.matting import parse_colour

    if not 0.0 <= args.opacity <= 1.0:
        raise ValueError(f"--opacity {args.opacity}: use a value in 0..1, e.g. 0.5")
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise ValueError(f"--threshold {args.threshold}: use a value between 0 and 1, e.g. 0.5")
    if args.bg_color and args.bg_image:
        raise ValueError("--bg-color and --bg-image: give one background, not both")
    background = parse_colour(args.bg_color) if args.bg_color else None
    if args.bg_image:
        try:
            background = read_image(args.bg_image)
        except ValueError as err:
            raise ValueError(f"--bg-image: {err}") from None
    classes = [c.strip() for c in args.classes.split(",")] if args.classes else None
    return Finish(args.opacity, classes, args.threshold, background, args.refine_foreground)


def write_outputs(result, job: Job, kinds: list[str], finish: Finish) -> None:
    import numpy as np

    from segtf.atomic import atomic_path
    from segtf.imageio import write_png_atomic

    for kind in kinds:
        path = output_path(job.base, kind)
        if kind == "probs":
            with atomic_path(path) as tmp, open(tmp, "wb") as f:
                np.save(f, result.probabilities.astype(np.float16))
        else:
            write_png_atomic(path, finish.picture(result, kind))


def _process(segmenter, jobs, kinds, args, finish, report) -> tuple[int, int, int]:
    from tqdm import tqdm

    done = skipped = failed = 0
    for job in tqdm(jobs, desc="segment", unit="img", file=sys.stderr, disable=None):
        todo = missing_kinds(job, kinds, args.overwrite)
        if not todo:
            skipped += 1
            continue
        try:
            result = segmenter(job.source, tile=args.tile)
            write_outputs(result, job, todo, finish)
            done += 1
            if result.domain_warning:
                tqdm.write(f"NOTE {job.source}: {result.domain_warning}", file=sys.stderr)
        except Exception as err:  # noqa: BLE001  (one bad file must not stop the run)
            logger.debug("failure on %s", job.source, exc_info=True)
            report(str(job.source), _failure_text(err, job.base.parent))
            failed += 1
    return done, skipped, failed


def _failure_text(err: Exception, folder: pathlib.Path) -> str:
    from segtf.cli import describe_error

    if isinstance(err, ValueError):
        return str(err)
    if isinstance(err, OSError):
        return describe_error(err, folder if folder.exists() else None)
    return f"{type(err).__name__}: {err}"


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm


    kinds = parse_kinds(args.save)
    finish = make_finish(args)
    if args.out == "-" or args.inputs == ["-"]:
        return run_pipe(args, kinds, finish)
    out = pathlib.Path(args.out).expanduser()
    jobs, problems = collect_jobs(args.inputs, out, args.glob)

    def report(name: str, message: str) -> None:
        tqdm.write(f"FAILED {name}: {message}", file=sys.stderr)

    for name, message in problems:
        report(name, message)
    segmenter = make_segmenter(args)
    check_cutout_classes(segmenter, kinds, finish)
    start = time.perf_counter()
    done, skipped, failed = _process(segmenter, jobs, kinds, args, finish, report)

    seconds = time.perf_counter() - start
    failed += len(problems)
    rate = done / seconds if seconds > 0 else 0.0
    print(
        f"segmented {done} images in {seconds:.1f} s ({rate:.2f} images/s); "
        f"skipped {skipped} existing, {failed} failed; outputs in {out}"
    )
    return 1 if failed else 0


def make_segmenter(args: argparse.Namespace):
    import segtf
    from segtf.imageio import DEFAULT_MAX_PIXELS

    return segtf.Segmenter(
        args.model,
        tta=args.tta,
        max_pixels=args.max_pixels or DEFAULT_MAX_PIXELS,
        runtime=args.runtime,
        quantize=args.quantize,
    )


def check_cutout_classes(segmenter, kinds: list[str], finish: Finish) -> None:
    if "cutout" in kinds and segmenter.task != "foreground" and not finish.classes:
        raise ValueError(
            "--save cutout with a semantic model needs --classes (e.g. --classes "
            f"{','.join(segmenter.class_names[:2])})"
        )


def run_pipe(args: argparse.Namespace, kinds: list[str], finish: Finish) -> int:
    """`segtf segment - -o -`: one image from stdin (or a file), one PNG to stdout."""
    from segtf.viewer.compose import png_bytes


    if args.out != "-" or len(args.inputs) != 1:
        raise ValueError("pipes take one image: `segtf segment - -o - --save cutout < in > out`")
    if len(kinds) != 1 or kinds[0] == "probs":
        raise ValueError("-o - writes one PNG: choose one of --save mask, overlay or cutout")
    source = sys.stdin.buffer.read() if args.inputs[0] == "-" else args.inputs[0]
    if args.inputs[0] == "-" and not source:
        raise ValueError("stdin is empty: pipe an image in, e.g. `segtf segment - -o - < photo.jpg`")
    segmenter = make_segmenter(args)
    check_cutout_classes(segmenter, kinds, finish)
    result = segmenter(source, tile=args.tile)
    sys.stdout.buffer.write(png_bytes(finish.picture(result, kinds[0])))
    sys.stdout.buffer.flush()
    return 0
