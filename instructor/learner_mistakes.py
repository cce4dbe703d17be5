"""A catalogue of mistakes learners make in the three graded functions, and how the checks react to each one.

Each `Mistake` is a small edit of the reference solution: text replacements in the graded cell of the instructor
notebook, run in a fresh namespace with the notebook's imports (as `instructor.reference` does for the solution). A
ResNet50 mistake may also call broken blocks, by naming block mistakes in `blocks`. `hint` is a piece of text the
public check's message must contain for the feedback to count as naming the mistake.

`evaluate(mistake, reference)` runs the public check of the mistake's function on it and measures, independently of
the checks, how its behaviour differs from the reference solution; `tests/test_feedback.py` and
`tools/feedback_report.py` both use it.
"""
import contextlib
import io
from dataclasses import dataclass

import keras
import numpy as np

import public_tests
from checking import TOLERANCE
from instructor.reference import graded_cells, imports_cell, load_reference


@dataclass(frozen=True)
class Mistake:
    """One mistake: an edit of a graded cell and the hint its check's message must contain."""

    name: str
    function: str  # "identity_block", "convolutional_block" or "ResNet50"
    description: str
    hint: str  # text the public check's message must contain
    edits: tuple = ()  # (old, new) replacements of text that occurs exactly once in the graded cell
    blocks: tuple = ()  # ResNet50 only: names of block mistakes whose function it calls


# Lines of the reference cells that the edits below change (the graded cells of the instructor notebook).
CONV_1 = '    X = Conv2D(F1, kernel_size=1, strides=s, padding="valid", kernel_initializer=initializer(seed=0))(X)\n'
CONV_F = '    X = Conv2D(F2, kernel_size=f, strides=1, padding="same", kernel_initializer=initializer(seed=0))(X)\n'
CONV_3 = '    X = Conv2D(F3, kernel_size=1, strides=1, padding="valid", kernel_initializer=initializer(seed=0))(X)\n'
BN = "    X = BatchNormalization(axis=3)(X, training=training)\n"
RELU = '    X = Activation("relu")(X)\n'
ADD = "    X = Add()([X, X_shortcut])\n"
SHORTCUT_CONV = ('    X_shortcut = Conv2D(F3, kernel_size=1, strides=s, padding="valid",\n'
                 "                        kernel_initializer=initializer(seed=0))(X_shortcut)\n")
SHORTCUT_BN = "    X_shortcut = BatchNormalization(axis=3)(X_shortcut, training=training)\n"
STAGE_3 = ("    X = convolutional_block(X, f=3, filters=[128, 128, 512], s=2)\n    for _ in range(3):\n"
           "        X = identity_block(X, 3, [128, 128, 512])\n")
STAGE_4 = ("    X = convolutional_block(X, f=3, filters=[256, 256, 1024], s=2)\n    for _ in range(5):\n"
           "        X = identity_block(X, 3, [256, 256, 1024])\n")
STAGE_5 = ("    X = convolutional_block(X, f=3, filters=[512, 512, 2048], s=2)\n    for _ in range(2):\n"
           "        X = identity_block(X, 3, [512, 512, 2048])\n")
DENSE = '    X = Dense(classes, activation="softmax", kernel_initializer=glorot_uniform(seed=0))(X)\n'
UNFINISHED = "    raise NotImplementedError()\n"


def _identity(name, description, hint, *edits):
    return Mistake(name, "identity_block", description, hint, edits)


def _convolutional(name, description, hint, *edits):
    return Mistake(name, "convolutional_block", description, hint, edits)


def _resnet(name, description, hint, *edits, blocks=()):
    return Mistake(name, "ResNet50", description, hint, edits, blocks)


