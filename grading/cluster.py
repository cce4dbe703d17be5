"""Grade a class on dask.distributed: one task per submission, on an embedded cluster or on an existing one.

A task receives the submission's bytes and the run's `Grader` (layout, cases, limits, the seed of the judge's
inputs), runs the sandbox on the worker's machine and returns the `Result`; only the client writes files. When a
worker dies (killed, out of memory, machine gone), the scheduler runs its tasks again on another worker, so every
submission ends with exactly one result. A submission whose task has taken down workers
`distributed.scheduler.allowed-failures` times (3 by default) ends as a row that says so instead of stopping the
class.
"""
import hashlib
import os

from distributed import Client, LocalCluster, as_completed
from distributed.scheduler import KilledWorker
from tqdm import tqdm

from signs.constants import PROJECT_DIR as REPO

# The files whose content decides a grade: a worker running another version of them must not grade.
GRADING_SOURCES = ("grading/*.py", "grading/sandboxed/*.py", "checking.py", "public_tests.py", "test_utils.py",
                   "signs/constants.py", "instructor/reference.py", "instructor/source/ResNet50/ResNet50.ipynb")


class WorkerMismatch(RuntimeError):
    """A worker runs other grading code than the client; the message says what to do."""


def grading_code_version(root=REPO):
    """A digest of the grading code and the solution source, the same on every machine of one commit."""
    digest = hashlib.sha256()
    for pattern in GRADING_SOURCES:
        for path in sorted(root.glob(pattern)):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def grade_task(grader, student, data, version):
    """Grade one submission on a worker (the function each task runs)."""
    if version != grading_code_version():
        raise WorkerMismatch(f"the worker on {os.uname().nodename} runs other grading code than the client: give "
                             "every worker the same commit of this repository")
    return grader.grade(student, data)


def open_client(scheduler=None, workers=None):
    """A Client of the cluster at `scheduler`, or of an embedded cluster of `workers` single-thread processes."""
    if scheduler:
        return Client(scheduler, timeout="30s")
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=40)
    return Client(cluster)


def grade_class(grader, submissions, scheduler=None, workers=None, progress=True):
    """Grade {student: bytes}, each as one task; returns {student: Result}.

    Set-aside submissions (empty files and the like) cost the cluster nothing beyond reading them. A grader fault on
    a worker (an exception other than a dead worker) stops the run and is raised here.
    """
    version = grading_code_version()
    results = {}
    with open_client(scheduler, workers) as client:
        # The grader (a few kilobytes) travels with each task rather than scattered once: scattered data would be lost
        # with the worker that holds it.
        futures = {client.submit(grade_task, grader, student, data, version, key=f"grade-{student}", pure=False):
                   student for student, data in submissions.items()}
        bar = tqdm(total=len(futures), unit="submission", disable=not progress, desc="grading", smoothing=0.1)
        for future in as_completed(futures):
            student = futures[future]
            try:
                results[student] = future.result()
            except KilledWorker:
                results[student] = grader.set_aside(student, "not graded: its grading worker died repeatedly "
                                                             "(killed, or out of memory)")
            bar.update()
            bar.set_postfix_str(f"{student}: {results[student].row['total']:g}/{results[student].row['max_total']:g}",
                                refresh=False)
        bar.close()
    return results
