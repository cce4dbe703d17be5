"""Autograde a class's ResNet50 notebooks, each in its own sandbox (`make autograde SUBMISSIONS=<dir>`).

Every `<dir>/<student>.ipynb` is one submission; the file name without `.ipynb` is the student id. The script

1. prepares the released notebook and an nbgrader gradebook with nbgrader's generate_assignment, in a temporary
   course folder (so a run never touches instructor/);
2. grades the submissions, `--workers` at a time: each one's solution cells run in a fresh bubblewrap sandbox
   (grading/sandbox.py) that returns the models its functions build, and this process judges them against the
   reference solution (grading/judge.py);
3. writes `grades.csv`, `feedback/<student>.html` and `gradebook.db` (nbgrader's format, for `nbgrader export` and
   formgrader) into the output folder.

A submission's faults (errors, timeouts, crashes, memory) end as its row's status. A fault of the grader itself
stops the run with an error and writes no grades.csv.
"""
import argparse
import os
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from grading import report, sandbox
from grading.grader import Grader
from grading.submission import case_collisions, read_layout
from tools.release import prepare_course

REPO = Path(__file__).resolve().parent.parent
OUTPUT_DIR = REPO / "outputs"


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder holding one <student>.ipynb per student")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="submissions graded at once (default: one per CPU core)")
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
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before the judge imports TensorFlow: no log lines
    arguments = parse_arguments(argv)
    if not arguments.submissions.is_dir():
        sys.exit(f"{arguments.submissions} is not a folder: pass the folder that holds the <student>.ipynb files.")
    files = sorted(path for path in arguments.submissions.glob("*.ipynb") if path.is_file())
    if not files:
        sys.exit(f"No <student>.ipynb files in {arguments.submissions}: nothing to grade.")
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
        autograde(files, arguments.output_dir, arguments.workers, limits, sandboxed=not arguments.no_sandbox)
    except KeyboardInterrupt:
        sys.exit("Interrupted: no grades.csv was written.")


def autograde(files, output_dir, workers, limits=sandbox.Limits(), sandboxed=True):
    """Grade submission files and write grades.csv, feedback/ and gradebook.db into output_dir.

    Returns:
    results -- one grading.grader.Result per student, sorted by student id
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
        results = grade_all(grader, files, workers)
        report.write_feedback(output_dir / "feedback", results)
        report.write_gradebook(output_dir / "gradebook.db", Path(course) / "gradebook.db", results, layout.points)
        report.write_grades(output_dir / "grades.csv", [result.row for result in results], layout.points)
    summarize(results, workers, time.monotonic() - started, output_dir, sandboxed)
    return results


def grade_all(grader, files, workers):
    """Results for every file, graded `workers` at a time; ids that differ only by case are set aside."""
    collisions = case_collisions([path.stem for path in files])
    done, results = 0, []

    def grade(path):
        if path.stem in collisions:
            others = ", ".join(f"{other}.ipynb" for other in collisions[path.stem])
            return grader.set_aside(path.stem, f"student id differs only by case from {others}: rename, then grade")
        began = time.monotonic()
        result = grader.grade(path.stem, path.read_bytes())
        result.seconds["total"] = time.monotonic() - began
        return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for result in pool.map(grade, files):
            done += 1
            row = result.row
            print(f"[{done}/{len(files)}] {row['student']}: {row['total']:g}/{row['max_total']:g} {row['status']}",
                  flush=True)
            results.append(result)
    return sorted(results, key=lambda result: result.row["student"])


def summarize(results, workers, seconds, output_dir, sandboxed):
    """Print the class summary, the grading speed and where the results are."""
    full = sum(result.row["total"] == result.row["max_total"] for result in results)
    problems = sum(result.row["status"] != "ok" for result in results)
    print(f"\n{len(results)} students: {full} with full marks, {problems} with a status other than ok.")
    print(f"Graded in {seconds:.0f} s with {workers} worker(s): {seconds / len(results):.1f} s per submission, "
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
          f"Gradebook: {output_dir / 'gradebook.db'}")


if __name__ == "__main__":
    main()
