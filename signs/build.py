"""Build the SIGNS files from the Sign Language Digits Dataset.

The assignment trains on SIGNS: 64x64 RGB photos of a hand showing 0 to 5
fingers, stored as `datasets/train_signs.h5` and `datasets/test_signs.h5`.
This module makes those two files from the photos of the Sign Language
Digits Dataset (Arda Mavi and Zeynep Dikle, Apache-2.0), pinned to one
upstream commit:

1. Find the upstream zip: the file named by `SIGNS_ARCHIVE`, else a cached
   download of the pinned archive (`keras.utils.get_file`).
2. Check every photo of `Dataset/0` to `Dataset/5` against
   `datasets/signs_manifest.json` (sha256 per photo); the file names of
   `Dataset/6` to `Dataset/9` are checked too, because they help to locate
   the participants.
3. Group the photos by participant and split the groups into train and test
   (deterministic, stratified, no participant in both splits).
4. Resize each photo to 64x64 RGB and write both files atomically.

Command line (what `make data` runs):

    python -m signs.build                 # build datasets/*.h5 unless present
    python -m signs.build --force         # rebuild even if present
    SIGNS_ARCHIVE=path/to.zip python -m signs.build   # use a local zip
    python -m signs.build --write-manifest --archive path/to.zip
                                          # maintainers: record a new commit

The files' schema, and reading them, are in `signs.h5_files`.
"""

import argparse
import hashlib
import io
import json
import os
import re
import sys
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from PIL import Image, ImageOps

from signs.constants import (
    CLASS_LABELS,
    DATASET_LICENSE,
    DATASET_NAME,
    DATASETS_DIR,
    IMAGE_SIZE,
    MANIFEST_PATH,
    PROJECT_DIR,
    TEST_FILE_NAME,
    TRAIN_FILE_NAME,
    UPSTREAM_COMMIT,
    UPSTREAM_URL,
    display_path,
    missing_signs_files,
)
from signs.h5_files import SignsDataError, write_split_file

ARCHIVE_URL = f"{UPSTREAM_URL}/archive/{UPSTREAM_COMMIT}.zip"
ARCHIVE_CACHE_NAME = f"Sign-Language-Digits-Dataset-{UPSTREAM_COMMIT[:12]}.zip"
ARCHIVE_ENV_VAR = "SIGNS_ARCHIVE"

TEST_PHOTOS_PER_CLASS = 20
# Photos per class of the validation split carved out of the training file.
VALIDATION_PHOTOS_PER_CLASS = 30
# Changing the salt gives another (equally valid) split; keep it fixed.
SPLIT_SALT = "signs-split-v1"

BUILD_HINT = (
    "Build the files with `make data` (or `.venv/bin/python -m signs.build`). "
    f"Without internet, point {ARCHIVE_ENV_VAR} at a local copy of the "
    f"upstream zip, e.g. `{ARCHIVE_ENV_VAR}=/path/to/"
    "Sign-Language-Digits-Dataset-master.zip make data`."
)

_DATASET_DIR_NAME = "Dataset"
_PHOTO_NAME = re.compile(r"Dataset/(\d)/IMG_(\d+)\.JPG")


def progress_verbosity():
    """`keras.utils.Progbar` verbosity: a bar redrawn in place in a terminal, else one line when done.

    A saved notebook or a log file would keep every redrawn state of a bar.
    """
    return 1 if sys.stdout.isatty() else 2


@dataclass(frozen=True)
class Photo:
    """One photo of the upstream `Dataset/` folder.

    Attributes:
        path: path inside the archive below its top folder,
            e.g. `"Dataset/3/IMG_1234.JPG"`.
        digit: the digit the hand shows (the folder name), 0 to 9.
        number: the file number (1234 above); one participant's photos
            carry consecutive numbers.
    """

    path: str
    digit: int
    number: int


