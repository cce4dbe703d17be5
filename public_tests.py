"""Checks for the three graded functions of ResNet50.ipynb.

Each check calls your function on fixed inputs and compares the result with reference data stored in
`outputs/references/` (made by `make references` from the instructor's solution). It first compares the layers your
function creates, which gives the most specific advice, then the numbers it computes. On a mistake it raises an
AssertionError that says what differs and what to check; on success it prints one line starting with "passed".
"""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import keras

from test_utils import differences, format_row, summary

REFERENCE_DIR = Path(__file__).resolve().parent / "outputs" / "references"

# The cases each check runs. Their inputs and expected outputs are data files made by `make references`.
# "initializer": None keeps the function's default; otherwise the name of a keras.initializers class.
IDENTITY_BLOCK_CASES = {
    "training": dict(input_shape=(3, 4, 4, 6), seed=1, f=2, filters=[2, 4, 6], training=True, initializer=None),
    "inference": dict(input_shape=(3, 4, 4, 6), seed=1, f=2, filters=[2, 4, 6], training=False, initializer=None),
    "glorot": dict(input_shape=(2, 5, 5, 4), seed=2, f=3, filters=[3, 5, 4], training=True,
                   initializer="GlorotUniform"),
}
CONVOLUTIONAL_BLOCK_CASES = {
    "training": dict(input_shape=(3, 5, 5, 3), seed=3, f=2, filters=[2, 4, 6], s=2, training=True,
                     initializer=None),
    "inference": dict(input_shape=(3, 5, 5, 3), seed=3, f=2, filters=[2, 4, 6], s=2, training=False,
                      initializer=None),
    "stride3_uniform": dict(input_shape=(2, 6, 6, 4), seed=4, f=3, filters=[3, 5, 7], s=3, training=True,
                            initializer="RandomUniform"),
}
RESNET50_CASE = dict(input_shape=(64, 64, 3), classes=6, images=2, seed=5)
RESNET50_PARAMETERS = 23_600_006
# Number of residual blocks (Add layers) per stage, keyed by the stage's output shape for a 64x64x3 input.
RESNET50_STAGES = {(15, 15, 256): ("stage 2", 3), (8, 8, 512): ("stage 3", 4), (4, 4, 1024): ("stage 4", 6),
                   (2, 2, 2048): ("stage 5", 3)}

TOLERANCE = dict(rtol=1e-4, atol=1e-5)


class _LearnerCodeError(AssertionError):
    """Raised when the learner's function cannot even be called; carries a readable message."""


def case_arguments(case):
    """Keyword arguments for the graded function, built from a case (without the input tensor)."""
    arguments = {key: case[key] for key in ("f", "filters", "s", "training") if key in case}
    if case.get("initializer"):
        arguments["initializer"] = getattr(keras.initializers, case["initializer"])
    return arguments


def case_input(case):
    """The random input tensor of a block case, drawn from the case's seed."""
    return np.random.default_rng(case["seed"]).standard_normal(case["input_shape"]).astype("float32")


def _describe_call(name, case):
    shown = ", ".join(f"{key}={value!r}" for key, value in case.items() if key not in ("seed",))
    return f"{name}({shown})"


def _call(name, where, call):
    """Run `call()` (a call of the learner's function); turn unfinished or crashing code into a short message."""
    try:
        result = call()
    except NotImplementedError as error:
        unfinished = _raising_function(error, default=name)
        called_from = "" if unfinished == name else f" (called by {name})"
        raise _LearnerCodeError(
            f"{unfinished} is not finished yet{called_from}: replace every `raise NotImplementedError()` line "
            "with your code."
        ) from None
    except Exception as error:  # any crash in learner code becomes advice, not a Keras traceback
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        raise _LearnerCodeError(
            f"{where} raised {type(error).__name__}: {first_line}\n{_crash_hint(error)}"
        ) from None
    if result is None:
        raise _LearnerCodeError(f"{name} returned None. Check that it ends with `return` and the right variable.")
    return result


