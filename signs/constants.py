"""Where the project's files are, and what a SIGNS photo is: facts that several modules need, each written once."""

from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
DATASETS_DIR = PROJECT_DIR / "datasets"
OUTPUTS_DIR = PROJECT_DIR / "outputs"
REFERENCE_DIR = OUTPUTS_DIR / "references"
MANIFEST_PATH = DATASETS_DIR / "signs_manifest.json"
TRAIN_FILE_NAME = "train_signs.h5"
TEST_FILE_NAME = "test_signs.h5"
# The model for learners' own photos (`make model`), and the notebook's own shorter run.
MODEL_PATH = OUTPUTS_DIR / "resnet50_signs.keras"
NOTEBOOK_MODEL_PATH = OUTPUTS_DIR / "resnet50_signs_notebook.keras"

# SIGNS: photos of a hand showing 0 to 5 fingers; the label is the number of fingers.
CLASS_LABELS = (0, 1, 2, 3, 4, 5)
CLASS_COUNT = len(CLASS_LABELS)
IMAGE_SIZE = 64
IMAGE_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 3)

# Where the photos come from: one pinned commit of the upstream repository, recorded in every SIGNS file we build.
DATASET_NAME = "Sign Language Digits Dataset"
DATASET_AUTHORS = "Arda Mavi, Zeynep Dikle"
DATASET_LICENSE = "Apache-2.0"
DATASET_CITATION = (
    "Mavi, A. (2020). A New Dataset and Proposed Convolutional Neural "
    "Network Architecture for Classification of American Sign Language "
    "Digits. arXiv:2011.08927"
)
UPSTREAM_URL = "https://github.com/ardamavi/Sign-Language-Digits-Dataset"
UPSTREAM_COMMIT = "4b09433ef9d5c60602e8805bb54b8aa2428527f8"


def display_path(path):
    """`path` as a notebook shows it.

    Args:
        path: str or `Path`.

    Returns:
        `Path` relative to the project folder when inside it (so that no output carries the machine's folders),
        else the absolute path.
    """
    path = Path(path).resolve()
    return path.relative_to(PROJECT_DIR) if path.is_relative_to(PROJECT_DIR) else path


def missing_signs_files(folder=DATASETS_DIR):
    """The SIGNS files that `folder` lacks.

    Args:
        folder: folder that should hold `train_signs.h5` and `test_signs.h5`.

    Returns:
        list of the missing file names; empty when both are there.
    """
    return [name for name in (TRAIN_FILE_NAME, TEST_FILE_NAME) if not (Path(folder) / name).is_file()]
