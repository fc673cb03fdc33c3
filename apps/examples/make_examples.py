"""Draws the viewer's bundled example images (generated, so the project may ship them).

Run `python apps/examples/make_examples.py` to redraw them; the output is deterministic.
Each image stays well under 100 KB (JPEG, 480x360).
"""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = (480, 360)
HERE = pathlib.Path(__file__).resolve().parent


def _vertical_gradient(size, top, bottom) -> Image.Image:
    w, h = size
    t = np.linspace(0.0, 1.0, h)[:, None, None]
    rows = (1 - t) * np.array(top, float) + t * np.array(bottom, float)
    return Image.fromarray(np.repeat(rows, w, axis=1).astype(np.uint8))


def _photo_finish(image: Image.Image, seed: int, blur: float = 0.8) -> Image.Image:
    """Soft focus and sensor noise, so the drawing looks less like clip art."""
    image = image.filter(ImageFilter.GaussianBlur(blur))
    pixels = np.asarray(image, np.float32)
    noise = np.random.default_rng(seed).normal(0, 6, pixels.shape)
    return Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))


def street(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    w, h = SIZE
    img = _vertical_gradient(SIZE, (120, 170, 225), (205, 222, 238))
    d = ImageDraw.Draw(img)
    horizon = 200
    x = 0
    while x < w:  # a row of buildings with windows
        bw, bh = int(rng.integers(50, 110)), int(rng.integers(70, 170))
        shade = int(rng.integers(110, 190))
        colour = (shade, shade - int(rng.integers(0, 30)), shade - int(rng.integers(10, 50)))
        d.rectangle([x, horizon - bh, x + bw, horizon], fill=colour)
        for wy in range(horizon - bh + 10, horizon - 15, 18):
            for wx in range(x + 8, x + bw - 10, 16):
                d.rectangle([wx, wy, wx + 7, wy + 9], fill=(70, 85, 110))
        x += bw + int(rng.integers(0, 6))
    d.polygon([(0, horizon), (w, horizon), (w, h), (0, h)], fill=(150, 145, 140))  # pavement
    d.polygon([(150, horizon), (330, horizon), (w + 120, h), (-120, h)], fill=(85, 85, 90))
    for i in range(6):  # dashed centre line, getting longer towards the viewer
        y0 = horizon + 8 + i * i * 5 + i * 6
        y1 = y0 + 4 + i * 3
        d.polygon(
            [(239 - i, y0), (241 + i, y0), (242 + i, y1), (238 - i, y1)], fill=(235, 235, 220)
        )
    for tx in (30, 420):  # trees
        d.rectangle([tx + 18, horizon - 40, tx + 26, horizon + 10], fill=(90, 60, 40))
        d.ellipse([tx - 10, horizon - 110, tx + 55, horizon - 30], fill=(55, 120, 50))
    d.rectangle([372, horizon - 120, 376, horizon + 30], fill=(70, 70, 70))  # pole
    d.rectangle([360, horizon - 120, 388, horizon - 100], fill=(30, 90, 180))  # sign
    d.rounded_rectangle([120, 235, 230, 290], radius=12, fill=(180, 30, 35))  # car
    d.polygon([(140, 235), (155, 212), (200, 212), (215, 235)], fill=(160, 25, 30))
    d.polygon([(147, 234), (158, 216), (197, 216), (208, 234)], fill=(120, 150, 180))
    for cx in (145, 205):
        d.ellipse([cx - 13, 278, cx + 13, 304], fill=(25, 25, 25))
    d.ellipse([300, 214, 318, 232], fill=(230, 190, 160))  # pedestrian
    d.rectangle([300, 232, 318, 270], fill=(40, 70, 140))
    d.rectangle([301, 270, 308, 298], fill=(40, 40, 50))
    d.rectangle([311, 270, 318, 298], fill=(40, 40, 50))
    return _photo_finish(img, seed)


def portrait(seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = _vertical_gradient(SIZE, (60, 95, 90), (150, 170, 140))
    d = ImageDraw.Draw(img)
    for _ in range(25):  # out-of-focus background lights
        x, y, r = int(rng.integers(0, 480)), int(rng.integers(0, 360)), int(rng.integers(10, 35))
        tone = tuple(int(v) for v in rng.integers(120, 240, 3))
        d.ellipse([x - r, y - r, x + r, y + r], fill=tone)
    img = img.filter(ImageFilter.GaussianBlur(6))
    d = ImageDraw.Draw(img)
    d.ellipse([120, 250, 360, 470], fill=(50, 60, 110))  # shoulders
    d.rectangle([220, 200, 260, 270], fill=(215, 170, 140))  # neck
    d.ellipse([185, 90, 295, 230], fill=(225, 180, 150))  # face
    d.chord([178, 70, 302, 180], 180, 360, fill=(60, 40, 30))  # hair
    for ex in (215, 255):
        d.ellipse([ex, 145, ex + 12, 154], fill=(50, 40, 35))
    d.arc([220, 175, 262, 205], 20, 160, fill=(150, 70, 70), width=3)
    return _photo_finish(img, seed, blur=0.6)


def countryside(seed: int = 2) -> Image.Image:
    rng = np.random.default_rng(seed)
    img = _vertical_gradient(SIZE, (90, 150, 220), (190, 215, 235))
    d = ImageDraw.Draw(img)
    for cx, cy in ((90, 60), (330, 40)):  # clouds
        for dx in (-30, 0, 30):
            d.ellipse([cx + dx - 30, cy - 18, cx + dx + 30, cy + 18], fill=(245, 245, 250))
    d.polygon(
        [(0, 190), (140, 150), (300, 185), (480, 160), (480, 230), (0, 230)], fill=(95, 125, 90)
    )  # hills
    d.rectangle([0, 215, 480, 360], fill=(105, 160, 60))  # field
    for _ in range(400):
        x, y = int(rng.integers(0, 480)), int(rng.integers(220, 360))
        d.line([x, y, x + int(rng.integers(-2, 3)), y - 5], fill=(80, 135, 45))
    d.rectangle([360, 120, 376, 250], fill=(95, 65, 40))  # tree
    d.ellipse([310, 50, 430, 170], fill=(50, 110, 45))
    for fx in range(0, 480, 40):  # fence
        d.rectangle([fx, 250, fx + 5, 290], fill=(150, 115, 80))
    d.rectangle([0, 258, 480, 263], fill=(150, 115, 80))
    d.ellipse([120, 230, 230, 285], fill=(120, 80, 50))  # horse body
    d.polygon([(210, 240), (250, 195), (268, 205), (232, 255)], fill=(120, 80, 50))  # neck
    d.ellipse([245, 188, 285, 215], fill=(110, 72, 45))  # head
    for lx in (130, 150, 195, 215):
        d.rectangle([lx, 270, lx + 9, 325], fill=(100, 65, 40))
    d.line([125, 245, 100, 290], fill=(60, 40, 25), width=6)  # tail
    return _photo_finish(img, seed)


EXAMPLES = {"street.jpg": street, "portrait.jpg": portrait, "countryside.jpg": countryside}


def main() -> None:
    for name, draw in EXAMPLES.items():
        path = HERE / name
        draw().save(path, quality=85, optimize=True)
        print(f"{path.name}: {path.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
