"""Feedback quality: the public checks catch every mistake in the catalogue and name most of them.

The outcome of each mistake (its public check's message and how its behaviour differs from the reference) is
computed once, in the `outcomes` fixture, and shared by the assertions below.
"""
import re
from collections import Counter

import pytest

from instructor import learner_mistakes
from instructor.learner_mistakes import MISTAKES, MISTAKES_BY_NAME, Mistake

FUNCTIONS = ("identity_block", "convolutional_block", "ResNet50")
NAMES = [mistake.name for mistake in MISTAKES]
MINIMUM_MISTAKES = 30
MINIMUM_HINT_RATE = 0.8
LONGEST_FIRST_LINE = 420
# The advice public_tests.py gives when it recognises nothing; a catalogued mistake must get something better.
GENERIC_ADVICE = ("compare your layers with the table", "your layers match the reference but the numbers do not",
                  "Check the line named in the error")


@pytest.fixture(scope="module")
def reference():
    return learner_mistakes.Reference()


@pytest.fixture(scope="module")
def outcomes(reference):
    return {outcome.mistake.name: outcome for outcome in learner_mistakes.evaluate_all(reference)}


def test_catalogue_is_large_and_covers_every_function():
    assert len(MISTAKES) >= MINIMUM_MISTAKES
    assert len(MISTAKES_BY_NAME) == len(MISTAKES), "two mistakes share a name"
    per_function = Counter(mistake.function for mistake in MISTAKES)
    assert set(per_function) == set(FUNCTIONS) and min(per_function.values()) >= 10, per_function
    assert len({mistake.hint for mistake in MISTAKES}) >= len(MISTAKES) // 2, "hints are too alike to be specific"


@pytest.mark.parametrize("name", NAMES)
def test_mistake_is_a_real_edit_of_the_reference(name):
    mistake = MISTAKES_BY_NAME[name]
    assert mistake.description and mistake.hint
    assert mistake.edits or mistake.blocks
    assert all(MISTAKES_BY_NAME[block].function != "ResNet50" for block in mistake.blocks)
    source = learner_mistakes.graded_cells()[mistake.function]
    assert learner_mistakes.edited_source(source, mistake) != source or mistake.blocks
    assert callable(learner_mistakes.build(mistake))


def test_edit_that_no_longer_matches_the_reference_is_reported():
    stale = Mistake("stale", "identity_block", "edits text the reference does not contain", "x",
                    (("X = Conv2D(F9", "X = Conv2D(F8"),))
    with pytest.raises(ValueError, match="occurs 0 times in the reference identity_block"):
        learner_mistakes.build(stale)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_unedited_reference_passes_and_shows_no_difference(reference, function):
    """Control: the measurement finds no difference where there is none, so the differences below are real."""
    outcome = learner_mistakes.evaluate(Mistake(f"unchanged_{function}", function, "no change", "passed"), reference)
    assert outcome.caught_by == "" and outcome.message == ""
    assert outcome.behaviour == ""


@pytest.mark.parametrize("name", NAMES)
def test_mistake_behaves_differently_from_the_reference(outcomes, name):
    assert outcomes[name].behaviour, f"{name} computes what the reference computes: it is no mistake"


@pytest.mark.parametrize("name", NAMES)
def test_public_check_catches_the_mistake(outcomes, name):
    outcome = outcomes[name]
    assert outcome.caught_by == f"{outcome.mistake.function}_test", outcome.message or "the public check passed"


@pytest.mark.parametrize("name", NAMES)
def test_message_names_the_mistake(outcomes, name):
    outcome = outcomes[name]
    assert outcome.mistake.hint in outcome.first_line, (
        f"expected {outcome.mistake.hint!r} in the first line of the message:\n{outcome.message}")


@pytest.mark.parametrize("name", NAMES)
def test_message_is_short_and_readable(outcomes, name):
    outcome = outcomes[name]
    first_line = outcome.first_line
    assert first_line.startswith(outcome.mistake.function), "the message must name the function it is about"
    assert len(first_line) <= LONGEST_FIRST_LINE, first_line
    assert not any(advice in first_line for advice in GENERIC_ADVICE), first_line
    assert "Traceback" not in outcome.message and "KerasTensor" not in outcome.message
    assert not re.search(r"\x1b\[", outcome.message), "terminal colour codes in the message"


def test_totals(outcomes):
    caught = sum(bool(outcome.caught_by) for outcome in outcomes.values()) / len(outcomes)
    named = sum(outcome.hint_matched for outcome in outcomes.values()) / len(outcomes)
    assert caught == 1.0
    assert named >= MINIMUM_HINT_RATE


@pytest.fixture(scope="module")
def judged_failures():
    """Why the autograder's judge rejects each mistake (None where it accepts it), computed once."""
    from grading.cases import grading_cases
    from grading.judge import Judge
    judge = Judge(grading_cases())
    return {mistake.name: learner_mistakes.judged_failure(mistake, judge) for mistake in MISTAKES}


@pytest.mark.parametrize("name", NAMES)
def test_judge_rejects_the_mistake(judged_failures, name):
    assert judged_failures[name], "the judge accepted the mistake"