def parse_photo_path(path):
    """Turns an archive path like `"Dataset/3/IMG_1234.JPG"` into a `Photo`.

    Args:
        path: str, path below the archive's top folder.

    Returns:
        `Photo`, or None when the name is not an upstream photo name.
    """
    match = _PHOTO_NAME.fullmatch(path)
    if match is None:
        return None
    return Photo(path=path, digit=int(match[1]), number=int(match[2]))


# ---------------------------------------------------------------------------
# Finding and reading the archive
# ---------------------------------------------------------------------------


def locate_archive():
    """Finds the upstream zip: `$SIGNS_ARCHIVE`, else a cached download.

    A relative `SIGNS_ARCHIVE` is looked up from the current folder first,
    then from the project folder (CI sets it relative to the project).

    Returns:
        `Path` of an existing zip file.

    Raises:
        SignsDataError: `SIGNS_ARCHIVE` names a missing file, or the
            download failed.
    """
    named = os.environ.get(ARCHIVE_ENV_VAR)
    if named:
        candidates = [Path(named)]
        if not Path(named).is_absolute():
            candidates.append(PROJECT_DIR / named)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise SignsDataError(
            f"{ARCHIVE_ENV_VAR} is set to {named!r}, but no such file exists "
            f"(looked in {', '.join(str(c) for c in candidates)}). Point it "
            "at the Sign Language Digits Dataset zip, or unset it to download "
            f"the pinned archive from {ARCHIVE_URL}."
        )
    try:
        downloaded = keras.utils.get_file(
            fname=ARCHIVE_CACHE_NAME, origin=ARCHIVE_URL, cache_subdir="datasets"
        )
    except Exception as error:
        raise SignsDataError(
            f"Could not download the Sign Language Digits Dataset from "
            f"{ARCHIVE_URL} ({error}). Without internet, copy that zip to "
            f"this machine and set {ARCHIVE_ENV_VAR} to its path, e.g. "
            f"`{ARCHIVE_ENV_VAR}=/path/to/"
            "Sign-Language-Digits-Dataset-master.zip make data`."
        ) from None
    return Path(downloaded)


def _path_below_top_folder(name):
    """Returns the part of a zip entry name that starts at `Dataset/`.

    GitHub names the zip's top folder after the ref, so the top folder is
    skipped whatever it is called; a zip without a top folder works too.

    Args:
        name: str, a zip entry name.

    Returns:
        str, or None when the entry is not below a `Dataset/` folder at the
        top or one level down.
    """
    parts = name.split("/")
    for depth in (0, 1):
        if len(parts) > depth + 1 and parts[depth] == _DATASET_DIR_NAME:
            return "/".join(parts[depth:])
    return None


def read_dataset_files(archive_path):
    """Reads every file below the archive's `Dataset/` folder into memory.

    Args:
        archive_path: path of the upstream zip.

    Returns:
        dict mapping paths like `"Dataset/3/IMG_1234.JPG"` to file bytes.

    Raises:
        SignsDataError: the file is missing, is not a readable zip, has a
            damaged entry, or holds no `Dataset/` folder.
    """
    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise SignsDataError(f"The archive {archive_path} does not exist.")
    try:
        archive = zipfile.ZipFile(archive_path)
    except (zipfile.BadZipFile, OSError) as error:
        raise SignsDataError(
            f"The archive {archive_path} is damaged or incomplete and cannot "
            f"be opened as a zip ({error}). If it was downloaded, delete it "
            "and run the build again to fetch a fresh copy."
        ) from None
    files = {}
    with archive:
        for entry in archive.infolist():
            path = _path_below_top_folder(entry.filename)
            if path is None or entry.is_dir():
                continue
            if path in files:
                raise SignsDataError(
                    f"The archive {archive_path} holds {path} twice; it is "
                    "not an upstream archive of the dataset."
                )
            try:
                files[path] = archive.read(entry)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
                raise SignsDataError(
                    f"The archive {archive_path} is damaged: {path} cannot be "
                    f"read ({error}). Fetch a fresh copy of the archive."
                ) from None
    if not files:
        raise SignsDataError(
            f"The archive {archive_path} does not contain the {DATASET_NAME}: "
            f"it has no {_DATASET_DIR_NAME}/<digit>/ folders. Use the zip of "
            f"{UPSTREAM_URL} at commit {UPSTREAM_COMMIT}."
        )
    return files


