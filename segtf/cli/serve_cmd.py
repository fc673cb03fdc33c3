"""`segtf serve`: an HTTP server on localhost that segments uploaded images (see segtf.serve)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model over HTTP on localhost (POST an image, get a mask / cut-out / JSON)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--model", default="default",
        help="zoo model name, model folder, .keras, .tflite or .onnx file (default: the default "
        "model)",
    )
    parser.add_argument(
        "--runtime", choices=("auto", "litert", "tensorflow"), default="auto",
        help="auto (default): LiteRT when ai-edge-litert is installed, else TensorFlow",
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=7000, help="port (7000; 0: any free port)")
    parser.add_argument("--max-mb", type=float, default=25.0,
                        help="largest upload accepted, in MB (25)")
    parser.add_argument("--concurrency", type=int, default=1,
                        help="images segmented at the same time (1)")
    parser.add_argument("--queue", type=int, default=8,
                        help="requests allowed to wait; more get 503 at once (8)")
    parser.set_defaults(func=run)


def choose_runtime(requested: str) -> str:
    if requested != "auto":
        return requested
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        return "tensorflow"
    return "litert"


def run(args: argparse.Namespace) -> int:
    import segtf
    from segtf import serve

    if not 0 <= args.port < 65536:
        raise ValueError(f"--port {args.port} is not a port number: use 1-65535, e.g. 7000")
    if args.max_mb <= 0 or args.concurrency < 1 or args.queue < 0:
        raise ValueError("--max-mb must be > 0, --concurrency >= 1 and --queue >= 0")
    runtime = choose_runtime(args.runtime)
    segmenter = segtf.Segmenter(args.model, runtime=runtime)
    warm = serve.warm_up(segmenter)
    service = serve.SegmentService(
        segmenter, max_bytes=int(args.max_mb * 1024 * 1024), concurrency=args.concurrency,
        queue=args.queue,
    )
    try:
        server = serve.make_server(service, args.host, args.port)
    except OSError as err:
        raise ValueError(f"--host {args.host} --port {args.port}: cannot listen there "
                         f"({err.strerror}); choose another --port") from None
    host, port = server.server_address[:2]
    print(f"segtf serve: {segmenter.info.name} on {segmenter.runtime} (warm-up {warm:.1f} s) at "
          f"http://{host}:{port}  POST an image to /segment?output=mask|cutout|overlay|json; "
          "Ctrl+C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("segtf serve: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
