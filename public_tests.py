"""Checks for the three graded functions of ResNet50.ipynb.

Each check calls your function on the cases below and compares the result with reference data stored in
`outputs/references/` (made by `make references` from the instructor's solution): first the layers your function
creates, which gives the most specific advice, then the numbers it computes. On a mistake it raises an AssertionError
whose first line says what is wrong and what to check; on success it prints one line starting with "passed". When
ResNet50 fails, its check first runs the block checks on the identity_block and convolutional_block it calls, so
that a mistake in a block is reported where it is. The advice itself comes from `checking.py`.
"""
import json

import keras
import numpy as np

from checking import (
    RESNET50_PARAMETERS,
    TOLERANCE,
    Case,
    CheckFailure,
    block_crash_hint,
    blocks_used_hint,
    call_learner,
    resnet_crash_hint,
    structure_message,
    unused_layer_count,
    value_message,
)
from signs.constants import CLASS_COUNT, IMAGE_SHAPE, REFERENCE_DIR
from test_utils import summary

# Each case's input and expected output are stored under its name; an initializer of None keeps the default.
IDENTITY_BLOCK_CASES = (
    Case("identity_block", "training", (3, 4, 4, 6), seed=1, f=2, filters=(2, 4, 6), training=True),
    Case("identity_block", "inference", (3, 4, 4, 6), seed=1, f=2, filters=(2, 4, 6), training=False),
    Case("identity_block", "glorot", (2, 5, 5, 4), seed=2, f=3, filters=(3, 5, 4), training=True,
         initializer="GlorotUniform"),
)
CONVOLUTIONAL_BLOCK_CASES = (
    Case("convolutional_block", "training", (3, 5, 5, 3), seed=3, f=2, filters=(2, 4, 6), s=2, training=True),
    Case("convolutional_block", "inference", (3, 5, 5, 3), seed=3, f=2, filters=(2, 4, 6), s=2, training=False),
    Case("convolutional_block", "stride3_uniform", (2, 6, 6, 4), seed=4, f=3, filters=(3, 5, 7), s=3, training=True,
         initializer="RandomUniform"),
)
RESNET50_CASE = Case("ResNet50", "public", IMAGE_SHAPE, classes=CLASS_COUNT, seed=5)
RESNET50_IMAGES = 2


def load_references(function_name):
    """The stored inputs and outputs (an npz archive) and layer summaries ({case name: rows}) of a function."""
    arrays = np.load(REFERENCE_DIR / f"{function_name}.npz")
    summaries = json.loads((REFERENCE_DIR / f"{function_name}_summary.json").read_text())
    return arrays, summaries


def _block_model(target, case, expected_rows):
    """Run the learner's block on a symbolic input and wrap it in a model, to inspect its layers."""
    inputs = keras.Input(shape=case.input_shape[1:])
    outputs = call_learner(case.function, case.describe(), lambda: target(inputs, **case.call_arguments()),
                           diagnose=lambda error: block_crash_hint(case.function, inputs, expected_rows, error))
    if not isinstance(outputs, keras.KerasTensor):
        raise CheckFailure(
            f"{case.function} returned a {type(outputs).__name__}, not the output of a Keras layer. "
            "Build the block only from Keras layers (Conv2D, BatchNormalization, Activation, Add) and return X."
        )
    return keras.Model(inputs, outputs)


def _other_mode(case, cases, arrays):
    """The stored output of the case with the same input and the other training mode, or None."""
    for other in cases:
        if other.seed == case.seed and other.input_shape == case.input_shape and other.training != case.training:
            return arrays[f"{other.name}__output"]
    return None


def _check_block(target, cases):
    arrays, summaries = load_references(cases[0].function)
    for case in cases:
        expected_rows = summaries[case.name]
        model = _block_model(target, case, expected_rows)
        got_rows = summary(model)
        if got_rows != expected_rows:
            raise CheckFailure(structure_message(case, expected_rows, got_rows, unused=unused_layer_count(model)))
        X, expected = arrays[f"{case.name}__input"], arrays[f"{case.name}__output"]
        got = np.asarray(call_learner(case.function, case.describe(),
                                      lambda: target(keras.ops.convert_to_tensor(X), **case.call_arguments())))
        if got.shape != expected.shape:
            raise CheckFailure(f"{case.function}: output shape {got.shape}, expected {expected.shape} for "
                               f"{case.describe()}.")
        if not np.allclose(got, expected, **TOLERANCE):
            raise CheckFailure(value_message(case, model, got, expected, _other_mode(case, cases, arrays)))
    print(f"passed: {cases[0].function} matches the reference in all {len(cases)} cases.")


def identity_block_test(target):
    """Check an identity_block implementation; raises AssertionError with advice on the first problem found."""
    _check_block(target, IDENTITY_BLOCK_CASES)


def convolutional_block_test(target):
    """Check a convolutional_block implementation; raises AssertionError with advice on the first problem found."""
    _check_block(target, CONVOLUTIONAL_BLOCK_CASES)


BLOCK_CHECKS = {"identity_block": identity_block_test, "convolutional_block": convolutional_block_test}


def ResNet50_test(target):
    """Check a ResNet50 implementation; raises AssertionError with advice on the first problem found."""
    arrays, expected_rows = load_references("ResNet50")
    case = RESNET50_CASE
    model = call_learner("ResNet50", case.describe(),
                         lambda: target(input_shape=case.input_shape, **case.call_arguments()),
                         diagnose=lambda error: resnet_crash_hint(target, error, BLOCK_CHECKS))
    if not isinstance(model, keras.Model):
        raise CheckFailure(
            f"ResNet50 returned a {type(model).__name__}; it must return keras.Model(inputs, outputs).")
    got_rows = summary(model)
    if got_rows != expected_rows:
        raise CheckFailure(structure_message(case, expected_rows, got_rows, model, unused_layer_count(model),
                                             blocks_used_hint(target, BLOCK_CHECKS)))
    got = model.predict(arrays["images"], verbose=0)
    if not np.allclose(got, arrays["predictions"], **TOLERANCE):
        hint = blocks_used_hint(target, BLOCK_CHECKS)
        raise CheckFailure(f"ResNet50: {hint}" if hint else value_message(case, model, got, arrays["predictions"]))
    print(f"passed: ResNet50 matches the reference ({len(got_rows)} layers, {RESNET50_PARAMETERS:,} parameters).")
