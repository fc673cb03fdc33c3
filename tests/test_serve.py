"""`segtf serve` (issue 16): real and bad uploads over loopback, clean 4xx answers, the server
keeps serving; limits on size and queue; and the load test from a second process."""

from __future__ import annotations

import io
import json
import pathlib
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

import segtf
from segtf import serve

REPO = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "apps" / "examples" / "street_person.jpg"


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    service = serve.SegmentService(segtf.Segmenter(tiny_model_dir), max_bytes=2_000_000,
                                   concurrency=1, queue=2)
    httpd = serve.make_server(service, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", service
    httpd.shutdown()
    httpd.server_close()


def post(url: str, body: bytes, content_type: str = "application/octet-stream"):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


def multipart(field: str, name: str, data: bytes) -> tuple[bytes, str]:
    boundary = "segtf-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_real_photo_as_mask_overlay_and_json(server):
    url, _ = server
    photo = EXAMPLE.read_bytes()
    height, width = np.asarray(Image.open(EXAMPLE)).shape[:2]
    status, kind, body = post(f"{url}/segment", photo)
    assert (status, kind) == (200, "image/png")
    mask = Image.open(io.BytesIO(body))
    assert mask.size == (width, height) and mask.mode == "P"
    status, _, body = post(f"{url}/segment?output=overlay", photo)
    assert status == 200 and Image.open(io.BytesIO(body)).size == (width, height)
    data, content_type = multipart("file", "street.jpg", photo)
    status, kind, body = post(f"{url}/segment?output=json", data, content_type)
    assert (status, kind) == (200, "application/json")
    answer = json.loads(body)
    expected = server[1].segmenter.segment(EXAMPLE)
    assert (answer["width"], answer["height"]) == (width, height)
    assert sum(c["pixels"] for c in answer["classes"]) == width * height
    shares = {c["name"]: c["pixels"] for c in answer["classes"]}
    names, counts = np.unique(expected.labels, return_counts=True)
    assert shares == {expected.class_names[n]: int(c) for n, c in zip(names, counts, strict=True)}


@pytest.mark.parametrize(
    "path, body, content_type, status, needle",
    [
        ("/segment", b"not an image", "application/octet-stream", 400, "not an image"),
        ("/segment", b"", "application/octet-stream", 400, "empty body"),
        ("/segment?output=gif", b"x", "application/octet-stream", 400, "use one of mask"),
        ("/segment?threshold=2", b"x", "application/octet-stream", 400, "between 0 and 1"),
        ("/segment?output=cutout", None, "application/octet-stream", 400, "foreground model"),
        ("/segment", b"--b\r\n\r\n--b--", "multipart/form-data; boundary=b", 400, "field"),
        ("/segment", b"\0" * 2_000_001, "application/octet-stream", 413, "over the server's limit"),
        ("/nowhere", b"x", "application/octet-stream", 404, "POST images to /segment"),
    ],
)
def test_bad_requests_get_a_clean_4xx_and_the_server_keeps_serving(
    server, path, body, content_type, status, needle
):
    url, _ = server
    body = EXAMPLE.read_bytes() if body is None else body
    got, kind, answer = post(url + path, body, content_type)
    assert (got, kind) == (status, "application/json"), answer[:300]
    message = json.loads(answer)["error"]
    assert needle in message and "Traceback" not in message
    assert post(f"{url}/segment", EXAMPLE.read_bytes())[0] == 200


def test_health(server):
    url, _ = server
    with urllib.request.urlopen(f"{url}/health", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok", "model": "tiny",
                                               "runtime": "tensorflow"}


def test_a_full_queue_answers_503_at_once(tiny_model_dir):
    class Slow:
        def __init__(self):
            self.release = threading.Event()

        def segment(self, data):
            self.release.wait(30)
            return segtf.segment(np.zeros((8, 8, 3), np.uint8), tiny_model_dir)

    slow = Slow()
    service = serve.SegmentService(slow, concurrency=1, queue=1)
    outcomes = []
    workers = [threading.Thread(target=lambda: outcomes.append(service.segment(
        EXAMPLE.read_bytes(), "", "").status)) for _ in range(2)]
    for worker in workers:
        worker.start()
    while service._admitted < 2:
        threading.Event().wait(0.01)
    with pytest.raises(serve.RequestError) as refused:
        service.segment(EXAMPLE.read_bytes(), "", "")
    assert refused.value.status == 503
    slow.release.set()
    for worker in workers:
        worker.join(30)
    assert outcomes == [200, 200]


def test_load_test_from_a_second_process(tiny_model_dir):
    """benchmarks/bench_serve.py starts `segtf serve` and posts from its own threads: it must
    report requests per second and p95 latency, every answer 200, and no memory growth."""
    run = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "bench_serve.py"), "--model",
         str(tiny_model_dir), "--runtime", "tensorflow", "--requests", "60", "--clients", "3",
         "--time-limit", "240", "--max-growth-mb", "60"],
        capture_output=True, text=True, timeout=400,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "requests/s" in run.stdout and "p95" in run.stdout
    assert "60 of 60 answered 200" in run.stdout
    assert "memory growth" in run.stdout and "within" in run.stdout
