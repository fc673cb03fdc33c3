"""make_dataset: shapes, dtypes, label handling, augmentation semantics, determinism."""

import numpy as np
import pytest
from data_factory import block_mask, make_folder_dataset, random_image, write_image
from PIL import Image

from segtf.data import make_dataset


def _first(ds):
    images, masks = next(iter(ds))
    return images.numpy(), masks.numpy()


def test_semantic_training_batches(tmp_path):
    root = make_folder_dataset(tmp_path, n=4, size=(20, 30), num_classes=3)
    ds = make_dataset(root, num_classes=3, crop_size=(16, 24), batch_size=2, training=True, seed=0)
    images, masks = _first(ds)
    assert images.shape == (2, 16, 24, 3) and images.dtype == np.float32
    assert masks.shape == (2, 16, 24) and masks.dtype == np.int32
    assert 0 <= images.min() and images.max() <= 255 and images.max() > 1  # raw pixels
    assert set(np.unique(masks)) <= {0, 1, 2, 255}


def test_eval_full_size_is_exact(tmp_path):
    root = make_folder_dataset(tmp_path, n=1, size=(20, 30), num_classes=3)
    images, masks = _first(make_dataset(root, num_classes=3, batch_size=1))
    assert np.array_equal(images[0], random_image(20, 30, 0).astype(np.float32))
    assert np.array_equal(masks[0], block_mask(20, 30, 3, 0))


def test_eval_crop_pads_mask_with_ignore(tmp_path):
    root = make_folder_dataset(tmp_path, n=1, size=(10, 12), num_classes=3)
    images, masks = _first(make_dataset(root, num_classes=3, crop_size=16, batch_size=1))
    assert images.shape == (1, 16, 16, 3) and (masks == 255).sum() == 16 * 16 - 10 * 12


def test_full_size_batches_need_equal_sizes(tmp_path):
    root = make_folder_dataset(tmp_path, n=2, sizes=[(10, 12), (12, 10)])
    with pytest.raises(ValueError, match="pass crop_size"):
        make_dataset(root, num_classes=4, batch_size=2)
    assert len(list(make_dataset(root, num_classes=4, batch_size=1))) == 2


def test_label_map_and_palette_masks(tmp_path):
    root = make_folder_dataset(tmp_path, n=1, size=(8, 8))
    palette = [(0, 0, 0), (200, 0, 0), (0, 200, 0), (0, 0, 200)]
    labels = block_mask(8, 8, 4, block=4)
    write_image(root / "masks" / "000.png", np.array(palette, np.uint8)[labels])
    _, masks = _first(
        make_dataset(root, num_classes=3, batch_size=1, palette=palette, label_map={3: 255})
    )
    assert np.array_equal(masks[0], np.where(labels == 3, 255, labels))


def test_palette_mode_png_keeps_class_indices(tmp_path):
    root = make_folder_dataset(tmp_path, n=1, size=(8, 8))
    labels = block_mask(8, 8, 4, block=4)
    mask = Image.fromarray(labels, mode="L").convert("P")
    mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [9] * 756)
    mask.save(root / "masks" / "000.png")
    _, masks = _first(make_dataset(root, num_classes=4, batch_size=1))
    assert np.array_equal(masks[0], labels)


@pytest.mark.parametrize("stored, expected", [(255, 1.0), (1, 1.0), (128, 128 / 255)])
def test_foreground_masks_become_alpha(tmp_path, stored, expected):
    root = make_folder_dataset(tmp_path, n=1, size=(8, 8), foreground=True)
    mask = np.zeros((8, 8), np.uint8)
    mask[2:6, 2:6] = stored
    write_image(root / "masks" / "000.png", mask)
    _, alpha = _first(make_dataset(root, num_classes=1, task="foreground", batch_size=1))
    assert alpha.shape == (1, 8, 8, 1) and alpha.dtype == np.float32
    assert np.isclose(alpha.max(), expected) and alpha.min() == 0


def test_seed_makes_augmentation_reproducible_and_epochs_differ(tmp_path):
    root = make_folder_dataset(tmp_path, n=4, size=(20, 20))

    def run(seed):
        ds = make_dataset(root, num_classes=4, crop_size=12, batch_size=4, training=True, seed=seed)
        return [b[0].numpy() for b in ds], [b[0].numpy() for b in ds]

    (a1, a2), (b1, _) = run(3), run(3)
    assert np.array_equal(a1[0], b1[0])
    assert not np.array_equal(a1[0], a2[0])  # a new epoch, new crops


