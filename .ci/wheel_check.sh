#!/usr/bin/env bash
# Builds the wheel, installs it in a clean venv outside the checkout, and segments a bundled
# example photo with the installed `segtf` (the zoo and the viewer app travel inside it).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$repo/.venv/bin/pip" wheel -q --no-deps -w "$work/dist" "$repo"
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$work"/dist/segtf-*.whl
cd "$work"  # nowhere near the checkout
cp "$repo/apps/examples/cat.jpg" "$work/cat.jpg"
"$work/venv/bin/segtf" segment "$work/cat.jpg" --out "$work/out" --save mask,cutout
test -s "$work/out/cat.mask.png"
"$work/venv/bin/python" -c "import segtf.viewer.server as s, segtf.zoo as z; assert s.APP.is_file(), s.APP; assert z.list_zoo(), z.ZOO_DIR; print('wheel ok: zoo', z.list_zoo(), 'viewer', s.APP)"
