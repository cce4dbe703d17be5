"""A fixed, repeatable imitation of photos taken with another camera.

Every SIGNS photo comes from one setting: the same kind of phone, a plain light
wall, the hand large and near the centre (see `photo_statistics` and
BENCHMARKS.md for what was measured). A learner's photo differs in several ways
at once, so `camera_shift` changes each photo by a compound of realistic
shifts, each drawn per photo from a fixed random generator:

1. the framing: the hand is smaller (zoom out to `SCALE` of the side) and off
   centre (anywhere the smaller photo fits), tilted by up to `TILT_DEGREES`;
   the uncovered border continues the photo's edge pixels, as a wall would;
2. lens vignetting: the corners darker by `VIGNETTE` (a share of the light);
3. warmer white balance: red gained by `RED_GAIN`, blue by `BLUE_GAIN`;
4. exposure: every channel gained by `EXPOSURE`;
5. a softer focus: a Gaussian blur of `BLUR_SIGMA` pixels (at 64x64);
6. JPEG compression at `JPEG_QUALITY`.

The same seed gives the same photos on every run, so accuracies on them can be
compared between models.
"""

import io

import numpy as np
from PIL import Image, ImageFilter

# Ranges (low, high) of the uniform draws, per photo.
SCALE = (0.65, 0.85)
TILT_DEGREES = (-15.0, 15.0)
VIGNETTE = (0.1, 0.35)
RED_GAIN = (1.05, 1.2)
BLUE_GAIN = (0.75, 0.92)
EXPOSURE = (0.8, 1.15)
BLUR_SIGMA = (0.2, 0.7)
JPEG_QUALITY = (30, 70)


def _reframe(photo, scale, tilt, offset):
    """Shrinks a uint8 photo, tilts it and places it off centre.

    The frame has the photo's size; its border repeats the photo's edge pixels.
    """
    size = photo.shape[0]
    small_size = max(1, round(size * scale))
    image = Image.fromarray(photo).rotate(float(tilt), resample=Image.Resampling.BILINEAR)
    # Rotation uncovers the corners; fill them from the unrotated photo's edge.
    mask = Image.new("L", (size, size), 255).rotate(float(tilt), resample=Image.Resampling.BILINEAR)
    image = Image.composite(image, Image.fromarray(photo), mask)
    small = np.asarray(image.resize((small_size, small_size), Image.Resampling.BILINEAR))
    room = size - small_size
    top, left = round(offset[0] * room), round(offset[1] * room)
    return np.pad(small, ((top, room - top), (left, room - left), (0, 0)), mode="edge")


def _vignette(size, strength):
    """Multiplier (size, size, 1): 1 at the centre, 1 - strength in the corners."""
    axis = np.linspace(-1.0, 1.0, size)
    radius_squared = (axis[:, None] ** 2 + axis[None, :] ** 2) / 2.0
    return (1.0 - strength * radius_squared)[:, :, None]


def _jpeg(photo, quality):
    """A uint8 photo after a JPEG round trip at `quality`."""
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(buffer).convert("RGB"))


def shift_parameters(count, seed=0):
    """The per-photo draws of `camera_shift`.

    Args:
        count: int, number of photos.
        seed: int, seed of the draws.

    Returns:
        dict name -> float array (count,) (`offset` is (count, 2), the
        position of the smaller photo in the frame: 0 top/left, 1
        bottom/right).
    """
    rng = np.random.default_rng(seed)

    def draw(bounds, shape=(count,)):
        return rng.uniform(bounds[0], bounds[1], shape)

    return {
        "scale": draw(SCALE),
        "tilt": draw(TILT_DEGREES),
        "offset": draw((0.0, 1.0), (count, 2)),
        "vignette": draw(VIGNETTE),
        "red_gain": draw(RED_GAIN),
        "blue_gain": draw(BLUE_GAIN),
        "exposure": draw(EXPOSURE),
        "blur_sigma": draw(BLUR_SIGMA),
        "jpeg_quality": np.round(draw(JPEG_QUALITY)),
    }


def camera_shift(X, seed=0):
    """Photos as another camera, in another light, might have taken them.

    Args:
        X: float array (m, size, size, 3) in [0, 1] (e.g. from
            `resnets_utils.scale_images`).
        seed: int, seed of the per-photo draws (`shift_parameters`).

    Returns:
        float32 array of the same shape, values in [0, 1].

    Raises:
        ValueError: `X` is not a batch of square RGB images in [0, 1].
    """
    X = np.asarray(X)
    if X.ndim != 4 or X.shape[3] != 3 or X.shape[1] != X.shape[2]:
        raise ValueError(f"camera_shift expects square RGB images (m, size, size, 3), got shape {X.shape}.")
    if X.size and (X.min() < 0.0 or X.max() > 1.0):
        raise ValueError(f"camera_shift expects values in [0, 1], got {X.min():.3g} to {X.max():.3g}; "
                         "scale uint8 photos with resnets_utils.scale_images first.")
    draws = shift_parameters(len(X), seed)
    changed = np.empty(X.shape, np.float32)
    for index, photo in enumerate(X):
        framed = _reframe(np.round(photo * 255).astype(np.uint8), draws["scale"][index],
                          draws["tilt"][index], draws["offset"][index])
        gains = np.array([draws["red_gain"][index], 1.0, draws["blue_gain"][index]]) * draws["exposure"][index]
        lit = framed / 255.0 * _vignette(X.shape[1], draws["vignette"][index]) * gains
        lit = np.round(np.clip(lit, 0.0, 1.0) * 255).astype(np.uint8)
        blurred = Image.fromarray(lit).filter(ImageFilter.GaussianBlur(float(draws["blur_sigma"][index])))
        changed[index] = _jpeg(np.asarray(blurred), draws["jpeg_quality"][index]) / 255.0
    return changed
