"""The validation pass: each kind of bad data gives one clear error naming the file and fix."""

import numpy as np
import pytest
from data_factory import block_mask, make_folder_dataset, random_image, truncate, write_image
from PIL import Image

from segtf.data import DataError, find_pairs, make_dataset, validate_pairs


def _validate(root, **kwargs):
    return validate_pairs(find_pairs(root), num_classes=kwargs.pop("num_classes", 4), **kwargs)


def test_good_dataset_reports_sizes_and_modes(tmp_path):
    report = _validate(make_folder_dataset(tmp_path, n=2, size=(10, 12)))
    assert len(report.pairs) == 2 and not report.bad
    assert set(report.sizes.values()) == {(12, 10)} and report.mask_modes == {"L"}


@pytest.mark.parametrize("case", ["zero_byte", "truncated_png", "truncated_jpeg", "not_image"])
def test_broken_files_are_named_with_a_fix(tmp_path, case):
    root = make_folder_dataset(
        tmp_path, n=3, image_ext=".jpg" if "jpeg" in case else ".png", size=(64, 64)
    )
    victim = sorted((root / "images").iterdir())[1]
    if case == "zero_byte":
        victim.write_bytes(b"")
        expected = "empty \\(0 bytes\\)"
    elif case == "not_image":
        victim.write_text("this is not a picture")
        expected = "not an image file"
    else:
        truncate(victim, 0.4)
        expected = "truncated or corrupt"
    with pytest.raises(DataError, match=f"{victim.name}: .*{expected}.*Fix: "):
        _validate(root)
    report = _validate(root, skip_bad=True)
    assert len(report.pairs) == 2 and len(report.bad) == 1


def test_size_mismatch_names_both_files(tmp_path):
    root = make_folder_dataset(tmp_path, n=2, size=(16, 16))
    write_image(root / "masks" / "001.png", block_mask(16, 20, 4))
    with pytest.raises(DataError, match=r"001.png \+ .*001.png: image is 16x16 but mask is 20x16"):
        _validate(root)


def test_out_of_range_labels_suggest_label_map(tmp_path):
    root = make_folder_dataset(tmp_path, n=2, num_classes=4)
    mask = block_mask(24, 32, 4)
    mask[:2, :2] = 7
    write_image(root / "masks" / "000.png", mask)
    with pytest.raises(
        DataError,
        match=r"mask values \[7\] are outside 0..3 or ignore 255.*"
        r"label_map=\{7: 255\}",
    ):
        _validate(root)
    assert len(_validate(root, label_map={7: 255}).pairs) == 2


def test_ignore_label_is_valid(tmp_path):
    root = make_folder_dataset(tmp_path, n=1)
    write_image(root / "masks" / "000.png", np.full((24, 32), 255, np.uint8))
    assert len(_validate(root).pairs) == 1


def test_palette_masks_are_checked_as_indices(tmp_path):
    root = make_folder_dataset(tmp_path, n=1)
    mask = Image.fromarray(block_mask(24, 32, 4), mode="L").convert("P")
    mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [9] * 756)
    mask.save(root / "masks" / "000.png")
    assert _validate(root).mask_modes == {"P"}


def test_colour_mask_needs_a_palette_and_unknown_colours_are_named(tmp_path):
    root = make_folder_dataset(tmp_path, n=1)
    palette = [(0, 0, 0), (200, 0, 0), (0, 200, 0), (0, 0, 200)]
    rgb = np.array(palette, np.uint8)[block_mask(24, 32, 4)]
    write_image(root / "masks" / "000.png", rgb)
    with pytest.raises(DataError, match="colour \\(RGB\\) mask but no palette"):
        _validate(root)
    assert len(_validate(root, palette=palette).pairs) == 1
    with pytest.raises(DataError, match=r"colour\(s\) not in the palette: \(0, 0, 200\)"):
        _validate(root, palette=palette[:3])


def test_foreground_soft_masks_are_valid(tmp_path):
    root = make_folder_dataset(tmp_path, n=1, foreground=True)
    write_image(
        root / "masks" / "000.png", np.linspace(0, 255, 24 * 32).reshape(24, 32).astype(np.uint8)
    )
    assert len(_validate(root, num_classes=1, task="foreground").pairs) == 1


def test_make_dataset_raises_before_any_iteration(tmp_path):
    root = make_folder_dataset(tmp_path, n=3)
    (root / "images" / "002.png").write_bytes(b"")
    with pytest.raises(DataError, match="002.png"):
        make_dataset(root, num_classes=4, batch_size=1)
    ds = make_dataset(root, num_classes=4, batch_size=1, skip_bad=True)
    assert sum(1 for _ in ds) == 2


def test_skip_bad_logs_the_count(tmp_path, caplog):
    root = make_folder_dataset(tmp_path, n=3)
    write_image(root / "images" / "001.png", random_image(5, 5))
    _validate(root, skip_bad=True)
    assert "Skipping 1 bad item(s)" in caplog.text
