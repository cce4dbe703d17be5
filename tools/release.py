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

from signs.constants import PROJECT_DIR

COURSE = PROJECT_DIR / "instructor"
ASSIGNMENT = "ResNet50"
STUDENT_NOTEBOOK = PROJECT_DIR / "ResNet50.ipynb"


def nbgrader_command(*arguments):
    """The nbgrader command of this Python environment (its helper programs must be on PATH too)."""
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return [str(bin_dir / "nbgrader"), *arguments], env


def prepare_course(course):
    """Copy the config and the source notebook into the empty folder `course` and run generate_assignment there.

    Returns:
        path: the student notebook, `course/release/ResNet50/ResNet50.ipynb`; `course/gradebook.db` then knows the
            assignment, its grade cells and the checksums of its locked cells, as autograding needs
    """
    shutil.copy(COURSE / "nbgrader_config.py", course)
    shutil.copytree(COURSE / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    command, env = nbgrader_command("generate_assignment", ASSIGNMENT, "--force",
                                    f"--CourseDirectory.root={course}", "--log-level=WARN")
    subprocess.run(command, cwd=course, env=env, check=True)
    return course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def generate_student_notebook():
    """Run nbgrader's generate_assignment on a copy of the course folder and return the student notebook's text."""
    with tempfile.TemporaryDirectory() as work:
        return prepare_course(Path(work)).read_text()


def main():
    STUDENT_NOTEBOOK.write_text(generate_student_notebook())
    print(f"wrote {STUDENT_NOTEBOOK.relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    main()
