"""The one checking core: cases, tolerance, model descriptions, differences and advice for the graded functions.

The public checks (`public_tests.py`), the autograder's judge (`grading/judge.py`) and the catalogue of learner
mistakes all use this module, so a learner and a grader get the same message for the same mistake. A check compares
a learner's model with the reference model layer by layer (rows from `test_utils.summary`), then number by number;
the first difference becomes an AssertionError (`CheckFailure`) whose first line says what is wrong and what to do.

Keras' public API does not say which layers were applied to a tensor but never reached a model's output; the
functions under "Reading a graph of layers" read that from Keras' private `_keras_history`, `_outbound_nodes` and
`_inbound_nodes` attributes, the only place this project does so.
"""
import contextlib
import io
import linecache
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from test_utils import differences, format_row, summary

TOLERANCE = dict(rtol=1e-4, atol=1e-5)
RESNET50_PARAMETERS = 23_600_006
# The four stages of residual blocks, in order: name, filters [F1, F2, F3], stride s of the first block, blocks.
RESNET50_STAGES = (("stage 2", [64, 64, 256], 1, 3), ("stage 3", [128, 128, 512], 2, 4),
                   ("stage 4", [256, 256, 1024], 2, 6), ("stage 5", [512, 512, 2048], 2, 3))
# The three convolutions of a block's main path, in order, with the filters argument each one takes.
MAIN_CONVOLUTIONS = (("first 1x1 convolution", "F1"), ("f x f convolution", "F2"), ("last 1x1 convolution", "F3"))
STRIDE_RULE = {
    "identity_block": "Every convolution of identity_block uses stride 1.",
    "convolutional_block": "Only the first 1x1 convolution and the shortcut convolution use strides=(s, s); "
                           "the other two use stride 1.",
}
BLOCK_ARGUMENTS = ("f", "filters", "s", "training")
DEFAULTED = {"identity_block": ("training", "initializer"), "convolutional_block": ("s", "training", "initializer")}
# Files whose frames are never the learner's line in a traceback.
_CHECKING_FILES = {str(Path(__file__).resolve()), str(Path(__file__).resolve().parent / "public_tests.py")}


class CheckFailure(AssertionError):
    """A check found a difference; the message is written for the learner."""


@dataclass(frozen=True)
class Case:
    """One call of a graded function that a check makes.

    Attributes:
        function: "identity_block", "convolutional_block" or "ResNet50"
        name: the case's name, unique for its function (public cases name their reference data with it)
        input_shape: blocks: (batch, height, width, channels) of X; ResNet50: (height, width, channels)
        f, filters, s, training: the block's arguments; None leaves an argument at the function's default
        initializer: name of a keras.initializers class, or None for the function's default
        classes: ResNet50's number of classes
        seed: seed of a public case's stored input
        hidden: True for the autograder's cases, which learners never see
    """

    function: str
    name: str
    input_shape: tuple
    f: int = None
    filters: tuple = None
    s: int = None
    training: bool = None
    initializer: str = None
    classes: int = None
    seed: int = None
    hidden: bool = False

    @property
    def id(self):
        """The case's unique name across functions, "<function>/<name>"."""
        return f"{self.function}/{self.name}"

    def arguments(self):
        """The keyword arguments of the call as plain data (the initializer by name), without defaulted ones."""
        names = ("classes",) if self.function == "ResNet50" else (*BLOCK_ARGUMENTS, "initializer")
        arguments = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        if "filters" in arguments:
            arguments["filters"] = list(arguments["filters"])
        return arguments

    def call_arguments(self):
        """The keyword arguments to call the function with (the initializer as a keras.initializers class)."""
        arguments = self.arguments()
        if "initializer" in arguments:
            arguments["initializer"] = getattr(keras.initializers, arguments["initializer"])
        return arguments

    def describe(self):
        """The call as readable text, e.g. `identity_block(X of shape (3, 4, 4, 6), f=2, ..., default initializer)`."""
        if self.function == "ResNet50":
            return f"ResNet50(input_shape={tuple(self.input_shape)}, classes={self.classes})"
        shown = [f"X of shape {tuple(self.input_shape)}"]
        shown += [f"{key}={value!r}" for key, value in self.arguments().items()]
        shown += [f"default {key}" for key in DEFAULTED[self.function] if getattr(self, key) is None]
        return f"{self.function}({', '.join(shown)})"

    def job(self):
        """The case as JSON-ready data for the grading sandbox."""
        return {"id": self.id, "function": self.function, "input_shape": list(self.input_shape),
                "arguments": self.arguments()}

    def random_input(self):
        """A public block case's input: standard normal values drawn from the case's seed."""
        return np.random.default_rng(self.seed).standard_normal(self.input_shape).astype("float32")


