"""`segtf serve`: a small HTTP server that segments uploaded images (rembg's `s` is the model).

    POST /segment?output=mask|cutout|overlay|json[&threshold=0.5]
        body: the image file itself, or multipart/form-data with a `file` field
        -> image/png (mask, cutout, overlay) or application/json (classes and areas)
    GET /health -> {"status": "ok", "model": ..., "runtime": ...}

It listens on 127.0.0.1 unless told otherwise. Requests run at most `concurrency` at a time;
up to `queue` more wait, further ones get 503 at once, so a burst cannot pile up memory.
Bodies over `max_bytes` get 413 before they are read. A bad upload gets a 4xx with a JSON
`error` that says what was wrong and the fix; the server keeps serving. For more than one
machine, serve the SavedModel from `segtf export` with TF Serving (docs/export.md).
"""

from __future__ import annotations

import email.parser
import email.policy
import http.server
import json
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

OUTPUTS = ("mask", "cutout", "overlay", "json")
DEFAULT_PORT = 7000
DEFAULT_MAX_BYTES = 25 * 1024 * 1024
DRAIN_FACTOR = 8  # bodies up to this many times the limit are read (and dropped) before the 413


class RequestError(ValueError):
    """A request the server refuses, with its HTTP status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes


def json_reply(status: int, data: dict) -> Reply:
    return Reply(status, "application/json", (json.dumps(data) + "\n").encode())


def image_from_multipart(body: bytes, content_type: str) -> bytes:
    """The `file` (or first file) part of a multipart/form-data body."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    parts = [p for p in message.iter_parts() if p.get_filename() or p.get_param(
        "name", header="content-disposition") in ("file", "image")]
    if not message.is_multipart() or not parts:
        raise RequestError(400, "multipart body without a file: send the image in a field "
                                "named `file` (curl -F file=@photo.jpg)")
    named = [p for p in parts if p.get_param("name", header="content-disposition") == "file"]
    return (named or parts)[0].get_payload(decode=True) or b""


def upload_bytes(body: bytes, content_type: str) -> bytes:
    if content_type.startswith("multipart/form-data"):
        body = image_from_multipart(body, content_type)
    if not body:
        raise RequestError(400, "empty body: POST the image file (curl --data-binary "
                                "@photo.jpg, or -F file=@photo.jpg)")
    return body


def parse_query(query: str) -> tuple[str, float | None]:
    params = urllib.parse.parse_qs(query)
    output = params.get("output", ["mask"])[-1]
    if output not in OUTPUTS:
        raise RequestError(400, f"output={output!r}: use one of {', '.join(OUTPUTS)}")
    threshold = params.get("threshold", [None])[-1]
    if threshold is not None:
        try:
            threshold = float(threshold)
        except ValueError:
            threshold = -1.0
        if not 0.0 < threshold < 1.0:
            raise RequestError(400, "threshold: use a number between 0 and 1, e.g. 0.5")
    return output, threshold


def summary(result) -> dict:
    """The JSON answer: size, timing, confidence and the share of each class."""
    from segtf.viewer.legend import class_areas

    areas = class_areas(result.labels, result.class_names, result.palette)
    return {
        "model": result.model_name,
        "task": result.task,
        "width": int(result.size[1]),
        "height": int(result.size[0]),
        "inference_ms": round(1000 * result.inference_time, 1),
        "mean_confidence": round(float(result.mean_confidence), 4),
        "domain_warning": result.domain_warning,
        "classes": [{"index": a.index, "name": a.name, "pixels": a.pixels,
                     "share": round(float(a.share), 6)} for a in areas],
    }


def render(result, output: str, threshold: float | None) -> Reply:
    from segtf.viewer.compose import png_bytes

    if output == "json":
        return json_reply(200, summary(result))
    if output == "mask":
        return Reply(200, "image/png", png_bytes(result.to_image(threshold)))
    if output == "overlay":
        return Reply(200, "image/png", png_bytes(result.overlay()))
    if result.task != "foreground":
        raise RequestError(400, "output=cutout needs a foreground model; this one is semantic "
                                "(use output=mask, overlay or json)")
    return Reply(200, "image/png", png_bytes(result.cutout(threshold=threshold)))