MISTAKES = (
    # identity_block
    _identity("id_kernel_fixed_3", "f x f convolution written with kernel_size=3 instead of f",
              "kernel_size=f", (CONV_F, CONV_F.replace("kernel_size=f", "kernel_size=3"))),
    _identity("id_middle_padding_valid", 'f x f convolution with padding="valid"', "padding='same'",
              (CONV_F, CONV_F.replace('"same"', '"valid"'))),
    _identity("id_filters_F2_F3_swapped", "components 2 and 3 use F3 and F2 (filters in the wrong order)",
              "the f x f convolution has 6 filters, expected F2 = 4",
              (CONV_F, CONV_F.replace("F2", "F3")), (CONV_3, CONV_3.replace("F3", "F2"))),
    _identity("id_middle_uses_F1", "f x f convolution with F1 filters instead of F2",
              "the f x f convolution has 2 filters, expected F2 = 4", (CONV_F, CONV_F.replace("F2", "F1"))),
    _identity("id_batchnorm_missing", "no BatchNormalization in component 2",
              "component 2 of the main path has no BatchNormalization", (CONV_F + BN, CONV_F)),
    _identity("id_batchnorm_axis_1", "BatchNormalization(axis=1) in component 3", "uses axis=1",
              (CONV_3 + BN, CONV_3 + BN.replace("axis=3", "axis=1"))),
    _identity("id_batchnorm_without_training", "component 3's BatchNormalization called without training=training",
              "1 of the 3 BatchNormalization layers is called without training=training",
              (CONV_3 + BN, CONV_3 + BN.replace(", training=training", ""))),
    _identity("id_batchnorm_training_true", "component 2's BatchNormalization called with training=True",
              "called with training=True although the block was called with training=False",
              (CONV_F + BN, CONV_F + BN.replace("training=training", "training=True"))),
    _identity("id_relu_before_add", "a ReLU after component 3, before the addition",
              "no ReLU between the last BatchNormalization and Add()", (CONV_3 + BN, CONV_3 + BN + RELU)),
    _identity("id_final_relu_missing", "no ReLU after Add()", "the block ends with a ReLU after Add()",
              (ADD + RELU, ADD)),
    _identity("id_main_path_added_to_itself", "Add()([X, X]) instead of Add()([X, X_shortcut])",
              "Add() adds a tensor to itself", (ADD, ADD.replace("X_shortcut", "X"))),
    _identity("id_skip_connection_missing", "no Add(): the shortcut is never added", "the skip connection is missing",
              (ADD, "")),
    _identity("id_initializer_ignored", "f x f convolution without kernel_initializer",
              "using the `initializer` argument", (CONV_F, CONV_F.replace(", kernel_initializer=initializer(seed=0)",
                                                                           ""))),
    _identity("id_seed_missing", "component 3 creates its initializer without seed=0", "without seed=0",
              (CONV_3, CONV_3.replace("initializer(seed=0)", "initializer()"))),
    _identity("id_fixed_initializer", "component 3 uses random_uniform(seed=0) instead of the argument",
              "using the `initializer` argument",
              (CONV_3, CONV_3.replace("initializer(seed=0)", "random_uniform(seed=0)"))),
    _identity("id_relu_before_batchnorm", "component 2 applies ReLU before BatchNormalization",
              "Each component is Conv2D, then BatchNormalization, then", (CONV_F + BN + RELU, CONV_F + RELU + BN)),
    _identity("id_component_1_skipped", "component 2 is applied to X_shortcut, so component 1 is unused",
              "not connected to the output", (CONV_F, CONV_F.replace(")(X)", ")(X_shortcut)"))),
    _identity("id_relu_inside_conv", "Conv2D(..., activation='relu') in component 2 instead of a ReLU layer",
              "activation='relu' built in",
              (CONV_F + BN + RELU, CONV_F.replace("padding=", 'activation="relu", padding=') + BN)),
    _identity("id_placeholder_left_none", "component 3 left as `X = None`", "still None",
              (CONV_3 + BN, "    X = None\n")),
    _identity("id_component_3_unfinished", "component 3 not written yet", "identity_block is not finished yet",
              (CONV_3 + BN, UNFINISHED)),
    # convolutional_block
    _convolutional("cb_stride_on_middle_conv", "stride s on the f x f convolution instead of the first 1x1",
                   "the f x f convolution has strides (2, 2), expected (1, 1)",
                   (CONV_1, CONV_1.replace("strides=s", "strides=1")),
                   (CONV_F, CONV_F.replace("strides=1", "strides=s"))),
    _convolutional("cb_stride_on_last_conv", "stride s on the last 1x1 convolution instead of the first",
                   "the last 1x1 convolution has strides (2, 2), expected (1, 1)",
                   (CONV_1, CONV_1.replace("strides=s", "strides=1")),
                   (CONV_3, CONV_3.replace("strides=1", "strides=s"))),
    _convolutional("cb_first_conv_stride_1", "first 1x1 convolution with stride 1",
                   "the first 1x1 convolution has strides (1, 1), expected (2, 2)",
                   (CONV_1, CONV_1.replace("strides=s", "strides=1"))),
    _convolutional("cb_shortcut_stride_1", "shortcut convolution with stride 1",
                   "the shortcut convolution has strides (1, 1), expected (2, 2)",
                   (SHORTCUT_CONV, SHORTCUT_CONV.replace("strides=s", "strides=1"))),
    _convolutional("cb_stride_fixed_2", "strides=2 written instead of the argument s", "Use the argument s",
                   (CONV_1, CONV_1.replace("strides=s", "strides=2")),
                   (SHORTCUT_CONV, SHORTCUT_CONV.replace("strides=s", "strides=2"))),
    _convolutional("cb_middle_padding_valid", 'f x f convolution with padding="valid"', "padding='same'",
                   (CONV_F, CONV_F.replace('"same"', '"valid"'))),
    _convolutional("cb_kernel_fixed_3", "f x f convolution written with kernel_size=3 instead of f", "kernel_size=f",
                   (CONV_F, CONV_F.replace("kernel_size=f", "kernel_size=3"))),
    _convolutional("cb_filters_F1_F2_swapped", "components 1 and 2 use F2 and F1",
                   "the first 1x1 convolution has 4 filters, expected F1 = 2",
                   (CONV_1, CONV_1.replace("F1", "F2")), (CONV_F, CONV_F.replace("F2", "F1"))),
    _convolutional("cb_shortcut_filters_F1", "shortcut convolution with F1 filters instead of F3",
                   "the shortcut convolution has 2 filters, expected F3 = 6",
                   (SHORTCUT_CONV, SHORTCUT_CONV.replace("F3", "F1"))),
    _convolutional("cb_shortcut_without_batchnorm", "shortcut convolution not followed by BatchNormalization",
                   "the shortcut path needs BatchNormalization", (SHORTCUT_BN, "")),
    _convolutional("cb_relu_on_shortcut", "a ReLU after the shortcut's BatchNormalization",
                   "no ReLU on the shortcut path",
                   (SHORTCUT_BN, SHORTCUT_BN + '    X_shortcut = Activation("relu")(X_shortcut)\n')),
    _convolutional("cb_shortcut_missing", "no shortcut layers, as in identity_block", "the shortcut path has no layers",
                   (SHORTCUT_CONV + SHORTCUT_BN, "")),
    _convolutional("cb_shortcut_from_main_path", "shortcut convolution applied to X (the main path's end)",
                   "must be applied to X_shortcut", (SHORTCUT_CONV, SHORTCUT_CONV.replace(")(X_shortcut)", ")(X)"))),
    _convolutional("cb_shortcut_batchnorm_without_training", "shortcut BatchNormalization without training=training",
                   "called without training=training",
                   (SHORTCUT_BN, SHORTCUT_BN.replace(", training=training", ""))),
    _convolutional("cb_shortcut_fixed_initializer", "shortcut conv uses glorot_uniform(seed=0), not the argument",
                   "using the `initializer` argument",
                   (SHORTCUT_CONV, SHORTCUT_CONV.replace("initializer(seed=0)", "glorot_uniform(seed=0)"))),
    _convolutional("cb_relu_before_add", "a ReLU after component 3, before the addition",
                   "no ReLU between the last BatchNormalization and Add()", (CONV_3 + BN, CONV_3 + BN + RELU)),
    _convolutional("cb_main_path_added_to_itself", "Add()([X, X]): the shortcut is computed but never added",
                   "Add() adds a tensor to itself", (ADD, ADD.replace("X_shortcut", "X"))),
    _convolutional("cb_placeholder_left_none", "shortcut section left as `X_shortcut = None`", "still None",
                   (SHORTCUT_CONV + SHORTCUT_BN, "    X_shortcut = None\n")),
    _convolutional("cb_shortcut_unfinished", "shortcut section not written yet",
                   "convolutional_block is not finished yet", (SHORTCUT_CONV + SHORTCUT_BN, UNFINISHED)),
    # ResNet50
    _resnet("rn_stage3_too_few_blocks", "stage 3 with 2 identity blocks instead of 3",
            "stage 3 has 3 residual blocks, expected 4", (STAGE_3, STAGE_3.replace("range(3)", "range(2)"))),
    _resnet("rn_stage4_too_many_blocks", "stage 4 with 6 identity blocks instead of 5",
            "stage 4 has 7 residual blocks, expected 6", (STAGE_4, STAGE_4.replace("range(5)", "range(6)"))),
    _resnet("rn_stage5_wrong_filters", "stage 5 with stage 4's filters [256, 256, 1024]",
            "stage 5's blocks output 1024 channels, expected 2048",
            (STAGE_5, STAGE_5.replace("[512, 512, 2048]", "[256, 256, 1024]"))),
    _resnet("rn_stage3_stride_1", "stage 3's convolutional_block with s=1", "its convolutional_block needs s=2",
            (STAGE_3, STAGE_3.replace("s=2", "s=1"))),
    _resnet("rn_stage4_starts_with_identity_block", "stage 4 starts with an identity_block",
            "must start with a convolutional_block",
            (STAGE_4, STAGE_4.replace("convolutional_block(X, f=3, filters=[256, 256, 1024], s=2)",
                                      "identity_block(X, 3, [256, 256, 1024])"))),
    _resnet("rn_stage5_missing", "stage 5 left out", "stage 5 is missing", (STAGE_5, "")),
    _resnet("rn_block_results_not_assigned", "stage 4's identity blocks called without `X = `",
            "not connected to the output",
            (STAGE_4, STAGE_4.replace("        X = identity_block", "        identity_block"))),
    _resnet("rn_stage3_f_2", "stage 3's convolutional_block called with f=2", "Pass f=3 to every block",
            (STAGE_3, STAGE_3.replace("f=3", "f=2"))),
    _resnet("rn_max_pooling_missing", "no MaxPooling2D in the stem", "MaxPooling2D((3, 3), strides=(2, 2))",
            ("    X = MaxPooling2D((3, 3), strides=(2, 2))(X)\n", "")),
    _resnet("rn_zero_padding_missing", "no ZeroPadding2D in the stem", "ZeroPadding2D((3, 3))",
            ("    X = ZeroPadding2D((3, 3))(X_input)\n", "    X = X_input\n")),
    _resnet("rn_global_average_pooling", "GlobalAveragePooling2D instead of AveragePooling2D((2, 2))",
            "use AveragePooling2D((2, 2))",
            ("    X = AveragePooling2D((2, 2))(X)\n", "    X = keras.layers.GlobalAveragePooling2D()(X)\n")),
    _resnet("rn_softmax_missing", "Dense output layer without activation='softmax'", "needs 'softmax'",
            (DENSE, DENSE.replace('activation="softmax", ', ""))),
    _resnet("rn_dense_seed_missing", "Dense layer's glorot_uniform created without seed=0",
            "the Dense layer needs kernel_initializer=glorot_uniform(seed=0)",
            (DENSE, DENSE.replace("glorot_uniform(seed=0)", "glorot_uniform()"))),
    _resnet("rn_flatten_missing", "no Flatten() before Dense", "Flatten() before Dense",
            ("    X = Flatten()(X)\n", "")),
    _resnet("rn_uses_broken_identity_block", "calls an identity_block without the final ReLU",
            "does not pass identity_block_test", blocks=("id_final_relu_missing",)),
    _resnet("rn_uses_broken_convolutional_block", "calls a convolutional_block whose shortcut has stride 1",
            "does not pass convolutional_block_test", blocks=("cb_shortcut_stride_1",)),
)
MISTAKES_BY_NAME = {mistake.name: mistake for mistake in MISTAKES}


