"""The judge accepts correct models, rejects tailored and forged ones, and never rebuilds what it has not checked.

Models are built here from Python functions, as the sandbox builds them, and handed to the judge as JSON text.
"""
import json

import keras
import pytest

import alternative_solution
import public_tests
from checking import Case
from grading import judge as judging
from grading.cases import HIDDEN_CASES, grading_cases
from instructor.reference import load_reference

NAMES = ["identity_block", "convolutional_block", "ResNet50"]
BLOCK_CASES = [case for case in grading_cases() if case.function != "ResNet50"]


@pytest.fixture(scope="module")
def reference():
    return load_reference()


@pytest.fixture(scope="module")
def judge():
    return judging.Judge(grading_cases(), seed=1234)


def model_json(function, case):
    """What the sandbox returns for `function` on `case`: the JSON config of the model it builds."""
    if case.function == "ResNet50":
        return function(input_shape=case.input_shape, **case.call_arguments()).to_json()
    inputs = keras.Input(shape=case.input_shape[1:])
    return keras.Model(inputs, function(inputs, **case.call_arguments())).to_json()


def verdicts(judge, function, name):
    return {case.id: judge.judge(case.id, model_json(function, case)) for case in grading_cases()
            if case.function == name}


@pytest.mark.parametrize("name", NAMES)
def test_reference_passes_every_case(judge, reference, name):
    results = verdicts(judge, getattr(reference, name), name)
    assert results and all(result.passed for result in results.values()), results


@pytest.mark.parametrize("name", NAMES)
def test_differently_written_solution_passes(judge, name):
    """alternative_solution builds the same layers in another order and style: the judge rebuilds and compares it."""
    results = verdicts(judge, getattr(alternative_solution, name), name)
    assert all(result.passed for result in results.values()), results


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


@pytest.mark.parametrize("name, make_tailored, failing_case", [
    ("identity_block", tailored_identity_block, "identity_block/hidden_f1"),
    ("convolutional_block", tailored_convolutional_block, "convolutional_block/hidden_s1"),
    ("ResNet50", tailored_ResNet50, "ResNet50/hidden_96x80"),
])
def test_solution_tailored_to_the_public_cases_fails_a_hidden_case(judge, reference, name, make_tailored,
                                                                    failing_case, capsys):
    tailored = make_tailored(reference)
    getattr(public_tests, f"{name}_test")(tailored)
    assert capsys.readouterr().out.startswith(f"passed: {name}")
    results = verdicts(judge, tailored, name)
    public = [case.id for case in grading_cases() if case.function == name and not case.hidden]
    assert all(results[case_id].passed for case_id in public)
    assert not results[failing_case].passed
    message = results[failing_case].message
    assert message.startswith(name) and "a case the public checks do not try" in message


def test_hidden_cases_differ_from_the_public_ones():
    """Every hidden block case has a shape, window, filters or stride that no public case uses."""
    def key(case):
        return tuple(case.input_shape), case.f, tuple(case.filters), case.s

    public = [case for case in grading_cases() if not case.hidden]
    hidden = HIDDEN_CASES
    assert all(case.hidden for case in hidden) and not any(case.hidden for case in public)
    for function in ("identity_block", "convolutional_block"):
        ours = [case for case in hidden if case.function == function]
        theirs = [case for case in public if case.function == function]
        assert not {key(case) for case in theirs} & {key(case) for case in ours}
        assert {case.input_shape[0] for case in ours} - {case.input_shape[0] for case in theirs}
        assert any(case.input_shape[1] != case.input_shape[2] for case in ours)
        assert {1, 5} <= {case.f for case in ours}
        assert {True, False, None} <= {case.training for case in ours}
    assert 1 in {case.s for case in hidden if case.function == "convolutional_block"}
    assert all((case.input_shape, case.classes) != ((64, 64, 3), 6) for case in hidden if case.function == "ResNet50")