# ---------------------------------------------------------------------------------------------------------------
# Calling learner code


def call_learner(name, where, call, diagnose=None):
    """Run `call()` (a call of the learner's function); turn unfinished or crashing code into a short message.

    Args:
        name: the graded function's name, e.g. "identity_block".
        where: the call as the message shows it (`Case.describe()`).
        call: function of no arguments that calls the learner's function.
        diagnose: optional function of the exception that returns specific advice, or None to use the general advice
    """
    try:
        result = call()
    except NotImplementedError as error:
        unfinished = _raising_function(error, default=name)
        called_from = "" if unfinished == name else f" (called by {name})"
        raise CheckFailure(
            f"{unfinished} is not finished yet{called_from}: replace every `raise NotImplementedError()` line "
            "with your code."
        ) from None
    except Exception as error:  # any crash in learner code becomes advice, not a Keras traceback
        advice = diagnose(error) if diagnose else None
        raise CheckFailure(crash_message(name, where, type(error).__name__, error_text(error), learner_line(error),
                                         advice)) from None
    if result is None:
        raise CheckFailure(f"{name} returned None. Check that it ends with `return` and the right variable.")
    return result


def crash_message(name, where, error_type, text, line=None, advice=None):
    """The message for learner code that raised an exception.

    Args:
        name: the graded function's name.
        where: the call as the message shows it.
        error_type: name of the exception's class.
        text: the exception's message.
        line: (line number, source text) of the learner's line that raised it, or None when unknown
        advice: specific advice, or None to choose it from the error
    """
    crash = f"{where} raised {error_type}: {text}"
    shown = f"\nThe error comes from this line of your code (line {line[0]}): {line[1]}" if line and line[1] else ""
    advice = advice or crash_hint(error_type, text)
    if advice:
        return f"{name}: {advice}\n({crash}){shown}"
    if shown:
        return f"{crash}{shown}\nCompare that line with the instructions for this exercise."
    return f"{crash}\nCompare your code with the instructions for this exercise."


def learner_line(error):
    """(line number, text) of the innermost line of learner code in an exception's traceback, or None.

    Learner code is any frame outside installed packages, the standard library and the checks themselves: a notebook
    cell, or a module of the learner's own.
    """
    found, traceback = None, error.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if not re.search(r"[/\\](site|dist)-packages[/\\]|[/\\]lib[/\\]python3", code.co_filename) and \
                code.co_filename not in _CHECKING_FILES:
            text = linecache.getline(code.co_filename, traceback.tb_lineno).strip()
            found = (traceback.tb_lineno, text) if text else found
        traceback = traceback.tb_next
    return found


def _raising_function(error, default):
    """Name of the innermost function in the traceback: which exercise still raises NotImplementedError."""
    traceback, name = error.__traceback__, default
    while traceback is not None:
        name = traceback.tb_frame.f_code.co_name
        traceback = traceback.tb_next
    return name if name != "<lambda>" else default


