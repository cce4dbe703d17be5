"""Run a submission's code in its own bubblewrap sandbox and collect what it reports.

Each run is one process tree in new user, PID, IPC, UTS, cgroup and network namespaces (no network, not even a
loopback shared with anything), running as an unprivileged user (uid 65534) with no capabilities. It sees a
read-only view of the system's libraries, the Python environment, the sandbox program (`grading/sandboxed/`) and the
learner-side modules at the top of the repository, and a small private writable /tmp; nothing of `instructor/`,
`outputs/`, the submissions or the gradebook exists there. Resource limits (address space, CPU time, file size, open
files) apply to the whole tree, the program inside forbids new processes before any learner code runs, and the host
kills the tree when it runs past its wall time. When bwrap's first process ends, the kernel ends every process in
the sandbox's PID namespace, detached ones included.
"""
import json
import os
import resource
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from signs.constants import PROJECT_DIR

SANDBOXED_DIR = Path(__file__).resolve().parent / "sandboxed"
RUNNER = "run_submission.py"
INSTALL_HINT = ("bubblewrap is not installed. Install it with `sudo apt-get install bubblewrap` (Debian/Ubuntu) or "
                "`sudo dnf install bubblewrap` (Fedora), or grade without isolation with --no-sandbox (unsafe for "
                "untrusted notebooks).")
SYSTEM_DIRS = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin")
SYSTEM_FILES = ("/etc/ld.so.cache",)
INSIDE_RUNNER_DIR, INSIDE_LEARNER_DIR, INSIDE_SCRATCH = "/grader", "/learner", "/tmp"
NOBODY = 65534


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Memory is address space, which includes about 1.5 GB that TensorFlow maps."""

    memory_bytes: int = 4 * 1024 ** 3
    cpu_seconds: int = 300
    wall_seconds: float = 180.0  # the whole submission, TensorFlow's import included
    step_seconds: float = 30.0  # one solution cell, or one call of a graded function
    file_bytes: int = 16 * 1024 ** 2
    scratch_bytes: int = 64 * 1024 ** 2
    open_files: int = 256
    printed_characters: int = 20_000  # of the learner's printed output, kept for the feedback
    result_bytes: int = 64 * 1024 ** 2  # of the records the sandbox writes back


@dataclass
class SandboxRun:
    """What came back from one run.

    Attributes:
        records: the JSON records the sandbox program wrote (see grading/sandboxed/run_submission.py), in order
        ending: "finished", "wall time limit", "CPU time limit", "memory limit", or "died (<signal or exit code>)"
        output: the process's own output outside the learner's redirected prints (capped), for diagnosing a death
        seconds: wall time of the run
    """

    records: list
    ending: str
    output: str
    seconds: float


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces on this machine; the message says what to do."""


LEARNER_PACKAGE = "signs"


def learner_paths():
    """What a solution cell may import: the learner-side modules at the top of the repository and their package."""
    return [*sorted(PROJECT_DIR.glob("*.py")), PROJECT_DIR / LEARNER_PACKAGE]


def _bind_python():
    """bwrap arguments that make this Python environment (venv and base interpreter) visible read-only."""
    arguments = []
    for prefix in sorted({sys.prefix, sys.base_prefix, sys.exec_prefix}):
        arguments += ["--ro-bind", os.path.realpath(prefix), prefix]
    return arguments


