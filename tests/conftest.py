"""Fixtures shared by the project's test suite.

- `signs_archive`: path of the Sign Language Digits Dataset zip.
- `signs_h5_dir`: the project's `datasets/` folder, with `train_signs.h5` and
  `test_signs.h5` built there once if they are missing.
"""

import os

import pytest

from signs import build
from signs.constants import DATASETS_DIR, PROJECT_DIR, missing_signs_files

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
    if not os.environ.get(build.ARCHIVE_ENV_VAR) and SHARED_ARCHIVE.is_file():
        return SHARED_ARCHIVE
    return build.locate_archive()


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
    if missing_signs_files(DATASETS_DIR):
        build.build_signs(signs_archive, DATASETS_DIR)
    return DATASETS_DIR
