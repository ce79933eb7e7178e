"""Image helpers shared by the sources: scaling pixels to [0, 1] and resizing to a square."""

import tensorflow as tf

__all__ = ["unit_image", "binary_image", "resize_square", "resize_to"]


def unit_image(image):
    """Return uint8 pixels 0..255 as float32 in [0, 1]."""
    return tf.cast(image, tf.float32) / 255.0


def binary_image(image):
    """Return 0/1 pixels as float32 0.0/1.0."""
    # Stored as 0/1 uint8; "> 0" also keeps any other encoding (or mock data) binary.
    return tf.cast(image > 0, tf.float32)


def resize_square(image, size):
    """Centre-crop ``[..., H, W, C]`` to a square and resize it to ``size x size``.

    The resize is bilinear with antialiasing (a triangle filter), clipped back to [0, 1].
    """
    shape = tf.shape(image)
    height, width = shape[-3], shape[-2]
    side = tf.minimum(height, width)
    top = (height - side) // 2
    left = (width - side) // 2
    image = image[..., top:top + side, left:left + side, :]
    image = tf.image.resize(image, (size, size), method="bilinear", antialias=True)
    # The triangle filter has non-negative weights, but rounding can still step past [0, 1].
    return tf.clip_by_value(image, 0.0, 1.0)


def resize_to(image, size, native_hw):
    """Return ``image`` (of height and width ``native_hw``) as ``size x size``.

    It is returned unchanged when it already has that size, else centre-cropped and resized
    with :func:`resize_square`.
    """
    if tuple(native_hw) == (size, size):
        return image
    return resize_square(image, size)