# ---------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------


def sha256_hex(data):
    """Returns the sha256 of `data` (bytes) as 64 hex characters."""
    return hashlib.sha256(data).hexdigest()


def list_digest(file_hashes):
    r"""One sha256 for a whole list of photos.

    Args:
        file_hashes: dict mapping photo paths to their sha256 hex strings.

    Returns:
        sha256 hex of the lines `"<sha256>  <path>\\n"` in path order (the
        format of `sha256sum`).
    """
    lines = "".join(f"{file_hashes[p]}  {p}\n" for p in sorted(file_hashes))
    return sha256_hex(lines.encode("utf-8"))


def make_manifest(dataset_files):
    """Describes the photos of a trusted archive.

    Args:
        dataset_files: dict from `read_dataset_files`.

    Returns:
        dict, the content of `datasets/signs_manifest.json`.

    Raises:
        SignsDataError: a file below `Dataset/` has an unexpected name.
    """
    photos = []
    for path in sorted(dataset_files):
        photo = parse_photo_path(path)
        if photo is None:
            raise SignsDataError(f"Unexpected file {path} in the archive.")
        photos.append(photo)
    used = {
        p.path: sha256_hex(dataset_files[p.path])
        for p in photos
        if p.digit in CLASS_LABELS
    }
    return {
        "dataset": DATASET_NAME,
        "license": DATASET_LICENSE,
        "upstream": UPSTREAM_URL,
        "commit": UPSTREAM_COMMIT,
        "about": (
            "files: sha256 of every photo the build uses (digits 0-5). "
            "digest: sha256 of the lines '<sha256>  <path>\\n' of files in "
            "path order. grouping_files: photos of digits 6-9; only their "
            "names are used, to locate each participant's block of numbers."
        ),
        "digest": list_digest(used),
        "files": used,
        "grouping_files": [p.path for p in photos if p.digit not in CLASS_LABELS],
    }


def load_manifest(manifest_path=MANIFEST_PATH):
    """Reads the manifest and checks that it is consistent with itself.

    Args:
        manifest_path: path of `signs_manifest.json`.

    Returns:
        dict with keys including `files`, `grouping_files`, `digest`.

    Raises:
        SignsDataError: the manifest is missing, unreadable or edited.
    """
    try:
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SignsDataError(
            f"The manifest {manifest_path} is missing or unreadable ({error}). "
            "Restore it from the project's repository."
        ) from None
    missing_keys = {"files", "digest", "grouping_files"} - set(manifest)
    if missing_keys:
        raise SignsDataError(
            f"The manifest {manifest_path} lacks {sorted(missing_keys)}. "
            "Restore it from the project's repository."
        )
    if list_digest(manifest["files"]) != manifest["digest"]:
        raise SignsDataError(
            f"The manifest {manifest_path} is inconsistent: its digest does not "
            "match its list of photos, so it was edited by hand. Restore it "
            "from the project's repository."
        )
    return manifest


def _format_problems(kind, paths, limit=5):
    """Returns e.g. `"modified: a, b and 3 more"` for an error message."""
    shown = ", ".join(paths[:limit])
    if len(paths) > limit:
        shown += f" and {len(paths) - limit} more"
    return f"{kind}: {shown}"


