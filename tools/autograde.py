"""Autograde a class's ResNet50 notebooks with nbgrader (`make autograde SUBMISSIONS=<dir> WORKERS=<n>`).

Every `<dir>/<student>.ipynb` is one submission; the file name without `.ipynb` is the student id. The script

1. sets aside the files nbgrader cannot grade (empty, not a notebook, a notebook of another assignment): they get no
   points and a status that says why;
2. prepares a course folder with nbgrader's generate_assignment, as `make release` does, and gives each worker its
   own copy of it (with its own gradebook database) and a share of the class;
3. runs `nbgrader autograde`, then `nbgrader generate_feedback`, in all workers at once. The kernels get the
   repository root on PYTHONPATH, so the notebook finds the project's modules and the hidden tests;
4. reads the points from each worker's gradebook and a status from each graded notebook (timeouts, errors in graded
   cells, locked cells that nbgrader restored), then writes `outputs/grades.csv`, `outputs/feedback/<student>.html`
   and the nbgrader logs in `outputs/autograde_logs/`.

The course folders live in a temporary directory, so grading never touches instructor/, and grading the same
submissions again gives the same CSV. Graded code runs with the rights of whoever runs this script: grade notebooks
from untrusted sources in a container or on a throwaway machine.
"""
import argparse
import csv
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import nbformat
from nbgrader.api import Gradebook

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make `tools` and `instructor` importable
    sys.path.insert(0, str(REPO))

from instructor.reference import GRADED_MARK  # noqa: E402
from tools.release import ASSIGNMENT, nbgrader_command, prepare_course  # noqa: E402

OUTPUT_DIR = REPO / "outputs"
CHECK_SUFFIX = "_test"  # a grade cell `<function>_test` checks the solution cell `<function>`
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@+-]*")
# nbgrader's error for a cell that ran too long, and the interrupt it sends to the kernel then.
TIMEOUT_ERRORS = {"CellTimeoutError", "KeyboardInterrupt"}
# Errors of a grade cell that mean its check never ran. A check that ran and failed raises AssertionError or a
# subclass of it, which the graded notebook records by name only, so failures are told apart by these instead.
CHECK_COULD_NOT_RUN = {"NameError", "ImportError", "ModuleNotFoundError"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="folder holding one <student>.ipynb per student")
    parser.add_argument("--workers", type=int, default=2, help="nbgrader processes that grade at once (default 2)")
    parser.add_argument("--timeout", type=int, default=None,
                        help="seconds a cell may run before it is interrupted (default: Execute.timeout in "
                             "instructor/nbgrader_config.py)")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR,
                        help="where grades.csv, feedback/ and autograde_logs/ are written (default outputs/)")
    arguments = parser.parse_args(argv)
    if arguments.workers < 1:
        parser.error("--workers must be at least 1")
    files = sorted(path for path in arguments.submissions.glob("*.ipynb") if path.is_file())
    if not files:
        sys.exit(f"No <student>.ipynb files in {arguments.submissions}: nothing to grade.")
    autograde(files, arguments.output_dir, workers=arguments.workers, timeout=arguments.timeout)


