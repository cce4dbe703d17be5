"""The student notebook is generated from the instructor source and never edited by hand."""
import nbformat

from instructor.reference import SOURCE_NOTEBOOK, graded_cells
from tools.release import STUDENT_NOTEBOOK, generate_student_notebook


def test_committed_student_notebook_equals_a_fresh_release():
    assert STUDENT_NOTEBOOK.read_text() == generate_student_notebook(), \
        "ResNet50.ipynb is out of date: run `make release` and commit the result."


def test_student_notebook_has_no_solution_left():
    student = graded_cells(STUDENT_NOTEBOOK)
    assert set(student) == set(graded_cells(SOURCE_NOTEBOOK)) == {"identity_block", "convolutional_block",
                                                                   "ResNet50"}
    for source in student.values():
        assert "BEGIN SOLUTION" not in source and "raise NotImplementedError()" in source
    text = STUDENT_NOTEBOOK.read_text()
    assert "X = Add()([X, X_shortcut])" not in text


def test_student_notebook_has_no_outputs():
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