def verify_dataset_files(dataset_files, manifest, archive_path):
    """Checks the archive's photos against the manifest.

    Args:
        dataset_files: dict from `read_dataset_files`.
        manifest: dict from `load_manifest`.
        archive_path: path of the archive, for the message.

    Returns:
        list of `Photo`, every photo of digits 0-9 in path order.

    Raises:
        SignsDataError: naming each modified, missing or unexpected file.
    """
    expected_hashes = manifest["files"]
    expected_paths = set(expected_hashes) | set(manifest["grouping_files"])
    modified = sorted(
        path
        for path, expected in expected_hashes.items()
        if path in dataset_files and sha256_hex(dataset_files[path]) != expected
    )
    missing = sorted(expected_paths - set(dataset_files))
    unexpected = sorted(set(dataset_files) - expected_paths)
    problems = [
        _format_problems(kind, paths)
        for kind, paths in (
            ("modified", modified),
            ("missing", missing),
            ("unexpected (not in the manifest)", unexpected),
        )
        if paths
    ]
    if problems:
        raise SignsDataError(
            f"The archive {archive_path} does not match the manifest "
            f"{MANIFEST_PATH.name} of commit {UPSTREAM_COMMIT[:12]} "
            f"({'; '.join(problems)}). The build stops so that the training "
            "data is never silently different. Use the zip of "
            f"{UPSTREAM_URL} at that commit ({ARCHIVE_URL})."
        )
    return [parse_photo_path(path) for path in sorted(expected_paths)]


# ---------------------------------------------------------------------------
# Participants and split
# ---------------------------------------------------------------------------


def group_participants(photos):
    """Groups photos so that no participant's photos fall in two groups.

    Each participant took the digits 0 to 9 in order under consecutive file
    numbers, so a new participant surely starts where a 9 is followed by a 0
    with the very next number. Everywhere else (a gap in the numbers, digits
    out of order, a repeated digit) the photos on both sides may be one
    person's, so they stay together: a group is one participant or a few
    neighbouring ones, never part of one.

    Args:
        photos: list of `Photo` of all ten digits (digits 6-9 help to find
            the boundaries).

    Returns:
        list of groups, each a list of `Photo` in file-number order; groups
        are in file-number order too.
    """
    ordered = sorted(photos, key=lambda p: p.number)
    groups = []
    for previous, photo in zip([None] + ordered[:-1], ordered):
        starts_participant = previous is None or (
            previous.digit == 9
            and photo.digit == 0
            and photo.number == previous.number + 1
        )
        if starts_participant:
            groups.append([])
        groups[-1].append(photo)
    return groups


def _stable_rank(text):
    """A fixed pseudo-random sort key: the same on every machine and version."""
    return hashlib.sha256(f"{SPLIT_SALT}:{text}".encode("utf-8")).hexdigest()


def _fixed_shuffle(photos):
    """Returns `photos` in a fixed pseudo-random order.

    A shuffled row order keeps every slice of a file (e.g. a validation split
    taken from its end) a mix of all classes.
    """
    return sorted(photos, key=lambda p: _stable_rank(p.path))


def split_train_test(groups, test_per_class=TEST_PHOTOS_PER_CLASS):
    """Chooses whole participant groups for the test split.

    Groups are visited in a fixed pseudo-random order; a group joins the
    test split when that keeps every class at or under `test_per_class`
    test photos. The rest, and photos of digits 6-9, are not in test.

    Args:
        groups: list of groups from `group_participants`.
        test_per_class: int, test photos wanted per class.

    Returns:
        `(train_photos, test_photos)`, two lists of `Photo` of digits 0-5,
        each in a fixed shuffled order.
    """
    test_counts = Counter()
    train_photos, test_photos = [], []
    for group in sorted(groups, key=lambda g: _stable_rank(g[0].number)):
        used = [p for p in group if p.digit in CLASS_LABELS]
        counts = Counter(p.digit for p in used)
        fits = all(test_counts[c] + n <= test_per_class for c, n in counts.items())
        if used and fits:
            test_counts.update(counts)
            test_photos.extend(used)
        else:
            train_photos.extend(used)
    return _fixed_shuffle(train_photos), _fixed_shuffle(test_photos)