def edited_source(source, mistake):
    """Apply a mistake's edits to a graded cell's source; each edited text must occur exactly once."""
    for old, new in mistake.edits:
        if source.count(old) != 1:
            raise ValueError(f"mistake {mistake.name}: the text to edit occurs {source.count(old)} times in the "
                             f"reference {mistake.function} (expected once): {old!r}")
        source = source.replace(old, new)
    return source


def build(mistake):
    """The broken function described by `mistake`, defined with the notebook's imports in a fresh namespace.

    Returns:
        function: the mistake's graded function; a ResNet50 finds its blocks in the same namespace, as in the notebook
    """
    sources = graded_cells()
    for block_mistake in (*(MISTAKES_BY_NAME[name] for name in mistake.blocks), mistake):
        sources[block_mistake.function] = edited_source(sources[block_mistake.function], block_mistake)
    namespace = {"__name__": f"mistake_{mistake.name}"}
    exec(compile(imports_cell(), "<imports>", "exec"), namespace)
    for name, source in sources.items():
        exec(compile(source, f"<{mistake.name}: {name}>", "exec"), namespace)
    return namespace[mistake.function]


@dataclass
class Outcome:
    """What the checks made of one mistake, and how the mistake behaves."""

    mistake: Mistake
    caught_by: str  # name of the public check that failed, or "" when it passed
    message: str  # that check's message
    behaviour: str  # how the function differs from the reference, measured without the checks; "" when it does not

    @property
    def hint_matched(self):
        """Whether the check's message contains the mistake's hint."""
        return bool(self.caught_by) and self.mistake.hint in self.first_line

    @property
    def first_line(self):
        """The first line of the check's message, or "" when it passed."""
        return self.message.splitlines()[0] if self.message else ""


