"""Grading speed: seconds per submission for a class of correct notebooks and for a mixed class (`make bench-grading`).

Writes two classes of `--size` notebooks from the released notebook and the reference solution, grades each with
the sandboxed grader exactly as `make autograde` does, and prints the wall time per submission and the mean cost of
each stage. The results of the last class are left in `outputs/bench_grading/`.
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat

from instructor.reference import graded_cells
from signs.constants import OUTPUTS_DIR
from tools.autograde import autograde  # sets TensorFlow's log level before importing it
from tools.release import STUDENT_NOTEBOOK

OUTPUT_DIR = OUTPUTS_DIR / "bench_grading"
# The mixed class cycles through these: what a real class hands in, from finished work to common faults.
VARIANTS = {
    "correct": {},
    "unfinished": graded_cells(STUDENT_NOTEBOOK),
    "window_guessed": {"identity_block": graded_cells()["identity_block"].replace("kernel_size=f", "kernel_size=3")},
    "fixed_stride": {"convolutional_block": graded_cells()["convolutional_block"].replace("strides=s", "strides=2")},
    "syntax_error": {"ResNet50": "def ResNet50(input_shape=(64, 64, 3), classes=6)\n    pass\n"},
    "crash": {"convolutional_block": "scale = 1 / 0\n" + graded_cells()["convolutional_block"]},
}


def write_class(folder, size, variants):
    """Write `size` submissions to `folder`, cycling through `variants` (names of VARIANTS)."""
    folder.mkdir(parents=True)
    template = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    for number in range(size):
        variant = variants[number % len(variants)]
        sources = dict(graded_cells(), **VARIANTS[variant])
        notebook = nbformat.from_dict(json.loads(json.dumps(template)))
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in sources:
                cell.source = sources[grade_id]
        nbformat.write(notebook, folder / f"student{number:03d}_{variant}.ipynb")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=40, help="submissions per class (default 40)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    arguments = parser.parse_args()
    summary = {}
    for name, variants in (("correct", ["correct"]), ("mixed", list(VARIANTS))):
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work) / name
            write_class(folder, arguments.size, variants)
            started = time.monotonic()
            submissions = {path.stem: path.read_bytes() for path in sorted(folder.glob("*.ipynb"))}
            results = autograde(submissions, OUTPUT_DIR, arguments.workers)
            seconds = time.monotonic() - started
        stages = {stage: sum(result.seconds.get(stage, 0.0) for result in results) / len(results)
                  for stage in ("sandbox", "imports", "cells", "builds", "judge")}
        summary[name] = {"submissions": len(results), "workers": arguments.workers, "seconds": round(seconds, 1),
                         "seconds_per_submission": round(seconds / len(results), 2),
                         "mean_stage_seconds": {stage: round(value, 3) for stage, value in stages.items()}}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
