"""Autograde a class's ResNet50 notebooks, each in its own sandbox (`make autograde SUBMISSIONS=<path>`).

The submissions are a folder of `<student>.ipynb`, an nbgrader course's `submitted/` folder, or a zip downloaded
from an LMS (grading/collect.py). The script

1. prepares the released notebook and an nbgrader gradebook with nbgrader's generate_assignment, in a temporary
   course folder (so a run never touches instructor/);
2. grades the submissions as tasks on dask.distributed (grading/cluster.py): an embedded cluster of `--workers`
   processes, or the cluster at `--scheduler`. Each task runs the submission's solution cells in a fresh bubblewrap
   sandbox (grading/sandbox.py) that returns the models its functions build, and judges them against the reference
   solution (grading/judge.py);
3. writes `grades.csv`, `feedback/<student>.html`, `gradebook.db` (nbgrader's format, for `nbgrader export` and
   formgrader) and `class_report.html` into the output folder.

A submission's faults (errors, timeouts, crashes, memory) end as its row's status. A fault of the grader itself
stops the run with an error and writes no grades.csv.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before anything imports TensorFlow, here and in the workers

import argparse  # noqa: E402
import secrets  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

from grading import report, sandbox  # noqa: E402
from grading.class_report import write_class_report  # noqa: E402
from grading.cluster import WorkerMismatch, grade_class  # noqa: E402
from grading.collect import collect  # noqa: E402
from grading.grader import Grader  # noqa: E402
from grading.submission import case_collisions, read_layout  # noqa: E402
from signs.constants import OUTPUTS_DIR as OUTPUT_DIR
from tools.release import prepare_course  # noqa: E402


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path,
                        help="a folder of <student>.ipynb, an nbgrader course (its submitted/ folder), or an LMS zip")
    parser.add_argument("--names", type=Path, default=None,
                        help="CSV with columns lms_name,student_id mapping the names in an LMS download to ids")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes of the embedded cluster, each grading one submission at a time "
                             "(default: one per CPU core)")
    parser.add_argument("--scheduler", default=os.environ.get("SCHEDULER") or None,
                        help="address of an existing dask scheduler (tcp://host:8786) whose workers run this same "
                             "commit; default: an embedded cluster")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds one solution cell or one call of a graded function may run (default "
                             f"{sandbox.Limits.step_seconds:g})")
    parser.add_argument("--wall-timeout", type=float, default=None,
                        help=f"seconds a whole submission may take, starting Python and TensorFlow included "
                             f"(default {sandbox.Limits.wall_seconds:g})")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR,
                        help="where grades.csv, feedback/ and gradebook.db are written (default outputs/)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run learner code without bubblewrap: only for notebooks you trust")
    arguments = parser.parse_args(argv)
    if arguments.workers < 1:
        parser.error("--workers must be at least 1")
    for name in ("timeout", "wall_timeout"):
        if getattr(arguments, name) is not None and getattr(arguments, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return arguments


def main(argv=None):
    arguments = parse_arguments(argv)
    try:
        collection = collect(arguments.submissions, arguments.names)
    except (OSError, ValueError) as problem:
        sys.exit(f"Cannot read the submissions: {problem}")
    for entry, reason in collection.unusable:
        print(f"not used: {entry}: {reason}")
    if not collection.submissions:
        sys.exit(f"No submissions found in {collection.source}: nothing to grade.")
    limits = sandbox.Limits()
    if arguments.timeout:
        limits = replace(limits, step_seconds=arguments.timeout)
    if arguments.wall_timeout:
        limits = replace(limits, wall_seconds=arguments.wall_timeout)
    if not arguments.no_sandbox:
        try:
            sandbox.check_sandbox(limits)
        except sandbox.SandboxUnavailable as problem:
            sys.exit(str(problem))
    try:
        autograde(collection.submissions, arguments.output_dir, arguments.workers, limits,
                  sandboxed=not arguments.no_sandbox, scheduler=arguments.scheduler, unusable=collection.unusable)
    except KeyboardInterrupt:
        sys.exit("Interrupted: no grades.csv was written.")
    except (WorkerMismatch, OSError) as problem:
        sys.exit(f"Grading stopped, no grades.csv was written: {problem}")


def autograde(submissions, output_dir, workers, limits=sandbox.Limits(), sandboxed=True, scheduler=None, unusable=()):
    """Grade {student: notebook bytes} and write grades.csv, feedback/, gradebook.db and class_report.html.

    Returns:
        One grading.grader.Result per student, sorted by student id.
    """
    started = time.monotonic()
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "grades.csv").unlink(missing_ok=True)  # a run that fails must not leave an older file behind
    with tempfile.TemporaryDirectory(prefix="autograde-") as course:
        print("Preparing the released notebook and the gradebook (nbgrader generate_assignment) ...", flush=True)
        layout = read_layout(prepare_course(Path(course)))
        grader = Grader(layout, seed=secrets.randbits(32), limits=limits, sandboxed=sandboxed)
        if not sandboxed:
            print("WARNING: --no-sandbox: learner code runs with your rights, file system and network.", flush=True)
        collisions = case_collisions(submissions)
        set_aside = {student: grader.set_aside(student, "student id differs only by case from "
                                                        f"{', '.join(collisions[student])}: rename, then grade")
                     for student in collisions}
        to_grade = {student: data for student, data in submissions.items() if student not in collisions}
        graded = grade_class(grader, to_grade, scheduler, workers) if to_grade else {}
        results = [{**graded, **set_aside}[student] for student in sorted(submissions)]
        report.write_feedback(output_dir / "feedback", results)
        report.write_gradebook(output_dir / "gradebook.db", Path(course) / "gradebook.db", results, layout.points)
        write_class_report(output_dir / "class_report.html", results, layout.points, layout.max_total, unusable)
        report.write_grades(output_dir / "grades.csv", [result.row for result in results], layout.points)
    summarize(results, scheduler or f"{workers} embedded worker(s)", time.monotonic() - started, output_dir,
              sandboxed)
    return results


def summarize(results, workers, seconds, output_dir, sandboxed):
    """Print the class summary, the grading speed and where the results are."""
    full = sum(result.row["total"] == result.row["max_total"] for result in results)
    problems = sum(result.row["status"] != "ok" for result in results)
    print(f"\n{len(results)} students: {full} with full marks, {problems} with a status other than ok.")
    print(f"Graded in {seconds:.0f} s on {workers}: {seconds / len(results):.1f} s per submission, "
          f"{60 * len(results) / seconds:.1f} per minute. Isolation: "
          f"{'bubblewrap sandbox per submission' if sandboxed else 'NONE (--no-sandbox)'}.")
    graded = [result.seconds for result in results if "sandbox" in result.seconds]
    if graded:
        stages = ("sandbox", "imports", "cells", "builds", "judge")
        means = {stage: sum(seconds.get(stage, 0.0) for seconds in graded) / len(graded) for stage in stages}
        print("Mean seconds per graded submission: " + ", ".join(f"{stage} {value:.2f}" for stage, value in
                                                                   means.items()) + " (imports, cells and builds "
              "run inside the sandbox)")
    print(f"Grades:    {output_dir / 'grades.csv'}\nFeedback:  {output_dir / 'feedback'}/<student>.html\n"
          f"Gradebook: {output_dir / 'gradebook.db'}\nReport:    {output_dir / 'class_report.html'}")


if __name__ == "__main__":
    main()