def error_text(error):
    """The most informative line of an exception's message, without the terminal colour codes Keras adds."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(error)).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith("Exception encountered when calling")]
    return (useful or lines or [""])[0][:300]


def _is_none_error(text):
    # A None where a tensor or number belongs; "(None, 4, 4, 6)" alone is only Keras' unknown batch size.
    return bool(re.search(r"NoneType|'None'|\(None\)|=None\b|\[None,|, None\)", text))


def is_shape_error(text):
    """Whether an error text is about tensor shapes that do not fit together."""
    lowered = text.lower()
    return "incompatible shapes" in lowered or ("shape" in lowered and not _is_none_error(text))


def crash_hint(error_type, text):
    """General advice for a crash, from the error's type and text; None when they say nothing recognisable."""
    if error_type == "TypeError" and "pool_size" in text:
        return ("AveragePooling2D and MaxPooling2D need their window in Keras 3 (Keras 2 defaulted it to (2, 2)): "
                "write the pool_size, such as AveragePooling2D((2, 2)).")
    if _is_none_error(text):
        return ("a value is still None where a layer's output or a number is needed. Every placeholder must "
                "become real code, such as `X = Layer(...)(X)`.")
    if "zero or negative" in text:
        return ("a window is larger than the tensor it slides over. Check kernel_size, strides and padding of each "
                "Conv2D: only the f x f convolution has an f x f window, and it uses padding='same'.")
    if is_shape_error(text) or "incompatible" in text.lower():
        return ("tensors with different shapes meet somewhere. Compare the filters [F1, F2, F3], the strides and "
                "the padding of each Conv2D with the instructions; both inputs of Add() must have one shape.")
    return None


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


