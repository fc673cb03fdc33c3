"""The joint augmentation recipe, defined once: both executors (`augment.py` in the tf.data
graph, `augment_numpy.py` for the NumPy pipeline) read these numbers.

Per training pair: random scale s ~ U(scale_range) (optionally stretched to an aspect ratio
a, log-uniform in aspect_range: width scaled by s * sqrt(a), height by s / sqrt(a)), a random
crop (padding the image with the mean pixel and the mask with the pad value where the scaled
image is smaller),
horizontal flip with probability 1/2, then photometric jitter of the image only.
Masks are only ever resized with nearest neighbour.
"""

# Mean RGB pixel of ImageNet: padding with it puts padded pixels near 0 after any backbone's
# normalisation (segtf.models.layers.Preprocess).
MEAN_PIXEL = (123.675, 116.28, 103.53)
SCALE_RANGE = (0.5, 2.0)
# No stretch by default. Models that squash every photo to a square (working_aspect square)
# see photos stretched by up to their aspect ratio; training with e.g. (0.75, 1.333) shows them.
ASPECT_RANGE = (1.0, 1.0)
FLIP_PROBABILITY = 0.5
BRIGHTNESS_DELTA = 32.0  # added to 0..255 pixels, uniform in [-delta, delta]
CONTRAST_RANGE = 0.3  # factor uniform in [1 - r, 1 + r], around the image mean
SATURATION_RANGE = 0.3  # factor uniform in [1 - r, 1 + r], around the grey value
