"""Checks for the three graded functions of ResNet50.ipynb.

Each check calls your function on fixed inputs and compares the result with reference data stored in
`outputs/references/` (made by `make references` from the instructor's solution). It first compares the layers your
function creates, which gives the most specific advice, then the numbers it computes. On a mistake it raises an
AssertionError whose first line says what is wrong and what to check; on success it prints one line starting with
"passed". When ResNet50 fails, its check first runs the block checks on the identity_block and convolutional_block
it calls, so that a mistake in a block is reported where it is.
"""
import contextlib
import io
import json
import re
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
# The four stages of residual blocks, in order: name, filters [F1, F2, F3], stride s of the first block, blocks.
RESNET50_STAGES = (("stage 2", [64, 64, 256], 1, 3), ("stage 3", [128, 128, 512], 2, 4),
                   ("stage 4", [256, 256, 1024], 2, 6), ("stage 5", [512, 512, 2048], 2, 3))

TOLERANCE = dict(rtol=1e-4, atol=1e-5)

# The three convolutions of a block's main path, in order, with the filters argument each one takes.
MAIN_CONVOLUTIONS = (("first 1x1 convolution", "F1"), ("f x f convolution", "F2"), ("last 1x1 convolution", "F3"))
STRIDE_RULE = {
    "identity_block": "Every convolution of identity_block uses stride 1.",
    "convolutional_block": "Only the first 1x1 convolution and the shortcut convolution use strides=(s, s); "
                           "the other two use stride 1.",
}


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


# ---------------------------------------------------------------------------------------------------------------
# Calling learner code


