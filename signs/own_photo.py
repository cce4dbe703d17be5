"""A learner's own photo: read it as a SIGNS photo and predict its sign."""

from pathlib import Path

import numpy as np
from PIL import Image

from signs.build import photo_to_array
from signs.data import scale_images
from signs.evaluation import predict_probabilities


class PhotoError(Exception):
    """A photo cannot be read; the message says why and what to do."""


def load_photo(path):
    """Reads a photo and makes it a SIGNS photo.

    Exactly as the training photos were made (`signs.build.photo_to_array`: upright, RGB, 64x64).

    Args:
        path: path of a JPEG or PNG file of any size; RGBA and greyscale
            work too (alpha is dropped, grey is repeated in R, G and B). A
            photo that is not square is squashed to a square, so crop it
            first.

    Returns:
        uint8 array of shape (64, 64, 3).

    Raises:
        PhotoError: the file is missing or is not a readable image.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PhotoError(
            f"There is no file at {path} (the folder the notebook runs in is "
            f"{Path.cwd()}). Check the path and the file name."
        ) from None
    except OSError as error:
        raise PhotoError(f"{path} cannot be read: {error.strerror}.") from None
    try:
        return photo_to_array(data)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise PhotoError(
            f"{path} is not an image that can be opened ({error}). Save the "
            "photo as JPEG or PNG and try again."
        ) from None


def predict_image(model, path):
    """Class probabilities for one photo file.

    Args:
        model: a trained Keras model, (m, 64, 64, 3) to (m, classes).
        path: path of a JPEG or PNG file (see `load_photo`).

    Returns:
        float array of shape (classes,), summing to 1.

    Raises:
        PhotoError: the file is missing or is not a readable image.
    """
    photo = scale_images(load_photo(path))[np.newaxis]
    return predict_probabilities(model, photo)[0]