class SegmentService:
    """What the HTTP handler calls: bounded, thread-safe segmentation of one upload."""

    def __init__(self, segmenter, *, max_bytes: int = DEFAULT_MAX_BYTES, concurrency: int = 1,
                 queue: int = 8):
        self.segmenter = segmenter
        self.max_bytes = int(max_bytes)
        self.limit = concurrency + queue
        self._slots = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._admitted = 0

    def _admit(self) -> bool:
        with self._lock:
            if self._admitted >= self.limit:
                return False
            self._admitted += 1
            return True

    def _leave(self) -> None:
        with self._lock:
            self._admitted -= 1

    def segment(self, body: bytes, content_type: str, query: str) -> Reply:
        from segtf.imageio import InvalidImageError

        output, threshold = parse_query(query)
        data = upload_bytes(body, content_type)
        if not self._admit():
            raise RequestError(503, "busy: too many requests waiting; retry in a moment")
        try:
            with self._slots:
                result = self.segmenter.segment(data)
        except InvalidImageError as err:
            raise RequestError(400, str(err)) from None
        finally:
            self._leave()
        return render(result, output, threshold)

    def health(self) -> Reply:
        return json_reply(200, {"status": "ok", "model": self.segmenter.info.name,
                                "runtime": self.segmenter.runtime})


def make_handler(service: SegmentService):
    class Handler(http.server.BaseHTTPRequestHandler):
        server_version = "segtf-serve"
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002  (the base class's name)
            logger.info("%s %s", self.address_string(), format % args)

        def _send(self, reply: Reply) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def _fail(self, status: int, message: str) -> None:
            self._send(json_reply(status, {"error": message}))

        def _refuse_large(self, length: int, drain: bool = True) -> None:
            # Read and drop a moderately large body in chunks (memory stays flat) so the
            # client, still sending, gets the 413 instead of a broken pipe; close after it.
            self.close_connection = True
            left = length if drain and length <= DRAIN_FACTOR * service.max_bytes else 0
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                left = left - len(chunk) if chunk else 0
            self._fail(413, f"body of {length} bytes is over the server's limit of "
                            f"{service.max_bytes}; send a smaller image or raise --max-mb")

        def handle_expect_100(self):  # curl asks first for large bodies: refuse before sending
            length = self.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > service.max_bytes:
                self._refuse_large(int(length), drain=False)
                return False
            return super().handle_expect_100()

        def do_GET(self):  # noqa: N802  (http.server's naming)
            path = urllib.parse.urlsplit(self.path).path
            if path in ("/", "/health"):
                self._send(service.health())
            else:
                self._fail(404, f"{path}: not found; POST images to /segment, GET /health")

        def do_POST(self):  # noqa: N802
            url = urllib.parse.urlsplit(self.path)
            if url.path != "/segment":
                self._fail(404, f"{url.path}: not found; POST images to /segment")
                return
            length = self.headers.get("Content-Length")
            if length is None or not length.isdigit():
                self.close_connection = True
                self._fail(411, "send a Content-Length header with the image bytes")
                return
            if int(length) > service.max_bytes:
                self._refuse_large(int(length))
                return
            body = self.rfile.read(int(length))
            start = time.perf_counter()
            try:
                reply = service.segment(body, self.headers.get("Content-Type", ""), url.query)
            except RequestError as err:
                self._fail(err.status, str(err))
                return
            except Exception as err:  # noqa: BLE001  (one request's bug must not stop the server)
                logger.exception("request failed")
                self._fail(500, f"internal error {type(err).__name__}; see the server log")
                return
            logger.debug("segmented in %.0f ms", 1000 * (time.perf_counter() - start))
            self._send(reply)

    return Handler


def make_server(service: SegmentService, host: str = "127.0.0.1", port: int = DEFAULT_PORT):
    """A `ThreadingHTTPServer` for `service` (port 0: any free port; see `server_address`)."""
    server = http.server.ThreadingHTTPServer((host, port), make_handler(service))
    server.daemon_threads = True
    return server


def warm_up(segmenter) -> float:
    """One small prediction, so the first user's request does not pay for tracing; seconds."""
    start = time.perf_counter()
    segmenter.segment(np.full((64, 64, 3), 127, np.uint8))
    return time.perf_counter() - start
