"""Grading speed: seconds per submission of the sandboxed grader on whole classes (`make bench-grading`).

Writes classes of `--size` notebooks from the released notebook and the reference solution, grades each exactly as
`make autograde` does (on the embedded cluster, or on the cluster at `--scheduler`), and prints the wall time per
submission and the mean cost of each stage. Three kinds of class:

- correct: every notebook is the reference solution;
- mixed: cycles through correct, unfinished, a window guessed instead of `f` and a fixed stride (both from the
  mistake catalogue), a syntax error, a crash;
- class: what a real class hands in, in a cycle of 40: 19 correct, 3 unfinished, 12 with a common mistake (from the
  mistake catalogue), a syntax error, a crash, and 4 hostile notebooks (killing the grading process, filling memory,
  a loop that never ends, starting processes).

Each class's grades.csv, feedback and class report are left in `<--output-dir>/<class>/`.
"""
import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import nbformat

from instructor.learner_mistakes import MISTAKES_BY_NAME, edited_source
from instructor.reference import graded_cells
from signs.constants import OUTPUTS_DIR
from tools.autograde import autograde  # sets TensorFlow's log level before importing it
from tools.release import STUDENT_NOTEBOOK

OUTPUT_DIR = OUTPUTS_DIR / "bench_grading"
STAGES = ("sandbox", "imports", "cells", "builds", "judge")
# Code a hostile learner puts before identity_block; each must cost only its own row.
HOSTILE = {
    "kill_grader": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    "fill_memory": "import numpy\nhoard = [numpy.ones(2 ** 28) for _ in range(100)]\n",
    "endless_loop": "while True:\n    pass\n",
    "start_processes": "import subprocess\nsubprocess.Popen(['sleep', '600'], start_new_session=True)\n",
}
COMMON_MISTAKES = {"id_relu_before_add": 2, "id_final_relu_missing": 1, "id_batchnorm_without_training": 2,
                   "cb_shortcut_stride_1": 2, "cb_shortcut_without_batchnorm": 1, "cb_relu_before_add": 1,
                   "rn_stage3_too_few_blocks": 1, "rn_global_average_pooling": 1, "rn_softmax_missing": 1}


def variant_cells(variant, reference):
    """{graded function: cell source} of one kind of submission; `reference` gives the cells where it does not differ.

    A variant is "correct", "unfinished", "syntax_error", "crash", a key of HOSTILE or a mistake of the catalogue.
    """
    if variant == "correct":
        changed = {}
    elif variant == "unfinished":
        changed = graded_cells(STUDENT_NOTEBOOK)
    elif variant == "syntax_error":
        changed = {"ResNet50": "def ResNet50(input_shape=(64, 64, 3), classes=6)\n    pass\n"}
    elif variant == "crash":
        changed = {"convolutional_block": "scale = 1 / 0\n" + reference["convolutional_block"]}
    elif variant in HOSTILE:
        changed = {"identity_block": HOSTILE[variant] + reference["identity_block"]}
    else:
        mistake = MISTAKES_BY_NAME[variant]
        changed = {mistake.function: edited_source(reference[mistake.function], mistake)}
    return {**reference, **changed}


CLASSES = {
    "correct": ["correct"],
    "mixed": ["correct", "unfinished", "id_kernel_fixed_3", "cb_stride_fixed_2", "syntax_error", "crash"],
    "class": (["correct"] * 19 + ["unfinished"] * 3 + [name for name, count in COMMON_MISTAKES.items()
                                                          for _ in range(count)]
              + ["syntax_error", "crash", *HOSTILE]),
}


def write_class(folder, size, variants):
    """Write `size` submissions to `folder` as `student<number>_<variant>.ipynb`, cycling through `variants`."""
    folder.mkdir(parents=True)
    template = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    reference = graded_cells()
    sources_of = {variant: variant_cells(variant, reference) for variant in set(variants)}
    for number in range(size):
        variant = variants[number % len(variants)]
        sources = sources_of[variant]
        notebook = nbformat.from_dict(json.loads(json.dumps(template)))
        for cell in notebook.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in sources:
                cell.source = sources[grade_id]
        nbformat.write(notebook, folder / f"student{number:03d}_{variant}.ipynb")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--classes", nargs="+", choices=list(CLASSES), default=["correct", "mixed"])
    parser.add_argument("--size", type=int, default=40, help="submissions per class (default 40)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes of the embedded cluster (default: one per CPU core)")
    parser.add_argument("--scheduler", default=None, help="grade on the dask cluster at this address instead")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR)
    arguments = parser.parse_args()
    summary = {}
    for name in arguments.classes:
        with tempfile.TemporaryDirectory() as work:
            folder = Path(work) / name
            write_class(folder, arguments.size, CLASSES[name])
            started = time.monotonic()
            submissions = {path.stem: path.read_bytes() for path in sorted(folder.glob("*.ipynb"))}
            results = autograde(submissions, arguments.output_dir / name, arguments.workers,
                                scheduler=arguments.scheduler)
            seconds = time.monotonic() - started
        stages = {stage: sum(result.seconds.get(stage, 0.0) for result in results) / len(results) for stage in STAGES}
        summary[name] = {"submissions": len(results), "cluster": arguments.scheduler or f"{arguments.workers} embedded",
                         "seconds": round(seconds, 1), "seconds_per_submission": round(seconds / len(results), 2),
                         "mean_stage_seconds": {stage: round(value, 3) for stage, value in stages.items()}}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
