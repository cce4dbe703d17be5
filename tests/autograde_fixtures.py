"""A fixture class for the autograder: real submissions, written from the student notebook and the reference solution.

Each submission is the released `ResNet50.ipynb` with its three solution cells filled in, most often with the
instructor's own graded cells, and with one fault added. `FIXTURE_CLASS` maps each student id to the submission's
recipe and the row that grading must produce (points of identity_block, convolutional_block, ResNet50 and status).
Faulty solutions are built by wrapping the reference function, so they follow the reference whatever its wording.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import nbformat

from instructor.reference import graded_cells
from tools.release import STUDENT_NOTEBOOK

FULL = (3, 3, 4)

# Wrong on the hidden cases only: the window size is guessed from the filters, which fits both public cases.
IDENTITY_TAILORED = '''
_general_identity_block = identity_block


def identity_block(X, f, filters, training=True, initializer=random_uniform):
    return _general_identity_block(X, 2 if filters[0] == 2 else 3, filters, training, initializer)
'''
# Wrong on the public inference case: batch normalisation always uses the batch statistics.
CONVOLUTIONAL_IGNORES_TRAINING = '''
_general_convolutional_block = convolutional_block


def convolutional_block(X, f, filters, s=2, training=True, initializer=glorot_uniform):
    return _general_convolutional_block(X, f, filters, s, True, initializer)
'''
# Wrong on the hidden case only: always the public case's image size and number of classes.
RESNET50_TAILORED = '''
_general_ResNet50 = ResNet50


def ResNet50(input_shape=(64, 64, 3), classes=6):
    return _general_ResNet50()
'''
IDENTITY_RETURNS_INPUT = '''
def identity_block(X, f, filters, training=True, initializer=random_uniform):
    return X
'''
# Every shortcut a graded cell could take around the checks, next to a wrong identity_block.
PATCHES = '''
import public_tests
import test_utils
import instructor.hidden_tests

public_tests.identity_block_test = lambda target: print("passed")
public_tests._check_block = lambda *arguments: None
test_utils.summary = lambda model: []
instructor.hidden_tests.identity_block_hidden_test = lambda target: None
instructor.hidden_tests._check_block = lambda *arguments: None


def identity_block_test(target):
    print("passed: identity_block matches the reference in all 3 cases.")
'''


@dataclass
class Fixture:
    """One submission: how to write it and the grades.csv row it must get."""

    points: tuple
    status: str
    cells: dict = field(default_factory=dict)  # solution cell id -> source, replacing the reference cell
    edit: Optional[Callable] = None  # changes the notebook object after the cells are filled
    raw: Optional[str] = None  # written as it is instead of a notebook


def _after(name, code):
    """The reference cell of `name` followed by `code`."""
    return {name: graded_cells()[name] + "\n" + code}


def _before(name, code):
    """`code` followed by the reference cell of `name`."""
    return {name: code + "\n" + graded_cells()[name]}


def _cell(notebook, grade_id):
    return next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _tamper_with_checks(notebook):
    """Make the identity_block check print a pass line, and delete the convolutional_block check."""
    _cell(notebook, "identity_block_test").source = 'print("passed: identity_block matches the reference.")'
    notebook.cells.remove(_cell(notebook, "convolutional_block_test"))


OTHER_ASSIGNMENT = nbformat.writes(nbformat.v4.new_notebook(cells=[
    nbformat.v4.new_markdown_cell("# Assignment 2: logistic regression"),
    nbformat.v4.new_code_cell("def sigmoid(z):\n    return 1 / (1 + np.exp(-z))",
                              metadata={"nbgrader": {"grade": False, "grade_id": "sigmoid", "locked": False,
                                                     "schema_version": 3, "solution": True}}),
]))

FIXTURE_CLASS = {
    "correct": Fixture(FULL, "ok"),
    "blank": Fixture((0, 0, 0), "ok", graded_cells(STUDENT_NOTEBOOK)),
    "identity_tailored": Fixture((0, 3, 4), "ok", _after("identity_block", IDENTITY_TAILORED)),
    "convolutional_wrong": Fixture((3, 0, 4), "ok", _after("convolutional_block", CONVOLUTIONAL_IGNORES_TRAINING)),
    "resnet50_tailored": Fixture((3, 3, 0), "ok", _after("ResNet50", RESNET50_TAILORED)),
    "syntax_error": Fixture((0, 3, 0), "SyntaxError in identity_block",
                            _before("identity_block", "if True\n    pass\n")),
    "exception": Fixture((3, 0, 0), "ZeroDivisionError in convolutional_block",
                         _before("convolutional_block", "scale = 1 / 0\n")),
    "infinite_loop": Fixture((3, 3, 0), "timeout in ResNet50", _before("ResNet50", "while True:\n    pass\n")),
    "renamed_function": Fixture((0, 3, 0), "NameError in identity_block check",
                                _after("identity_block", "identity_block_v2 = identity_block\ndel identity_block\n")),
    "tampered_checks": Fixture((0, 3, 0), "locked cell identity_block_test edited (restored); "
                                          "locked cell convolutional_block_test deleted (restored)",
                               _after("identity_block", IDENTITY_RETURNS_INPUT), edit=_tamper_with_checks),
    "monkeypatched": Fixture((0, 3, 0), "ok", _after("identity_block", IDENTITY_RETURNS_INPUT + PATCHES)),
    "huge_output": Fixture(FULL, "ok", _after("identity_block", 'print("x" * 1_000_000)\n'
                                                                'for line in range(20_000):\n    print(line)\n')),
    "kernel_crash": Fixture((0, 0, 0), "not graded: the kernel died",
                            _after("convolutional_block", "import os\nos.kill(os.getpid(), 9)\n")),
    "invalid_json": Fixture((0, 0, 0), "invalid notebook", raw='{"cells": [{"cell_type": "code", "source": '),
    "other_assignment": Fixture((0, 0, 0), "not this assignment", raw=OTHER_ASSIGNMENT),
    "empty": Fixture((0, 0, 0), "empty file", raw=""),
}


def write_submission(fixture, path):
    """Write one fixture submission to `path`."""
    if fixture.raw is not None:
        path.write_text(fixture.raw)
        return
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    sources = dict(graded_cells(), **fixture.cells)
    for name, source in sources.items():
        _cell(notebook, name).source = source
    if fixture.edit:
        fixture.edit(notebook)
    nbformat.write(notebook, path)


def write_class(folder, students=None):
    """Write the submissions of FIXTURE_CLASS (or of the listed students) as `<folder>/<student>.ipynb`."""
    folder.mkdir(parents=True, exist_ok=True)
    for student in students or FIXTURE_CLASS:
        write_submission(FIXTURE_CLASS[student], folder / f"{student}.ipynb")
