"""Load the reference solution from the instructor notebook, the one place where it is written.

The graded cells of `source/ResNet50/ResNet50.ipynb` start with `# GRADED FUNCTION: <name>`. This module runs the
notebook's Keras imports cell and those graded cells (the `### BEGIN/END SOLUTION` markers are plain comments to
Python) in a fresh namespace, so tools and tests use exactly the code that nbgrader turns into the student notebook.
"""
import types
from pathlib import Path

import nbformat

SOURCE_NOTEBOOK = Path(__file__).resolve().parent / "source" / "ResNet50" / "ResNet50.ipynb"
GRADED_MARK = "# GRADED FUNCTION:"
IMPORTS_CELL_ID = "imports"


def graded_cells(notebook_path=SOURCE_NOTEBOOK):
    """Map each graded function's name to the source of its cell, in notebook order."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return {
        cell.source.splitlines()[0][len(GRADED_MARK):].strip(): cell.source
        for cell in notebook.cells
        if cell.cell_type == "code" and cell.source.startswith(GRADED_MARK)
    }


def imports_cell(notebook_path=SOURCE_NOTEBOOK):
    """The source of the notebook's locked cell that imports Keras and the layer classes."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == IMPORTS_CELL_ID:
            return cell.source
    raise LookupError(f"{notebook_path} has no cell with grade_id {IMPORTS_CELL_ID!r}")


def load_reference(notebook_path=SOURCE_NOTEBOOK):
    """Run the imports and graded cells of a notebook and return its graded functions.

    Returns:
        reference: a SimpleNamespace with one attribute per graded function (identity_block, convolutional_block,
            ResNet50)
    """
    namespace = {"__name__": "reference_solution"}
    exec(compile(imports_cell(notebook_path), f"{notebook_path}:imports", "exec"), namespace)
    cells = graded_cells(notebook_path)
    for name, source in cells.items():
        exec(compile(source, f"{notebook_path}:{name}", "exec"), namespace)
    return types.SimpleNamespace(**{name: namespace[name] for name in cells})