def test_augmentation_keeps_image_and_mask_aligned(tmp_path):
    # The image encodes its own label (grey level = 60 * label): after scaling, cropping and
    # flipping, image and mask must still agree (up to bilinear blur at block edges).
    labels = block_mask(64, 64, 4, block=16)
    root = tmp_path
    write_image(root / "images" / "a.png", np.repeat((labels * 60)[..., None], 3, -1))
    write_image(root / "masks" / "a.png", labels)
    ds = make_dataset(
        root, num_classes=4, crop_size=48, batch_size=1, training=True, seed=1, jitter=False
    )
    for images, masks in ds.repeat(8):
        image, mask = images.numpy()[0, ..., 0], masks.numpy()[0]
        valid = mask != 255
        agree = np.abs(image[valid] - 60.0 * mask[valid]) < 1
        assert agree.mean() > 0.85
        if (~valid).any():  # padding: the mean pixel (blurred only at its edge)
            assert np.median(image[~valid]) == pytest.approx(123.675)
        assert set(np.unique(mask)) <= {0, 1, 2, 3, 255}  # nearest: no new values


def test_cache_gives_the_same_data(tmp_path):
    root = make_folder_dataset(tmp_path, n=2, size=(8, 8))
    plain = [m.numpy() for _, m in make_dataset(root, num_classes=4, batch_size=1)]
    cached = make_dataset(root, num_classes=4, batch_size=1, cache=True)
    for _ in range(2):
        assert all(np.array_equal(a, m.numpy()) for a, (_, m) in zip(plain, cached, strict=True))


def test_list_of_pairs_source(tmp_path):
    root = make_folder_dataset(tmp_path, n=2, size=(8, 8))
    pairs = [(root / "images" / "001.png", root / "masks" / "001.png")]
    images, _ = _first(make_dataset(pairs, num_classes=4, batch_size=1))
    assert np.array_equal(images[0], random_image(8, 8, 1))


def test_bad_arguments(tmp_path):
    root = make_folder_dataset(tmp_path, n=1)
    with pytest.raises(ValueError, match="task must be"):
        make_dataset(root, num_classes=4, task="instance")
    with pytest.raises(ValueError, match="crop_size"):
        make_dataset(root, num_classes=4, crop_size=(1, 2, 3))


def test_label_map_entries_apply_to_raw_values(tmp_path):
    root = make_folder_dataset(tmp_path, n=1, size=(1, 3))
    write_image(root / "masks" / "000.png", np.array([[0, 1, 2]], np.uint8))
    _, masks = _first(make_dataset(root, num_classes=3, batch_size=1, label_map={0: 1, 1: 0}))
    assert masks[0].tolist() == [[1, 0, 2]]


def test_in_memory_training_labels_are_not_mapped_twice():
    # ArrayPairs (synthetic data, NumPy-decoded sources) already hold training labels: the
    # colour palette and label_map apply to files only (a one-channel label mask used to
    # fail at trace time in the palette lookup; a swapping label_map would undo itself).
    from segtf.data.arrays import ArrayPairs
    from segtf.data.pipeline import training_stream

    images = [random_image(16, 16, seed=i) for i in range(2)]
    masks = [np.full((16, 16), 1, np.uint8) for _ in range(2)]
    stream = training_stream(
        [ArrayPairs("in memory", images, masks)],
        num_classes=3, task="semantic", crop_size=(16, 16), batch_size=2, seed=0,
        palette=[(0, 0, 0), (200, 0, 0), (0, 200, 0)], label_map={0: 1, 1: 0}, cache=False,
    )
    _, labels = next(iter(stream))
    values = set(np.unique(labels.numpy()).tolist())
    assert 1 in values and values <= {1, 255}  # 255: padding where augmentation shrank


def test_palette_lookup_is_skipped_for_masks_known_to_have_one_channel():
    # A TFDS feature or in-memory tensor whose shape says one channel is a label mask: the
    # colour branch must not be traced on it (slicing channels 1 and 2 fails in a graph).
    import tensorflow as tf

    from segtf.data.decode import to_semantic_labels

    palette = [(0, 0, 0), (200, 0, 0)]
    grey = tf.function(lambda m: to_semantic_labels(m, palette=palette))
    mask = tf.constant([[0, 1], [1, 7]], tf.int32)[..., None]
    assert grey(mask).numpy()[..., 0].tolist() == [[0, 1], [1, 7]]
    colour = tf.constant(np.array(palette + [(9, 9, 9), (200, 0, 0)], np.int32).reshape(2, 2, 3))
    assert grey(colour).numpy()[..., 0].tolist() == [[0, 1], [255, 1]]
