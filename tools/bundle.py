"""Pack what a learner needs into one zip (`make bundle`): `outputs/resnet50-assignment.zip`.

An instructor uploads the zip to an LMS, a JupyterHub or a web address that the notebook's setup cell knows
(`BUNDLE_URL` in its first cell). It holds the student notebook, the modules the notebook imports, the stored
references of the public checks, the recipe of the SIGNS data (never the built `.h5` files) and the images, all at
the top level, so that unpacking it beside the notebook recreates the learner's side of this repository. Nothing of
`instructor/`, `tests/` or `tools/` is inside. The zip's entries have a fixed date, so the same files always give
the same bytes.
"""
import zipfile

from signs.constants import OUTPUTS_DIR, PROJECT_DIR

BUNDLE_NAME = "resnet50-assignment.zip"
BUNDLE_PATH = OUTPUTS_DIR / BUNDLE_NAME
# The learner's files, as paths or glob patterns relative to the repository root.
LEARNER_FILES = (
    "ResNet50.ipynb",
    "resnets_utils.py",
    "public_tests.py",
    "checking.py",
    "test_utils.py",
    "learner_environment.py",
    "signs/*.py",
    "requirements-learner.txt",
    "outputs/references/*",
    "datasets/README.md",
    "datasets/signs_manifest.json",
    "images/*.png",
)
FIXED_DATE = (2020, 1, 1, 0, 0, 0)


def learner_paths(root=PROJECT_DIR):
    """The learner's files under `root`, relative and sorted.

    Raises:
        FileNotFoundError: a listed file or pattern matches nothing.
    """
    paths = []
    for pattern in LEARNER_FILES:
        matches = sorted(path for path in root.glob(pattern) if path.is_file())
        if not matches:
            raise FileNotFoundError(f"{root / pattern} not found: the bundle needs it")
        paths += [path.relative_to(root).as_posix() for path in matches]
    return paths


def write_bundle(path=BUNDLE_PATH, root=PROJECT_DIR):
    """Write the zip of the learner's files to `path` and return the names it holds."""
    names = learner_paths(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name in names:
            entry = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            bundle.writestr(entry, (root / name).read_bytes())
    return names


def main():
    names = write_bundle()
    size = BUNDLE_PATH.stat().st_size
    print(f"wrote {BUNDLE_PATH.relative_to(PROJECT_DIR)}: {len(names)} files, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
