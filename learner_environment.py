"""Check and prepare the Python environment that runs the notebook.

The notebook's first cell, the setup cell, calls `prepare()` before anything imports TensorFlow, so a learner whose
environment cannot run the assignment gets one line that says what to do instead of an error deep inside Keras.
Only the standard library is used here: this module runs before anything else is known to be installed.

The supported versions are the ranges of `requirements-learner.txt`, beside this file, which `make compat` tests.
"""
import contextlib
import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

REQUIREMENTS_PATH = Path(__file__).resolve().parent / "requirements-learner.txt"
LEGACY_KERAS_ENV_VAR = "TF_USE_LEGACY_KERAS"
# TensorFlow's C++ log level: 2 hides its start-up notices and warnings, errors still show.
TF_LOG_LEVEL_ENV_VAR = "TF_CPP_MIN_LOG_LEVEL"
QUIET_TF_LOG_LEVEL = "2"
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9_.-]+)\s*>=\s*(?P<low>[\d.]+)(?:\s*,\s*<\s*(?P<high>[\d.]+))?$")


class EnvironmentProblem(RuntimeError):
    """The environment cannot run the notebook; the message says what to do."""

    def _render_traceback_(self):
        # IPython shows these lines instead of a traceback: the message is all a learner needs.
        return [f"{type(self).__name__}: {self}"]


def parse_requirements(path=REQUIREMENTS_PATH):
    """The requirements of `path`, one `name>=low` or `name>=low,<high` per line (`#` starts a comment).

    Returns:
        list of `(name, low, high, line)`: version tuples of ints (`high` None when unbounded), and the line as
        written, which pip understands.
    """
    requirements = []
    for number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        line = raw.split("#")[0].strip()
        if not line:
            continue
        match = _REQUIREMENT.match(line)
        if not match:
            raise ValueError(f"{path}, line {number}: expected `name>=low` or `name>=low,<high`, got {line!r}")
        high = match["high"] and version_tuple(match["high"])
        requirements.append((match["name"], version_tuple(match["low"]), high, line))
    return requirements


def version_tuple(text):
    """(2, 19, 1) from "2.19.1", "2.19.1rc0" or "2.19.1+cpu": the leading numbers only."""
    return tuple(int(part) for part in re.match(r"\d+(?:\.\d+)*", text)[0].split("."))


def installed_version(name):
    """The installed version of distribution `name` as text, or None when it is not installed."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def missing_requirements(requirements=None):
    """The requirement lines whose package is not installed at all."""
    requirements = parse_requirements() if requirements is None else requirements
    return [line for name, _, _, line in requirements if installed_version(name) is None]


def _shown(version):
    return ".".join(map(str, version))


def check_versions(requirements=None, environ=os.environ):
    """Raise `EnvironmentProblem` if the notebook cannot run here; return warnings about untested versions.

    Problems: a missing package, a version older than the range (Keras 2 among them), and `TF_USE_LEGACY_KERAS`,
    which makes TensorFlow use the Keras 2 package `tf_keras`. A version newer than the range is not an error, since
    it usually works: it comes back as a one-line warning.

    Returns:
        list of warning lines (empty when every version is in the tested range).
    """
    requirements = parse_requirements() if requirements is None else requirements
    if environ.get(LEGACY_KERAS_ENV_VAR, "").strip().lower() in ("1", "true", "yes"):
        raise EnvironmentProblem(
            f"{LEGACY_KERAS_ENV_VAR}={environ[LEGACY_KERAS_ENV_VAR]} makes TensorFlow use Keras 2 (tf_keras), but this "
            f"assignment needs Keras 3: remove that setting (del os.environ['{LEGACY_KERAS_ENV_VAR}']) and restart "
            "the kernel.")
    warnings = []
    for name, low, high, line in requirements:
        found = installed_version(name)
        if found is None:
            raise EnvironmentProblem(f"{name} is not installed: run the setup cell at the top of the notebook, or "
                                     f"`pip install \"{line}\"`, then restart the kernel.")
        if version_tuple(found) < low:
            raise EnvironmentProblem(f"{name} {found} is too old for this assignment (it needs {name} {_shown(low)} "
                                     f"or newer): run `pip install \"{line}\"`, then restart the kernel.")
        if high and version_tuple(found) >= high:
            warnings.append(f"{name} {found} is newer than the versions this assignment was tested with ({line}); "
                            f"if a check fails unexpectedly, run `pip install \"{line}\"` and restart the kernel.")
    return warnings


@contextlib.contextmanager
def native_stderr_silenced():
    """Send what C++ libraries write to the process's stderr to /dev/null for the duration.

    TensorFlow prints notices (oneDNN, CUDA drivers) while it loads, some before its log level is read, and the
    notebook shows them in red. Python's own errors are not affected: they go through `sys.stderr`, not through
    file descriptor 2 directly.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def load_tensorflow_quietly(environ=os.environ):
    """Import TensorFlow and Keras and find the devices without TensorFlow's start-up notices and warnings.

    Returns:
        `(tensorflow version, keras version)`.
    """
    environ.setdefault(TF_LOG_LEVEL_ENV_VAR, QUIET_TF_LOG_LEVEL)
    with native_stderr_silenced():
        import keras
        import tensorflow as tf
        tf.config.list_physical_devices()  # looks for GPUs now, so that its notices are silenced too
    # TensorFlow's Python warnings (such as retracing notices) are advice for library authors; errors still show.
    tf.get_logger().setLevel("ERROR")
    return tf.__version__, keras.__version__


def install(requirement_lines):
    """pip-install `requirement_lines` into this Python; packages already installed are not touched."""
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *requirement_lines], check=True)
    importlib.invalidate_caches()  # so that this running Python finds the new packages


def prepare(environ=os.environ):
    """What the setup cell does once the assignment's files are here.

    Installs missing packages, checks versions and loads TensorFlow quietly. Prints one line per step.
    """
    lines = []
    missing = missing_requirements()
    if missing:
        install(missing)
        lines.append(f"installed {', '.join(missing)}")
    lines += check_versions(environ=environ)
    lines.append("TensorFlow {}, Keras {}: ready".format(*load_tensorflow_quietly(environ)))
    for line in lines:
        print(line)
