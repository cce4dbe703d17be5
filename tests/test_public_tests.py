"""The public tests accept correct implementations and reject the unfinished student notebook with clear advice."""
import pytest

import alternative_solution
import public_tests
from instructor.reference import load_reference
from tools.release import STUDENT_NOTEBOOK

CHECKS = ["identity_block", "convolutional_block", "ResNet50"]


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def released():
    """The graded functions as learners receive them: with `raise NotImplementedError()` stubs."""
    return load_reference(STUDENT_NOTEBOOK)


@pytest.mark.parametrize("name", CHECKS)
def test_reference_solution_passes(reference, name, capsys):
    getattr(public_tests, f"{name}_test")(getattr(reference, name))
    assert capsys.readouterr().out.startswith(f"passed: {name}")


@pytest.mark.parametrize("name", CHECKS)
def test_differently_written_solution_passes(name, capsys):
    getattr(public_tests, f"{name}_test")(getattr(alternative_solution, name))
    assert capsys.readouterr().out.startswith(f"passed: {name}")


@pytest.mark.parametrize("name, unfinished", [
    ("identity_block", "identity_block is not finished yet:"),
    ("convolutional_block", "convolutional_block is not finished yet:"),
    ("ResNet50", "convolutional_block is not finished yet (called by ResNet50):"),
])
def test_released_stubs_fail_with_advice(released, name, unfinished):
    with pytest.raises(AssertionError) as failure:
        getattr(public_tests, f"{name}_test")(getattr(released, name))
    message = str(failure.value)
    assert message.startswith(unfinished)
    assert "replace every `raise NotImplementedError()`" in message


def test_released_resnet50_with_finished_blocks_still_fails(released, reference):
    """With the blocks done but stages 3-5 still stubs, the message points at ResNet50 itself."""
    namespace = released.ResNet50.__globals__
    namespace.update(identity_block=reference.identity_block, convolutional_block=reference.convolutional_block)
    with pytest.raises(AssertionError, match=r"^ResNet50 is not finished yet: replace every"):
        public_tests.ResNet50_test(released.ResNet50)


def test_placeholder_left_as_none_is_explained():
    def identity_block(X, f, filters, training=True, initializer=None):
        X = None
        return X + 1

    with pytest.raises(AssertionError) as failure:
        public_tests.identity_block_test(identity_block)
    message = str(failure.value)
    assert "raised TypeError" in message and "still None" in message
    assert "Traceback" not in message


def test_wrong_return_type_is_explained():
    with pytest.raises(AssertionError, match="returned a ndarray, not the output of a Keras layer"):
        public_tests.identity_block_test(lambda X, f, filters, training=True, initializer=None: __import__(
            "numpy").zeros(3))


def test_failure_hides_the_keras_traceback():
    """The AssertionError is raised outside the learner's exception, so no chained Keras traceback is shown."""
    def broken(X, f, filters, training=True, initializer=None):
        raise ValueError("Inputs have incompatible shapes. Received shapes (4, 4, 2) and (4, 4, 6)")

    with pytest.raises(AssertionError) as failure:
        public_tests.identity_block_test(broken)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__
    assert "both inputs of Add() must have one shape" in str(failure.value)