def test_inputs_are_drawn_per_run(reference):
    case = BLOCK_CASES[0]
    first, second = judging.Judge([case], seed=1), judging.Judge([case], seed=2)
    assert (first.expected(case)[1] != second.expected(case)[1]).any()
    assert first.judge(case.id, model_json(reference.identity_block, case)).passed


def test_ignoring_training_is_named(judge, reference):
    def always_training(X, f, filters, training=True, initializer=keras.initializers.RandomUniform):
        return reference.identity_block(X, f, filters, True, initializer)

    case = next(case for case in BLOCK_CASES if case.function == "identity_block" and case.training is False)
    result = judge.judge(case.id, model_json(always_training, case))
    assert not result.passed
    assert "BatchNormalization is called with training=True" in result.message


def with_layer(text, layer):
    """A model config with one more layer config appended to its layers."""
    config = json.loads(text)
    config["config"]["layers"].append(layer)
    return json.dumps(config)


LAMBDA_LAYER = {"module": "keras.layers", "class_name": "Lambda", "registered_name": None, "name": "evil",
                "config": {"name": "evil", "function": {"class_name": "__lambda__", "config": {"code": "..."}}},
                "inbound_nodes": []}
CUSTOM_LAYER = {"module": "builtins", "class_name": "Anything", "registered_name": "Custom>Anything",
                "name": "custom", "config": {"name": "custom"}, "inbound_nodes": []}


@pytest.mark.parametrize("forged, reason", [
    ("not json", "not valid JSON"),
    (json.dumps({"class_name": "Sequential", "config": {}}), "not a functional Keras model"),
    (None, "missing"),
])
def test_malformed_answers_are_rejected(judge, forged, reason):
    result = judge.judge(BLOCK_CASES[0].id, forged)
    assert not result.passed and reason in result.message


@pytest.mark.parametrize("layer, reason", [(LAMBDA_LAYER, "'Lambda'"), (CUSTOM_LAYER, "'Anything'")])
def test_code_carrying_layers_are_rejected_before_anything_is_built(judge, reference, layer, reason):
    case = BLOCK_CASES[0]
    result = judge.judge(case.id, with_layer(model_json(reference.identity_block, case), layer))
    assert not result.passed and reason in result.message and "does not accept" in result.message


def test_oversized_model_is_rejected_from_its_config(judge):
    """A block with a billion-weight convolution is refused from its config; no weight is ever allocated."""
    case = next(case for case in BLOCK_CASES if case.function == "identity_block")
    with keras.StatelessScope():  # describes the model without computing its weights, as the sandbox does
        inputs = keras.Input(shape=case.input_shape[1:])
        wide = keras.layers.Conv2D(4096, 7, padding="same")(keras.layers.Conv2D(4096, 7, padding="same")(inputs))
        text = keras.Model(inputs, keras.layers.Conv2D(case.input_shape[-1], 1)(wide)).to_json()
    assert judging.count_parameters(json.loads(text)) > 800_000_000
    result = judge.judge(case.id, text)
    assert not result.passed and "parameters, far more than the reference" in result.message


def test_parameter_count_from_the_config_matches_keras(reference):
    model = reference.ResNet50(input_shape=(64, 64, 3), classes=6)
    assert judging.count_parameters(json.loads(model.to_json())) == model.count_params() == 23_600_006


def test_canonical_form_ignores_names_and_writing_order(reference):
    case = next(case for case in BLOCK_CASES if case.function == "convolutional_block")
    ours, theirs = (json.loads(model_json(function, case)) for function in
                    (reference.convolutional_block, alternative_solution.convolutional_block))
    assert [layer["name"] for layer in ours["config"]["layers"]] != \
        [layer["name"] for layer in theirs["config"]["layers"]]
    assert judging.canonical_form(ours) == judging.canonical_form(json.loads(model_json(reference.convolutional_block,
                                                                                       case)))
    changed = Case(case.function, "changed", case.input_shape, f=case.f, filters=case.filters, s=1,
                   training=case.training)
    assert judging.canonical_form(ours) != judging.canonical_form(json.loads(model_json(
        reference.convolutional_block, changed)))
