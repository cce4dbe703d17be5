"""`make autograde` grades a class for real: honest mistakes, faults and attacks all end as the right rows.

The fixture class (tests/autograde_fixtures.py), honest and hostile submissions together, is graded once by the
command behind `make autograde`, with real bubblewrap sandboxes and two workers; the tests then read what it wrote
and check that nothing outside the output folder changed. The last tests check the reading of submissions without
grading anything.
"""
import csv
import hashlib
import shutil
import sqlite3
import subprocess
import sys

import nbformat
import psutil
import pytest

from autograde_fixtures import FIXTURE_CLASS, HOSTILE_CLASS, OTHER_ASSIGNMENT, write_class
from grading.submission import case_collisions, locked_cell_notes, read_layout, solution_cells, triage
from instructor.reference import graded_cells
from signs.constants import PROJECT_DIR
from tools.release import STUDENT_NOTEBOOK, nbgrader_command

COLUMNS = ["student", "identity_block", "convolutional_block", "ResNet50", "total", "max_total", "status",
           "isolation"]
EVERYONE = {**FIXTURE_CLASS, **HOSTILE_CLASS}
RERUN = ["tampered_checks", "blank", "empty", "invalid_json", "other_assignment"]


def run_autograde(submissions, output_dir, *options):
    """Run the autograde command as `make autograde` does; returns the finished process."""
    command = [sys.executable, "-m", "tools.autograde", str(submissions), "--workers", "2", "--timeout", "10",
               "--wall-timeout", "40", "--output-dir", str(output_dir), *options]
    return subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True)


def read_grades(output_dir):
    with open(output_dir / "grades.csv", newline="") as file:
        return list(csv.reader(file))


def digest(paths):
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in paths}