def _quietly(function, *arguments):
    """Call `function`; returns the exception it raised (or None), hiding what it prints."""
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            function(*arguments)
        except Exception as error:  # a learner function may fail in any way
            return error
    return None


def _block_difference(function, reference_function, cases):
    """How a block differs from the reference on the public cases' inputs, e.g. "outputs differ in case 'x'"."""
    for case in cases:
        X = keras.ops.convert_to_tensor(case.random_input())
        arguments = case.call_arguments()
        expected = np.asarray(reference_function(X, **arguments))
        try:
            got = np.asarray(function(X, **arguments))
        except Exception as error:  # a crash is a difference
            return f"raises {type(error).__name__}"
        if got.shape != expected.shape:
            return f"output shape {got.shape} instead of {expected.shape} in case {case.name!r}"
        if not np.allclose(got, expected, **TOLERANCE):
            return f"outputs differ in case {case.name!r} (by up to {np.max(np.abs(got - expected)):.3g})"
    return ""


# Image shapes on which network mistakes are compared with the reference: the public check's, then a larger one
# (on 64x64 images stage 5 is 2x2, where AveragePooling2D((2, 2)) and a global average pooling agree).
NETWORK_SHAPES = (public_tests.RESNET50_CASE.input_shape, (96, 96, 3))