def autograde(files, output_dir, workers=2, timeout=None):
    """Grade submission files and write grades.csv, feedback/ and autograde_logs/ into output_dir.

    Arguments:
    files -- paths of the submitted notebooks; each file's stem is the student id
    output_dir -- folder for the results (created if missing; its feedback/ and autograde_logs/ are replaced)
    workers -- number of nbgrader processes that grade at once
    timeout -- seconds a cell may run, or None for the course configuration's value

    Returns:
    rows -- one dict per student, sorted by student id, with the columns of grades.csv
    """
    started = time.monotonic()
    output_dir = Path(output_dir)
    feedback_dir, log_dir = output_dir / "feedback", output_dir / "autograde_logs"
    for folder in (feedback_dir, log_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    with tempfile.TemporaryDirectory(prefix="autograde-") as work:
        print("Preparing the course folder (nbgrader generate_assignment) ...", flush=True)
        template = Path(work) / "course"
        template.mkdir()
        layout = read_layout(prepare_course(template))
        rows, gradable = set_aside(files, layout, feedback_dir)
        print(f"{len(files)} submissions: {len(gradable)} to grade, {len(rows)} set aside.", flush=True)

        jobs = split_class(template, gradable, workers, log_dir)
        grading_started = time.monotonic()
        progress = Progress(len(gradable))
        with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            list(pool.map(lambda job: grade_share(*job, timeout=timeout, progress=progress), jobs))
        grading_seconds = time.monotonic() - grading_started
        for course, share, log_path in jobs:
            for student in share:
                rows[student] = graded_row(course, student, gradable[student], layout, log_path)
                copy_feedback(course, rows[student], feedback_dir)

    rows = [rows[student] for student in sorted(rows)]
    grades_path = output_dir / "grades.csv"
    write_grades(grades_path, rows, layout)
    report(rows, len(gradable), len(jobs), grading_seconds, time.monotonic() - started,
           grades_path, feedback_dir, log_dir)
    return rows


def set_aside(files, layout, feedback_dir):
    """Sort the submissions into those nbgrader can grade and those it cannot.

    Returns:
    rows -- {student: grades.csv row} for the files set aside (no points, the reason as status); each also gets a
            one-page feedback file
    gradable -- {student: path} for the others
    """
    rows, gradable = {}, {}
    for path in files:
        reason = triage(path, layout)
        if reason:
            rows[path.stem] = ungraded_row(path.stem, layout, reason)
            write_notice(feedback_dir / f"{path.stem}.html", rows[path.stem])
        else:
            gradable[path.stem] = path
    return rows, gradable


def split_class(template, gradable, workers, log_dir):
    """Give each worker a copy of the prepared course folder holding its share of the submissions.

    Returns:
    jobs -- list of (course folder, student ids, log path), one per worker that has something to grade
    """
    jobs = []
    students = sorted(gradable)
    for index in range(min(workers, len(students))):
        course = template.parent / f"worker-{index + 1}"
        shutil.copytree(template, course)
        share = students[index::workers]
        for student in share:
            destination = course / "submitted" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
            destination.parent.mkdir(parents=True)
            shutil.copyfile(gradable[student], destination)
        jobs.append((course, share, log_dir / f"worker-{index + 1}.log"))
    return jobs


def read_layout(release_path):
    """What grading needs to know about the student notebook, read from its nbgrader metadata.

    Returns:
    layout -- a SimpleNamespace with
              points: {function name: points of its grade cell}, in notebook order (the graded parts)
              part_of: {grade_id: function name} for each solution cell and grade cell
              checks: the grade_ids of the grade cells
              locked: {grade_id: source} of the locked cells, as the learner received them
              cell_ids: every grade_id in the notebook
    """
    notebook = nbformat.read(release_path, as_version=4)
    points, part_of, locked = {}, {}, {}
    for cell in notebook.cells:
        metadata = cell.metadata.get("nbgrader", {})
        grade_id = metadata.get("grade_id")
        if metadata.get("grade") and grade_id.endswith(CHECK_SUFFIX):
            points[grade_id[:-len(CHECK_SUFFIX)]] = float(metadata["points"])
        if metadata.get("locked"):
            locked[grade_id] = cell.source
    for function in points:
        part_of[function] = part_of[function + CHECK_SUFFIX] = function
    cell_ids = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells} - {None}
    return SimpleNamespace(points=points, part_of=part_of, checks={f + CHECK_SUFFIX for f in points},
                           locked=locked, cell_ids=cell_ids)


def triage(path, layout):
    """Why nbgrader cannot grade a submission, or None when it can.

    Returns:
    reason -- None, or one of "file name is not a valid student id", "empty file", "invalid notebook",
              "not this assignment"
    """
    if not STUDENT_ID.fullmatch(path.stem):
        return "file name is not a valid student id"
    data = path.read_bytes()
    if not data.strip():
        return "empty file"
    notebook = read_notebook(data)
    if notebook is None:
        return "invalid notebook"
    grade_ids = {cell.metadata.get("nbgrader", {}).get("grade_id") for cell in notebook.cells}
    marked = any(cell.source.startswith(GRADED_MARK) for cell in notebook.cells)
    if grade_ids.isdisjoint(layout.cell_ids) and not marked:
        return "not this assignment"
    return None


