"""Takes the README screenshot of the viewer: `python apps/screenshot.py`.

Starts the viewer on a free localhost port, uploads an image in headless Chromium, waits for
the result and saves `docs/images/viewer.png`. Uses the trained models in models/ (or
`--zoo`); with none there it falls back to tiny untrained models and says so.
"""

from __future__ import annotations

import argparse
import logging
import pathlib
import sys
import tempfile

from segtf.viewer import browser, gallery, models

ROOT = pathlib.Path(__file__).resolve().parents[1]


def default_image(model: str | None) -> pathlib.Path:
    """A CamVid val image for the road-scene model when the shared data is there."""
    camvid = [e for e in gallery.find_examples(camvid_limit=3) if e.source == "camvid"]
    if camvid and (model is None or "camvid" in model):
        return camvid[min(1, len(camvid) - 1)].path
    return gallery.BUNDLED_DIR / "street_person.jpg"


def shrink_png(path: pathlib.Path, colours: int = 256) -> None:
    """Re-saves the screenshot with a 256-colour palette: a third of the size, for the README."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colours, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zoo", help="folder of model folders (default: models/)")
    parser.add_argument("--model", help="model to select (default: the page's first)")
    parser.add_argument(
        "--image", help="image to upload (default: a CamVid val image or apps/examples/street_person.jpg)"
    )
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "viewer.png"))
    parser.add_argument("--width", type=int, default=1400)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    reason = browser.missing_browser()
    if reason:
        print(f"screenshot: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        zoo = pathlib.Path(args.zoo) if args.zoo else models.zoo_dir()
        if not models.list_entries(zoo):
            from segtf.viewer.testing import make_tiny_zoo

            print(
                f"screenshot: no models in {zoo}; using tiny UNTRAINED models (noise masks)",
                file=sys.stderr,
            )
            zoo = pathlib.Path(tmp)
            make_tiny_zoo(zoo, foreground=False)
        image = pathlib.Path(args.image) if args.image else default_image(args.model)
        with browser.serve_viewer(zoo) as url, browser.chromium(args.width, 1000) as driver:
            browser.upload_and_wait(driver, url, image, model=args.model)
            out = browser.screenshot(driver, args.out)
    shrink_png(out)
    print(f"screenshot: {out} ({image.name}, {out.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
