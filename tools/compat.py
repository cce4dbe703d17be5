"""The version matrix (`make compat`): the learner's side of the assignment in one environment per supported release.

Each row is a fresh virtual environment under `.compat/` (git-ignored; reused while its package list is unchanged),
made with the Python that runs this script:

- `oldest`: every package of `requirements-learner.txt` at the lowest release its range allows (TensorFlow 2.19 with
  Keras 3.10, NumPy 1.26, ...), the floor that the ranges promise;
- `tensorflow 2.19` and `tensorflow 2.20`: that TensorFlow with what pip installs beside it within the ranges (for
  Keras, the newest release in the range), as `pip install tensorflow==2.x` does on a learner's machine;
- `pinned`: the exact versions of `requirements.txt` (TensorFlow 2.21), the ones CI and the instructor use.

In each environment it runs `tools.compat_checks` (public checks on the reference solution, with the share of
the tolerance they use; the feedback catalogue; the data; a training step, a save and a reload) and the setup-cell
test `tests/test_setup_cell.py` (the student notebook alone beside the bundle, through the first check). It prints
a table with one row per environment and exits with status 1 if any check of any row fails.
"""
import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from learner_environment import parse_requirements  # noqa: E402
from signs.constants import PROJECT_DIR

ENVIRONMENTS_DIR = PROJECT_DIR / ".compat"
PINNED_REQUIREMENTS = PROJECT_DIR / "requirements.txt"
# What the checks themselves need besides the learner's packages (versions from requirements.txt).
TOOLS = ("nbformat", "nbclient", "ipykernel", "pytest")
SETUP_CELL_TEST = "tests/test_setup_cell.py"
SPEC_FILE = "compat-spec.txt"


@dataclass(frozen=True)
class Row:
    """One environment of the matrix: its name and the package requirements it installs."""

    name: str
    requirements: tuple  # pip requirement strings


def pinned_versions(path=PINNED_REQUIREMENTS):
    """{lower-case package name: "name==version"} of the exact pins in `path`."""
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==\S+$", line.split("#")[0].strip())
        if match:
            pins[match[1].lower()] = match[0]
    return pins


def oldest_release(low):
    """pip's specifier for the oldest minor release at a lower bound: (2, 19) -> "2.19.*", (10, 0) -> "10.0.*"."""
    return ".".join(map(str, (low + (0,))[:2])) + ".*"


def matrix_rows(requirements=None, pins=None):
    """The rows of the matrix, from requirements-learner.txt and requirements.txt."""
    requirements = parse_requirements() if requirements is None else requirements
    pins = pinned_versions() if pins is None else pins
    tools = tuple(pins[name] for name in TOOLS)
    ranges = {name: line for name, _, _, line in requirements}

    def with_tensorflow(series):
        return tuple(f"tensorflow=={series}.*" if name == "tensorflow" else line for name, line in ranges.items())

    return (
        Row("oldest", tuple(f"{name}=={oldest_release(low)}" for name, low, _, _ in requirements) + tools),
        Row("tensorflow 2.19", with_tensorflow("2.19") + tools),
        Row("tensorflow 2.20", with_tensorflow("2.20") + tools),
        Row("pinned", tuple(pins[name.lower()] for name in ranges) + tools),
    )


def environment_dir(row):
    return ENVIRONMENTS_DIR / re.sub(r"[^a-z0-9.]+", "-", row.name.lower())


def ensure_environment(row, python=sys.executable):
    """Create the row's virtual environment unless one with the same requirements exists; return its Python."""
    folder = environment_dir(row)
    spec = "\n".join(row.requirements) + "\n"
    if (folder / SPEC_FILE).is_file() and (folder / SPEC_FILE).read_text() == spec:
        return folder / "bin" / "python"
    shutil.rmtree(folder, ignore_errors=True)
    subprocess.run([python, "-m", "venv", str(folder)], check=True)
    install = subprocess.run([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *row.requirements],
                             capture_output=True, text=True)
    if install.returncode != 0:
        raise RuntimeError(f"pip could not install {' '.join(row.requirements)}: {install.stderr.strip()[-1000:]}")
    (folder / SPEC_FILE).write_text(spec)
    return folder / "bin" / "python"


