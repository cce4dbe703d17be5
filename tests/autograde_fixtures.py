"""A fixture class for the autograder: real submissions, written from the student notebook and the reference solution.

Each submission is the released `ResNet50.ipynb` with its three solution cells filled in, most often with the
instructor's own graded cells, and with one fault added. `FIXTURE_CLASS` maps each student id to the submission's
recipe and the row that grading must produce (points of identity_block, convolutional_block, ResNet50 and status).
Faulty solutions are built by wrapping the reference function, so they follow the reference whatever its wording.

`HOSTILE_CLASS` holds attacks on the grader, one route each, in submissions that solve nothing: every one must end
with 0 points and leave the rest of the class, the repository and the other submissions untouched. Their code may
name the real paths of the run (`@@REPO@@`, `@@SUBMISSIONS@@`, `@@OUTPUTS@@`), as an attacker who guessed them would.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import nbformat

from instructor.reference import graded_cells
from tools.release import STUDENT_NOTEBOOK

FULL = (3, 3, 4)

# Wrong on the hidden cases only: the window size is guessed from the filters, which fits both public cases.
IDENTITY_TAILORED = '''
_general_identity_block = identity_block


def identity_block(X, f, filters, training=True, initializer=random_uniform):
    return _general_identity_block(X, 2 if filters[0] == 2 else 3, filters, training, initializer)
'''
# Wrong on the public inference case: batch normalisation always uses the batch statistics.
CONVOLUTIONAL_IGNORES_TRAINING = '''
_general_convolutional_block = convolutional_block


def convolutional_block(X, f, filters, s=2, training=True, initializer=glorot_uniform):
    return _general_convolutional_block(X, f, filters, s, True, initializer)
'''
# Wrong on the hidden case only: always the public case's image size and number of classes.
RESNET50_TAILORED = '''
_general_ResNet50 = ResNet50


def ResNet50(input_shape=(64, 64, 3), classes=6):
    return _general_ResNet50()
'''
IDENTITY_RETURNS_INPUT = '''
def identity_block(X, f, filters, training=True, initializer=random_uniform):
    return X
'''
# Every shortcut a graded cell could take around the learner-side checks, next to a wrong identity_block.
PATCHES = '''
import public_tests
import test_utils
import checking

public_tests.identity_block_test = lambda target: print("passed")
public_tests._check_block = lambda *arguments: None
test_utils.summary = lambda model: []
checking.structure_message = lambda *arguments, **keywords: ""


def identity_block_test(target):
    print("passed: identity_block matches the reference in all 3 cases.")
'''


@dataclass
class Fixture:
    """One submission: how to write it and the grades.csv row it must get."""

    points: tuple
    status: str
    cells: dict = field(default_factory=dict)  # solution cell id -> source, replacing the reference cell
    edit: Optional[Callable] = None  # changes the notebook object after the cells are filled
    raw: Optional[str] = None  # written as it is instead of a notebook


def _after(name, code):
    """The reference cell of `name` followed by `code`."""
    return {name: graded_cells()[name] + "\n" + code}


def _before(name, code):
    """`code` followed by the reference cell of `name`."""
    return {name: code + "\n" + graded_cells()[name]}


def _cell(notebook, grade_id):
    return next(cell for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _tamper_with_checks(notebook):
    """Make the identity_block check print a pass line, and delete the convolutional_block check."""
    _cell(notebook, "identity_block_test").source = 'print("passed: identity_block matches the reference.")'
    notebook.cells.remove(_cell(notebook, "convolutional_block_test"))


OTHER_ASSIGNMENT = nbformat.writes(nbformat.v4.new_notebook(cells=[
    nbformat.v4.new_markdown_cell("# Assignment 2: logistic regression"),
    nbformat.v4.new_code_cell("def sigmoid(z):\n    return 1 / (1 + np.exp(-z))",
                              metadata={"nbgrader": {"grade": False, "grade_id": "sigmoid", "locked": False,
                                                     "schema_version": 3, "solution": True}}),
]))

FIXTURE_CLASS = {
    "correct": Fixture(FULL, "ok"),
    "blank": Fixture((0, 0, 0), "ok", graded_cells(STUDENT_NOTEBOOK)),
    "identity_tailored": Fixture((0, 3, 4), "ok", _after("identity_block", IDENTITY_TAILORED)),
    "convolutional_wrong": Fixture((3, 0, 4), "ok", _after("convolutional_block", CONVOLUTIONAL_IGNORES_TRAINING)),
    "resnet50_tailored": Fixture((3, 3, 0), "ok", _after("ResNet50", RESNET50_TAILORED)),
    "syntax_error": Fixture((0, 3, 0), "SyntaxError in identity_block",
                            _before("identity_block", "if True\n    pass\n")),
    "exception": Fixture((3, 0, 0), "ZeroDivisionError in convolutional_block",
                         _before("convolutional_block", "scale = 1 / 0\n")),
    "infinite_loop": Fixture((3, 3, 0), "timeout in ResNet50", _before("ResNet50", "while True:\n    pass\n")),
    "renamed_function": Fixture((0, 3, 0), "NameError in identity_block check",
                                _after("identity_block", "identity_block_v2 = identity_block\ndel identity_block\n")),
    "tampered_checks": Fixture((0, 3, 0), "locked cell identity_block_test edited (restored); "
                                          "locked cell convolutional_block_test deleted (restored)",
                               _after("identity_block", IDENTITY_RETURNS_INPUT), edit=_tamper_with_checks),
    "monkeypatched": Fixture((0, 3, 0), "ok", _after("identity_block", IDENTITY_RETURNS_INPUT + PATCHES)),
    "huge_output": Fixture(FULL, "ok", _after("identity_block", 'print("x" * 1_000_000)\n'
                                                                'for line in range(20_000):\n    print(line)\n')),
    "kernel_crash": Fixture((0, 0, 0), "not graded: the kernel died (SIGKILL) in convolutional_block",
                            _after("convolutional_block", "import os\nos.kill(os.getpid(), 9)\n")),
    "invalid_json": Fixture((0, 0, 0), "invalid notebook", raw='{"cells": [{"cell_type": "code", "source": '),
    "other_assignment": Fixture((0, 0, 0), "not this assignment", raw=OTHER_ASSIGNMENT),
    "empty": Fixture((0, 0, 0), "empty file", raw=""),
}


# Attacks on the grader, each in the identity_block cell of a submission whose solutions are the released stubs.
STUBS = graded_cells(STUDENT_NOTEBOOK)
ATTACKS = {
    # IPython hooks that would swallow every later error or rewrite every later cell.
    "ast_transformer": '''
import ast
class SwallowErrors(ast.NodeTransformer):
    def visit_Module(self, node):
        handler = ast.ExceptHandler(type=ast.Name("BaseException", ast.Load()), name=None, body=[ast.Pass()])
        return ast.Module(body=[ast.Try(body=node.body, handlers=[handler], orelse=[], finalbody=[])],
                          type_ignores=[])
get_ipython().ast_transformers.append(SwallowErrors())
''',
    "custom_exception_handler": "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)\n",
    # Patches of the machinery a check or the grader might use, then checks that always pass.
    "patched_machinery": '''
import builtins, importlib, sys
import numpy, keras
importlib.reload = lambda module: module
real_import = builtins.__import__
builtins.__import__ = lambda name, *arguments, **keywords: real_import(name, *arguments, **keywords)
class Finder:
    def find_spec(self, name, path=None, target=None):
        return None
sys.meta_path.insert(0, Finder())
numpy.allclose = lambda *arguments, **keywords: True
keras.Model.get_config = lambda self: {"layers": []}
def identity_block_test(target): print("passed")
def convolutional_block_test(target): print("passed")
def ResNet50_test(target): print("passed")
''',
    # The reference solution, imported or executed from the instructor's notebook.
    "reference_import": '''
from instructor.reference import load_reference
reference = load_reference()
identity_block, convolutional_block = reference.identity_block, reference.convolutional_block
ResNet50 = reference.ResNet50
''',
    "source_notebook": '''
import glob, json, os
found = glob.glob("@@REPO@@/instructor/source/*/*.ipynb") + glob.glob("../instructor/source/*/*.ipynb")
for root, folders, files in os.walk("/"):
    found += [os.path.join(root, name) for name in files if name == "ResNet50.ipynb" and "source" in root]
    folders[:] = [] if root.count("/") > 3 or root.startswith(("/proc", "/sys", "/usr")) else folders
for path in found:
    for cell in json.load(open(path))["cells"]:
        if "".join(cell["source"]).startswith("# GRADED FUNCTION"):
            exec("".join(cell["source"]))
''',
    # Harm to others: files of the course, other submissions, the gradebook, the results.
    "overwrite_files": '''
targets = ["@@REPO@@/public_tests.py", "@@REPO@@/checking.py", "@@REPO@@/grading/judge.py",
           "@@REPO@@/outputs/references/identity_block.npz", "@@REPO@@/instructor/source/ResNet50/ResNet50.ipynb",
           "@@SUBMISSIONS@@/correct.ipynb", "@@OUTPUTS@@/grades.csv", "@@OUTPUTS@@/gradebook.db",
           "/learner/public_tests.py", "/grader/run_submission.py"]
for target in targets:
    try:
        with open(target, "w") as file:
            file.write("overwritten")
    except OSError:
        pass
''',
    "gradebook_score": '''
import glob, sqlite3
for path in glob.glob("@@OUTPUTS@@/*.db") + glob.glob("/tmp/**/gradebook.db", recursive=True):
    try:
        database = sqlite3.connect(path)
        database.execute("UPDATE grade SET manual_score = 10")
        database.commit()
    except sqlite3.Error:
        pass
''',
    # Other students' kernels or graders: connection files, other processes, the network.
    "reach_other_processes": '''
import glob, os, socket
files = glob.glob("/tmp/**/kernel-*.json", recursive=True)
files += glob.glob(os.path.expanduser("~/.local/share/jupyter/runtime/*.json"))
others = [name for name in os.listdir("/proc") if name.isdigit() and int(name) not in (1, os.getpid())]
ports = []
for port in (22, 80, 8786, 8888):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        ports.append(port)
    except OSError:
        pass
print(f"reached {len(files)} connection files, {len(others)} other processes, {len(ports)} open ports")
''',
    # Processes that outlive the submission and rewrite the results later.
    "detached_process": '''
import os, subprocess, threading, time
def rewrite_later():
    time.sleep(20)
    open("@@OUTPUTS@@/grades.csv", "w").write("student,total\\nmallory,10\\n")
threading.Thread(target=rewrite_later).start()
for start in (lambda: subprocess.Popen(["sh", "-c", "sleep 300"], start_new_session=True),
              lambda: os.fork(), lambda: os.posix_spawn("/bin/sh", ["sh", "-c", "sleep 300"], {})):
    try:
        start()
    except OSError:
        pass
''',
    "kill_parent": "import os\nos.kill(os.getppid(), 9)\n",
    "fill_memory": "import numpy\nhog = [numpy.empty(1024 ** 3, dtype=numpy.uint8) for _ in range(64)]\n",
    "ignore_timeouts": '''
import signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
while True:
    pass
''',
}
HOSTILE_CLASS = {
    f"hostile_{name}": Fixture((0, 0, 0), status, dict(STUBS, identity_block=code + "\n" + STUBS["identity_block"]))
    for name, code, status in (
        ("ast_transformer", ATTACKS["ast_transformer"], "NameError in identity_block"),
        ("custom_exception_handler", ATTACKS["custom_exception_handler"], "NameError in identity_block"),
        ("patched_machinery", ATTACKS["patched_machinery"], "ok"),
        ("reference_import", ATTACKS["reference_import"], "ModuleNotFoundError in identity_block"),
        ("source_notebook", ATTACKS["source_notebook"], "ok"),
        ("overwrite_files", ATTACKS["overwrite_files"], "ok"),
        ("gradebook_score", ATTACKS["gradebook_score"], "ok"),
        ("reach_other_processes", ATTACKS["reach_other_processes"], "ok"),
        ("detached_process", ATTACKS["detached_process"], "ok"),
        ("kill_parent", ATTACKS["kill_parent"], "ok"),
        ("fill_memory", ATTACKS["fill_memory"], "memory limit in identity_block"),
        ("ignore_timeouts", ATTACKS["ignore_timeouts"], "timeout in identity_block"),
    )
}


def write_submission(fixture, path, paths=None):
    """Write one fixture submission to `path`; `paths` fills the @@NAME@@ placeholders of hostile code."""
    if fixture.raw is not None:
        path.write_text(fixture.raw)
        return
    notebook = nbformat.read(STUDENT_NOTEBOOK, as_version=4)
    sources = dict(graded_cells(), **fixture.cells)
    for name, source in sources.items():
        for placeholder, value in (paths or {}).items():
            source = source.replace(f"@@{placeholder}@@", str(value))
        _cell(notebook, name).source = source
    if fixture.edit:
        fixture.edit(notebook)
    nbformat.write(notebook, path)


def write_class(folder, students=None, fixtures=FIXTURE_CLASS, paths=None):
    """Write the listed students (default: all) of `fixtures` as `<folder>/<student>.ipynb`."""
    folder.mkdir(parents=True, exist_ok=True)
    for student in students or fixtures:
        write_submission(fixtures[student], folder / f"{student}.ipynb", paths)