def read_notebook(data):
    """The notebook in `data` (bytes), or None when it is not valid JSON in the Jupyter notebook format."""
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        nbformat.validate(notebook)
    except Exception:  # undecodable bytes, broken JSON, or JSON that is not a notebook: all are "invalid"
        return None
    return notebook


class Progress:
    """Prints one line as each worker starts on a student: `[3/20] grading alice`."""

    def __init__(self, total):
        self.total, self.done, self.lock = total, 0, threading.Lock()

    def started(self, student):
        with self.lock:
            self.done += 1
            print(f"[{self.done}/{self.total}] grading {student}", flush=True)


def grading_environment():
    """Environment of the nbgrader processes and of the kernels they start."""
    _, env = nbgrader_command()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # nbgrader gives no points to a grade cell that writes to stderr: keep TensorFlow's C++ log lines and Python
    # warnings raised inside Keras out of the graded cells.
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["PYTHONWARNINGS"] = "ignore"
    # Several kernels may share one GPU: let each take memory as it needs it.
    env.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    return env


def grade_share(course, students, log_path, timeout, progress):
    """Autograde the submissions in one worker's course folder, then generate their feedback; log to log_path."""
    options = [f"--CourseDirectory.root={course}", "--log-level=INFO",
               "--Application.log_format=%(asctime)s [%(name)s | %(levelname)s] %(message)s"]
    limit = [f"--Execute.timeout={timeout}"] if timeout else []
    starts_student = re.compile("Sanitizing " + re.escape(str(course / "submitted")) + r"[/\\](?P<student>[^/\\]+)")
    env = grading_environment()
    with open(log_path, "w") as log:
        command, _ = nbgrader_command("autograde", ASSIGNMENT, *options, *limit)
        with subprocess.Popen(command, cwd=course, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace") as process:
            for line in process.stdout:
                log.write(line)
                match = starts_student.search(line)
                if match:
                    progress.started(match["student"])
        # nbgrader exits with an error when any submission failed; those are reported per student.
        command, _ = nbgrader_command("generate_feedback", ASSIGNMENT, *options)
        log.flush()
        subprocess.run(command, cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT)


def graded_row(course, student, submitted_path, layout, log_path):
    """The grades.csv row of a submission that went through nbgrader."""
    graded_path = course / "autograded" / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    if not graded_path.is_file():  # nbgrader gave up on this submission and removed it
        reason = failure_reason(log_path.read_text(errors="replace"), course, student)
        return ungraded_row(student, layout, f"not graded: {reason} (see autograde_logs/{log_path.name})")
    scores = read_scores(course, student)
    notes = execution_notes(nbformat.read(graded_path, as_version=4), layout)
    notes += restored_cells(read_notebook(submitted_path.read_bytes()), layout)
    return make_row(student, layout, {part: scores[part + CHECK_SUFFIX] for part in layout.points},
                    "; ".join(notes) or "ok")


def copy_feedback(course, row, feedback_dir):
    """Copy nbgrader's feedback page for a student to feedback_dir/<student>.html, or write a notice if it has none."""
    student = row["student"]
    feedback = course / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
    if feedback.is_file():
        shutil.copyfile(feedback, feedback_dir / f"{student}.html")
    else:
        write_notice(feedback_dir / f"{student}.html", row)


def read_scores(course, student):
    """{grade cell id: points} of one student, from a worker's gradebook."""
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, student)
        return {grade.name: grade.score for grade in notebook.grades}


def failure_reason(log_text, course, student):
    """Why nbgrader failed on a student, from the part of the worker's log about that student."""
    start = log_text.find(f"Sanitizing {course / 'submitted' / student}{os.sep}")
    end = log_text.find("Sanitizing ", start + 1) if start != -1 else -1
    section = log_text[max(start, 0):end if end != -1 else None]
    if "DeadKernelError" in section:
        return "the kernel died"
    if "UnresponsiveKernelError" in section:
        return "the kernel stopped responding"
    return "nbgrader error"


