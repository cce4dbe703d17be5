"""Fixtures shared by the project's test suite.

- `signs_archive`: path of the Sign Language Digits Dataset zip.
- `signs_h5_dir`: the project's `datasets/` folder, with `train_signs.h5` and
  `test_signs.h5` built there once if they are missing.
"""

import os
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The project's modules live at the top level; make them importable however
# pytest is started.
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

import signs_data  # noqa: E402

SHARED_ARCHIVE = (
    PROJECT_DIR.parent / "shared" / "data" / "Sign-Language-Digits-Dataset-master.zip"
)


def find_signs_archive():
    """The upstream zip for tests.

    Returns:
        `Path`: `$SIGNS_ARCHIVE` when set, else `../shared/data/...zip` beside
        the project when it exists, else the cached download of the pinned
        archive (downloaded if needed).
    """
    if not os.environ.get(signs_data.ARCHIVE_ENV_VAR) and SHARED_ARCHIVE.is_file():
        return SHARED_ARCHIVE
    return signs_data.locate_archive()


@pytest.fixture(scope="session")
def signs_archive():
    """Path of the upstream zip (see `find_signs_archive`)."""
    return find_signs_archive()


@pytest.fixture(scope="session")
def signs_h5_dir(signs_archive):
    """The project's `datasets/` folder, holding both SIGNS files.

    Builds them from `signs_archive` when either is missing; files already
    there are used as they are.
    """
    train_path = signs_data.DATASETS_DIR / signs_data.TRAIN_FILE_NAME
    test_path = signs_data.DATASETS_DIR / signs_data.TEST_FILE_NAME
    if not (train_path.is_file() and test_path.is_file()):
        signs_data.build_signs(signs_archive, signs_data.DATASETS_DIR)
    return signs_data.DATASETS_DIR
