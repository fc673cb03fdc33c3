"""How long the test suite takes in N processes when pytest-xdist hands out whole files in a
given order: replays the per-test times of one logged run (`pytest --durations=0`) through
xdist's file scheduler (a process takes the next file when it has 2 or fewer tests left), for
the order tests/conftest.py gives and for xdist's own (most tests first).

    python -m pytest -q -n 2 --durations=0 > suite.log
    python tools/test_schedule.py suite.log --processes 2

Prints each order's simulated wall time and how long the last process ran alone.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DURATION = re.compile(r"^([\d.]+)s (?:setup|call|teardown)\s+(\S+)$")


def read_durations(log: pathlib.Path) -> dict[str, float]:
    """Seconds per test id (setup + call + teardown) from a `--durations=0` log."""
    seconds: dict[str, float] = collections.defaultdict(float)
    for line in log.read_text().splitlines():
        match = DURATION.match(line.strip())
        if match:
            seconds[match.group(2)] += float(match.group(1))
    return dict(seconds)


def collected_ids() -> list[str]:
    """The suite's test ids in the order tests/conftest.py gives them."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-n", "0"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )
    return [line for line in done.stdout.splitlines() if "::" in line]


def files_in_order(ids: list[str], xdist_order: bool) -> list[list[str]]:
    """The ids grouped by file; xdist's default order sorts the files by their test count."""
    files: dict[str, list[str]] = {}
    for test in ids:
        files.setdefault(test.split("::", 1)[0], []).append(test)
    groups = list(files.values())
    return sorted(groups, key=len, reverse=True) if xdist_order else groups


def simulate(groups: list[list[str]], seconds: dict[str, float], processes: int):
    """(wall time, time the last process ran alone) of xdist's file scheduling."""
    queue = collections.deque(groups)
    pending = [collections.deque() for _ in range(processes)]
    clock = [0.0] * processes
    for tests in pending:
        if queue:
            tests.extend(queue.popleft())
    while any(pending):
        # the next test to finish, anywhere: the files are handed out in the order tests end
        node = min(
            (i for i in range(processes) if pending[i]),
            key=lambda i: clock[i] + seconds.get(pending[i][0], 0.0),
        )
        clock[node] += seconds.get(pending[node].popleft(), 0.0)
        if queue and len(pending[node]) <= 2:
            pending[node].extend(queue.popleft())
    ends = sorted(clock)
    return ends[-1], ends[-1] - ends[-2] if processes > 1 else 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=pathlib.Path, help="a `pytest --durations=0` log")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args(argv)
    seconds = read_durations(args.log)
    if not seconds:
        parser.error(f"{args.log} holds no `--durations=0` lines: run pytest with --durations=0")
    ids = collected_ids()
    missing = sum(test not in seconds for test in ids)
    print(f"{len(ids)} tests collected, {missing} without a time in {args.log}")
    print("| order | simulated wall (s) | last process alone (s) |\n|---|---|---|")
    for label, xdist_order in (("tests/conftest.py", False), ("xdist default", True)):
        wall, alone = simulate(files_in_order(ids, xdist_order), seconds, args.processes)
        print(f"| {label} | {wall:.0f} | {alone:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