def execution_notes(notebook, layout):
    """Short notes on what went wrong while a graded notebook ran, e.g. ["timeout in identity_block"].

    A failed check is the normal way to lose points and gets no note. Notes are given for a timeout in any cell, an
    error raised by a solution cell, a grade cell that could not run its check (NameError when the function was
    deleted or renamed) and output on stderr in a grade cell (nbgrader gives no points for it). One note per part.
    """
    notes, noted_parts, cell_timeouts = [], set(), []
    for number, cell in enumerate(notebook.cells, start=1):
        if cell.cell_type != "code":
            continue
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        part = layout.part_of.get(grade_id)
        is_check = grade_id in layout.checks
        errors = [output.ename for output in cell.outputs if output.output_type == "error"]
        note = None
        if TIMEOUT_ERRORS.intersection(errors) and not part:
            cell_timeouts.append(f"timeout in cell {number}")
        elif TIMEOUT_ERRORS.intersection(errors):
            note = f"timeout in {part}"
        elif errors and part and not is_check:
            note = f"{errors[0]} in {part}"
        elif is_check and CHECK_COULD_NOT_RUN.intersection(errors):
            note = f"{errors[0]} in {part} check"
        elif is_check and not errors and any(output.get("name") == "stderr" for output in cell.outputs):
            note = f"output on stderr in {part} check"
        if note and part not in noted_parts:
            notes.append(note)
            noted_parts.add(part)
    # A loop inside a graded function also stalls the ungraded cells that call it; name those only if nothing else.
    return notes or cell_timeouts[:1]


def restored_cells(notebook, layout):
    """Notes on the locked cells that a submission deleted or edited (nbgrader runs the original instead)."""
    submitted = {}
    for cell in notebook.cells:
        submitted.setdefault(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
    notes = []
    for grade_id, source in layout.locked.items():
        if grade_id not in submitted:
            notes.append(f"locked cell {grade_id} deleted (restored)")
        elif submitted[grade_id] != source:
            notes.append(f"locked cell {grade_id} edited (restored)")
    return notes


def make_row(student, layout, scores, status):
    """A grades.csv row: the student, the points of each part, total, max_total and status."""
    row = {"student": student, **{part: scores[part] for part in layout.points}}
    row.update(total=sum(scores.values()), max_total=sum(layout.points.values()), status=status)
    return row


def ungraded_row(student, layout, reason):
    return make_row(student, layout, dict.fromkeys(layout.points, 0.0), reason)


def write_notice(path, row):
    """A one-page feedback file for a submission that nbgrader could not grade or give feedback on."""
    student, status = html.escape(row["student"]), html.escape(row["status"])
    path.write_text(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{ASSIGNMENT} feedback: {student}</title></head>\n<body>\n"
        f"<h1>{ASSIGNMENT}: feedback for {student}</h1>\n"
        f"<p>Your submission could not be graded: <b>{status}</b>. Score: {row['total']:g} / {row['max_total']:g}."
        "</p>\n<p>Submit the assignment's notebook, <code>ResNet50.ipynb</code>, as saved by Jupyter.</p>\n"
        "</body></html>\n"
    )


def write_grades(path, rows, layout):
    columns = ["student", *layout.points, "total", "max_total", "status"]
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: f"{value:g}" if isinstance(value, float) else value for key, value in row.items()})


def report(rows, graded, workers, grading_seconds, total_seconds, grades_path, feedback_dir, log_dir):
    """Print the class summary, the grading speed and where the results are."""
    full = sum(row["total"] == row["max_total"] for row in rows)
    problems = sum(row["status"] != "ok" for row in rows)
    print(f"\n{len(rows)} students: {full} with full marks, {problems} with a status other than ok.")
    if graded:
        print(f"Graded {graded} notebooks in {grading_seconds:.0f} s with {workers} worker(s): "
              f"{grading_seconds * workers / graded:.1f} s per notebook per worker, "
              f"{60 * graded / grading_seconds:.1f} notebooks per minute ({total_seconds:.0f} s in all).")
    print(f"Grades:   {grades_path}\nFeedback: {feedback_dir}/<student>.html\nLogs:     {log_dir}/")


if __name__ == "__main__":
    main()