class Reference:
    """The reference solution, and its ResNet50 predictions for fixed images of each shape in NETWORK_SHAPES."""

    def __init__(self):
        self.functions = load_reference()
        self._predictions = {}

    def images(self, shape):
        """Fixed random images of `shape`, the same for every mistake."""
        return np.random.default_rng(5).uniform(size=(2, *shape)).astype("float32")

    def predictions(self, shape):
        """The reference ResNet50's outputs on `images(shape)`, computed once."""
        if shape not in self._predictions:
            model = self.functions.ResNet50(input_shape=shape, classes=public_tests.RESNET50_CASE.classes)
            self._predictions[shape] = np.asarray(model(self.images(shape), training=False))
        return self._predictions[shape]


def _network_difference(function, public_model, reference):
    """How a ResNet50 differs from the reference: its crash, or its predictions with the untrained weights.

    Args:
        function: the mistake's ResNet50.
        public_model: the model the public check built for NETWORK_SHAPES[0], or None if it built none
        reference: a `Reference`, with the fixed images and the reference predictions.
    """
    for shape in NETWORK_SHAPES:
        model = public_model if shape == NETWORK_SHAPES[0] else None
        if model is None:
            try:
                model = function(input_shape=shape, classes=public_tests.RESNET50_CASE.classes)
            except Exception as error:  # a crash is a difference
                return f"raises {type(error).__name__}"
        got, expected = np.asarray(model(reference.images(shape), training=False)), reference.predictions(shape)
        if got.shape != expected.shape:
            return f"output shape {got.shape} instead of {expected.shape} for {shape} images"
        if not np.allclose(got, expected, **TOLERANCE):
            return f"predictions differ for {shape} images (by up to {np.max(np.abs(got - expected)):.3g})"
    return ""


