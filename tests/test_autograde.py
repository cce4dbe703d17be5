"""`tools/autograde.py` grades a fixture class for real: every fault ends as a row with the right points and status.

The whole class is graded once, by one run of the command behind `make autograde` with two workers and a short cell
timeout; the tests then read what it wrote. The last tests check the steps that turn files and graded notebooks into
statuses on notebooks built in the test, without running nbgrader.
"""
import csv
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograde_fixtures import FIXTURE_CLASS, OTHER_ASSIGNMENT, write_class
from tools import autograde
from tools.release import STUDENT_NOTEBOOK

REPO = Path(__file__).resolve().parent.parent
COLUMNS = ["student", "identity_block", "convolutional_block", "ResNet50", "total", "max_total", "status"]
CELL_TIMEOUT = "30"  # seconds: twice the slowest legitimate cell on a busy 2-core machine
RERUN = ["tampered_checks", "blank", "empty", "invalid_json", "other_assignment"]


def run_autograde(submissions, output_dir):
    """Run the autograde command as `make autograde` does; returns its printed output."""
    command = [sys.executable, str(REPO / "tools" / "autograde.py"), str(submissions), "--workers", "2",
               "--timeout", CELL_TIMEOUT, "--output-dir", str(output_dir)]
    finished = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    return finished.stdout


