"""Generate the student notebook from the instructor source with nbgrader (`make release`).

nbgrader's generate_assignment step replaces each solution region with a `raise NotImplementedError()` stub, clears
outputs, removes hidden tests and records checksums of the locked cells. It runs in a temporary copy of the course
folder, so a release never touches the instructor's gradebook; the result is copied to the top-level
`ResNet50.ipynb`, the notebook learners open.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COURSE = REPO / "instructor"
ASSIGNMENT = "ResNet50"
STUDENT_NOTEBOOK = REPO / "ResNet50.ipynb"


def nbgrader_command(*arguments):
    """The nbgrader command of this Python environment (its helper programs must be on PATH too)."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return [str(bin_dir / "nbgrader"), *arguments], env


def generate_student_notebook():
    """Run nbgrader's generate_assignment on a copy of the course folder and return the student notebook's text."""
    with tempfile.TemporaryDirectory() as work:
        course = Path(work)
        shutil.copy(COURSE / "nbgrader_config.py", course)
        shutil.copytree(COURSE / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
        command, env = nbgrader_command("generate_assignment", ASSIGNMENT, "--force",
                                        f"--CourseDirectory.root={course}", "--log-level=WARN")
        subprocess.run(command, cwd=course, env=env, check=True)
        return (course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()


def main():
    STUDENT_NOTEBOOK.write_text(generate_student_notebook())
    print(f"wrote {STUDENT_NOTEBOOK.relative_to(REPO)}")


if __name__ == "__main__":
    main()