def unused_layer_count(model):
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

    Args:
        rows: summary of a block; either complete (one Add) or cut off just before Add() (a crash there)

    Returns:
        paths: dict with "main", "shortcut" and "after": lists of row positions (the shortcut is the shorter path
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


def block_crash_hint(name, inputs, expected_rows, error):
    """Advice for a block that crashed on a symbolic input, from the layers it built before the crash."""
    if not is_shape_error(str(error)):
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




# ---------------------------------------------------------------------------------------------------------------
# Advice for a block whose layers are right but whose numbers are not


def training_hint(model, training):
    """Advice when a BatchNormalization layer does not receive the block's `training` argument; else None.

    Args:
        model: the learner's block wrapped in a model (its config shows how BatchNormalization was called).
        training: the value the block was called with; None (left at its default) means True
    """
    training = True if training is None else training
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


def value_message(case, model, got, expected, other_mode_output=None):
    """The message for a model whose layers match the reference but whose outputs do not.

    Args:
        case: the `Case` that was checked.
        model: the learner's model for the case (its config shows how BatchNormalization was called)
        got: the learner's output on the case's input, or None when not computed
        expected: the reference's output on the same input
        other_mode_output: for a block, the reference output on the same input with the other training mode, or None
    """
    where = case.describe()
    difference = "" if got is None else f"; largest difference {np.max(np.abs(got - expected)):.3g}"
    if case.function == "ResNet50":
        return ("ResNet50: the layers match the reference but its predictions differ. Check kernel_initializer="
                "glorot_uniform(seed=0) on the stem Conv2D and the Dense layer, and that each stage uses f=3.\n"
                f"(while checking {where}{difference})")
    hint = training_hint(model, case.training)
    if (not hint and got is not None and other_mode_output is not None
            and np.allclose(got, other_mode_output, **TOLERANCE)):
        mode = "inference" if case.training in (None, True) else "training"
        hint = (f"with training={case.training} your block gives the {mode}-mode result. Call every "
                "BatchNormalization layer as BatchNormalization(axis=3)(X, training=training).")
    hint = hint or ("your layers match the reference but the numbers do not. Check that every BatchNormalization "
                    "gets training=training, that each layer is applied to the right tensor, and that Add() uses "
                    "the saved input X_shortcut.")
    return f"{case.function}: {hint}\n(while checking {where}{difference})"


# ---------------------------------------------------------------------------------------------------------------
# Advice for ResNet50


# The ResNet50 check


def blocks_used_hint(target, block_checks):
    """Advice when ResNet50 calls an identity_block or convolutional_block that fails its own check; else None.

    Args:
        target: the learner's ResNet50; the blocks it calls are found in its globals.
        block_checks: {block name: its public check}
    """
    namespace = getattr(target, "__globals__", {})
    for name, check in block_checks.items():
        block = namespace.get(name)
        if not callable(block):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                check(block)
        except AssertionError as failure:
            return f"your {name} does not pass {name}_test yet; fix it first. {str(failure).splitlines()[0]}"
    return None


def resnet_crash_hint(target, error, block_checks):
    """Advice for a ResNet50 that crashed: what its blocks' checks find, else a hint on unequal shapes, or None."""
    hint = blocks_used_hint(target, block_checks)
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
    pooling = [r for r in got_rows if r["layer"] == "AveragePooling2D" and r["padding"] == "same"]
    if pooling:
        return ("the AveragePooling2D uses padding='same'. On 64x64 images stage 5 is 2x2, where 'same' and 'valid' "
                "give the same result, but on other image sizes they do not: use AveragePooling2D((2, 2)) with the "
                "default padding='valid'.")
    dense = [r for r in got_rows if r["layer"] == "Dense"]
    if len(dense) == 1 and dense[0]["activation"] != "softmax":
        return f"the Dense layer uses activation={dense[0]['activation']!r}; the output layer needs 'softmax'."
    return _first_mismatch_hint(expected_rows, got_rows, network=True)



# ---------------------------------------------------------------------------------------------------------------
# Messages for layers that differ


def structure_message(case, expected_rows, got_rows, model=None, unused=0, blocks_hint=None):
    """The message for a model whose layers differ from the reference's: advice, the call, then the differing layers.

    Args:
        case: the `Case` that was checked.
        expected_rows: the reference's summary rows (`test_utils.summary`).
        got_rows: the learner's summary rows.
        model: the learner's model, to count its parameters (ResNet50), or None
        unused: how many layers the learner created that do not lead to the output
        blocks_hint: for ResNet50, advice about the blocks it calls (see blocks_used_hint), or None
    """
    if case.function == "ResNet50":
        hint = blocks_hint or _resnet_structure_hint(expected_rows, got_rows, unused)
        parameters = model.count_params() if model is not None else RESNET50_PARAMETERS
        expected_parameters = sum(row["params"] for row in expected_rows)
        count = "" if parameters == expected_parameters else \
            f" Your model has {parameters:,} parameters, the reference {expected_parameters:,}."
        first = f"ResNet50: {hint}{count}"
    else:
        first = f"{case.function}: {_block_structure_hint(case.function, expected_rows, got_rows, unused)}"
    hidden = " (a case the public checks do not try: use the arguments, not values that fit the public cases)" \
        if case.hidden else ""
    return (f"{first}\n(while checking {case.describe()}){hidden}\nLayers that differ from the reference:\n"
            f"{layer_diff(expected_rows, got_rows)}")


def _places(rows):
    """Each row's place in the graph, independent of its settings: (depth, kind, layers until the next Add).

    The main path and the shortcut of a block start at the same depth but lie at different distances from their Add,
    so a layer keeps its place even when a wrong setting changes where its row is sorted.
    """
    users = _users(rows)
    depth, until_add = [], [0] * len(rows)
    for row in rows:
        depth.append(1 + max((depth[parent] for parent in row["inputs"]), default=-1))
    for position in reversed(range(len(rows))):
        following = users[position]
        until_add[position] = 1 + min((0 if rows[user]["layer"] == "Add" else until_add[user] for user in following),
                                      default=-1)
    return [(depth[position], rows[position]["layer"], until_add[position]) for position in range(len(rows))]


def paired_rows(expected_rows, got_rows):
    """Pair each reference layer with the learner's layer at the same place in the graph.

    Returns:
        pairs: list of (position, expected row or None, learner row or None), in reference order, then the learner's
            layers that have no place in the reference
    """
    unpaired = {}
    for position, place in enumerate(_places(got_rows)):
        unpaired.setdefault(place, []).append(position)
    pairs = []
    for position, place in enumerate(_places(expected_rows)):
        match = unpaired.get(place)
        pairs.append((position, expected_rows[position], got_rows[match.pop(0)] if match else None))
    leftover = sorted(position for positions in unpaired.values() for position in positions)
    return pairs + [(position, None, got_rows[position]) for position in leftover]


def _without_wiring(row):
    return {key: value for key, value in row.items() if key != "inputs"} if row else None


def layer_diff(expected_rows, got_rows, shown=3):
    """The first `shown` layers that differ, each paired with the reference layer at its place in the graph."""
    lines = []
    for position, expected, got in paired_rows(expected_rows, got_rows):
        if _without_wiring(expected) == _without_wiring(got):
            continue
        lines.append(f"  layer {position}: expected {format_row(expected) if expected else 'no layer'}")
        lines.append(f"  {' ' * len(str(position))}        got      {format_row(got) if got else 'no layer'}")
        if len(lines) == 2 * shown:
            break
    return "\n".join(lines) or "  (the same layers, wired differently)"
