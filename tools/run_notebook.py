"""Execute the instructor notebook end to end with the reference solution (`make run`).

The notebook runs from the repository root, so it reads `datasets/`, `images/` and `outputs/references/` and writes
its trained model to `outputs/resnet50_signs_notebook.keras` (`make model` writes the own-photo model). The executed
copy, with all outputs and plots, is saved as `outputs/ResNet50.executed.ipynb`, with its image links pointing back
to `images/` from there. Each cell's progress is printed as it finishes.
"""
import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from signs.constants import OUTPUTS_DIR, PROJECT_DIR

SOURCE_NOTEBOOK = PROJECT_DIR / "instructor" / "source" / "ResNet50" / "ResNet50.ipynb"
EXECUTED_NOTEBOOK = OUTPUTS_DIR / "ResNet50.executed.ipynb"


def first_line(cell):
    line = next((line for line in cell.source.splitlines() if line.strip()), "")
    return line[:70]


def link_images_from(notebook, folder):
    """Rewrite markdown links to `images/...` so they resolve from `folder`, where the executed copy is saved."""
    prefix = os.path.relpath(PROJECT_DIR / "images", folder).replace(os.sep, "/")
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace("](images/", f"]({prefix}/").replace('src="images/', f'src="{prefix}/')


def execute(notebook_path, output_path, cell_timeout):
    """Run every cell of `notebook_path` from the repository root and save the executed notebook."""
    notebook = nbformat.read(notebook_path, as_version=4)
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    started = time.monotonic()
    done = 0

    def report(cell, **_):
        nonlocal done
        if cell.cell_type == "code":
            done += 1
            print(f"[{done:2d}/{code_cells}] {time.monotonic() - started:6.0f} s  {first_line(cell)}", flush=True)

    # The kernel must import the project's modules and the instructor's hidden tests from the repository root.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")]))
    client = NotebookClient(notebook, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(PROJECT_DIR)}}, on_cell_executed=report)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        client.execute()
    finally:
        link_images_from(notebook, output_path.parent)
        nbformat.write(notebook, output_path)
        print(f"wrote {output_path} after {time.monotonic() - started:.0f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=SOURCE_NOTEBOOK)
    parser.add_argument("--output", type=Path, default=EXECUTED_NOTEBOOK)
    parser.add_argument("--cell-timeout", type=int, default=3600, help="seconds one cell may run")
    arguments = parser.parse_args()
    try:
        execute(arguments.notebook, arguments.output, arguments.cell_timeout)
    except CellExecutionError as error:
        sys.exit(f"A cell failed; the executed notebook shows where.\n{str(error)[-2000:]}")


if __name__ == "__main__":
    main()
