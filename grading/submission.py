"""Read submitted notebooks: which can be graded, and which cells of each one the grader runs.

Everything here reads untrusted bytes as data; nothing is executed. The layout of the assignment (graded parts,
points, locked cells) comes from the student notebook as nbgrader released it.
"""
import re
from dataclasses import dataclass

import nbformat

from instructor.reference import GRADED_MARK, IMPORTS_CELL_ID

CHECK_SUFFIX = "_test"  # a grade cell `<function>_test` holds the points of the solution cell `<function>`
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]*")
MAX_NOTEBOOK_BYTES = 20 * 1024 ** 2


@dataclass(frozen=True)
class Layout:
    """What grading needs to know about the released notebook.

    Attributes:
        points: {function name: points of its grade cell}, in notebook order
        locked: {grade_id: source} of the locked cells, as the learner received them
        imports: the source of the locked imports cell, the only released code the sandbox runs
        cell_ids: every grade_id in the notebook
    """

    points: dict
    locked: dict
    imports: str
    cell_ids: frozenset

    @property
    def max_total(self):
        """Points of the whole assignment."""
        return sum(self.points.values())


def _grade_id(cell):
    metadata = cell.get("metadata", {}).get("nbgrader", {})
    return metadata.get("grade_id") if isinstance(metadata, dict) else None


def read_layout(release_path):
    """The Layout of the student notebook at `release_path`."""
    notebook = nbformat.read(release_path, as_version=4)
    points, locked = {}, {}
    for cell in notebook.cells:
        metadata, grade_id = cell.metadata.get("nbgrader", {}), _grade_id(cell)
        if metadata.get("grade") and grade_id.endswith(CHECK_SUFFIX):
            points[grade_id[:-len(CHECK_SUFFIX)]] = float(metadata["points"])
        if metadata.get("locked"):
            locked[grade_id] = cell.source
    cell_ids = frozenset(filter(None, map(_grade_id, notebook.cells)))
    return Layout(points=points, locked=locked, imports=locked[IMPORTS_CELL_ID], cell_ids=cell_ids)


def read_notebook(data):
    """The notebook in `data` (bytes), or None when it is not valid JSON in the Jupyter notebook format."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception:  # undecodable bytes, broken JSON, or JSON that is not a notebook: all are "invalid"
        return None
    return notebook


def triage(student, data, layout):
    """Why a submission cannot be graded, or None when it can.

    Returns:
        reason: None, or one of "file name is not a valid student id", "empty file", "file too large",
            "invalid notebook", "not this assignment"
    """
    if not STUDENT_ID.fullmatch(student):
        return "file name is not a valid student id"
    if not data.strip():
        return "empty file"
    if len(data) > MAX_NOTEBOOK_BYTES:
        return "file too large"
    notebook = read_notebook(data)
    if notebook is None:
        return "invalid notebook"
    grade_ids = set(map(_grade_id, notebook.cells))
    marked = any(cell.source.startswith(GRADED_MARK) for cell in notebook.cells)
    if grade_ids.isdisjoint(layout.cell_ids) and not marked:
        return "not this assignment"
    return None


def solution_cells(notebook, layout):
    """{function: source} of the submission's solution cells, found by nbgrader cell id, else by their first line.

    A function whose cell cannot be found is left out; the sandbox then reports it as missing.
    """
    found = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        grade_id = _grade_id(cell)
        if grade_id in layout.points:
            found.setdefault(grade_id, cell.source)
    for cell in notebook.cells:
        first_line = cell.source.splitlines()[0] if cell.cell_type == "code" and cell.source else ""
        if first_line.startswith(GRADED_MARK):
            found.setdefault(first_line[len(GRADED_MARK):].strip(), cell.source)
    return {function: found[function] for function in layout.points if function in found}


def locked_cell_notes(notebook, layout):
    """Notes on the locked cells a submission deleted or edited; the grader uses the released cells instead."""
    submitted = {}
    for cell in notebook.cells:
        submitted.setdefault(_grade_id(cell), cell.source)
    notes = []
    for grade_id, source in layout.locked.items():
        if grade_id not in submitted:
            notes.append(f"locked cell {grade_id} deleted (restored)")
        elif submitted[grade_id] != source:
            notes.append(f"locked cell {grade_id} edited (restored)")
    return notes


def case_collisions(students):
    """{student: the other ids it collides with} for ids that differ only by letter case."""
    by_folded = {}
    for student in students:
        by_folded.setdefault(student.casefold(), []).append(student)
    return {student: [other for other in group if other != student]
            for group in by_folded.values() if len(group) > 1 for student in group}
