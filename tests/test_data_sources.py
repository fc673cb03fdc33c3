"""Finding pairs: folder layouts, list files, listing errors."""

import pytest
from data_factory import make_folder_dataset, make_list_dataset, random_image, write_image

from segtf.data import DataError, find_pairs


def test_images_masks_folder_matched_by_stem_with_mixed_extensions(tmp_path):
    root = make_folder_dataset(tmp_path, n=3, image_ext=".jpg")
    pairs = find_pairs(root)
    assert [(p[0].split("/")[-1], p[1].split("/")[-1]) for p in pairs] == [
        ("000.jpg", "000.png"),
        ("001.jpg", "001.png"),
        ("002.jpg", "002.png"),
    ]


@pytest.mark.parametrize(
    "dirs", [("im", "gt"), ("DUTS-TR-Image", "DUTS-TR-Mask"), ("Image", "GT_Object")]
)
def test_other_layouts(tmp_path, dirs):
    make_folder_dataset(tmp_path, n=2, image_dir=dirs[0], mask_dir=dirs[1])
    assert len(find_pairs(tmp_path)) == 2


def test_list_file_with_missing_absolute_prefix_resolves_next_to_list(tmp_path):
    list_file = make_list_dataset(tmp_path, n=2)
    pairs = find_pairs(list_file)
    assert pairs[0] == (
        str(tmp_path / "train" / "f000.png"),
        str(tmp_path / "trainannot" / "f000.png"),
    )


def test_list_file_entry_that_does_not_exist_is_named(tmp_path):
    list_file = make_list_dataset(tmp_path, n=2)
    (tmp_path / "trainannot" / "f001.png").unlink()
    with pytest.raises(DataError, match="f001.png.*not found"):
        find_pairs(list_file)
    assert len(find_pairs(list_file, skip_bad=True)) == 1


def test_image_without_mask_and_mask_without_image_are_both_reported(tmp_path):
    make_folder_dataset(tmp_path, n=2)
    write_image(tmp_path / "images" / "extra.png", random_image(8, 8))
    write_image(tmp_path / "masks" / "orphan.png", random_image(8, 8)[..., 0])
    with pytest.raises(DataError) as err:
        find_pairs(tmp_path)
    message = str(err.value)
    assert "extra.png: image has no mask" in message and "orphan.png: mask has no image" in message
    assert "2 bad item(s)" in message and "--skip-bad" in message
    assert len(find_pairs(tmp_path, skip_bad=True)) == 2


def test_folder_without_layout_suggests_splits(tmp_path):
    make_folder_dataset(tmp_path / "train", n=1)
    with pytest.raises(DataError, match="Did you mean one of its splits: train"):
        find_pairs(tmp_path)


def test_missing_source_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_pairs(tmp_path / "nope")