def last_json_line(text):
    """The JSON object printed on the last line of `text` that holds one, or None."""
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return None


def run_row(row, log_dir):
    """Create the row's environment, run the checks and the setup-cell test there; return the row's result."""
    started = time.monotonic()
    result = {"row": row.name, "checks": {}, "versions": {}, "tolerance_used": {}}
    log = log_dir / f"{environment_dir(row).name}.log"
    try:
        python = ensure_environment(row)
    except (subprocess.CalledProcessError, RuntimeError) as error:
        result["checks"]["environment"] = str(error)
        result["seconds"] = time.monotonic() - started
        return result
    result["install_seconds"] = time.monotonic() - started
    checks = subprocess.run([str(python), "-m", "tools.compat_checks"], capture_output=True, text=True,
                            cwd=PROJECT_DIR)
    setup = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", SETUP_CELL_TEST],
                           capture_output=True, text=True, cwd=PROJECT_DIR)
    log.write_text(checks.stdout + checks.stderr + setup.stdout + setup.stderr)
    measured = last_json_line(checks.stdout)
    if measured is None:
        result["checks"]["compat_checks.py"] = f"crashed (exit {checks.returncode}); see {log.relative_to(PROJECT_DIR)}"
    else:
        result.update({key: measured[key] for key in ("versions", "tolerance_used")})
        result["checks"].update(measured["checks"])
    summary = setup.stdout.strip().splitlines()[-1] if setup.stdout.strip() else f"exit {setup.returncode}"
    result["checks"]["setup cell"] = "ok" if setup.returncode == 0 else f"{summary}; see {log.relative_to(PROJECT_DIR)}"
    result["seconds"] = time.monotonic() - started
    return result


def passed(result):
    return bool(result["checks"]) and all(outcome == "ok" for outcome in result["checks"].values())


def format_table(results):
    """The matrix as text: one line per row, then each failure in full."""
    header = f"{'row':<16} {'tensorflow':<11} {'keras':<7} {'numpy':<7} {'result':<7} {'tolerance used':<15} " \
             f"{'checks s':>8} {'total s':>8}"
    lines = [header, "-" * len(header)]
    for result in results:
        versions = result["versions"]
        used = max(result["tolerance_used"].values(), default=float("nan"))
        check_seconds = result["seconds"] - result.get("install_seconds", 0)
        lines.append(f"{result['row']:<16} {versions.get('tensorflow', '?'):<11} {versions.get('keras', '?'):<7} "
                     f"{versions.get('numpy', '?'):<7} {'pass' if passed(result) else 'FAIL':<7} {used:<15.3f} "
                     f"{check_seconds:>8.0f} {result['seconds']:>8.0f}")
    for result in results:
        lines += [f"{result['row']}: {name}: {outcome}" for name, outcome in result["checks"].items()
                  if outcome != "ok"]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", nargs="*", help="names of the rows to run (default: all)")
    arguments = parser.parse_args(argv)
    rows = [row for row in matrix_rows() if not arguments.rows or row.name in arguments.rows]
    ENVIRONMENTS_DIR.mkdir(exist_ok=True)
    started = time.monotonic()
    results = []
    for row in rows:
        print(f"{row.name}: {' '.join(row.requirements)}", flush=True)
        results.append(run_row(row, ENVIRONMENTS_DIR))
        print(f"  {'pass' if passed(results[-1]) else 'FAIL'} in {results[-1]['seconds']:.0f} s", flush=True)
    print()
    print(format_table(results))
    print(f"\nmake compat: {len(results)} environments in {time.monotonic() - started:.0f} s")
    (ENVIRONMENTS_DIR / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    return 0 if all(passed(result) for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
