"""Loading SIGNS and preparing it for a network.

`load_dataset` returns the photos and labels as the classic course does (uint8 photos, labels of shape (1, m));
`prepare_examples` turns them into what the network trains on: float32 photos in [0, 1] and one-hot targets.
"""

from pathlib import Path

import numpy as np

from signs.build import BUILD_HINT, ensure_signs, split_validation
from signs.constants import CLASS_COUNT, DATASETS_DIR, IMAGE_SIZE, TEST_FILE_NAME, TRAIN_FILE_NAME, missing_signs_files
from signs.h5_files import SignsDataError, read_photo_names, read_split_file


def load_dataset(folder=None, build_if_missing=True):
    """Loads the SIGNS photos.

    Reads `train_signs.h5` and `test_signs.h5` from `folder`: the files
    built by `signs.build`, or the classic SIGNS files (same keys). When
    they are missing from the project's `datasets/` folder they are built
    first (a download, or `$SIGNS_ARCHIVE`).

    Args:
        folder: folder holding the two files; defaults to the project's
            `datasets/`.
        build_if_missing: bool, whether to build missing files (only in the
            project's `datasets/` folder).

    Returns:
        `(X_train, Y_train, X_test, Y_test, classes)`: X arrays are uint8 of
        shape (m, 64, 64, 3), Y arrays are integer labels of shape (1, m),
        `classes` is the 1-D array of class labels (0 to 5).

    Raises:
        SignsDataError: the files are missing and cannot be built, or they
            are damaged or not SIGNS files.
    """
    folder = DATASETS_DIR if folder is None else Path(folder)
    train_path, test_path = folder / TRAIN_FILE_NAME, folder / TEST_FILE_NAME
    missing = missing_signs_files(folder)
    if missing and build_if_missing and folder.resolve() == DATASETS_DIR.resolve():
        ensure_signs(folder)
    elif missing:
        raise SignsDataError(
            f"The SIGNS file(s) {missing} are missing from {folder}. "
            f"{BUILD_HINT} To build into another folder, call "
            "signs.build.build_signs(archive_path, folder)."
        )

    X_train, y_train, _ = read_split_file(train_path, "train", with_classes=False)
    X_test, y_test, classes = read_split_file(test_path, "test", with_classes=True)
    for path, labels in ((train_path, y_train), (test_path, y_test)):
        unknown = np.setdiff1d(labels, classes)
        if unknown.size:
            raise SignsDataError(
                f"{path} has labels {unknown.tolist()} that are not in "
                f"list_classes {classes.tolist()}; the file is not a SIGNS "
                "file. Delete it and run `make data`."
            )
    return X_train, y_train.reshape(1, -1), X_test, y_test.reshape(1, -1), classes


def validation_split(folder=None):
    """Rows of the training file to fit on and rows to validate on.

    The validation rows are whole participants (`signs.build.split_validation`),
    so choices tuned on them (augmentation, epochs) never look at the test
    set, which stays held out.

    Args:
        folder: folder holding `train_signs.h5`; defaults to the project's
            `datasets/`.

    Returns:
        `(fit_rows, validation_rows)`: sorted int arrays of row indices.

    Raises:
        SignsDataError: the file does not name its photos (`train_set_files`,
            which the classic SIGNS files lack).
    """
    path = (DATASETS_DIR if folder is None else Path(folder)) / TRAIN_FILE_NAME
    return split_validation(read_photo_names(path, "train"))


def convert_to_one_hot(Y, C):
    """Turns integer labels into one-hot columns.

    Args:
        Y: integer labels of shape (1, m) (any shape with m entries works).
        C: int, number of classes.

    Returns:
        float array of shape (C, m): column i is 1 in row `Y[0, i]` and 0
        elsewhere. Transpose it to get the (m, C) targets Keras expects.
    """
    labels = np.asarray(Y).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"Labels must be integers, got dtype {labels.dtype}.")
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(
            f"Labels must lie in 0..{C - 1} for C={C}, got values from "
            f"{labels.min()} to {labels.max()}."
        )
    one_hot = np.zeros((C, labels.size))
    one_hot[labels, np.arange(labels.size)] = 1.0
    return one_hot


def scale_images(X):
    """Scales uint8 photos to what the network reads.

    Args:
        X: uint8 array of shape (m, 64, 64, 3) (any shape works).

    Returns:
        float32 array of the same shape, values in [0, 1] (X / 255).
    """
    return np.asarray(X, dtype=np.float32) / 255.0


def prepare_examples(X, Y, count=None):
    """The first `count` examples as the network takes them: scaled photos and one-hot targets.

    The notebook and `make bench` both prepare SIGNS with this function.

    Args:
        X: uint8 array (m, 64, 64, 3), from `load_dataset`.
        Y: integer labels of shape (1, m), from `load_dataset`.
        count: int, or None for every example.

    Returns:
        `(X, Y)`: float32 array (count, 64, 64, 3) in [0, 1] and one-hot float array (count, 6).
    """
    return scale_images(X[:count]), convert_to_one_hot(Y[:, :count], CLASS_COUNT).T


def signs_batch(count=None, image_size=16, split="train", seed=0):
    """Draw a random batch of SIGNS images, downscaled and scaled to [0, 1].

    Args:
        count: number of images, at most the size of the split; None takes the whole split, shuffled.
        image_size: side of the returned images; must divide 64 (64, 32, 16, 8, ...).
        split: "train" or "test".
        seed: chooses which images are drawn.

    Returns:
        (images, labels): float32 array (count, image_size, image_size, 3) and int array (count,) of digits 0-5.
    """
    if IMAGE_SIZE % image_size:
        raise ValueError(f"image_size must divide {IMAGE_SIZE} (for example 32 or 16), got {image_size}.")
    if split not in ("train", "test"):
        raise ValueError(f'split must be "train" or "test", got {split!r}.')
    x_train, y_train, x_test, y_test, _ = load_dataset()
    images, labels = (x_train, y_train) if split == "train" else (x_test, y_test)
    labels = np.ravel(labels).astype(np.int64)
    count = len(images) if count is None else count
    if count > len(images):
        raise ValueError(f"The {split} split has {len(images)} images; asked for {count}.")
    chosen = np.random.default_rng(seed).choice(len(images), size=count, replace=False)
    return downscale(images[chosen], image_size), labels[chosen]


def downscale(images, image_size):
    """Average non-overlapping pixel blocks: (n, H, W, 3) uint8 in [0, 255] -> (n, size, size, 3) float32 in [0, 1]."""
    count, height, width, channels = images.shape
    factor = height // image_size
    blocks = images.reshape(count, image_size, factor, width // factor, factor, channels)
    return (blocks.mean(axis=(2, 4)) / 255.0).astype(np.float32)
