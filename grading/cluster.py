"""Grade a class on dask.distributed: one task per submission, on an embedded cluster or on an existing one.

A task receives the submission's bytes and the run's `Grader` (layout, cases, limits, the seed of the judge's
inputs), runs the sandbox on the worker's machine and returns the `Result`; only the client writes files. When a
worker dies (killed, out of memory, machine gone), the scheduler runs its tasks again on another worker, so every
submission ends with exactly one result. A submission whose task was running on a dying worker more than
`distributed.scheduler.allowed-failures` times (3 by default) ends as a row that says so instead of stopping the
class. While no worker is connected the run waits, and says so on the terminal.
"""
import functools
import hashlib
import logging
import os

from distributed import Client, LocalCluster, wait
from distributed.scheduler import KilledWorker
from tqdm import tqdm

from grading import sandbox
from signs.constants import PROJECT_DIR

# Seconds without a finished submission after which the run checks that some worker is still connected.
STALL_NOTICE_SECONDS = 60
# The files whose content decides a grade: a worker running another version of them must not grade.
GRADING_SOURCES = ("grading/*.py", "grading/sandboxed/*.py", "checking.py", "public_tests.py", "test_utils.py",
                   "signs/constants.py", "instructor/reference.py", "instructor/source/ResNet50/ResNet50.ipynb")


class WorkerMismatch(RuntimeError):
    """A worker cannot grade as the client would (other grading code, no working sandbox); the message says why."""


@functools.cache
def grading_code_version(root=PROJECT_DIR):
    """A digest of the grading code and the solution source, the same on every machine of one commit.

    Computed once per process: a worker keeps the version of the files it started with, which is the code it runs.
    """
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
    if grader.sandboxed:
        _check_sandbox_once(grader.limits)
    return grader.grade(student, data)


@functools.cache
def _check_sandbox_once(limits):
    """Refuse to grade on a machine where bubblewrap cannot start a sandbox (checked once per worker process)."""
    try:
        sandbox.check_sandbox(limits)
    except sandbox.SandboxUnavailable as problem:
        raise WorkerMismatch(f"the worker on {os.uname().nodename} cannot start a sandbox: {problem}") from None


def open_client(scheduler=None, workers=None):
    """A Client of the cluster at `scheduler`, or of an embedded cluster of `workers` single-thread processes."""
    if scheduler:
        return Client(scheduler, timeout="30s")
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.CRITICAL)
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
        pending = set(futures)
        while pending:
            try:
                done, pending = wait(pending, timeout=STALL_NOTICE_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:
                if not client.scheduler_info()["workers"]:
                    bar.write(f"No worker is connected to {client.scheduler.address}: the run waits for one. Start "
                              "workers (see README, 'Large classes and several machines'), or press Ctrl-C to stop "
                              "without writing grades.")
                continue
            for future in done:
                student = futures[future]
                try:
                    results[student] = future.result()
                except KilledWorker:
                    results[student] = grader.set_aside(student, "not graded: its grading worker died repeatedly "
                                                                 "(killed, or out of memory)")
                bar.update()
                bar.set_postfix_str(f"{student}: {results[student].row['total']:g}/"
                                    f"{results[student].row['max_total']:g}", refresh=False)
        bar.close()
    return results