def _recording_models(function):
    """Make the ResNet50 `function` keep every model it returns, so the checks' model can be measured too."""
    built = []
    namespace = function.__globals__

    def Model(*arguments, **keywords):  # noqa: N802 - stands in for keras' Model in the mistake's namespace
        built.append(keras.Model(*arguments, **keywords))
        return built[-1]

    namespace["Model"] = Model
    return built


def evaluate(mistake, reference):
    """Run the public check of the mistake's function on it, and measure its difference from the reference.

    Args:
        mistake: a Mistake from MISTAKES
        reference: a Reference

    Returns:
        outcome: an Outcome
    """
    function = build(mistake)
    check_name = f"{mistake.function}_test"
    if mistake.function == "ResNet50":
        built = _recording_models(function)
        failure = _quietly(getattr(public_tests, check_name), function)
        behaviour = _network_difference(function, built[0] if built else None, reference)
    else:
        failure = _quietly(getattr(public_tests, check_name), function)
        cases = getattr(public_tests, f"{mistake.function.upper()}_CASES")
        behaviour = _block_difference(function, getattr(reference.functions, mistake.function), cases)
    if failure is None:
        return Outcome(mistake, "", "", behaviour)
    if not isinstance(failure, AssertionError):  # the check itself broke: that is no feedback at all
        return Outcome(mistake, "", f"{check_name} crashed with {type(failure).__name__}: {failure}", behaviour)
    return Outcome(mistake, check_name, str(failure), behaviour)


def evaluate_all(reference=None, progress=None):
    """Outcomes of every mistake in MISTAKES, in order; progress(index, outcome) is called after each one."""
    reference = reference or Reference()
    outcomes = []
    for index, mistake in enumerate(MISTAKES):
        outcomes.append(evaluate(mistake, reference))
        if progress:
            progress(index, outcomes[-1])
    return outcomes


def judged_failure(mistake, judge):
    """Why the autograder's judge rejects the mistake on its cases (public and hidden), or None if it accepts it.

    Args:
        mistake: a Mistake from MISTAKES.
        judge: a grading.judge.Judge over grading.cases.grading_cases(); the models are built here from the mistake's
            function, as the grading sandbox builds them
    """
    function = build(mistake)
    for case in judge.cases.values():
        if case.function != mistake.function:
            continue
        try:
            if case.function == "ResNet50":
                model = function(input_shape=case.input_shape, **case.call_arguments())
            else:
                inputs = keras.Input(shape=case.input_shape[1:])
                model = keras.Model(inputs, function(inputs, **case.call_arguments()))
            text = model.to_json()
        except Exception as error:  # the sandbox would report the crash: no points either
            return f"{case.describe()} raises {type(error).__name__}"
        verdict = judge.judge(case.id, text)
        if not verdict.passed:
            return verdict.message
    return None
