"""`segtf data convert` and TFRecord sources: the round trip is lossless."""

import numpy as np
import tensorflow as tf
from data_factory import block_mask, make_folder_dataset
from PIL import Image

from segtf.cli import main
from segtf.data import find_pairs, make_dataset
from segtf.data.tfrecords import parse_example, tfrecord_dataset


def _all(ds):
    return [(i.numpy(), m.numpy()) for i, m in ds]


def test_convert_round_trip_is_lossless(tmp_path):
    src = make_folder_dataset(tmp_path / "src", n=3, size=(12, 16), image_ext=".jpg")
    out = tmp_path / "records"
    assert (
        main(
            [
                "data",
                "convert",
                str(src),
                "--out",
                str(out),
                "--num-classes",
                "4",
                "--shard-size",
                "2",
            ]
        )
        == 0
    )
    assert len(list(out.glob("*.tfrecord"))) == 2
    records = [parse_example(r) for r in tfrecord_dataset(out)]
    pairs = find_pairs(src)
    for record, (image, mask) in zip(records, pairs, strict=True):
        assert record["image/encoded"].numpy() == open(image, "rb").read()  # bytes as found
        assert record["mask/encoded"].numpy() == open(mask, "rb").read()
        assert (record["image/height"], record["image/width"]) == (12, 16)
    assert find_pairs(out) == pairs  # the manifest keeps the original names
    from_files = _all(make_dataset(src, num_classes=4, batch_size=1))
    from_records = _all(make_dataset(out, num_classes=4, batch_size=1))
    for (i1, m1), (i2, m2) in zip(from_files, from_records, strict=True):
        assert np.array_equal(i1, i2) and np.array_equal(m1, m2)


def test_palette_masks_are_stored_as_indices(tmp_path):
    src = make_folder_dataset(tmp_path / "src", n=1, size=(8, 8))
    labels = block_mask(8, 8, 4, block=4)
    mask = Image.fromarray(labels, mode="L").convert("P")
    mask.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [9] * 756)
    mask.save(src / "masks" / "000.png")
    main(["data", "convert", str(src), "--out", str(tmp_path / "out"), "--num-classes", "4"])
    record = parse_example(next(iter(tfrecord_dataset(tmp_path / "out"))))
    assert np.array_equal(tf.io.decode_png(record["mask/encoded"])[..., 0].numpy(), labels)


def test_training_reads_shuffled_records(tmp_path):
    src = make_folder_dataset(tmp_path / "src", n=4, size=(12, 12))
    main(["data", "convert", str(src), "--out", str(tmp_path / "out"), "--num-classes", "4"])
    ds = make_dataset(
        tmp_path / "out", num_classes=4, crop_size=8, batch_size=2, training=True, seed=0
    )
    shapes = [(i.shape, m.shape) for i, m in ds]
    assert shapes == [((2, 8, 8, 3), (2, 8, 8))] * 2


def test_convert_refuses_to_overwrite(tmp_path, capsys):
    src = make_folder_dataset(tmp_path / "src", n=1)
    out = str(tmp_path / "out")
    main(["data", "convert", str(src), "--out", out])
    capsys.readouterr()
    assert main(["data", "convert", str(src), "--out", out]) == 2
    assert "choose an empty --out" in capsys.readouterr().err


def test_a_damaged_shard_is_named_before_any_training_step(tmp_path, capsys):
    import pytest

    from segtf.data import DataError

    src = make_folder_dataset(tmp_path / "src", n=4, size=(12, 16))
    out = tmp_path / "records"
    convert = ["data", "convert", str(src), "--out", str(out), "--num-classes", "4"]
    assert main([*convert, "--shard-size", "2"]) == 0
    assert main(["data", "check", str(out)]) == 0
    assert "4 record(s) in 2 shard(s), all readable" in capsys.readouterr().out
    shard = sorted(out.glob("*.tfrecord"))[1]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])  # truncated, as by a full disk or a cut copy

    with pytest.raises(DataError, match=shard.name):
        make_dataset(out, num_classes=4, batch_size=1)
    assert main(["data", "check", str(out)]) == 2
    err = capsys.readouterr().err
    assert shard.name in err and "damaged shard" in err and "segtf data convert" in err
    assert "Traceback" not in err
