"""The student notebook on its own: its setup cell unpacks the bundle beside it and the first exercise then works.

Each test copies the released `ResNet50.ipynb` alone into an empty folder and executes its first cells in a fresh
kernel started in that folder, with no path to this repository and without the TF_CPP_MIN_LOG_LEVEL that the
Makefile exports, as on Colab or a JupyterHub. The executed cells stop after the identity_block check; the section 1
experiments above it run with the autograder's tiny budget (NBGRADER_EXECUTION), which keeps the test short. The
outputs must be clean: no TensorFlow log lines, no path of this machine, no progress redrawn line by line.
"""
import os
import re
import shutil
import sys
import zipfile

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from instructor.reference import graded_cells
from tools.bundle import BUNDLE_NAME, write_bundle
from tools.release import STUDENT_NOTEBOOK

SETUP_CELL_ID = "setup"
# TensorFlow's C++ log lines (I0000 ... port.cc), absl's notice, and its Python logger (WARNING:tensorflow:...).
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|oneDNN|cuda|cuInit|tensorflow/"
                         r"|^(WARNING|INFO|ERROR):(tensorflow|absl)", re.IGNORECASE | re.M)


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _notebook_through(grade_id, solutions=(), bundle_url=""):
    """The student notebook cut after the cell `grade_id`, with the reference solution of each name in `solutions`
    and `bundle_url` as the setup cell's BUNDLE_URL."""
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    setup = notebook.cells[0]
    setup.source, count = re.subn(r'^BUNDLE_URL = ".*?"', f'BUNDLE_URL = "{bundle_url}"', setup.source, flags=re.M)
    assert count == 1, "the setup cell has no BUNDLE_URL line"
    reference = graded_cells()
    for cell in notebook.cells:
        if _grade_id(cell) in solutions:
            cell.source = reference[_grade_id(cell)]
    last = next(index for index, cell in enumerate(notebook.cells) if _grade_id(cell) == grade_id)
    notebook.cells = notebook.cells[:last + 1]
    return notebook