def split_validation(train_paths, per_class=VALIDATION_PHOTOS_PER_CLASS,
                     manifest_path=MANIFEST_PATH):
    """Chooses whole participant groups of the training file for validation.

    Tuning (augmentation, epochs) needs photos of people the model has not
    trained on that are not the test set. The groups are those of
    `group_participants` over every photo of the manifest, restricted to the
    training photos, and chosen as `split_train_test` chooses test groups, so
    no participant is in both parts.

    Args:
        train_paths: list of str, the `train_set_files` of the training file
            (one archive path per row).
        per_class: int, validation photos wanted per class.
        manifest_path: path of `signs_manifest.json`.

    Returns:
        `(fit_rows, validation_rows)`: two sorted int arrays of row indices
        into the training file, together covering every row once.

    Raises:
        SignsDataError: a path is not in the manifest.
    """
    manifest = load_manifest(manifest_path)
    all_paths = set(manifest["files"]) | set(manifest["grouping_files"])
    unknown = [path for path in train_paths if path not in all_paths]
    if unknown:
        raise SignsDataError(
            f"{len(unknown)} training photo(s), e.g. {unknown[0]!r}, are not in "
            f"{Path(manifest_path).name}; rebuild the data with `make data`."
        )
    row_of = {path: row for row, path in enumerate(train_paths)}
    photos = [parse_photo_path(path) for path in sorted(all_paths)]
    groups = [[p for p in group if p.path in row_of] for group in group_participants(photos)]
    _, validation = split_train_test([group for group in groups if group], per_class)
    validation_rows = np.sort([row_of[p.path] for p in validation])
    fit_rows = np.setdiff1d(np.arange(len(train_paths)), validation_rows)
    return fit_rows, validation_rows


# ---------------------------------------------------------------------------
# Conversion and writing
# ---------------------------------------------------------------------------