def read_grades(output_dir):
    with open(output_dir / "grades.csv", newline="") as file:
        return list(csv.reader(file))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The fixture class, graded: (submissions folder, output folder, printed output, {student: CSV row})."""
    work = tmp_path_factory.mktemp("autograde")
    submissions, output_dir = work / "submitted", work / "outputs"
    write_class(submissions)
    printed = run_autograde(submissions, output_dir)
    header, *rows = read_grades(output_dir)
    assert header == COLUMNS
    return submissions, output_dir, printed, {row[0]: dict(zip(COLUMNS, row)) for row in rows}


def test_every_submission_has_one_row(graded):
    _, _, _, rows = graded
    assert sorted(rows) == sorted(FIXTURE_CLASS)


@pytest.mark.parametrize("student", sorted(FIXTURE_CLASS))
def test_points_and_status(graded, student):
    _, _, _, rows = graded
    row, expected = rows[student], FIXTURE_CLASS[student]
    points = tuple(int(row[part]) for part in ("identity_block", "convolutional_block", "ResNet50"))
    assert points == expected.points, row
    assert int(row["total"]) == sum(expected.points) and row["max_total"] == "10"
    if student == "kernel_crash":  # the log named in the status depends on which worker got the submission
        assert row["status"].startswith(expected.status + " (see autograde_logs/worker-"), row
    else:
        assert row["status"] == expected.status, row


def test_feedback_for_every_student(graded):
    _, output_dir, _, rows = graded
    feedback = output_dir / "feedback"
    assert sorted(path.stem for path in feedback.glob("*.html")) == sorted(rows)
    correct = (feedback / "correct.html").read_text()
    assert "passed: ResNet50 also matches the reference" in correct
    assert "could not be graded: <b>empty file</b>" in (feedback / "empty.html").read_text()
    tailored = (feedback / "identity_tailored.html").read_text()
    assert "identity_block builds different layers from the reference" in tailored


def test_huge_output_is_cut(graded):
    _, output_dir, _, _ = graded
    feedback = (output_dir / "feedback" / "huge_output.html").read_text()
    assert "... output cut ..." in feedback and "x" * 100_000 not in feedback
    assert len(feedback) < 2 * len((output_dir / "feedback" / "correct.html").read_text())


def test_paths_and_speed_are_printed(graded):
    _, output_dir, printed, _ = graded
    assert f"Grades:   {output_dir / 'grades.csv'}" in printed
    assert f"Feedback: {output_dir / 'feedback'}/<student>.html" in printed
    assert "notebooks per minute" in printed
    assert (output_dir / "autograde_logs" / "worker-1.log").is_file()


def test_grading_again_gives_the_same_rows(graded, tmp_path):
    submissions, output_dir, _, rows = graded
    again = tmp_path / "submitted"
    again.mkdir()
    for student in RERUN:
        shutil.copyfile(submissions / f"{student}.ipynb", again / f"{student}.ipynb")
    run_autograde(again, tmp_path / "outputs")
    header, *second = read_grades(tmp_path / "outputs")
    assert header == COLUMNS
    assert second == [list(rows[student].values()) for student in sorted(RERUN)]


@pytest.fixture(scope="module")
def layout():
    return autograde.read_layout(STUDENT_NOTEBOOK)


def test_layout_lists_the_graded_parts_and_locked_cells(layout):
    assert layout.points == {"identity_block": 3, "convolutional_block": 3, "ResNet50": 4}
    assert {"imports", "identity_block_test", "convolutional_block_test", "ResNet50_test"} <= set(layout.locked)
    assert layout.part_of["identity_block_test"] == layout.part_of["identity_block"] == "identity_block"


@pytest.mark.parametrize("name, content, reason", [
    ("alice.ipynb", None, None),
    ("bob.ipynb", b" \n", "empty file"),
    ("carol.ipynb", b"\xff\xfe\x00binary", "invalid notebook"),
    ("dan.ipynb", b'{"cells": "none", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "invalid notebook"),
    ("erin.ipynb", OTHER_ASSIGNMENT.encode(), "not this assignment"),
    ("frank smith.ipynb", None, "file name is not a valid student id"),
])
def test_triage(layout, tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(STUDENT_NOTEBOOK.read_bytes() if content is None else content)
    assert autograde.triage(path, layout) == reason


def graded_notebook(outputs):
    """The student notebook with outputs put in the cells named by grade_id; "ungraded" names the first code cell
    that nbgrader does not know."""
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    for name, cell_outputs in outputs.items():
        cell = next(cell for cell in notebook.cells if cell.cell_type == "code" and
                    cell.metadata.get("nbgrader", {}).get("grade_id", "ungraded") == name)
        cell.outputs = [nbformat.from_dict(output) for output in cell_outputs]
    return notebook


def error(name):
    return {"output_type": "error", "ename": name, "evalue": "", "traceback": []}


def stream(name, text):
    return {"output_type": "stream", "name": name, "text": text}


@pytest.mark.parametrize("outputs, notes", [
    ({"identity_block_test": [error("_LearnerCodeError")], "ResNet50_test": [error("AssertionError")]}, []),
    ({"identity_block_test": [stream("stdout", "passed"), stream("stderr", "warning")]},
     ["output on stderr in identity_block check"]),
    ({"convolutional_block": [error("SyntaxError")], "convolutional_block_test": [error("NameError")]},
     ["SyntaxError in convolutional_block"]),
    ({"ResNet50_test": [error("KeyboardInterrupt"), error("CellTimeoutError")],
      "ungraded": [error("CellTimeoutError")]}, ["timeout in ResNet50"]),
])
def test_execution_notes(layout, outputs, notes):
    assert autograde.execution_notes(graded_notebook(outputs), layout) == notes


def test_a_timeout_outside_the_graded_cells_names_the_cell(layout):
    notebook = graded_notebook({"ungraded": [error("CellTimeoutError")]})
    number = next(number for number, cell in enumerate(notebook.cells, start=1) if cell.get("outputs"))
    assert autograde.execution_notes(notebook, layout) == [f"timeout in cell {number}"]


def test_restored_cells(layout):
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    assert autograde.restored_cells(notebook, layout) == []
    imports = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    imports.source += "\nimport os"
    notebook.cells = [cell for cell in notebook.cells
                      if cell.metadata.get("nbgrader", {}).get("grade_id") != "ResNet50_test"]
    assert autograde.restored_cells(notebook, layout) == ["locked cell imports edited (restored)",
                                                          "locked cell ResNet50_test deleted (restored)"]
