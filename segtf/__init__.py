"""segtf: image segmentation on Keras 3 / TensorFlow 2.

    >>> import segtf
    >>> result = segtf.segment("street.jpg")          # doctest: +SKIP
    >>> result.labels.shape, result.class_names[:3]   # doctest: +SKIP

`import segtf` is light (numpy and Pillow): TensorFlow loads on the first model use.
Nothing is downloaded and no global state is set at import.
"""

__version__ = "0.1.0"

from segtf.imageio import InvalidImageError, read_image  # noqa: E402

# `segtf.segment` the module is imported here once, then the name is re-bound to the
# function: later `import segtf.segment` statements find the module in sys.modules and no
# longer overwrite the attribute, so `segtf.segment(image)` always calls the function.
from segtf.segment import SegmentationResult, Segmenter, load_model, segment  # noqa: E402

__all__ = [
    "InvalidImageError",
    "SegmentationResult",
    "Segmenter",
    "__version__",
    "load_model",
    "read_image",
    "segment",
]