def _raising_function(error, default):
    """Name of the innermost function in the traceback: which exercise still raises NotImplementedError."""
    traceback, name = error.__traceback__, default
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_name
        traceback = traceback.tb_next
    return name if name != "<lambda>" else default


def _crash_hint(error):
    text = str(error)
    if isinstance(error, TypeError) and "NoneType" in text:
        return "Check: a variable is still None; every placeholder must become a layer call like `X = Layer(...)(X)`."
    if "shape" in text.lower() or "incompatible" in text.lower():
        return ("Check: tensors with different shapes meet somewhere. Compare the filters [F1, F2, F3], the strides "
                "and the padding of each Conv2D with the instructions; both inputs of Add() must have one shape.")
    return "Check the line named in the error against the instructions for this exercise."


def _load_references(function_name):
    arrays = np.load(REFERENCE_DIR / f"{function_name}.npz")
    summaries = json.loads((REFERENCE_DIR / f"{function_name}_summary.json").read_text())
    return arrays, summaries


def _block_model(target, name, case):
    """Run the learner's block on a symbolic input and wrap it in a model, to inspect its layers."""
    inputs = keras.Input(shape=case["input_shape"][1:])
    outputs = _call(name, _describe_call(name, case), lambda: target(inputs, **case_arguments(case)))
    if not isinstance(outputs, keras.KerasTensor):
        raise _LearnerCodeError(
            f"{name} returned a {type(outputs).__name__}, not the output of a Keras layer. "
            "Build the block only from Keras layers (Conv2D, BatchNormalization, Activation, Add) and return X."
        )
    return keras.Model(inputs, outputs)


def _count(rows, layer):
    return sum(row["layer"] == layer for row in rows)


def _relu_count(rows):
    return sum(row["layer"] in ("Activation", "ReLU") for row in rows)


def _first_mismatch_hint(name, expected_rows, got_rows):
    """Advice for the first layer whose settings differ, when both models have the same kinds of layer."""
    for position, expected, got, keys in differences(got_rows, expected_rows):
        if not expected or not got:
            continue
        if expected["layer"] != got["layer"]:
            if expected["layer"] == "Add" and got["layer"] in ("Activation", "ReLU"):
                return ("a ReLU comes before the addition. The last BatchNormalization of the main path goes "
                        "straight into Add(); the ReLU comes after Add().")
            return (f"the layers are in a different order from the reference: at layer {position} the reference "
                    f"has {expected['layer']} where yours has {got['layer']}. Each component is Conv2D, then "
                    "BatchNormalization, then (except the last) a ReLU.")
        if "kernel_size" in keys:
            return (f"a Conv2D has a {got['kernel_size']} window where {expected['kernel_size']} is expected. "
                    "The middle convolution uses kernel_size=f (not a fixed 3), the other two use 1x1.")
        if "strides" in keys:
            return (f"a {got['layer']} uses strides {got['strides']} where {expected['strides']} is expected. "
                    "Only the first 1x1 convolution and the shortcut convolution use stride s; "
                    "the f x f convolution and the last 1x1 convolution use stride 1.")
        if "padding" in keys:
            return (f"a Conv2D uses padding={got['padding']!r} where {expected['padding']!r} is expected. "
                    "The f x f convolution keeps the size with padding='same'; the 1x1 convolutions use 'valid'.")
        if "kernel_initializer" in keys:
            return (f"a Conv2D is initialised with {got['kernel_initializer']} instead of "
                    f"{expected['kernel_initializer']}. Give every Conv2D kernel_initializer=initializer(seed=0), "
                    "using the `initializer` argument of the function and seed=0.")
        if "axis" in keys:
            return (f"BatchNormalization uses axis={got['axis']}; it must normalise the channels, the last axis: "
                    "BatchNormalization(axis=3).")
        if "activation" in keys:
            return (f"an activation is {got['activation']!r} where {expected['activation']!r} is expected. "
                    "Use Activation('relu').")
        if "output_shape" in keys and got["layer"] == "Conv2D":
            return (f"a Conv2D outputs {got['output_shape'][-1]} channels where {expected['output_shape'][-1]} are "
                    "expected. Check that the three convolutions use F1, F2 and F3, in that order.")
        if "inputs" in keys:
            return ("the layers are wired differently from the reference. Apply each layer to the previous layer's "
                    "output, and make Add() combine the main path with the shortcut (not a tensor with itself).")
    return "compare your layers with the table in the instructions."