def _call(name, where, call, diagnose=None):
    """Run `call()` (a call of the learner's function); turn unfinished or crashing code into a short message.

    diagnose -- optional function of the exception that returns specific advice, or None to use the general advice
    """
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
        crash = f"{where} raised {type(error).__name__}: {_error_text(error)}"
        advice = (diagnose(error) if diagnose else None) or _crash_hint(error)
        if advice:
            raise _LearnerCodeError(f"{name}: {advice}\n({crash})") from None
        raise _LearnerCodeError(
            f"{crash}\nCheck the line named in the error against the instructions for this exercise."
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


def _error_text(error):
    """The most informative line of an exception's message, without the terminal colour codes Keras adds."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(error)).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("Exception encountered when calling")]
    return (useful or lines or [""])[0][:300]


def _is_none_error(error):
    # A None where a tensor or number belongs; "(None, 4, 4, 6)" alone is only Keras' unknown batch size.
    return bool(re.search(r"NoneType|'None'|\(None\)|=None\b|\[None,|, None\)", str(error)))


def _is_shape_error(error):
    text = str(error).lower()
    return "incompatible shapes" in text or ("shape" in text and not _is_none_error(error))


def _crash_hint(error):
    """General advice for a crash, by the kind of error; None when the error says nothing recognisable."""
    if _is_none_error(error):
        return ("a value is still None where a layer's output or a number is needed. Every placeholder must "
                "become real code, such as `X = Layer(...)(X)`.")
    if "zero or negative" in str(error):
        return ("a window is larger than the tensor it slides over. Check kernel_size, strides and padding of each "
                "Conv2D: only the f x f convolution has an f x f window, and it uses padding='same'.")
    if _is_shape_error(error) or "incompatible" in str(error).lower():
        return ("tensors with different shapes meet somewhere. Compare the filters [F1, F2, F3], the strides and "
                "the padding of each Conv2D with the instructions; both inputs of Add() must have one shape.")
    return None


def _load_references(function_name):
    arrays = np.load(REFERENCE_DIR / f"{function_name}.npz")
    summaries = json.loads((REFERENCE_DIR / f"{function_name}_summary.json").read_text())
    return arrays, summaries


# ---------------------------------------------------------------------------------------------------------------
# Reading a graph of layers


def _operations_built_from(tensor):
    """Every Keras operation applied, directly or not, to `tensor` so far, including ones whose output is unused."""
    found, pending = {}, [tensor._keras_history.operation]
    while pending:
        operation = pending.pop()
        if id(operation) not in found:
            found[id(operation)] = operation
            pending.extend(node.operation for node in operation._outbound_nodes)
    return list(found.values())


def _unused_layer_count(model):
    """How many layers were applied to the model's input without leading to its output (a result never used)."""
    try:
        built = _operations_built_from(model.inputs[0])
    except (AttributeError, IndexError):  # not a functional model: nothing to learn here
        return 0
    used = {id(operation) for operation in model.operations}
    return sum(id(operation) not in used for operation in built)


def _partial_rows(inputs):
    """Summary of the layers applied to `inputs` before a crash: a model whose outputs are the unused results."""
    operations = _operations_built_from(inputs)
    ends = [node.outputs[0] for operation in operations if not operation._outbound_nodes
            for node in operation._inbound_nodes]
    if not ends or len(operations) < 2:
        return None
    return summary(keras.Model(inputs, ends))


def _users(rows):
    return {position: [user for user, row in enumerate(rows) if position in row["inputs"]]
            for position in range(len(rows))}


def _chain_to_input(rows, end):
    """Positions of the layers from the block's input (excluded) to `end` (included), or None if it branches."""
    chain = []
    while end != 0:
        if len(rows[end]["inputs"]) != 1:
            return None
        chain.append(end)
        end = rows[end]["inputs"][0]
    return chain[::-1]


def _block_paths(rows):
    """Split a block's layers into its main path, its shortcut path and what follows the addition.

    Arguments:
    rows -- summary of a block; either complete (one Add) or cut off just before Add() (a crash there)

    Returns:
    paths -- dict with "main", "shortcut" and "after": lists of row positions (the shortcut is the shorter path
             and is empty when it is the input itself), or None when the layers do not form that shape
    """
    users = _users(rows)
    adds = [position for position, row in enumerate(rows) if row["layer"] == "Add"]
    if len(adds) == 1:
        ends, after, position = rows[adds[0]]["inputs"], [], adds[0]
        while users[position]:
            if len(users[position]) != 1:
                return None
            position = users[position][0]
            after.append(position)
    elif not adds:
        ends, after = [position for position in range(1, len(rows)) if not users[position]], []
        if len(ends) == 1:
            ends = [0, *ends]  # the shortcut is the input itself
    else:
        return None
    if len(ends) != 2:
        return None
    chains = [_chain_to_input(rows, end) for end in ends]
    if None in chains:
        return None
    shortcut, main = sorted(chains, key=len)
    return {"main": main, "shortcut": shortcut, "after": after}


def _kind(row):
    if row["layer"] == "Activation":
        return "ReLU" if row["activation"] == "relu" else f"Activation({row['activation']!r})"
    return row["layer"]


def _components(kinds):
    """Split the main path's layer kinds into components, each starting at a Conv2D."""
    components = [[]]
    for kind in kinds:
        if kind == "Conv2D" and components[-1]:
            components.append([])
        components[-1].append(kind)
    return components


def _arrows(kinds):
    return " -> ".join(kinds) if kinds else "no layers"


# ---------------------------------------------------------------------------------------------------------------
# Advice for a block whose layers differ from the reference


def _main_path_hint(expected_kinds, got_kinds):
    expected, got = _components(expected_kinds), _components(got_kinds)
    if got_kinds.count("Conv2D") != expected_kinds.count("Conv2D"):
        return (f"the main path has {got_kinds.count('Conv2D')} Conv2D layers, expected "
                f"{expected_kinds.count('Conv2D')}: one per component (1x1, then f x f, then 1x1).")
    for number, (want, have) in enumerate(zip(expected, got), start=1):
        if want == have:
            continue
        where = f"component {number} of the main path"
        if "ReLU" not in want and "ReLU" in have and number == len(expected):
            return (f"{where} ends with a ReLU, but there is no ReLU between the last BatchNormalization and "
                    "Add(): the ReLU comes after the addition.")
        if "BatchNormalization" not in have:
            return (f"{where} has no BatchNormalization: BatchNormalization is missing after its Conv2D; add "
                    "BatchNormalization(axis=3)(X, training=training).")
        if "ReLU" in want and "ReLU" not in have:
            return f"{where} has no ReLU: end it with Activation('relu') after its BatchNormalization."
        return (f"{where} is {_arrows(have)}, expected {_arrows(want)}. Each component is Conv2D, then "
                "BatchNormalization, then (except the last) a ReLU.")
    return None


def _shortcut_hint(expected_kinds, got_kinds):
    if expected_kinds == got_kinds:
        return None
    if not expected_kinds:
        return (f"the shortcut path has {_arrows(got_kinds)}, but in identity_block the shortcut is the input "
                "itself: add the saved X_shortcut unchanged.")
    if not got_kinds:
        return ("the shortcut path has no layers; in convolutional_block it is a 1x1 Conv2D with F3 filters and "
                "strides=(s, s), then BatchNormalization, applied to X_shortcut.")
    if "ReLU" in got_kinds and "ReLU" not in expected_kinds:
        return ("there is no ReLU on the shortcut path: it ends with BatchNormalization, which goes straight "
                "into Add().")
    if "BatchNormalization" not in got_kinds:
        return "the shortcut path needs BatchNormalization after its Conv2D, as in the main path."
    return f"the shortcut path is {_arrows(got_kinds)}, expected {_arrows(expected_kinds)}."


def _after_add_hint(expected_kinds, got_kinds):
    if expected_kinds == got_kinds:
        return None
    if not got_kinds:
        return "nothing follows Add(), but the block ends with a ReLU after Add(): add Activation('relu')."
    return f"after Add() comes {_arrows(got_kinds)}; expected {_arrows(expected_kinds)}."


def _pairs(expected_rows, got_rows, expected_paths, got_paths):
    """Matching (role, filters argument, expected row, learner row) for every layer, path by path.

    Only used when both blocks have the same kinds of layer on each path, so the main path has three Conv2D.
    """
    pairs, main_convolutions = [], iter(MAIN_CONVOLUTIONS)
    for path in ("main", "shortcut", "after"):
        role = None
        for want, have in zip(expected_paths[path], got_paths[path]):
            row = expected_rows[want]
            if row["layer"] == "Conv2D":
                role, filters = ("shortcut convolution", "F3") if path == "shortcut" else next(main_convolutions)
                pairs.append((role, filters, row, got_rows[have]))
            else:
                pairs.append((f"{_kind(row)} after the {role}" if role else _kind(row), None, row, got_rows[have]))
    return pairs


def _shape_text(values):
    return "(" + ", ".join(str(value) for value in values) + ")"


def _settings_hint(name, pairs):
    """Advice for the first kind of setting that differs, naming every layer where it differs."""
    convs = [(role, filters, want, have) for role, filters, want, have in pairs if want["layer"] == "Conv2D"]
    channels = [f"the {role} has {have['output_shape'][-1]} filters, expected {filters} = {want['output_shape'][-1]}"
                for role, filters, want, have in convs if have["output_shape"][-1] != want["output_shape"][-1]]
    if channels:
        return "; ".join(channels) + ". Use F1, F2 and F3 in that order (and F3 for the shortcut)."
    kernels = [f"the {role} has a {_shape_text(have['kernel_size'])} window, expected "
               f"{_shape_text(want['kernel_size'])}" for role, _, want, have in convs
               if have["kernel_size"] != want["kernel_size"]]
    if kernels:
        return ("; ".join(kernels) + ". The middle convolution uses kernel_size=f (the argument, not a fixed "
                "number); the other convolutions are 1x1.")
    strides = [(role, have["strides"], want["strides"]) for role, _, want, have in convs
               if have["strides"] != want["strides"]]
    if strides:
        fixed = any(min(got) > 1 and min(want) > 1 for _, got, want in strides)
        return ("; ".join(f"the {role} has strides {_shape_text(got)}, expected {_shape_text(want)}"
                          for role, got, want in strides) + ". " + STRIDE_RULE[name] +
                (" Use the argument s, not a fixed number." if fixed else ""))
    paddings = [f"the {role} uses padding={have['padding']!r}, expected {want['padding']!r}"
                for role, _, want, have in convs if have["padding"] != want["padding"]]
    if paddings:
        return ("; ".join(paddings) + ". The f x f convolution keeps the height and width with padding='same'; "
                "the 1x1 convolutions use padding='valid'.")
    initializers = [(role, have["kernel_initializer"], want["kernel_initializer"]) for role, _, want, have in convs
                    if have["kernel_initializer"] != want["kernel_initializer"]]
    if initializers:
        same_class = all(got.split("(")[0] == want.split("(")[0] for _, got, want in initializers)
        listed = "; ".join(f"the {role} is initialised with {got}, expected {want}" for role, got, want in initializers)
        if same_class:
            return f"{listed}: a kernel initializer is created without seed=0. Use initializer(seed=0)."
        return (f"{listed}. Pass kernel_initializer=initializer(seed=0) to every Conv2D, using the `initializer` "
                "argument of the function (not a fixed initializer).")
    axes = [f"the {role} uses axis={have['axis']}" for role, _, want, have in pairs
            if want["layer"] == "BatchNormalization" and have["axis"] != want["axis"]]
    if axes:
        return ("; ".join(axes) + ". BatchNormalization must normalise the channels, the last axis: "
                "BatchNormalization(axis=3).")
    return None


def _block_layers_hint(name, expected_rows, got_rows):
    """Advice from comparing a block's paths layer by layer; None when nothing specific is found."""
    if any(row["layer"] == "Relu" for row in got_rows):
        return ("the block applies keras.ops.relu, a function; use the layer Activation('relu') so that the ReLU "
                "is part of the model.")
    builtin = [row for row in got_rows if row["layer"] == "Conv2D" and row["activation"] not in (None, "linear")]
    if builtin:
        return (f"a Conv2D has activation={builtin[0]['activation']!r} built in. Leave Conv2D without an "
                "activation; the ReLU is its own layer, Activation('relu'), after BatchNormalization.")
    convs = [sum(row["layer"] == "Conv2D" for row in rows) for rows in (expected_rows, got_rows)]
    readers = [len(_users(rows)[0]) for rows in (expected_rows, got_rows)]
    if name == "convolutional_block" and convs[0] == convs[1] and readers[1] < readers[0]:
        return ("only one path starts from the block's input: the shortcut Conv2D must be applied to X_shortcut "
                "(the saved input), not to X, the end of the main path.")
    expected_paths, got_paths = _block_paths(expected_rows), _block_paths(got_rows)
    if expected_paths is None or got_paths is None:
        return None
    kinds = {path: ([_kind(expected_rows[p]) for p in expected_paths[path]],
                    [_kind(got_rows[p]) for p in got_paths[path]]) for path in expected_paths}
    hint = (_main_path_hint(*kinds["main"]) or _shortcut_hint(*kinds["shortcut"])
            or _after_add_hint(*kinds["after"]))
    return hint or _settings_hint(name, _pairs(expected_rows, got_rows, expected_paths, got_paths))


def _block_structure_hint(name, expected_rows, got_rows, unused=0):
    """The most specific advice for a block whose layers differ from the reference."""
    adds = [row for row in got_rows if row["layer"] == "Add"]
    if not adds:
        return "the skip connection is missing. Add the shortcut to the main path with Add()([X, X_shortcut])."
    if len(adds) > 1:
        return (f"found {len(adds)} Add layers, expected 1: the block adds the main path and the shortcut once, "
                "at the end.")
    if len(adds[0]["inputs"]) == 1:
        return ("Add() adds a tensor to itself. Its inputs must be the main path X and the shortcut X_shortcut: "
                "Add()([X, X_shortcut]).")
    if unused:
        return (f"{unused} of the layers you created are not connected to the output. Apply each layer to the "
                "previous layer's output (X = Layer(...)(X)), so that every layer leads to the returned X.")
    return _block_layers_hint(name, expected_rows, got_rows) or _first_mismatch_hint(expected_rows, got_rows)


def _before_addition(rows):
    """The reference rows of the layers before Add(): what a block that crashed at Add() has built.

    Rows are ordered by their distance from the input, so every layer before Add() comes first in the list.
    """
    return rows[:next(position for position, row in enumerate(rows) if row["layer"] == "Add")]


def _block_crash_hint(name, inputs, expected_rows, error):
    """Advice for a block that crashed on a symbolic input, from the layers it built before the crash."""
    if not _is_shape_error(error):
        return None
    try:
        got_rows = _partial_rows(inputs)
    except Exception:  # the layers built so far do not form a model: fall back to the general advice
        return None
    if got_rows is None:
        return None
    expected_rows = _before_addition(expected_rows)
    hint = _block_layers_hint(name, expected_rows, got_rows)
    return f"the two tensors given to Add() have different shapes: {hint}" if hint else None


def _first_mismatch_hint(expected_rows, got_rows, network=False):
    """Advice for the first layer whose settings differ, when both models have the same kinds of layer."""
    for position, expected, got, keys in differences(got_rows, expected_rows):
        if not expected or not got:
            continue
        if expected["layer"] != got["layer"]:
            return (f"the layers are in a different order from the reference: at layer {position} the reference "
                    f"has {expected['layer']} where yours has {got['layer']}. Each component is Conv2D, then "
                    "BatchNormalization, then (except the last) a ReLU.")
        if "kernel_size" in keys:
            rule = "Pass f=3 to every block." if network else "The middle convolution uses kernel_size=f."
            return (f"a Conv2D has a {_shape_text(got['kernel_size'])} window where "
                    f"{_shape_text(expected['kernel_size'])} is expected. {rule}")
        if "strides" in keys:
            return (f"a {got['layer']} uses strides {_shape_text(got['strides'])} where "
                    f"{_shape_text(expected['strides'])} is expected.")
        if "padding" in keys:
            return f"a {got['layer']} uses padding={got['padding']!r} where {expected['padding']!r} is expected."
        if "kernel_initializer" in keys:
            layer = "the Dense layer" if got["layer"] == "Dense" else "a Conv2D"
            return (f"{layer} is initialised with {got['kernel_initializer']}, expected "
                    f"{expected['kernel_initializer']}: {layer} needs kernel_initializer=glorot_uniform(seed=0)."
                    if network else
                    f"{layer} is initialised with {got['kernel_initializer']}, expected "
                    f"{expected['kernel_initializer']}: use kernel_initializer=initializer(seed=0).")
        if "axis" in keys:
            return (f"BatchNormalization uses axis={got['axis']}; it must normalise the channels, the last axis: "
                    "BatchNormalization(axis=3).")
        if "activation" in keys:
            return f"an activation is {got['activation']!r} where {expected['activation']!r} is expected."
        if "output_shape" in keys:
            return (f"layer {position} ({got['layer']}) outputs {_shape_text(got['output_shape'])} where "
                    f"{_shape_text(expected['output_shape'])} is expected.")
        if "inputs" in keys:
            return ("the layers are wired differently from the reference. Apply each layer to the previous layer's "
                    "output, and make Add() combine the main path with the shortcut.")
    return "compare your layers with the table in the instructions."


def _layer_diff(expected_rows, got_rows, shown=3):
    found = differences(got_rows, expected_rows)
    lines = []
    for position, expected, got, _ in found[:shown]:
        lines.append(f"  layer {position}: expected {format_row(expected) if expected else 'no layer'}")
        lines.append(f"  {' ' * len(str(position))}        got      {format_row(got) if got else 'no layer'}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
# Advice for a block whose layers are right but whose numbers are not


def _training_hint(model, training):
    """Advice when a BatchNormalization layer does not receive the block's `training` argument; else None."""
    calls = [layer["inbound_nodes"][0].get("kwargs", {}) for layer in model.get_config()["layers"]
             if layer["class_name"] == "BatchNormalization" and layer["inbound_nodes"]]
    missing = sum("training" not in kwargs for kwargs in calls)
    if missing:
        verb = "is" if missing == 1 else "are"
        return (f"{missing} of the {len(calls)} BatchNormalization layers {verb} called without training=training. "
                "Call each one as BatchNormalization(axis=3)(X, training=training).")
    fixed = [kwargs["training"] for kwargs in calls if kwargs["training"] != training]
    if fixed:
        return (f"a BatchNormalization is called with training={fixed[0]} although the block was called with "
                f"training={training}. Pass the argument on: BatchNormalization(axis=3)(X, training=training).")
    return None


def _value_hint(case, case_name, cases, arrays, got, model):
    """Advice when the layers are right but the numbers are not."""
    hint = _training_hint(model, case["training"])
    if hint:
        return hint
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


# ---------------------------------------------------------------------------------------------------------------
# The block checks


def _block_model(target, name, case, expected_rows):
    """Run the learner's block on a symbolic input and wrap it in a model, to inspect its layers."""
    inputs = keras.Input(shape=case["input_shape"][1:])
    outputs = _call(name, _describe_call(name, case), lambda: target(inputs, **case_arguments(case)),
                    diagnose=lambda error: _block_crash_hint(name, inputs, expected_rows, error))
    if not isinstance(outputs, keras.KerasTensor):
        raise _LearnerCodeError(
            f"{name} returned a {type(outputs).__name__}, not the output of a Keras layer. "
            "Build the block only from Keras layers (Conv2D, BatchNormalization, Activation, Add) and return X."
        )
    return keras.Model(inputs, outputs)


def _check_block(target, name, cases):
    arrays, summaries = _load_references(name)
    for case_name, case in cases.items():
        where = _describe_call(name, case)
        expected_rows = summaries[case_name]
        model = _block_model(target, name, case, expected_rows)
        got_rows = summary(model)
        if got_rows != expected_rows:
            hint = _block_structure_hint(name, expected_rows, got_rows, _unused_layer_count(model))
            raise AssertionError(
                f"{name}: {hint}\n(while checking {where})\nLayers that differ from the reference:\n"
                f"{_layer_diff(expected_rows, got_rows)}"
            )
        X = arrays[f"{case_name}__input"]
        expected = arrays[f"{case_name}__output"]
        got = np.asarray(_call(name, where, lambda: target(keras.ops.convert_to_tensor(X), **case_arguments(case))))
        if got.shape != expected.shape:
            raise AssertionError(f"{name}: output shape {got.shape}, expected {expected.shape} for {where}.")
        if not np.allclose(got, expected, **TOLERANCE):
            raise AssertionError(f"{name}: {_value_hint(case, case_name, cases, arrays, got, model)}\n"
                                 f"(while checking {where}; largest difference "
                                 f"{np.max(np.abs(got - expected)):.3g})")
    print(f"passed: {name} matches the reference in all {len(cases)} cases.")


def identity_block_test(target):
    """Check an identity_block implementation; raises AssertionError with advice on the first problem found."""
    _check_block(target, "identity_block", IDENTITY_BLOCK_CASES)


def convolutional_block_test(target):
    """Check a convolutional_block implementation; raises AssertionError with advice on the first problem found."""
    _check_block(target, "convolutional_block", CONVOLUTIONAL_BLOCK_CASES)


# ---------------------------------------------------------------------------------------------------------------
# The ResNet50 check


def _blocks_used_hint(target):
    """Advice when ResNet50 calls an identity_block or convolutional_block that fails its own check; else None."""
    namespace = getattr(target, "__globals__", {})
    for name, check in (("identity_block", identity_block_test), ("convolutional_block", convolutional_block_test)):
        block = namespace.get(name)
        if not callable(block):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(block)
        except AssertionError as failure:
            return f"your {name} does not pass {name}_test yet; fix it first. {str(failure).splitlines()[0]}"
    return None


def _resnet_crash_hint(target, error):
    hint = _blocks_used_hint(target)
    if hint or "incompatible shapes" not in str(error).lower():
        return hint
    return ("a residual block adds two tensors of different shapes. Each stage must start with a "
            "convolutional_block (it changes the channels and the size), followed by identity_block calls with the "
            "same filters.")


def _stages(rows):
    """Consecutive residual blocks with one output shape: a list of [height, width, channels, number of blocks]."""
    stages = []
    for row in rows:
        if row["layer"] == "Add":
            if stages and stages[-1][:3] == row["output_shape"]:
                stages[-1][3] += 1
            else:
                stages.append([*row["output_shape"], 1])
    return stages


def _stage_hint(expected_rows, got_rows):
    expected, got = _stages(expected_rows), _stages(got_rows)
    if len(got) < len(expected):
        channels = [stage[2] for stage in got]
        before = ["the stem", *(stage[0] for stage in RESNET50_STAGES)]
        for (stage, filters, s, blocks), previous in zip(RESNET50_STAGES, before):
            if filters[-1] not in channels:
                return (f"{stage} is missing: after {previous} comes one convolutional_block with filters {filters} "
                        f"and s={s}, then {blocks - 1} identity_block.")
    if len(got) != len(expected):
        return (f"found {len(got)} groups of residual blocks, expected {len(expected)}: check the filters and s of "
                "each stage against the table.")
    for (stage, filters, s, blocks), want, have in zip(RESNET50_STAGES, expected, got):
        if have[2] != want[2]:
            return f"{stage}'s blocks output {have[2]} channels, expected {want[2]}: its blocks use filters {filters}."
        if have[:2] != want[:2]:
            return (f"{stage} outputs {have[0]}x{have[1]}, expected {want[0]}x{want[1]}: its convolutional_block "
                    f"needs s={s}.")
        if have[3] != blocks:
            return (f"{stage} has {have[3]} residual blocks, expected {blocks}: one convolutional_block followed by "
                    f"{blocks - 1} identity_block.")
    return None


def _resnet_structure_hint(expected_rows, got_rows, unused=0):
    """The most specific advice for a network whose layers differ from the reference (its blocks being right)."""
    if unused:
        return (f"{unused} of the layers you created are not connected to the output. Assign every result, e.g. "
                "X = identity_block(X, ...), so that each block is applied to the previous one's output.")
    got_classes, expected_classes = Counter(r["layer"] for r in got_rows), Counter(r["layer"] for r in expected_rows)
    if got_classes["GlobalAveragePooling2D"]:
        return "the head uses GlobalAveragePooling2D; use AveragePooling2D((2, 2)) and then Flatten()."
    for layer, advice in (("ZeroPadding2D", "the stem starts with ZeroPadding2D((3, 3))"),
                          ("MaxPooling2D", "the stem ends with MaxPooling2D((3, 3), strides=(2, 2))"),
                          ("AveragePooling2D", "the head starts with AveragePooling2D((2, 2))"),
                          ("Flatten", "the head flattens the pooled tensor with Flatten() before Dense")):
        if got_classes[layer] != expected_classes[layer]:
            return f"found {got_classes[layer]} {layer} layers, expected {expected_classes[layer]}: {advice}."
    hint = _stage_hint(expected_rows, got_rows)
    if hint:
        return hint
    dense = [r for r in got_rows if r["layer"] == "Dense"]
    if len(dense) == 1 and dense[0]["activation"] != "softmax":
        return f"the Dense layer uses activation={dense[0]['activation']!r}; the output layer needs 'softmax'."
    return _first_mismatch_hint(expected_rows, got_rows, network=True)


def ResNet50_test(target):
    """Check a ResNet50 implementation; raises AssertionError with advice on the first problem found."""
    arrays, expected_rows = _load_references("ResNet50")
    case = RESNET50_CASE
    model = _call("ResNet50", "ResNet50(input_shape=(64, 64, 3), classes=6)",
                  lambda: target(input_shape=case["input_shape"], classes=case["classes"]),
                  diagnose=lambda error: _resnet_crash_hint(target, error))
    if not isinstance(model, keras.Model):
        raise AssertionError(
            f"ResNet50 returned a {type(model).__name__}; it must return keras.Model(inputs, outputs).")
    got_rows = summary(model)
    if got_rows != expected_rows:
        parameters = model.count_params()
        count = "" if parameters == RESNET50_PARAMETERS else \
            f" Your model has {parameters:,} parameters, the reference {RESNET50_PARAMETERS:,}."
        hint = _blocks_used_hint(target) or _resnet_structure_hint(expected_rows, got_rows,
                                                                   _unused_layer_count(model))
        raise AssertionError(
            f"ResNet50: {hint}{count}\nLayers that differ from the reference:\n{_layer_diff(expected_rows, got_rows)}"
        )
    got = model.predict(arrays["images"], verbose=0)
    if not np.allclose(got, arrays["predictions"], **TOLERANCE):
        hint = _blocks_used_hint(target) or (
            "the layers match the reference but its predictions differ. Check kernel_initializer="
            "glorot_uniform(seed=0) on the stem Conv2D and the Dense layer, and that each stage uses f=3.")
        raise AssertionError(f"ResNet50: {hint}")
    print(f"passed: ResNet50 matches the reference ({len(got_rows)} layers, {RESNET50_PARAMETERS:,} parameters).")