def tracked_files():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT_DIR, capture_output=True, text=True,
                            check=True).stdout
    return [PROJECT_DIR / name for name in listed.split("\0") if name and (PROJECT_DIR / name).is_file()]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The class, graded: (submissions folder, output folder, printed output, {student: CSV row}, digests before)."""
    work = tmp_path_factory.mktemp("autograde")
    submissions, output_dir = work / "submitted", work / "outputs"
    paths = {"REPO": PROJECT_DIR, "SUBMISSIONS": submissions, "OUTPUTS": output_dir}
    write_class(submissions, fixtures=EVERYONE, paths=paths)
    before = digest([*tracked_files(), *submissions.iterdir()])
    finished = run_autograde(submissions, output_dir)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    header, *rows = read_grades(output_dir)
    assert header == COLUMNS
    return submissions, output_dir, finished.stdout, {row[0]: dict(zip(COLUMNS, row)) for row in rows}, before


def test_every_submission_has_one_row(graded):
    _, _, _, rows, _ = graded
    assert sorted(rows) == sorted(EVERYONE)


@pytest.mark.parametrize("student", sorted(EVERYONE))
def test_points_and_status(graded, student):
    _, _, _, rows, _ = graded
    row, expected = rows[student], EVERYONE[student]
    points = tuple(int(row[part]) for part in ("identity_block", "convolutional_block", "ResNet50"))
    assert points == expected.points, row
    assert int(row["total"]) == sum(expected.points) and row["max_total"] == "10"
    assert row["status"] == expected.status, row
    assert row["isolation"] == "bubblewrap sandbox"


def test_attacks_changed_no_file_and_left_no_process(graded):
    submissions, _, _, _, before = graded
    assert digest([*tracked_files(), *submissions.iterdir()]) == before
    left = [process.info["cmdline"] for process in psutil.process_iter(["cmdline"])
            if any("run_submission.py" in part or part.endswith("bwrap") for part in process.info["cmdline"] or [])]
    assert not left


def test_attacks_reached_nothing(graded):
    _, output_dir, _, _, _ = graded
    feedback = (output_dir / "feedback" / "hostile_reach_other_processes.html").read_text()
    assert "reached 0 connection files, 0 other processes, 0 open ports" in feedback


def test_gradebook_holds_the_scores_for_nbgrader_export(graded, tmp_path):
    _, output_dir, _, rows, _ = graded
    database = sqlite3.connect(output_dir / "gradebook.db")
    assert database.execute("SELECT count(*) FROM student").fetchone()[0] == len(rows)
    course = tmp_path / "course"
    course.mkdir()
    shutil.copy(PROJECT_DIR / "instructor" / "nbgrader_config.py", course)
    command, env = nbgrader_command("export", f"--CourseDirectory.root={course}",
                                    f"--CourseDirectory.db_url=sqlite:///{output_dir / 'gradebook.db'}",
                                    f"--to={tmp_path / 'export.csv'}")
    subprocess.run(command, cwd=course, env=env, check=True, capture_output=True)
    with open(tmp_path / "export.csv", newline="") as file:
        exported = {row["student_id"]: float(row["score"]) for row in csv.DictReader(file)}
    assert exported == {student: float(row["total"]) for student, row in rows.items()}


def test_feedback_for_every_student(graded):
    _, output_dir, _, rows, _ = graded
    feedback = output_dir / "feedback"
    assert sorted(path.stem for path in feedback.glob("*.html")) == sorted(rows)
    assert "passed: ResNet50 matches the reference on all" in (feedback / "correct.html").read_text()
    assert "Status: empty file" in (feedback / "empty.html").read_text()
    tailored = (feedback / "identity_tailored.html").read_text()
    assert "a case the public checks do not try" in tailored
    exception = (feedback / "exception.html").read_text()
    assert "line 1): scale = 1 / 0" in exception


def test_huge_output_is_cut(graded):
    _, output_dir, _, _, _ = graded
    feedback = (output_dir / "feedback" / "huge_output.html").read_text()
    assert "more characters cut" in feedback and "x" * 100_000 not in feedback
    assert len(feedback) < 100_000


def test_paths_and_speed_are_printed(graded):
    _, output_dir, printed, _, _ = graded
    assert f"Grades:    {output_dir / 'grades.csv'}" in printed
    assert "s per submission" in printed and "Isolation: bubblewrap sandbox per submission" in printed


def test_grading_again_gives_the_same_rows(graded, tmp_path):
    submissions, _, _, rows, _ = graded
    again = tmp_path / "submitted"
    again.mkdir()
    for student in RERUN:
        shutil.copyfile(submissions / f"{student}.ipynb", again / f"{student}.ipynb")
    assert run_autograde(again, tmp_path / "outputs").returncode == 0
    header, *second = read_grades(tmp_path / "outputs")
    assert second == [list(rows[student].values()) for student in sorted(RERUN)]


def test_no_sandbox_is_recorded_and_ids_differing_by_case_are_not_graded(tmp_path):
    submissions = tmp_path / "submitted"
    write_class(submissions, ["empty"])
    shutil.copyfile(submissions / "empty.ipynb", submissions / "Empty.ipynb")
    finished = run_autograde(submissions, tmp_path / "outputs", "--no-sandbox")
    assert finished.returncode == 0, finished.stderr
    assert "Isolation: NONE (--no-sandbox)" in finished.stdout
    header, *rows = read_grades(tmp_path / "outputs")
    assert [row[0] for row in rows] == ["Empty", "empty"]
    assert all(row[-1] == "none (--no-sandbox)" and row[-2].startswith("student id differs only by case")
               for row in rows)


def test_a_fault_of_the_grader_stops_the_run_and_leaves_no_grades(tmp_path):
    submissions, output_dir = tmp_path / "submitted", tmp_path / "outputs"
    write_class(submissions, ["empty"])
    output_dir.mkdir()
    (output_dir / "grades.csv").write_text("student,total\nold,10\n")
    (output_dir / "feedback").write_text("a file where the feedback folder belongs")
    finished = run_autograde(submissions, output_dir)
    assert finished.returncode != 0
    assert not (output_dir / "grades.csv").exists()


@pytest.fixture(scope="module")
def layout():
    return read_layout(STUDENT_NOTEBOOK)


def test_layout_lists_the_graded_parts_and_locked_cells(layout):
    assert layout.points == {"identity_block": 3, "convolutional_block": 3, "ResNet50": 4}
    assert {"imports", "identity_block_test", "convolutional_block_test", "ResNet50_test"} <= set(layout.locked)
    assert layout.imports.startswith("import numpy as np")


@pytest.mark.parametrize("name, content, reason", [
    ("alice", None, None),
    ("bob", b" \n", "empty file"),
    ("carol", b"\xff\xfe\x00binary", "invalid notebook"),
    ("dan", b'{"cells": "none", "metadata": {}, "nbformat": 4, "nbformat_minor": 5}', "invalid notebook"),
    ("erin", OTHER_ASSIGNMENT.encode(), "not this assignment"),
    ("frank smith", None, "file name is not a valid student id"),
])
def test_triage(layout, name, content, reason):
    assert triage(name, STUDENT_NOTEBOOK.read_bytes() if content is None else content, layout) == reason


def test_solution_cells_are_found_by_cell_id_then_by_their_first_line(layout):
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    assert solution_cells(notebook, layout) == graded_cells(STUDENT_NOTEBOOK)
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)  # a copy-pasted notebook loses nbgrader's metadata
    assert solution_cells(notebook, layout) == graded_cells(STUDENT_NOTEBOOK)
    notebook.cells = [cell for cell in notebook.cells if not cell.source.startswith("# GRADED FUNCTION: ResNet50")]
    assert set(solution_cells(notebook, layout)) == {"identity_block", "convolutional_block"}


def test_locked_cell_notes(layout):
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    assert locked_cell_notes(notebook, layout) == []
    imports = next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == "imports")
    imports.source += "\nimport os"
    notebook.cells = [cell for cell in notebook.cells
                      if cell.metadata.get("nbgrader", {}).get("grade_id") != "ResNet50_test"]
    assert locked_cell_notes(notebook, layout) == ["locked cell imports edited (restored)",
                                                   "locked cell ResNet50_test deleted (restored)"]


def test_case_collisions():
    assert case_collisions(["ann", "Ann", "bob", "ANN"]) == {"ann": ["Ann", "ANN"], "Ann": ["ann", "ANN"],
                                                             "ANN": ["ann", "Ann"]}
