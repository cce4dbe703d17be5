"""The hidden tests accept correct solutions, reject solutions tailored to the public checks, and cannot be patched."""
import importlib
import re
import sys

import keras
import nbformat
import pytest

import alternative_solution
import instructor.hidden_tests
import public_tests
import test_utils
from instructor.reference import SOURCE_NOTEBOOK, load_reference
from tools.release import STUDENT_NOTEBOOK

NAMES = ["identity_block", "convolutional_block", "ResNet50"]


@pytest.fixture(scope="module")
def reference():
    return load_reference()


def hidden_test(name):
    return getattr(instructor.hidden_tests, f"{name}_hidden_test")


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_passes(reference, name, capsys):
    hidden_test(name)(getattr(reference, name))
    assert capsys.readouterr().out.startswith(f"passed: {name} also matches the reference")


@pytest.mark.parametrize("name", NAMES)
def test_differently_written_solution_passes(name):
    hidden_test(name)(getattr(alternative_solution, name))


def tailored_identity_block(reference):
    """Passes the public check: the window size is guessed from the filters, which fits both public cases."""
    def identity_block(X, f, filters, training=True, initializer=keras.initializers.RandomUniform):
        return reference.identity_block(X, 2 if filters[0] == 2 else 3, filters, training, initializer)
    return identity_block


def tailored_convolutional_block(reference):
    """Passes the public check: the stride is guessed from the filters, which fits both public strides."""
    def convolutional_block(X, f, filters, s=2, training=True, initializer=keras.initializers.GlorotUniform):
        return reference.convolutional_block(X, f, filters, 2 if filters[0] == 2 else 3, training, initializer)
    return convolutional_block


def tailored_ResNet50(reference):
    """Passes the public check: always builds the public case's model, whatever the arguments."""
    def ResNet50(input_shape=(64, 64, 3), classes=6):
        return reference.ResNet50()
    return ResNet50


def tailored_on_input_shape(reference):
    """Passes the public check: only the public input shapes are handled, other shapes crash."""
    def identity_block(X, f, filters, training=True, initializer=keras.initializers.RandomUniform):
        if tuple(X.shape[1:]) not in {(4, 4, 6), (5, 5, 4)}:
            raise ValueError("unexpected input")
        return reference.identity_block(X, f, filters, training, initializer)
    return identity_block


@pytest.mark.parametrize("name, make_tailored, message", [
    ("identity_block", tailored_identity_block, r"identity_block builds different layers .* f=1, filters=\[4, 3, 8\]"),
    ("convolutional_block", tailored_convolutional_block,
     r"convolutional_block builds different layers .* s=1"),
    ("ResNet50", tailored_ResNet50, r"ResNet50 builds different layers .*input_shape=\(96, 80, 3\), classes=10"),
    ("identity_block", tailored_on_input_shape,
     r"identity_block\(X of shape \(1, 7, 5, 8\), .*\) raised ValueError: unexpected input"),
])
def test_solution_tailored_to_the_public_cases_fails(reference, name, make_tailored, message, capsys):
    tailored = make_tailored(reference)
    getattr(public_tests, f"{name}_test")(tailored)
    assert capsys.readouterr().out.startswith(f"passed: {name}")
    with pytest.raises(AssertionError, match=re.compile(message, re.DOTALL)) as failure:
        hidden_test(name)(tailored)
    assert "use its arguments" in str(failure.value) or "raised" in str(failure.value)


def test_hidden_cases_differ_from_the_public_ones():
    """Every hidden block case has a shape, window, filters or stride that no public case uses."""
    def key(case):
        return tuple(case["input_shape"]), case["f"], tuple(case["filters"]), case.get("s", 2)

    for hidden, public in ((instructor.hidden_tests.IDENTITY_BLOCK_CASES, public_tests.IDENTITY_BLOCK_CASES),
                           (instructor.hidden_tests.CONVOLUTIONAL_BLOCK_CASES,
                            public_tests.CONVOLUTIONAL_BLOCK_CASES)):
        public_keys = {key(case) for case in public.values()}
        assert not public_keys & {key(case) for case in hidden}
        assert {case["input_shape"][0] for case in hidden} - {case["input_shape"][0] for case in public.values()}
        assert any(case["input_shape"][1] != case["input_shape"][2] for case in hidden)
        assert {1, 5} <= {case["f"] for case in hidden}
        assert {True, False} <= {case["training"] for case in hidden if "training" in case}
        assert any("training" not in case for case in hidden)
    assert 1 in {case["s"] for case in instructor.hidden_tests.CONVOLUTIONAL_BLOCK_CASES if "s" in case}
    assert all((case["input_shape"], case["classes"]) != ((64, 64, 3), 6)
               for case in instructor.hidden_tests.RESNET50_CASES)


def wrong_identity_block(X, f, filters, training=True, initializer=None):
    """Returns its input: no layers at all."""
    return X


def test_patched_checks_and_helpers_do_not_help(monkeypatch):
    """What a graded cell could patch before the grade cell runs; the grade cell reloads the hidden tests."""
    monkeypatch.setattr(public_tests, "identity_block_test", lambda target: None)
    monkeypatch.setattr(test_utils, "summary", lambda model: [])
    monkeypatch.setattr(sys.modules["instructor.reference"], "load_reference",
                        lambda *arguments: alternative_solution)
    monkeypatch.setattr(instructor.hidden_tests, "identity_block_hidden_test", lambda target: None)
    monkeypatch.setattr(instructor.hidden_tests, "_check_block", lambda *arguments: None)
    public_tests.identity_block_test(wrong_identity_block)  # the patched public check lets it through

    hidden = importlib.reload(instructor.hidden_tests)
    with pytest.raises(AssertionError, match="identity_block fails the public check"):
        hidden.identity_block_hidden_test(wrong_identity_block)


def hidden_region(source):
    """The code between the BEGIN and END HIDDEN TESTS markers of a grade cell."""
    match = re.search(r"### BEGIN HIDDEN TESTS\n(.*)### END HIDDEN TESTS", source, re.DOTALL)
    assert match, "grade cell without a hidden-test region"
    return match.group(1)


@pytest.mark.parametrize("name", NAMES)
def test_grade_cells_run_the_hidden_tests_even_when_their_module_was_patched(name, monkeypatch):
    cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source
             for cell in nbformat.read(SOURCE_NOTEBOOK, as_version=4).cells}
    student_cells = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source
                     for cell in nbformat.read(STUDENT_NOTEBOOK, as_version=4).cells}
    assert "HIDDEN TESTS" not in student_cells[f"{name}_test"]

    monkeypatch.setattr(instructor.hidden_tests, f"{name}_hidden_test", lambda target: None)
    learner_namespace = {name: lambda *arguments, **keywords: None}
    with pytest.raises(AssertionError):
        exec(hidden_region(cells[f"{name}_test"]), learner_namespace)
