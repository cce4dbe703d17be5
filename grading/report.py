"""Write what a grading run found: grades.csv, a feedback page per student, and an nbgrader gradebook.

Only the trusted side calls these, after every submission has been graded; a file is written whole (to a temporary
name, then renamed), so a run that stops never leaves a partial grades.csv.
"""
import csv
import html
import io
import os
import shutil
import warnings
from pathlib import Path

from nbgrader.api import Gradebook

from grading.submission import CHECK_SUFFIX

ASSIGNMENT = "ResNet50"


def _write_atomically(path, text):
    path = Path(path)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(text)
    os.replace(temporary, path)


def grades_csv(rows, functions):
    """The text of grades.csv: one row per student, sorted by id."""
    columns = ["student", *functions, "total", "max_total", "status", "isolation"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda row: row["student"]):
        writer.writerow({key: f"{value:g}" if isinstance(value, float) else value for key, value in row.items()})
    return buffer.getvalue()


def write_grades(path, rows, functions):
    """Writes the class's grades as CSV: one row per student, one column per graded function."""
    _write_atomically(path, grades_csv(rows, functions))


def feedback_page(result):
    """A learner's feedback page: the score, then each function's points and message, then what the code printed."""
    row = result.row
    student = html.escape(row["student"])
    parts = [
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">",
        f"<title>{ASSIGNMENT} feedback: {student}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;line-height:1.4}"
        "pre{background:#f4f4f4;padding:.8em;white-space:pre-wrap}.passed{color:#1a7f37}.failed{color:#b42318}"
        "</style></head>\n<body>",
        f"<h1>{ASSIGNMENT}: feedback for {student}</h1>",
        f"<p>Score: <b>{row['total']:g} / {row['max_total']:g}</b>. Status: {html.escape(row['status'])}.</p>",
    ]
    for function, outcome in result.functions.items():
        points = row[function]
        verdict = "passed" if points > 0 else "failed"
        parts.append(f"<h2 class=\"{verdict}\">{html.escape(function)}: {points:g} points</h2>")
        parts.append(f"<pre>{html.escape(outcome.message or 'Not graded.')}</pre>")
    if result.printed.strip():
        parts.append("<details><summary>What your code printed while it was graded</summary>")
        parts.append(f"<pre>{html.escape(result.printed)}</pre></details>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def write_feedback(folder, results):
    """Replace `folder` with one `<student>.html` per result."""
    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for result in results:
        _write_atomically(folder / f"{result.row['student']}.html", feedback_page(result))


def write_gradebook(path, template, results, functions):
    """Copy the course's gradebook (made by nbgrader generate_assignment) to `path` and record every score in it.

    The scores are the automatic scores of the grade cells `<function>_test`, so `nbgrader export` and formgrader
    read them as if nbgrader's own autograde had written them.
    """
    temporary = Path(path).with_name(f".{Path(path).name}.partial")
    shutil.copyfile(template, temporary)
    with Gradebook(f"sqlite:///{temporary}") as gradebook, warnings.catch_warnings():
        # nbgrader's add_submission makes SQLAlchemy warn about its own autoflush; the rows are written all the same
        warnings.simplefilter("ignore")
        for result in results:
            student = result.row["student"]
            gradebook.update_or_create_student(student)
            gradebook.add_submission(ASSIGNMENT, student)
            for function in functions:
                grade = gradebook.find_grade(function + CHECK_SUFFIX, ASSIGNMENT, ASSIGNMENT, student)
                grade.auto_score = result.row[function]
            gradebook.db.commit()
    os.replace(temporary, path)