def bwrap_command(limits):
    """The command line that runs the sandbox program in a fresh sandbox."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(INSTALL_HINT)
    command = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--uid", str(NOBODY), "--gid",
               str(NOBODY), "--hostname", "sandbox", "--proc", "/proc", "--dev", "/dev"]
    if os.geteuid() == 0:
        command += ["--cap-drop", "ALL"]
    # The scratch folder first: the mounts below stay visible even when the Python environment lives under /tmp.
    command += ["--size", str(limits.scratch_bytes), "--tmpfs", INSIDE_SCRATCH]
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            command += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            command += ["--ro-bind", path, path]
    for path in SYSTEM_FILES:
        if os.path.isfile(path):
            command += ["--ro-bind", path, path]
    command += _bind_python()
    command += ["--ro-bind", str(SANDBOXED_DIR), INSIDE_RUNNER_DIR]
    for path in learner_paths():
        command += ["--ro-bind", str(path), f"{INSIDE_LEARNER_DIR}/{path.name}"]
    command += ["--chdir", INSIDE_SCRATCH, "--clearenv"]
    for name, value in sandbox_environment().items():
        command += ["--setenv", name, value]
    return command + ["--", sys.executable, f"{INSIDE_RUNNER_DIR}/{RUNNER}"]


def sandbox_environment(learner_dir=INSIDE_LEARNER_DIR, scratch=INSIDE_SCRATCH):
    """Environment variables of the sandbox program: quiet TensorFlow, one thread pool, no GPU."""
    return {"PYTHONPATH": str(learner_dir), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
            "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": "",
            "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "OMP_NUM_THREADS": "1",
            "MPLCONFIGDIR": f"{scratch}/matplotlib", "KERAS_HOME": str(scratch), "HOME": str(scratch),
            "PATH": "/usr/bin:/bin"}


def _set_limits(limits):
    def apply():
        for name, value in ((resource.RLIMIT_AS, limits.memory_bytes), (resource.RLIMIT_CPU, limits.cpu_seconds),
                            (resource.RLIMIT_FSIZE, limits.file_bytes), (resource.RLIMIT_NOFILE, limits.open_files),
                            (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(name, (value, value))
    return apply


def run_job(job, limits=Limits(), sandboxed=True):
    """Run the sandbox program on `job` (a dict, see run_submission.py) and return a SandboxRun.

    Args:
        job: dict, see run_submission.py.
        limits: `Limits` of the run.
        sandboxed: False runs the program as a plain child process (--no-sandbox): still with the resource limits and
            without new processes, but with the grader's view of the file system and network.
    """
    result_read, result_write = os.pipe()
    output_read, output_write = os.pipe()
    job = dict(job, result_fd=result_write, step_seconds=limits.step_seconds,
               printed_characters=limits.printed_characters)
    with tempfile.TemporaryDirectory(prefix="submission-") as scratch:
        if sandboxed:
            command, environment, cwd = bwrap_command(limits), None, None
        else:
            command = [sys.executable, str(SANDBOXED_DIR / RUNNER)]
            environment, cwd = sandbox_environment(PROJECT_DIR, scratch), scratch
        started = time.monotonic()
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=output_write, stderr=output_write,
                                   pass_fds=(result_write,), preexec_fn=_set_limits(limits), start_new_session=True,
                                   env=environment, cwd=cwd)
        os.close(result_write)
        os.close(output_write)
        try:
            process.stdin.write(json.dumps(job).encode())
            process.stdin.close()
        except BrokenPipeError:  # the program died before reading its job; its ending says why
            pass
        streams, timed_out = _collect(process, {result_read: limits.result_bytes, output_read: 64 * 1024},
                                      started + limits.wall_seconds)
        seconds = time.monotonic() - started
    records = []
    for line in streams[result_read].decode("utf-8", "replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:  # a record cut by the size limit or by the end of the process
            break
    output = streams[output_read].decode("utf-8", "replace")
    return SandboxRun(records, _ending(process.returncode, timed_out, output, records), output, seconds)


def _collect(process, caps, deadline):
    """Read every pipe in `caps` until all close, keeping at most caps[fd] bytes each; kill the tree at deadline."""
    selector = selectors.DefaultSelector()
    data = {fd: bytearray() for fd in caps}
    for fd in caps:
        selector.register(fd, selectors.EVENT_READ)
    timed_out = False
    while selector.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            _kill(process)
            deadline = float("inf")
            continue
        for key, _ in selector.select(timeout=min(remaining, 1.0)):
            chunk = os.read(key.fd, 65536)
            if not chunk:
                selector.unregister(key.fd)
                os.close(key.fd)
            elif len(data[key.fd]) < caps[key.fd]:
                data[key.fd] += chunk[:caps[key.fd] - len(data[key.fd])]
        if process.poll() is not None and not timed_out:
            deadline = min(deadline, time.monotonic() + 5)  # the tree is gone; drain what is left, then stop
    selector.close()
    _kill(process)
    process.wait()
    return {fd: bytes(value) for fd, value in data.items()}, timed_out


def _kill(process):
    """Kill the sandbox's whole process group; with --die-with-parent the namespace then ends too."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


MEMORY_SIGNS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "ResourceExhaustedError", "OOM when allocating")


def _ending(returncode, timed_out, output, records):
    if timed_out:
        return "wall time limit"
    if records and records[-1].get("event") == "done":
        return "finished"
    if returncode == -signal.SIGXCPU or returncode == 128 + signal.SIGXCPU:
        return "CPU time limit"
    if any(sign in output for sign in MEMORY_SIGNS) or any(
            (record.get("error") or {}).get("type") == "MemoryError" for record in records):
        return "memory limit"
    if returncode is not None and returncode < 0:
        return f"died ({signal.Signals(-returncode).name})"
    if returncode is not None and returncode > 128 and returncode - 128 in signal.Signals._value2member_map_:
        return f"died ({signal.Signals(returncode - 128).name})"
    return f"died (exit code {returncode})"


def check_sandbox(limits=Limits()):
    """Raise SandboxUnavailable with advice when bubblewrap cannot start a sandbox here."""
    command = bwrap_command(limits)
    command[-1:] = ["-c", "pass"]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if finished.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap could not start a sandbox ({finished.stderr.strip() or finished.returncode}). "
            "If it names user namespaces: on Ubuntu 24.04 and later allow them for bwrap with an AppArmor profile, "
            "or set kernel.apparmor_restrict_unprivileged_userns=0. Otherwise grade with --no-sandbox (unsafe).")
