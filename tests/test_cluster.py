"""Grading on dask.distributed with real processes: a scheduler and two workers started here, one of them killed.

The same small class is graded by the embedded cluster (the default of `make autograde`), received as an nbgrader
course, and through an external scheduler whose worker dies mid-run, received as an LMS download with a names file;
both must give the same grades.csv, under the right student ids. A submission that kills its worker every time ends
as a row. Then the details of reading what instructors receive (attempts, unknown names, hostile paths).
"""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from distributed import Client

from autograde_fixtures import FIXTURE_CLASS, HOSTILE_CLASS, write_class, write_submission
from grading.collect import collect
from signs.constants import PROJECT_DIR

BIN = Path(sys.executable).parent
CLASS = ["correct", "blank", "syntax_error", "convolutional_wrong", "resnet50_tailored", "exception"]


def autograde(submissions, output_dir, *options, wait=True, env=None):
    command = [sys.executable, "-m", "tools.autograde", str(submissions), "--output-dir", str(output_dir),
               "--timeout", "10", "--wall-timeout", "60", *options]
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env)
    if not wait:
        return process
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    return output


def grades(output_dir):
    return (output_dir / "grades.csv").read_text()


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    """The class as an nbgrader course: submitted/<student>/ResNet50/ResNet50.ipynb."""
    course = tmp_path_factory.mktemp("cluster") / "course"
    write_class(course / "notebooks", CLASS)
    for student in CLASS:
        folder = course / "submitted" / student / "ResNet50"
        folder.mkdir(parents=True)
        (course / "notebooks" / f"{student}.ipynb").rename(folder / "ResNet50.ipynb")
    return course


def lms_download(course, folder):
    """The same class as a Moodle download (`<full name>_<id>_assignsubmission_file_/...`) and its names file."""
    archive, names = folder / "moodle.zip", folder / "names.csv"
    with zipfile.ZipFile(archive, "w") as bundle:
        for number, student in enumerate(CLASS):
            notebook = course / "submitted" / student / "ResNet50" / "ResNet50.ipynb"
            bundle.write(notebook, f"Learner {number}_{7000 + number}_assignsubmission_file_/ResNet50.ipynb")
    names.write_text("lms_name,student_id\n" + "".join(f"Learner {number},{student}\n"
                                                        for number, student in enumerate(CLASS)))
    return archive, names


@pytest.fixture(scope="module")
def embedded(small_class, tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("embedded")
    printed = autograde(small_class, output_dir, "--workers", "2")
    return output_dir, printed


def test_embedded_cluster_grades_every_submission_once(embedded):
    """The nbgrader course's students are graded under their folder names, each once, each as expected."""
    output_dir, printed = embedded
    rows = list(csv.DictReader(io.StringIO(grades(output_dir))))
    assert sorted(row["student"] for row in rows) == sorted(CLASS)
    for row in rows:
        expected = FIXTURE_CLASS[row["student"]]
        assert (int(row["identity_block"]), int(row["convolutional_block"]), int(row["ResNet50"])) == expected.points
        assert row["status"] == expected.status
    assert "on 2 embedded worker(s)" in printed and "grading: 100%" in printed


def test_a_submission_that_kills_its_worker_every_time_ends_as_a_row(tmp_path):
    """Without the sandbox a submission can kill the worker that grades it; the class still finishes."""
    write_class(tmp_path / "submitted", ["correct", "hostile_kill_parent"], {**FIXTURE_CLASS, **HOSTILE_CLASS})
    two_deaths = dict(os.environ, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")  # default 3: four deaths
    printed = autograde(tmp_path / "submitted", tmp_path / "outputs", "--workers", "1", "--no-sandbox", env=two_deaths)
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(grades(tmp_path / "outputs")))}
    assert rows["correct"]["total"] == "10" and rows["correct"]["status"] == "ok"
    assert rows["hostile_kill_parent"]["total"] == "0"
    assert rows["hostile_kill_parent"]["status"] == ("not graded: its grading worker died repeatedly (killed, or out "
                                                     "of memory)")
    assert "2 students: 1 with full marks" in printed


