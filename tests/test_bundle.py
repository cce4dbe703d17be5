"""The learner's bundle (`make bundle`): everything the student notebook imports or reads, nothing instructor-side."""
import ast
import zipfile

import nbformat
import pytest

from signs.constants import PROJECT_DIR, REFERENCE_DIR
from tools import bundle
from tools.release import STUDENT_NOTEBOOK


def _module_path(name):
    """The repository file of module `name` (`signs.data` -> `signs/data.py`), relative, or None."""
    path = f"{name.replace('.', '/')}.py"
    return path if (PROJECT_DIR / path).is_file() else None


def _local_imports(source):
    """Names of this repository's modules (package modules dotted) that `source` imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if _module_path(name)}


def _notebook_code():
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    # IPython magics (%matplotlib) are not Python; the rest of each cell is.
    return "\n".join("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith("%"))
                     for cell in notebook.cells if cell.cell_type == "code")


@pytest.fixture(scope="module")
def names(tmp_path_factory):
    path = tmp_path_factory.mktemp("bundle") / bundle.BUNDLE_NAME
    bundle.write_bundle(path)
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_bundle_holds_every_module_the_notebook_imports_and_theirs(names):
    needed, pending = set(), _local_imports(_notebook_code())
    while pending:
        module = pending.pop()
        needed.add(module)
        pending |= _local_imports((PROJECT_DIR / _module_path(module)).read_text()) - needed
    assert {"resnets_utils", "public_tests", "test_utils", "signs.depth_experiments", "signs.build",
            "learner_environment"} <= needed
    assert {_module_path(module) for module in needed} | {"signs/__init__.py"} <= set(names)


def test_bundle_holds_the_data_the_learner_side_reads(names):
    assert "ResNet50.ipynb" in names and "requirements-learner.txt" in names
    references = {path.relative_to(PROJECT_DIR).as_posix() for path in REFERENCE_DIR.iterdir()}
    assert references <= set(names)
    assert {"datasets/README.md", "datasets/signs_manifest.json"} <= set(names)
    linked = {path.relative_to(PROJECT_DIR).as_posix() for path in (PROJECT_DIR / "images").glob("*.png")}
    assert linked and linked <= set(names)


def test_bundle_holds_nothing_instructor_side_nor_built(names):
    assert not [name for name in names if name.split("/")[0] in ("instructor", "tests", "tools", ".venv", ".compat")]
    assert not [name for name in names if name.endswith((".h5", ".keras", ".zip", ".jpg", ".JPG"))]
    assert "BEGIN SOLUTION" not in (PROJECT_DIR / "ResNet50.ipynb").read_text()


def test_same_files_give_the_same_bytes(tmp_path):
    bundle.write_bundle(tmp_path / "a.zip")
    bundle.write_bundle(tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_missing_learner_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="ResNet50.ipynb not found: the bundle needs it"):
        bundle.write_bundle(tmp_path / "out.zip", root=tmp_path)


def test_setup_cell_comes_first_is_locked_and_knows_the_bundle_name():
    setup = nbformat.read(STUDENT_NOTEBOOK, as_version=4).cells[0]
    assert {"grade": False, "grade_id": "setup", "locked": True, "solution": False}.items() <= \
        setup.metadata["nbgrader"].items()
    assert f'BUNDLE = "{bundle.BUNDLE_NAME}"' in setup.source
