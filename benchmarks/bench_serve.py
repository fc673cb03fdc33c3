"""Load test for `segtf serve`: starts the server as its own process on loopback, posts photos
from client threads in this process, and reports requests per second, p50 / p95 latency and
the server's memory (RSS) after the first quarter of requests and at the end.

    python benchmarks/bench_serve.py                              # default model, 200 requests
    python benchmarks/bench_serve.py --runtime tensorflow --clients 4 --requests 400

Bounded in count (`--requests`) and time (`--time-limit`); exits 1 if any answer is not 200,
the limit is hit, or the RSS grows by more than `--max-growth-mb` after warm-up.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import pathlib
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPO / "apps" / "examples").glob("*.jpg"))


def rss_mb(pid: int) -> float:
    text = pathlib.Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


def start_server(model: str, runtime: str) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "segtf", "serve", "--model", model, "--runtime", runtime,
         "--port", "0", "--queue", "64"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = server.stdout.readline()
    found = re.search(r"http://[\d.]+:\d+", line)
    if not found:
        server.kill()
        raise SystemExit(f"segtf serve did not start: {line!r}")
    return server, found.group(0)


def post(url: str, body: bytes) -> tuple[int, float]:
    start = time.perf_counter()
    request = urllib.request.Request(f"{url}/segment?output=mask", data=body)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    return status, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--runtime", default="auto", choices=("auto", "litert", "tensorflow"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds for the run")
    parser.add_argument("--max-growth-mb", type=float, default=50.0)
    args = parser.parse_args(argv)
    bodies = [p.read_bytes() for p in PHOTOS]
    server, url = start_server(args.model, args.runtime)
    try:
        warm = max(1, args.requests // 4)
        statuses, latencies = [], []
        deadline = time.monotonic() + args.time_limit
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            for phase in (range(warm), range(warm, args.requests)):
                jobs = [pool.submit(post, url, bodies[i % len(bodies)]) for i in phase]
                for job in jobs:
                    status, seconds = job.result(timeout=max(1.0, deadline - time.monotonic()))
                    statuses.append(status)
                    latencies.append(seconds)
                if phase.start == 0:
                    after_warm_up = rss_mb(server.pid)
        elapsed = time.perf_counter() - started
        at_end = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)
    ok = sum(s == 200 for s in statuses)
    growth = at_end - after_warm_up
    print(f"{ok} of {args.requests} answered 200 ({args.clients} clients, model {args.model}, "
          f"runtime {args.runtime})")
    print(f"{args.requests / elapsed:.2f} requests/s; latency p50 "
          f"{1000 * np.percentile(latencies, 50):.0f} ms, p95 "
          f"{1000 * np.percentile(latencies, 95):.0f} ms")
    verdict = "within" if growth <= args.max_growth_mb else "OVER"
    print(f"server RSS {after_warm_up:.0f} MB after {warm} requests, {at_end:.0f} MB at the end: "
          f"memory growth {growth:+.0f} MB, {verdict} the {args.max_growth_mb:.0f} MB limit")
    return 0 if ok == args.requests and verdict == "within" else 1


if __name__ == "__main__":
    sys.exit(main())
