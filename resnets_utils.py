"""Helpers that the ResNet50 notebook uses.

The notebook imports what it needs from here so that its cells can stay on
the network itself. Sections:

- Data: load the SIGNS photos, one-hot labels, mini-batches, a sample grid.
"""

from pathlib import Path

import h5py
import numpy as np
from matplotlib.figure import Figure

import signs_data
from signs_data import SignsDataError

# ===========================================================================
# Data
# ===========================================================================

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
SIGNS_IMAGE_SHAPE = (64, 64, 3)


def _read_split(path, split, with_classes):
    """Reads and checks one SIGNS file.

    Args:
        path: `Path` of `train_signs.h5` or `test_signs.h5`.
        split: `"train"` or `"test"`, the prefix of the keys.
        with_classes: bool, whether to read `list_classes` as well.

    Returns:
        `(x, y, classes)`: uint8 array (m, 64, 64, 3), integer array (m,),
        and the 1-D integer array `list_classes` (None unless
        `with_classes`).

    Raises:
        SignsDataError: the file is unreadable or has wrong keys or shapes.
    """
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    needed = [x_key, y_key] + (["list_classes"] if with_classes else [])
    rebuild = (
        "Delete it and run `make data` to rebuild it (or copy the classic "
        "SIGNS file again)."
    )
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise SignsDataError(
            f"{path} is not a readable HDF5 file ({error}); it may be damaged "
            f"or only partly copied. {rebuild}"
        ) from None
    with h5:
        missing = [key for key in needed if key not in h5]
        if missing:
            raise SignsDataError(
                f"{path} lacks the dataset(s) {missing}; a SIGNS file holds "
                f"{needed} (it has {sorted(h5.keys())}). {rebuild}"
            )
        x, y = h5[x_key][()], h5[y_key][()]
        classes = h5["list_classes"][()] if with_classes else None

    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != SIGNS_IMAGE_SHAPE:
        raise SignsDataError(
            f"{path}: {x_key} has shape {x.shape} and dtype {x.dtype}, but "
            f"SIGNS photos are uint8 of shape (m, 64, 64, 3). {rebuild}"
        )
    if not np.issubdtype(y.dtype, np.integer) or y.size != x.shape[0] or (
        y.ndim != 1 and y.shape != (1, x.shape[0])
    ):
        raise SignsDataError(
            f"{path}: {y_key} has shape {y.shape} and dtype {y.dtype}, but it "
            f"should hold one integer label per photo, shape ({x.shape[0]},). "
            f"{rebuild}"
        )
    if with_classes and (
        classes.ndim != 1 or not np.issubdtype(classes.dtype, np.integer)
    ):
        raise SignsDataError(
            f"{path}: list_classes has shape {classes.shape} and dtype "
            f"{classes.dtype}, but it should be a 1-D list of integer class "
            f"labels. {rebuild}"
        )
    return x, y.reshape(-1), classes


def load_dataset(folder=None, build_if_missing=True):
    """Loads the SIGNS photos.

    Reads `train_signs.h5` and `test_signs.h5` from `folder`: the files
    built by `signs_data.py`, or the classic SIGNS files (same keys). When
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
    train_path = folder / signs_data.TRAIN_FILE_NAME
    test_path = folder / signs_data.TEST_FILE_NAME
    missing = [p.name for p in (train_path, test_path) if not p.is_file()]
    if missing and build_if_missing and folder.resolve() == DATASETS_DIR.resolve():
        signs_data.ensure_signs(folder)
    elif missing:
        raise SignsDataError(
            f"The SIGNS file(s) {missing} are missing from {folder}. "
            f"{signs_data.BUILD_HINT} To build into another folder, call "
            "signs_data.build_signs(archive_path, folder)."
        )

    X_train, y_train, _ = _read_split(train_path, "train", with_classes=False)
    X_test, y_test, classes = _read_split(test_path, "test", with_classes=True)
    for path, labels in ((train_path, y_train), (test_path, y_test)):
        unknown = np.setdiff1d(labels, classes)
        if unknown.size:
            raise SignsDataError(
                f"{path} has labels {unknown.tolist()} that are not in "
                f"list_classes {classes.tolist()}; the file is not a SIGNS "
                "file. Delete it and run `make data`."
            )
    return X_train, y_train.reshape(1, -1), X_test, y_test.reshape(1, -1), classes


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


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffles the examples and cuts them into mini-batches.

    The shuffle is `np.random.seed(seed)` then `np.random.permutation(m)`, so
    a seed always gives the same batches.

    Args:
        X: array of shape (m, ...), one example per row.
        Y: array of shape (m, n_y), the matching targets.
        mini_batch_size: int, examples per batch.
        seed: int, seed of the shuffle.

    Returns:
        list of `(X_batch, Y_batch)` tuples covering every example once; all
        batches hold `mini_batch_size` rows except possibly the last, which
        holds the remainder.
    """
    m = X.shape[0]
    if Y.shape[0] != m:
        raise ValueError(
            f"X has {m} examples but Y has {Y.shape[0]}; both need one row "
            "per example."
        )
    np.random.seed(seed)
    order = np.random.permutation(m)
    X_shuffled, Y_shuffled = X[order], Y[order]
    return [
        (X_shuffled[start : start + mini_batch_size],
         Y_shuffled[start : start + mini_batch_size])
        for start in range(0, m, mini_batch_size)
    ]


def plot_sign_samples(X, Y, per_class=4):
    """Draws the first few photos of each class, one row per class.

    Args:
        X: uint8 array of shape (m, 64, 64, 3).
        Y: integer labels of shape (1, m) or (m,).
        per_class: int, photos shown per class.

    Returns:
        `matplotlib.figure.Figure` (shown when it is the last value of a
        notebook cell).
    """
    labels = np.asarray(Y).reshape(-1)
    classes = np.unique(labels)
    figure = Figure(
        figsize=(1.3 * per_class, 1.3 * len(classes) + 0.4), layout="constrained"
    )
    axes = figure.subplots(len(classes), per_class, squeeze=False)
    for row, label in enumerate(classes):
        rows_of_class = np.flatnonzero(labels == label)[:per_class]
        for column, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if column < len(rows_of_class):
                ax.imshow(X[rows_of_class[column]])
            else:
                ax.set_axis_off()
        axes[row][0].set_ylabel(f"y = {label}", rotation=0, ha="right",
                                va="center")
    figure.suptitle("SIGNS samples, one row per class (the digit signed)")
    return figure