def photo_to_array(jpeg_bytes):
    """Decodes one photo and resizes it to the SIGNS format.

    Args:
        jpeg_bytes: bytes of a JPEG file.

    Returns:
        uint8 array of shape (64, 64, 3).
    """
    with Image.open(io.BytesIO(jpeg_bytes)) as image:
        # A few upstream photos are stored sideways with an EXIF rotation.
        upright = ImageOps.exif_transpose(image).convert("RGB")
        small = upright.resize(
            (IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.LANCZOS
        )
    return np.asarray(small, dtype=np.uint8)


def convert_photos(photos, dataset_files, progbar):
    """Converts photos to the arrays of one split.

    Args:
        photos: list of `Photo` of digits 0-5.
        dataset_files: dict from `read_dataset_files`.
        progbar: `keras.utils.Progbar` advanced by one per photo.

    Returns:
        `(x, y)`: uint8 array (m, 64, 64, 3) and int64 array (m,).
    """
    x = np.empty((len(photos), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for row, photo in enumerate(photos):
        x[row] = photo_to_array(dataset_files[photo.path])
        progbar.add(1)
    y = np.array([p.digit for p in photos], dtype=np.int64)
    return x, y


def _temporary_path(final_path):
    """A name beside `final_path` for writing it before the rename."""
    return final_path.with_name(f"{final_path.name}.tmp-{os.getpid()}")


def build_signs(archive_path, out_dir=DATASETS_DIR, manifest_path=MANIFEST_PATH):
    """Builds `train_signs.h5` and `test_signs.h5` from the upstream zip.

    Nothing is written until every photo has matched the manifest and been
    converted; both files are written under temporary names and renamed into
    place, so a failed or interrupted build leaves no half-written file and
    keeps any previous files.

    Args:
        archive_path: path of the upstream zip.
        out_dir: folder for the two files (created if needed).
        manifest_path: path of `signs_manifest.json`.

    Returns:
        `(train_path, test_path)`, `Path`s of the written files.

    Raises:
        SignsDataError: the archive is unusable or does not match the
            manifest; the message names the file.
    """
    manifest = load_manifest(manifest_path)
    dataset_files = read_dataset_files(archive_path)
    photos = verify_dataset_files(dataset_files, manifest, archive_path)
    groups = group_participants(photos)
    train_photos, test_photos = split_train_test(groups)

    print(
        f"Converting {len(train_photos)} train and {len(test_photos)} test "
        f"photos from {len(groups)} participant groups to "
        f"{IMAGE_SIZE}x{IMAGE_SIZE}."
    )
    progbar = keras.utils.Progbar(len(train_photos) + len(test_photos), verbose=progress_verbosity())
    arrays = {
        "train": convert_photos(train_photos, dataset_files, progbar),
        "test": convert_photos(test_photos, dataset_files, progbar),
    }
    rows = {"train": train_photos, "test": test_photos}

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final_paths = {
        "train": out_dir / TRAIN_FILE_NAME,
        "test": out_dir / TEST_FILE_NAME,
    }
    temporary_paths = {}
    try:
        for split, final_path in final_paths.items():
            temporary_paths[split] = _temporary_path(final_path)
            x, y = arrays[split]
            write_split_file(
                temporary_paths[split], split, x, y, rows[split],
                manifest["digest"],
            )
        for split, final_path in final_paths.items():
            os.replace(temporary_paths.pop(split), final_path)
    finally:
        for leftover in temporary_paths.values():
            leftover.unlink(missing_ok=True)
    return final_paths["train"], final_paths["test"]


def ensure_signs(out_dir=DATASETS_DIR):
    """Builds the SIGNS files in `out_dir` unless both already exist.

    Existing files are kept as they are, so the classic SIGNS files work
    when a user puts them there.

    Args:
        out_dir: folder of `train_signs.h5` and `test_signs.h5`.

    Returns:
        `(train_path, test_path)`.

    Raises:
        SignsDataError: the files are missing and cannot be built.
    """
    out_dir = Path(out_dir)
    if not missing_signs_files(out_dir):
        return out_dir / TRAIN_FILE_NAME, out_dir / TEST_FILE_NAME
    print(f"SIGNS files not found in {display_path(out_dir)}; building them.")
    return build_signs(locate_archive(), out_dir)


def write_manifest(archive_path, manifest_path=MANIFEST_PATH):
    """Records the photos of a trusted archive in the manifest.

    Run this only when moving to a new upstream commit (and update
    `UPSTREAM_COMMIT`); the build refuses anything else.

    Args:
        archive_path: path of the trusted upstream zip.
        manifest_path: where to write the manifest.
    """
    manifest = make_manifest(read_dataset_files(archive_path))
    Path(manifest_path).write_text(
        json.dumps(manifest, indent=1) + "\n", encoding="utf-8"
    )
    print(
        f"Wrote {manifest_path}: {len(manifest['files'])} photos, "
        f"digest {manifest['digest']}."
    )


def main(argv=None):
    """Command line: builds the SIGNS files; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--archive",
        type=Path,
        help=f"upstream zip (default: ${ARCHIVE_ENV_VAR}, else download)",
    )
    parser.add_argument(
        "--out", type=Path, default=DATASETS_DIR, help="output folder"
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even if the files exist"
    )
    parser.add_argument(
        "--write-manifest",
        action="store_true",
        help="record the archive's photos in the manifest instead of building",
    )
    args = parser.parse_args(argv)
    try:
        if args.write_manifest:
            write_manifest(args.archive or locate_archive())
            return 0
        if args.force or args.archive:
            paths = build_signs(args.archive or locate_archive(), args.out)
        elif not missing_signs_files(args.out):
            print(
                f"The SIGNS files are already in {args.out}; nothing to do "
                "(--force rebuilds them)."
            )
            return 0
        else:
            paths = ensure_signs(args.out)
    except SignsDataError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"SIGNS file ready: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
