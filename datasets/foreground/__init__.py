"""Binary foreground TFDS builder for im/ + gt/ layouts (DIS5K, DUTS, HRSOD, COD10K, P3M)."""
