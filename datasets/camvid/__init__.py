"""CamVid (SegNet split) TFDS builder: `tfds build datasets/camvid --manual_dir SRC`."""
