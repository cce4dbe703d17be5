"""The SIGNS `.h5` files: their schema, and writing and reading one file.

A SIGNS file holds one split, `"train"` or `"test"`, under the keys of the classic course's files:
`<split>_set_x` (m, 64, 64, 3) uint8 photos, `<split>_set_y` (m,) integer labels and `list_classes`, the class
labels. The files this project builds (`signs.build`) also hold `<split>_set_files`, the archive path of each row's
source photo, and the provenance attributes.
"""

from pathlib import Path

import h5py
import numpy as np

from signs.constants import (
    CLASS_LABELS,
    DATASET_AUTHORS,
    DATASET_CITATION,
    DATASET_LICENSE,
    DATASET_NAME,
    IMAGE_SHAPE,
    UPSTREAM_COMMIT,
    UPSTREAM_URL,
)

CLASSES_KEY = "list_classes"
REBUILD_HINT = "Delete it and run `make data` to rebuild it (or copy the classic SIGNS file again)."


class SignsDataError(Exception):
    """The SIGNS files cannot be built or read; the message says why and what to do."""


def photos_key(split):
    """Key of the photos of `split` (`"train"` or `"test"`)."""
    return f"{split}_set_x"


def labels_key(split):
    """Key of the labels of `split`."""
    return f"{split}_set_y"


def photo_names_key(split):
    """Key of the source photo names of `split` (only in the files this project builds)."""
    return f"{split}_set_files"


def write_split_file(path, split, x, y, photos, manifest_digest):
    """Writes one SIGNS file.

    Keys: `<split>_set_x` (m, 64, 64, 3) uint8, `<split>_set_y` (m,) int64,
    `list_classes` (6,) int64 as in the classic files, plus
    `<split>_set_files` (m,) str naming each row's source photo and the
    provenance attributes.

    Args:
        path: where to write.
        split: `"train"` or `"test"`.
        x: uint8 array (m, 64, 64, 3), from `signs.build.convert_photos`.
        y: int64 array (m,), the labels.
        photos: list of `signs.build.Photo`, one per row.
        manifest_digest: str, the manifest digest the photos matched.
    """
    with h5py.File(path, "w") as h5:
        h5.create_dataset(photos_key(split), data=x)
        h5.create_dataset(labels_key(split), data=y)
        h5.create_dataset(CLASSES_KEY, data=np.array(CLASS_LABELS, np.int64))
        h5.create_dataset(
            photo_names_key(split),
            data=[p.path for p in photos],
            dtype=h5py.string_dtype(),
        )
        h5.attrs.update(
            {
                "dataset": DATASET_NAME,
                "authors": DATASET_AUTHORS,
                "license": DATASET_LICENSE,
                "citation": DATASET_CITATION,
                "upstream_url": UPSTREAM_URL,
                "upstream_commit": UPSTREAM_COMMIT,
                "manifest_digest": manifest_digest,
                "split": split,
                "image_processing": (
                    "EXIF-upright, RGB, Pillow LANCZOS resize to 64x64, uint8"
                ),
            }
        )


def read_split_file(path, split, with_classes):
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
    x_key, y_key = photos_key(split), labels_key(split)
    needed = [x_key, y_key] + ([CLASSES_KEY] if with_classes else [])
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise SignsDataError(
            f"{path} is not a readable HDF5 file ({error}); it may be damaged "
            f"or only partly copied. {REBUILD_HINT}"
        ) from None
    with h5:
        missing = [key for key in needed if key not in h5]
        if missing:
            raise SignsDataError(
                f"{path} lacks the dataset(s) {missing}; a SIGNS file holds "
                f"{needed} (it has {sorted(h5.keys())}). {REBUILD_HINT}"
            )
        x, y = h5[x_key][()], h5[y_key][()]
        classes = h5[CLASSES_KEY][()] if with_classes else None

    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != IMAGE_SHAPE:
        raise SignsDataError(
            f"{path}: {x_key} has shape {x.shape} and dtype {x.dtype}, but "
            f"SIGNS photos are uint8 of shape (m, 64, 64, 3). {REBUILD_HINT}"
        )
    if not np.issubdtype(y.dtype, np.integer) or y.size != x.shape[0] or (
        y.ndim != 1 and y.shape != (1, x.shape[0])
    ):
        raise SignsDataError(
            f"{path}: {y_key} has shape {y.shape} and dtype {y.dtype}, but it "
            f"should hold one integer label per photo, shape ({x.shape[0]},). "
            f"{REBUILD_HINT}"
        )
    if with_classes and (
        classes.ndim != 1 or not np.issubdtype(classes.dtype, np.integer)
    ):
        raise SignsDataError(
            f"{path}: list_classes has shape {classes.shape} and dtype "
            f"{classes.dtype}, but it should be a 1-D list of integer class "
            f"labels. {REBUILD_HINT}"
        )
    return x, y.reshape(-1), classes


def read_photo_names(path, split):
    """The archive path of each row's source photo.

    Args:
        path: `Path` of a SIGNS file built by this project.
        split: `"train"` or `"test"`.

    Returns:
        list of str, one per row.

    Raises:
        SignsDataError: the file does not name its photos (the classic SIGNS files do not).
    """
    key = photo_names_key(split)
    with h5py.File(Path(path), "r") as h5:
        if key not in h5:
            raise SignsDataError(
                f"{path} does not name its photos (no {key}), so its participants are unknown. "
                "Build the project's own files with `make data`."
            )
        return [name.decode() if isinstance(name, bytes) else name for name in h5[key][()]]
