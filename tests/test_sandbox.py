"""The real bubblewrap sandbox: what code inside it can see, reach, write and start, and how it is stopped.

Each test runs a small job through `grading.sandbox.run_job` (no TensorFlow: the imports cell is plain Python) whose
solution cell probes one property and prints what it found; the test reads the printed text.
"""
import json
import os
import shutil
import socket
import sys
import time

import psutil

from grading import sandbox

QUICK = sandbox.Limits(wall_seconds=30, step_seconds=10)


def probe(code, limits=QUICK, sandboxed=True):
    """Run `code` as a solution cell in a fresh sandbox; returns (SandboxRun, printed text)."""
    run = sandbox.run_job({"imports": "import os", "solutions": {"identity_block": code}, "cases": []}, limits,
                          sandboxed)
    printed = next((record["text"] for record in run.records if record.get("event") == "printed"), "")
    return run, printed


def probe_json(code):
    run, printed = probe(code + "\nimport json\nprint(json.dumps(found))")
    assert run.ending == "finished", (run.ending, run.output)
    return json.loads(printed)


def test_bubblewrap_is_installed():
    assert shutil.which("bwrap"), sandbox.INSTALL_HINT
    sandbox.check_sandbox()


def test_runs_as_an_unprivileged_user_without_capabilities():
    found = probe_json("found = {'uid': os.getuid(), 'gid': os.getgid(), 'capabilities': [line.split()[1] for line in "
                       "open('/proc/self/status') if line.startswith('CapEff')][0]}")
    assert found == {"uid": sandbox.NOBODY, "gid": sandbox.NOBODY, "capabilities": "0000000000000000"}


def test_sees_neither_the_course_nor_the_results(tmp_path):
    repo = sandbox.PROJECT_DIR
    hidden = [str(repo / name) for name in ("instructor", "outputs", "grading", "tests", ".git", "ResNet50.ipynb")]
    found = probe_json(f"found = {{'exists': [path for path in {hidden + [str(tmp_path)]!r} if os.path.exists(path)], "
                       f"'repository': sorted(os.listdir({str(repo)!r})) if os.path.isdir({str(repo)!r}) else []}}")
    assert found["exists"] == []
    # the repository's folder exists inside only when the Python environment is mounted below it
    assert set(found["repository"]) <= {os.path.relpath(sandbox.sys.prefix, repo).split(os.sep)[0]}


def test_learner_modules_and_python_are_read_only_and_tmp_is_private():
    code = """
found = {}
for path in ['/learner/public_tests.py', '/grader/run_submission.py', os.__file__, '/usr/bin/newfile']:
    try:
        open(path, 'a').close()
        found[path] = 'written'
    except OSError as error:
        found[path] = type(error).__name__
open('/tmp/scratch.txt', 'w').write('ok')
found['tmp'] = open('/tmp/scratch.txt').read()
found['tmp listing'] = sorted(os.listdir('/tmp'))
"""
    # the Python environment is mounted at its own path, which may lie under /tmp (a clone there, say)
    mounted = {os.path.relpath(prefix, "/tmp").split(os.sep)[0] for prefix in (sys.prefix, sys.base_prefix)
               if os.path.realpath(prefix).startswith("/tmp/") or prefix.startswith("/tmp/")}
    found = probe_json(code)
    assert found.pop("tmp") == "ok"
    assert set(found.pop("tmp listing")) - mounted == {"scratch.txt"}
    assert set(found.values()) <= {"OSError", "PermissionError"}, found


def test_has_no_network_not_even_the_hosts_loopback():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        code = f"""
import socket
found = {{}}
try:
    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()
    found['loopback'] = 'connected'
except OSError as error:
    found['loopback'] = type(error).__name__
found['interfaces'] = sorted(name for _, name in socket.if_nameindex())
"""
        found = probe_json(code)
    assert found["loopback"] != "connected"
    assert found["interfaces"] == ["lo"]


def test_no_new_processes_and_only_its_own_process_is_visible():
    code = """
import subprocess
found = {}
for name, start in [('fork', os.fork), ('subprocess', lambda: subprocess.run(['true'])),
                    ('exec', lambda: os.execv('/bin/true', ['true']))]:
    try:
        start()
        found[name] = 'started'
    except OSError as error:
        found[name] = type(error).__name__
found['processes'] = sorted(int(name) for name in os.listdir('/proc') if name.isdigit())
import threading
thread = threading.Thread(target=lambda: None)
thread.start()
thread.join()
found['thread'] = 'ran'
"""
    found = probe_json(code)
    assert found["fork"] == found["subprocess"] == found["exec"] == "PermissionError"
    assert found["processes"] == [1, 2] and found["thread"] == "ran"


def test_memory_is_limited():
    limits = sandbox.Limits(memory_bytes=1024 ** 3, wall_seconds=30, step_seconds=20)
    run, _ = probe("import numpy\nhog = [numpy.ones(256 * 1024 ** 2, dtype=numpy.uint8) for _ in range(16)]", limits)
    cell = next(record for record in run.records if record.get("event") == "cell")
    assert cell["error"]["type"] == "MemoryError"


def test_a_loop_that_blocks_the_step_alarm_is_killed_at_the_wall_limit():
    limits = sandbox.Limits(wall_seconds=5, step_seconds=2)
    started = time.monotonic()
    run, _ = probe("import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\nwhile True:\n    pass",
                   limits)
    assert run.ending == "wall time limit"
    assert time.monotonic() - started < limits.wall_seconds + 10


def test_a_step_that_runs_too_long_is_interrupted_and_the_rest_goes_on():
    limits = sandbox.Limits(wall_seconds=30, step_seconds=1)
    run = sandbox.run_job({"imports": "", "solutions": {"identity_block": "while True:\n    pass",
                                                        "ResNet50": "x = 1"}, "cases": []}, limits)
    cells = {record["function"]: record["error"] for record in run.records if record.get("event") == "cell"}
    assert run.ending == "finished"
    assert cells["identity_block"]["timeout"] and cells["ResNet50"] is None


def test_nothing_it_started_outlives_it():
    before = {process.pid for process in psutil.process_iter()}
    run, _ = probe("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport threading, time\n"
                   "threading.Thread(target=time.sleep, args=(600,)).start()")
    assert run.ending == "finished"
    left = [process for process in psutil.process_iter(["cmdline"])
            if process.pid not in before and "run_submission.py" in " ".join(process.info["cmdline"] or [])]
    assert not left


def test_a_crash_is_reported_as_an_ending():
    run, _ = probe("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert run.ending == "died (SIGKILL)"
    assert [record["event"] for record in run.records] == []


def test_errors_name_the_learners_line():
    run, _ = probe("x = 1\ny = undefined_name + x")
    cell = next(record for record in run.records if record.get("event") == "cell")
    assert cell["error"]["type"] == "NameError"
    assert cell["error"]["line"] == {"cell": "identity_block", "number": 2, "text": "y = undefined_name + x"}
