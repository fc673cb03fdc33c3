"""Where two models differ, image by image: the table `--worst N` prints in the accuracy and
boundary benchmarks."""

from __future__ import annotations


def trailing(a, b, names, count: int) -> list[tuple]:
    """The `count` images where `b` falls furthest below `a`, worst first: (name, a, b)."""
    order = sorted(range(len(b)), key=lambda i: b[i] - a[i])[:count]
    return [(names[i], a[i], b[i]) for i in order]


def print_trailing(first: str, metric: str, rows, digits: int) -> None:
    """`rows`: (model, val set, image, first's value, model's value)."""
    print(f"\nimages where a model trails {first} most ({metric}):")
    print(f"| model | val set | image | {first} | model | difference |")
    print("| --- | --- | --- | --- | --- | --- |")
    for model, name, image, a, b in rows:
        print(f"| {model} | {name} | {image} | {a:.{digits}f} | {b:.{digits}f} "
              f"| {b - a:+.{digits}f} |")