def start(command, **keywords):
    return subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True, env=dict(os.environ, PYTHONPATH=str(PROJECT_DIR)), **keywords)


def test_external_scheduler_with_a_worker_killed_mid_run_gives_the_same_grades(small_class, embedded, tmp_path):
    """The class, downloaded from an LMS this time, graded by two worker processes of which one is killed."""
    scheduler_file = tmp_path / "scheduler.json"
    processes = [start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(scheduler_file)])]
    try:
        for _ in range(600):
            if scheduler_file.exists():
                break
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        workers = [start([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard", "--host",
                          "127.0.0.1", "--name", f"worker-{number}"]) for number in (1, 2)]
        processes += workers
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            archive, names = lms_download(small_class, tmp_path)
            run = autograde(archive, tmp_path / "outputs", "--scheduler", address, "--names", names, wait=False)
            victim = None
            for _ in range(1200):  # kill the worker that first holds a grading task
                busy = [worker for worker, keys in client.processing().items() if keys]
                if busy:
                    name = client.scheduler_info()["workers"][busy[0]]["name"]
                    victim = workers[int(str(name).split("-")[1]) - 1]
                    os.killpg(victim.pid, signal.SIGKILL)
                    break
                time.sleep(0.1)
            output, _ = run.communicate(timeout=600)
        assert victim is not None, "no worker ever held a task"
        assert run.returncode == 0, output
        assert grades(tmp_path / "outputs") == grades(embedded[0])
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_nbgrader_course_layout_is_read_with_its_ids(tmp_path):
    for student in ("alice", "bob"):
        folder = tmp_path / "course" / "submitted" / student / "ResNet50"
        folder.mkdir(parents=True)
        write_submission(FIXTURE_CLASS["correct"], folder / "ResNet50.ipynb")
    (tmp_path / "course" / "submitted" / "carol" / "ResNet50").mkdir(parents=True)
    collection = collect(tmp_path / "course")
    assert sorted(collection.submissions) == ["alice", "bob"]
    assert collection.unusable == [("carol", "0 notebooks in carol/ResNet50/, expected 1")]


def test_lms_download_is_read_with_the_names_file(tmp_path):
    write_submission(FIXTURE_CLASS["correct"], tmp_path / "notebook.ipynb")
    data = (tmp_path / "notebook.ipynb").read_bytes()
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("smithjane_1234_998877_ResNet50.ipynb", data)  # Canvas
        bundle.writestr("doejohn_late_2345_998878_ResNet50-1.ipynb", data)  # Canvas, late
        bundle.writestr("Ana Lima_3456_assignsubmission_file_/ResNet50.ipynb", data)  # Moodle
        bundle.writestr("ResNet50_kwame_attempt_2026-11-20-10-00-00_ResNet50.ipynb", data)  # Blackboard, 1st try
        bundle.writestr("ResNet50_kwame_attempt_2026-11-21-09-00-00_ResNet50.ipynb", data)  # Blackboard, 2nd try
        bundle.writestr("../../escape.ipynb", data)
        bundle.writestr("notes.txt", b"not a notebook")
        bundle.writestr("unknown_person_ResNet50.ipynb", data)
    names = tmp_path / "names.csv"
    names.write_text("lms_name,student_id\nsmithjane,jsmith\ndoejohn,jdoe\nAna Lima,alima\nkwame,kmensah\n")
    collection = collect(archive, names)
    assert sorted(collection.submissions) == ["alima", "jdoe", "jsmith", "kmensah"]
    reasons = dict(collection.unusable)
    assert reasons["notes.txt"] == "not a notebook"
    assert reasons["ResNet50_kwame_attempt_2026-11-20-10-00-00_ResNet50.ipynb"].startswith("an earlier attempt")
    assert "not in the names file" in reasons["unknown_person_ResNet50.ipynb"]
    assert "../../escape.ipynb" in reasons
    assert not (tmp_path.parent / "escape.ipynb").exists()