def _block_structure_hint(name, expected_rows, got_rows):
    """The most specific advice for a block whose layers differ from the reference."""
    shortcut = name == "convolutional_block"
    if _count(got_rows, "Add") == 0:
        return "the skip connection is missing. Add the shortcut to the main path with Add()([X, X_shortcut])."
    for layer, description in (("Conv2D", "Conv2D layers"), ("BatchNormalization", "BatchNormalization layers")):
        expected, got = _count(expected_rows, layer), _count(got_rows, layer)
        if got != expected:
            where = "three on the main path and one on the shortcut" if shortcut else "one per component"
            extra = ""
            if layer == "BatchNormalization" and shortcut and got == expected - 1:
                extra = " If the shortcut has none, the shortcut path needs BatchNormalization after its Conv2D."
            return f"expected {expected} {description} ({where}), found {got}.{extra}"
    expected, got = _relu_count(expected_rows), _relu_count(got_rows)
    if got > expected:
        return (f"found {got} ReLU activations, expected {expected}: there is no ReLU between the last "
                "BatchNormalization and Add()" + (", nor on the shortcut path." if shortcut else "."))
    if got < expected:
        return (f"found {got} ReLU activations, expected {expected}: components 1 and 2 each end with a ReLU, "
                "and the block ends with a ReLU after Add().")
    return _first_mismatch_hint(name, expected_rows, got_rows)


def _layer_diff(expected_rows, got_rows, shown=3):
    found = differences(got_rows, expected_rows)
    lines = []
    for position, expected, got, _ in found[:shown]:
        lines.append(f"  layer {position}: expected {format_row(expected) if expected else 'no layer'}")
        lines.append(f"  {' ' * len(str(position))}        got      {format_row(got) if got else 'no layer'}")
    return "\n".join(lines)


def _check_block(target, name, cases):
    arrays, summaries = _load_references(name)
    for case_name, case in cases.items():
        where = _describe_call(name, case)
        got_rows = summary(_block_model(target, name, case))
        expected_rows = summaries[case_name]
        if got_rows != expected_rows:
            raise AssertionError(
                f"{name}: {_block_structure_hint(name, expected_rows, got_rows)}\n"
                f"(while checking {where})\nLayers that differ from the reference:\n"
                f"{_layer_diff(expected_rows, got_rows)}"
            )
        X = arrays[f"{case_name}__input"]
        expected = arrays[f"{case_name}__output"]
        got = np.asarray(_call(name, where, lambda: target(keras.ops.convert_to_tensor(X), **case_arguments(case))))
        if got.shape != expected.shape:
            raise AssertionError(f"{name}: output shape {got.shape}, expected {expected.shape} for {where}.")
        if not np.allclose(got, expected, **TOLERANCE):
            raise AssertionError(f"{name}: {_value_hint(name, case, case_name, cases, arrays, got)}\n"
                                 f"(while checking {where}; largest difference "
                                 f"{np.max(np.abs(got - expected)):.3g})")
    print(f"passed: {name} matches the reference in all {len(cases)} cases.")