def _kernel_environment(**overrides):
    """This process's environment without anything that points the kernel at the repository or quiets TensorFlow."""
    environment = {name: value for name, value in os.environ.items()
                   if name not in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL", "NBGRADER_EXECUTION")}
    return dict(environment, **overrides)


def _execute(notebook, folder, **environment):
    """Run `notebook` in a fresh kernel whose working folder is `folder`; save it there as ResNet50.ipynb."""
    path = folder / "ResNet50.ipynb"
    nbformat.write(notebook, path)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute(env=_kernel_environment(**environment), cwd=str(folder))
    finally:
        nbformat.write(notebook, folder / "executed.ipynb")
    return notebook


def _texts(cell):
    """(stream name or output type, text) of every output of `cell`."""
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            yield output.name, output.text
        elif output.output_type == "error":
            yield "error", "\n".join(output.traceback)
        else:
            yield output.output_type, output.get("data", {}).get("text/plain", "")


def machine_paths(*folders):
    """Absolute paths that must never appear in a learner's outputs."""
    return {str(path) for path in (*folders, sys.prefix, os.path.expanduser("~")) if str(path) not in ("", "/")}


def output_problems(notebook, forbidden_paths):
    """Every unclean output of `notebook`: stderr text, TensorFlow log lines, paths of this machine, redrawn lines."""
    problems = []
    for index, cell in enumerate(notebook.cells):
        for kind, text in _texts(cell):
            where = f"cell {index} ({cell.source.splitlines()[0][:40]!r}), {kind}"
            if kind == "stderr":
                problems.append(f"{where}: writes to stderr: {text[:200]!r}")
            if TF_LOG_LINE.search(text):
                problems.append(f"{where}: TensorFlow log line: {TF_LOG_LINE.search(text)[0]!r}")
            problems += [f"{where}: shows the path {path}" for path in forbidden_paths if path in text]
            if "\r" in text or "\b" in text:
                problems.append(f"{where}: progress redrawn with \\r or \\b, saved as one line per update")
    return problems


def _files_besides_notebook(bundle):
    """How many files of the bundle the setup cell unpacks: all but the notebook, which is already there."""
    with zipfile.ZipFile(bundle) as archive:
        return len(archive.namelist()) - 1


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    path = tmp_path_factory.mktemp("course_page") / BUNDLE_NAME
    write_bundle(path)
    return path


def test_notebook_alone_with_the_bundle_beside_it_runs_through_the_first_check(bundle, signs_archive, tmp_path):
    shutil.copy(bundle, tmp_path)
    # The section 1 experiments read SIGNS photos, so the kernel builds the data in the folder, as on Colab.
    notebook = _execute(_notebook_through("identity_block_test", solutions=("identity_block",)), tmp_path,
                        NBGRADER_EXECUTION="autograde", SIGNS_ARCHIVE=str(signs_archive))

    setup_lines = "".join(text for _, text in _texts(notebook.cells[0])).splitlines()
    assert setup_lines[0] == f"unpacked {_files_besides_notebook(bundle)} files from {BUNDLE_NAME}"
    assert re.fullmatch(r"TensorFlow \S+, Keras \S+: ready", setup_lines[-1]), setup_lines
    check = next(cell for cell in notebook.cells if _grade_id(cell) == "identity_block_test")
    assert "".join(text for _, text in _texts(check)).startswith("passed")
    # The learner's notebook in the folder was kept, not replaced by the bundle's blank copy.
    assert "### BEGIN SOLUTION" in (tmp_path / "ResNet50.ipynb").read_text()
    assert (tmp_path / "outputs" / "references" / "identity_block.npz").is_file()
    forbidden = machine_paths(tmp_path, bundle.parent, signs_archive.parent, STUDENT_NOTEBOOK.parent)
    assert output_problems(notebook, forbidden) == []


def test_setup_cell_downloads_the_bundle_from_its_url(bundle, tmp_path):
    notebook = _notebook_through(SETUP_CELL_ID, bundle_url=bundle.as_uri())
    setup = notebook.cells[0]
    _execute(notebook, tmp_path)
    lines = "".join(text for _, text in _texts(setup)).splitlines()
    unpacked = _files_besides_notebook(bundle)
    assert lines[:2] == [f"downloaded {BUNDLE_NAME}", f"unpacked {unpacked} files from {BUNDLE_NAME}"]
    assert (tmp_path / "resnets_utils.py").is_file()


def test_setup_cell_without_bundle_or_url_says_what_to_do_in_one_line(tmp_path):
    with pytest.raises(CellExecutionError):
        _execute(_notebook_through(SETUP_CELL_ID), tmp_path)
    error = nbformat.read(tmp_path / "executed.ipynb", as_version=4).cells[0].outputs[-1]
    assert error.traceback == [f"SetupError: The assignment's files are missing: put {BUNDLE_NAME} (from your course "
                               "page) in the folder this notebook runs in, then run this cell again."]


def test_setup_cell_that_cannot_download_says_so_in_one_line(tmp_path):
    address = (tmp_path / "nowhere" / BUNDLE_NAME).as_uri()
    with pytest.raises(CellExecutionError):
        _execute(_notebook_through(SETUP_CELL_ID, bundle_url=address), tmp_path)
    error = nbformat.read(tmp_path / "executed.ipynb", as_version=4).cells[0].outputs[-1]
    assert len(error.traceback) == 1
    assert error.traceback[0].startswith(f"SetupError: Could not download {address} (")
    assert error.traceback[0].endswith("): download it yourself and put it in the folder this notebook runs in.")


def test_setup_cell_stops_legacy_keras_with_one_line(bundle, tmp_path):
    shutil.copy(bundle, tmp_path)
    with pytest.raises(CellExecutionError):
        _execute(_notebook_through(SETUP_CELL_ID), tmp_path, TF_USE_LEGACY_KERAS="1")
    error = nbformat.read(tmp_path / "executed.ipynb", as_version=4).cells[0].outputs[-1]
    assert len(error.traceback) == 1
    assert error.traceback[0].startswith("EnvironmentProblem: TF_USE_LEGACY_KERAS=1 makes TensorFlow use Keras 2")
