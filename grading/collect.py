"""Collect submissions as instructors receive them: a folder, an nbgrader course, or an LMS download (zip).

`collect(path, names_csv)` returns the submissions as {student id: notebook bytes} and the entries it could not use,
each with the reason. Archives are read in memory, entry by entry, with size limits; nothing is extracted to disk, so
a hostile archive (paths with `..`, a zip bomb) can neither write a file nor fill the disk.

LMS downloads name each file after the learner; the patterns below are those of Canvas, Moodle and Blackboard
downloads (as nbgrader's zip_collect handles them). The LMS name becomes the student id, unless `names_csv` (columns
`lms_name,student_id`) maps it to another.
"""
import csv
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from grading.submission import MAX_NOTEBOOK_BYTES

ASSIGNMENT = "ResNet50"
MAX_ARCHIVE_ENTRIES = 20_000
MAX_ARCHIVE_BYTES = 4 * 1024 ** 3  # uncompressed notebooks read from one archive, in all
# (LMS, pattern of an entry's path); `name` is the learner, `order` (optional) sorts several attempts.
LMS_PATTERNS = (
    ("Canvas", re.compile(r"^(?P<name>[^/_]+)(_late)?_(?P<order>\d+)_\d+_[^/]*\.ipynb$")),
    ("Moodle", re.compile(r"^(?P<name>[^/]+?)_(?P<order>\d+)_assignsubmission_file_/[^/]*\.ipynb$")),
    ("Blackboard", re.compile(r"^[^/]*?_(?P<name>[^/_]+)_attempt_(?P<order>[\d-]+)(_[^/]*)?\.ipynb$")),
    ("plain", re.compile(r"^(?P<name>[^/]+)\.ipynb$")),
)


@dataclass
class Collection:
    """What was collected.

    Attributes:
        submissions: {student id: notebook bytes}.
        unusable: [(entry, reason)] for each entry that cannot be graded.
        source: what was read, e.g. "archive moodle.zip".
    """

    submissions: dict = field(default_factory=dict)
    unusable: list = field(default_factory=list)
    source: str = ""


def read_names(path):
    """{LMS name: student id} from a CSV file with the columns lms_name and student_id."""
    with open(path, newline="", encoding="utf-8-sig") as file:
        reader = csv.DictReader(file)
        if not {"lms_name", "student_id"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path} needs the columns lms_name and student_id; it has {reader.fieldnames}")
        return {row["lms_name"].strip(): row["student_id"].strip() for row in reader}


def collect(path, names_csv=None):
    """Read the submissions at `path`: a .zip from an LMS, an nbgrader course folder, or a folder of notebooks."""
    path = Path(path)
    names = read_names(names_csv) if names_csv else None
    if path.is_file() and zipfile.is_zipfile(path):
        return _from_archive(path, names)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is neither a folder nor a zip archive")
    submitted = path / "submitted" if (path / "submitted").is_dir() else path
    if any(submitted.glob(f"*/{ASSIGNMENT}/*.ipynb")):
        return _from_nbgrader(submitted)
    collection = Collection(source=f"folder {path}")
    for notebook in sorted(path.glob("*.ipynb")):
        _add(collection, notebook.name, notebook.stem, notebook.read_bytes(), names)
    return collection


def _from_nbgrader(submitted):
    """nbgrader's layout: submitted/<student>/ResNet50/<notebook>.ipynb."""
    collection = Collection(source=f"nbgrader course {submitted}")
    for folder in sorted(path for path in submitted.iterdir() if path.is_dir()):
        notebooks = sorted((folder / ASSIGNMENT).glob("*.ipynb"))
        if len(notebooks) != 1:
            collection.unusable.append((folder.name, f"{len(notebooks)} notebooks in {folder.name}/{ASSIGNMENT}/, "
                                                     "expected 1"))
            continue
        _add(collection, str(notebooks[0].relative_to(submitted)), folder.name, notebooks[0].read_bytes(), None)
    return collection


def _from_archive(path, names):
    collection = Collection(source=f"archive {path.name}")
    attempts = {}
    with zipfile.ZipFile(path) as archive:
        entries = [entry for entry in archive.infolist() if not entry.is_dir()]
        if len(entries) > MAX_ARCHIVE_ENTRIES:
            raise ValueError(f"{path.name} holds {len(entries)} files; at most {MAX_ARCHIVE_ENTRIES} are read")
        budget = MAX_ARCHIVE_BYTES
        for entry in entries:
            name = PurePosixPath(entry.filename).as_posix()
            if not name.endswith(".ipynb") or "/__MACOSX/" in f"/{name}" or PurePosixPath(name).name.startswith("."):
                collection.unusable.append((name, "not a notebook"))
                continue
            match = _match(name)
            if match is None:
                collection.unusable.append((name, "the file name matches no known LMS pattern"))
                continue
            if entry.file_size > MAX_NOTEBOOK_BYTES or entry.file_size > budget:
                collection.unusable.append((name, "file too large"))
                continue
            budget -= entry.file_size
            with archive.open(entry) as file:
                data = file.read(MAX_NOTEBOOK_BYTES + 1)
            attempts.setdefault(match["name"], []).append((match.get("order") or "", name, data))
    for lms_name, found in sorted(attempts.items()):
        found.sort()
        for _, name, _ in found[:-1]:
            collection.unusable.append((name, f"an earlier attempt of {lms_name}: the latest is graded"))
        _, name, data = found[-1]
        _add(collection, name, lms_name, data, names)
    return collection


def _match(name):
    """{"name", "order"} of an archive entry's path, by the first LMS pattern it fits, or None."""
    for _, pattern in LMS_PATTERNS:
        match = pattern.match(name)
        if match:
            return {"name": match["name"], "order": match.groupdict().get("order")}
    return None


def _add(collection, entry, lms_name, data, names):
    if names is not None:
        if lms_name not in names:
            collection.unusable.append((entry, f"{lms_name!r} is not in the names file"))
            return
        lms_name = names[lms_name]
    if lms_name in collection.submissions:
        collection.unusable.append((entry, f"a second submission of {lms_name}"))
        return
    collection.submissions[lms_name] = data