def _value_hint(name, case, case_name, cases, arrays, got):
    """Advice when the layers are right but the numbers are not."""
    for other_name, other in cases.items():
        same_input = other["seed"] == case["seed"] and other["input_shape"] == case["input_shape"]
        if other_name != case_name and same_input and other["training"] != case["training"] and np.allclose(
                got, arrays[f"{other_name}__output"], **TOLERANCE):
            mode = "inference" if case["training"] else "training"
            return (f"with training={case['training']} your block gives the {mode}-mode result. Call every "
                    "BatchNormalization layer as BatchNormalization(axis=3)(X, training=training).")
    return ("your layers match the reference but the numbers do not. Check that every BatchNormalization gets "
            "training=training, that each layer is applied to the right tensor, and that Add() uses the saved "
            "input X_shortcut.")


def identity_block_test(target):
    """Check an identity_block implementation; raises AssertionError with advice on the first problem found."""
    _check_block(target, "identity_block", IDENTITY_BLOCK_CASES)


def convolutional_block_test(target):
    """Check a convolutional_block implementation; raises AssertionError with advice on the first problem found."""
    _check_block(target, "convolutional_block", CONVOLUTIONAL_BLOCK_CASES)


def _resnet_structure_hint(expected_rows, got_rows):
    got_classes, expected_classes = Counter(r["layer"] for r in got_rows), Counter(r["layer"] for r in expected_rows)
    for layer, advice in (("ZeroPadding2D", "the stem starts with ZeroPadding2D((3, 3))"),
                          ("MaxPooling2D", "the stem ends with MaxPooling2D((3, 3), strides=(2, 2))"),
                          ("AveragePooling2D", "the head starts with AveragePooling2D((2, 2)), not a global pooling"),
                          ("Flatten", "the head flattens the pooled tensor with Flatten() before Dense")):
        if got_classes[layer] != expected_classes[layer]:
            return f"found {got_classes[layer]} {layer} layers, expected {expected_classes[layer]}: {advice}."
    adds = Counter(tuple(r["output_shape"]) for r in got_rows if r["layer"] == "Add")
    for shape, (stage, blocks) in RESNET50_STAGES.items():
        if adds[shape] != blocks:
            return (f"{stage} (output {shape}) has {adds[shape]} residual blocks, expected {blocks}: one "
                    f"convolutional_block followed by {blocks - 1} identity_block, with the filters from the table.")
    dense = [r for r in got_rows if r["layer"] == "Dense"]
    if len(dense) == 1 and dense[0]["activation"] != "softmax":
        return f"the Dense layer uses activation={dense[0]['activation']!r}; the output layer needs 'softmax'."
    return _first_mismatch_hint("ResNet50", expected_rows, got_rows)


def ResNet50_test(target):
    """Check a ResNet50 implementation; raises AssertionError with advice on the first problem found."""
    arrays, expected_rows = _load_references("ResNet50")
    case = RESNET50_CASE
    model = _call("ResNet50", "ResNet50(input_shape=(64, 64, 3), classes=6)",
                  lambda: target(input_shape=case["input_shape"], classes=case["classes"]))
    if not isinstance(model, keras.Model):
        raise AssertionError(f"ResNet50 returned a {type(model).__name__}; it must return keras.Model(inputs, outputs).")
    got_rows = summary(model)
    if got_rows != expected_rows:
        parameters = model.count_params()
        count = "" if parameters == RESNET50_PARAMETERS else \
            f" Your model has {parameters:,} parameters, the reference {RESNET50_PARAMETERS:,}."
        raise AssertionError(
            f"ResNet50: {_resnet_structure_hint(expected_rows, got_rows)}{count}\n"
            f"Layers that differ from the reference:\n{_layer_diff(expected_rows, got_rows)}"
        )
    got = model.predict(arrays["images"], verbose=0)
    if not np.allclose(got, arrays["predictions"], **TOLERANCE):
        raise AssertionError(
            "ResNet50: the layers match the reference but its predictions differ. Check kernel_initializer="
            "glorot_uniform(seed=0) on the stem Conv2D and the Dense layer, and that each stage uses f=3."
        )
    print(f"passed: ResNet50 matches the reference ({len(got_rows)} layers, {RESNET50_PARAMETERS:,} parameters).")
