"""Random changes to training photos that keep their sign, and the training batches that use them."""

import keras
import numpy as np
import tensorflow as tf

# Largest random changes of the training augmentation; the robustness check
# changes test photos by these amounts.
MAX_ROTATION_DEGREES = 45
MAX_SHIFT = 0.1
MAX_ZOOM = 0.15
MAX_BRIGHTNESS = 0.2
MAX_CONTRAST = 0.2
# The camera augmentation's wider ranges: other cameras frame the hand smaller
# and off centre, and light it warmer or cooler (measured in BENCHMARKS.md).
CAMERA_MAX_SHIFT = 0.15
CAMERA_MAX_ZOOM_OUT = 0.45
CAMERA_MAX_WHITE_BALANCE = 0.2
CAMERA_MAX_BLUR_SIGMA = 0.6


class RandomWhiteBalance(keras.layers.Layer):
    """Random colour temperature: red and blue scaled in opposite directions.

    A camera's white balance scales the channels: warm light (or a warm
    setting) raises red and lowers blue, cool light the reverse. Each image
    gets red x (1 + t) and blue x (1 - t) for t uniform in
    [-factor, factor], then values are clipped to [0, 1].

    Args:
        factor: float, the largest t.
        seed: int or None.
    """

    def __init__(self, factor, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        """Images (batch, height, width, 3) in [0, 1], rebalanced when `training`, else unchanged."""
        if not training:
            return images
        temperature = keras.random.uniform(
            (keras.ops.shape(images)[0], 1, 1, 1), -self.factor, self.factor, seed=self.seed_generator)
        gains = keras.ops.concatenate(
            [1.0 + temperature, keras.ops.ones_like(temperature), 1.0 - temperature], axis=-1)
        return keras.ops.clip(images * keras.ops.cast(gains, images.dtype), 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        """The input's shape: the layer only changes colours."""
        return input_shape

    def get_config(self):
        """The layer's configuration, with `factor` and `seed`."""
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}


def make_augmentation(seed=None, camera=False):
    """Random changes that a photo of a hand may show and that keep its sign.

    Rotation up to `MAX_ROTATION_DEGREES`, shifts up to `MAX_SHIFT` of the
    side, zoom in or out up to `MAX_ZOOM`, brightness and contrast changes
    up to `MAX_BRIGHTNESS` and `MAX_CONTRAST`. Uncovered corners repeat the
    nearest edge pixel, as a real background would continue. (Mirroring is
    separate: see `make_training_dataset`.)

    With `camera=True` the changes also imitate photos from other cameras:
    shifts up to `CAMERA_MAX_SHIFT`, zoom out up to `CAMERA_MAX_ZOOM_OUT`
    (a smaller hand), white balance up to `CAMERA_MAX_WHITE_BALANCE` and a
    Gaussian blur of sigma up to `CAMERA_MAX_BLUR_SIGMA` pixels.

    Args:
        seed: int or None, seed of the random changes.
        camera: bool, whether to add the camera changes.

    Returns:
        `keras.layers.Pipeline` mapping float images (m, 64, 64, 3) in
        [0, 1] to changed images of the same shape (call it with
        `training=True`; it works inside `tf.data`).
    """
    seeds = [None] * 7 if seed is None else [seed + i for i in range(7)]
    shift = CAMERA_MAX_SHIFT if camera else MAX_SHIFT
    zoom = (-MAX_ZOOM, CAMERA_MAX_ZOOM_OUT) if camera else MAX_ZOOM
    layers = [
        keras.layers.RandomRotation(
            MAX_ROTATION_DEGREES / 360, fill_mode="nearest", seed=seeds[0]
        ),
        keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seeds[1]),
        keras.layers.RandomZoom(zoom, fill_mode="nearest", seed=seeds[2]),
        keras.layers.RandomBrightness(
            MAX_BRIGHTNESS, value_range=(0, 1), seed=seeds[3]
        ),
        keras.layers.RandomContrast(
            MAX_CONTRAST, value_range=(0, 1), seed=seeds[4]
        ),
    ]
    if camera:
        layers += [
            RandomWhiteBalance(CAMERA_MAX_WHITE_BALANCE, seed=seeds[5]),
            keras.layers.RandomGaussianBlur(
                1.0, kernel_size=3, sigma=CAMERA_MAX_BLUR_SIGMA, value_range=(0, 1), seed=seeds[6]
            ),
        ]
    return keras.layers.Pipeline(layers, name="augmentation")


def augment_some(images, augmentation, probability, seed=None):
    """Replaces a random share of a batch by augmented copies.

    Args:
        images: float32 tensor (batch, 64, 64, 3).
        augmentation: layer from `make_augmentation`.
        probability: float, chance that each photo is replaced.
        seed: int or None, seed of the choice.

    Returns:
        float32 tensor of the same shape.
    """
    changed = augmentation(images, training=True)
    chosen = tf.random.uniform([tf.shape(images)[0], 1, 1, 1], seed=seed) < probability
    return tf.where(chosen, changed, images)


def make_training_dataset(X, Y, batch_size, mirror=False, augmentation=None,
                          augment_probability=1.0, seed=None):
    """Shuffled (and optionally mirrored and augmented) training batches.

    Args:
        X: float32 array (m, 64, 64, 3), scaled by `scale_images`.
        Y: one-hot array (m, classes).
        batch_size: int.
        mirror: bool, whether to mirror a random half of the photos.
        augmentation: layer from `make_augmentation`, or None.
        augment_probability: float, chance that a photo is augmented each
            time it is used.
        seed: int or None, seed of the shuffle (reshuffled every epoch), the
            mirroring and the choice of photos to augment.

    Returns:
        `tf.data.Dataset` of `(images, targets)` batches.
    """
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.asarray(X, np.float32), np.asarray(Y, np.float32))
    )
    dataset = dataset.shuffle(len(X), seed=seed).batch(batch_size)
    if mirror:
        flip = keras.layers.RandomFlip("horizontal", seed=seed)
        dataset = dataset.map(
            lambda images, targets: (flip(images, training=True), targets),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if augmentation is not None and augment_probability > 0:
        dataset = dataset.map(
            lambda images, targets: (
                augment_some(images, augmentation, augment_probability, seed),
                targets,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)
