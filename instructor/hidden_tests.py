"""Hidden tests of the three graded functions, run by nbgrader when it autogrades a submission.

The grade cells of the instructor notebook call these tests inside `### BEGIN/END HIDDEN TESTS` regions, which
nbgrader removes from the student notebook. They call the learner's function on cases that the public checks never
try (other batch sizes, non-square inputs, window sizes f=1, 4 and 5, strides 1 and 4, other filter counts,
initializers and training flags, arguments left at their defaults; ResNet50 for another image size and number of
classes) and compare its layers (test_utils.summary) and its outputs with those of the reference solution, computed
on the spot from the instructor notebook. A function tailored to the public cases fails them.

A graded cell could replace or patch the public check that runs just before (for instance by defining its own
`identity_block_test`). So the block tests first run the public check again, from a fresh copy of public_tests.py;
the ResNet50 test does not need to, since its hidden case checks the same layers at another size. public_tests,
test_utils and instructor.reference are executed from their files into new module objects rather than taken from
`sys.modules`, where learner code could have patched them. Each test raises AssertionError with a readable message
on the first difference it finds.
"""
import contextlib
import functools
import importlib.util
import io
import sys
import types
from pathlib import Path

import keras
import numpy as np

REPO = Path(__file__).resolve().parent.parent
TOLERANCE = dict(rtol=1e-4, atol=1e-5)

# "initializer": name of a keras.initializers class, or None to leave the function's default. A case without
# "training" (or "s") leaves that argument at its default too.
IDENTITY_BLOCK_CASES = [
    dict(input_shape=(1, 7, 5, 8), f=1, filters=[4, 3, 8], training=True, initializer=None),
    dict(input_shape=(5, 6, 9, 3), f=5, filters=[2, 6, 3], training=False, initializer="HeUniform"),
    dict(input_shape=(2, 4, 6, 12), f=4, filters=[6, 5, 12], training=True, initializer="LecunNormal"),
    dict(input_shape=(3, 5, 5, 4), f=3, filters=[7, 2, 4], initializer="GlorotNormal"),
]
CONVOLUTIONAL_BLOCK_CASES = [
    dict(input_shape=(2, 6, 6, 4), f=3, filters=[2, 3, 8], s=1, training=True, initializer=None),
    dict(input_shape=(3, 7, 9, 3), f=1, filters=[4, 4, 6], s=2, training=False, initializer="HeUniform"),
    dict(input_shape=(1, 9, 8, 5), f=5, filters=[3, 2, 4], s=4, training=True, initializer="RandomNormal"),
    dict(input_shape=(4, 5, 6, 2), f=2, filters=[2, 2, 3], initializer=None),
]
RESNET50_CASES = [
    dict(input_shape=(96, 80, 3), classes=10, images=2),
]
GENERALITY_ADVICE = ("Your function must use its arguments ({}) everywhere, not values that only fit the public "
                     "checks.")


def _learner_facing(test):
    """Make a failing test show the learner its message, without a traceback through the grader's code."""
    @functools.wraps(test)
    def run(target):
        __tracebackhide__ = True  # IPython leaves frames that set this out of the traceback it prints
        try:
            test(target)
        except AssertionError as failure:
            raise AssertionError(str(failure)) from None
    return run


@_learner_facing
def identity_block_hidden_test(target):
    """Check an identity_block on the public cases, then on hidden ones; raises AssertionError on the first failure."""
    _public_check("identity_block", target)
    _check_block(target, "identity_block", IDENTITY_BLOCK_CASES, "f, filters, training, initializer")


@_learner_facing
def convolutional_block_hidden_test(target):
    """Check a convolutional_block on the public cases, then hidden ones; raises AssertionError on the first failure."""
    _public_check("convolutional_block", target)
    _check_block(target, "convolutional_block", CONVOLUTIONAL_BLOCK_CASES, "f, filters, s, training, initializer")


@_learner_facing
def ResNet50_hidden_test(target):
    """Check a ResNet50 on the hidden cases; raises AssertionError on the first failure."""
    for case_index, case in enumerate(RESNET50_CASES):
        where = f"ResNet50(input_shape={case['input_shape']}, classes={case['classes']})"
        model = _learner_call(where, lambda: target(input_shape=case["input_shape"], classes=case["classes"]))
        if not isinstance(model, keras.Model):
            raise AssertionError(f"{where} returned a {type(model).__name__}, not a keras.Model.")
        expected_rows, images, expected = _reference_resnet50(case_index)
        _compare_layers("ResNet50", where, expected_rows, _trusted().test_utils.summary(model),
                        "input_shape, classes")
        got = np.asarray(_learner_call(where, lambda: model(images, training=False)))
        _compare_values("ResNet50", where, expected, got, "input_shape, classes")
    print("passed: ResNet50 also matches the reference for another image size and number of classes.")


@functools.cache
def _trusted():
    """Fresh copies of test_utils and public_tests, and the reference solution, independent of `sys.modules`.

    Returns:
    trusted -- a SimpleNamespace with test_utils (module), public_tests (module) and reference (the namespace
               returned by instructor.reference.load_reference)
    """
    test_utils = _module_from_file("test_utils", REPO / "test_utils.py")
    with _in_sys_modules("test_utils", test_utils):  # public_tests imports its helpers from this copy
        public_tests = _module_from_file("public_tests", REPO / "public_tests.py")
    reference_loader = _module_from_file("instructor.reference", REPO / "instructor" / "reference.py")
    return types.SimpleNamespace(test_utils=test_utils, public_tests=public_tests,
                                 reference=reference_loader.load_reference())


def _module_from_file(name, path):
    """Execute a Python file into a new module object that is not registered in `sys.modules`."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _in_sys_modules(name, module):
    """Make `import name` return `module` for the duration of the block, then restore what was there."""
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield
    finally:
        if previous is None:
            del sys.modules[name]
        else:
            sys.modules[name] = previous


def _public_check(name, target):
    """Run the public check of `name` from the fresh copy of public_tests.py, keeping its printed line quiet."""
    check = getattr(_trusted().public_tests, f"{name}_test")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            check(target)
    except AssertionError as failure:
        raise AssertionError(f"{name} fails the public check (run again by the grader):\n{failure}") from None


def _learner_call(where, call):
    """Run a call of the learner's code; any exception becomes an AssertionError that names the call."""
    try:
        result = call()
    except Exception as error:  # a crash on a hidden case is a failed test, shown without a long traceback
        first_line = (str(error).strip().splitlines() or [""])[0][:300]
        raise AssertionError(f"{where} raised {type(error).__name__}: {first_line}") from None
    if result is None:
        raise AssertionError(f"{where} returned None.")
    return result


def _block_arguments(case):
    """Keyword arguments of a block case, leaving out those the case keeps at the function's default."""
    arguments = {key: case[key] for key in ("f", "filters", "s", "training") if key in case}
    if case["initializer"]:
        arguments["initializer"] = getattr(keras.initializers, case["initializer"])
    return arguments


def _describe_block_call(name, case):
    """The call of a block case as readable text, e.g. `identity_block(X of shape (1, 7, 5, 8), f=1, ...)`."""
    arguments = _block_arguments(case)
    shown = [f"X of shape {case['input_shape']}"]
    shown += [f"{key}={value!r}" for key, value in arguments.items() if key != "initializer"]
    shown += [f"initializer={case['initializer']}"] if case["initializer"] else []
    optional = ("s", "training", "initializer") if name == "convolutional_block" else ("training", "initializer")
    shown += [f"default {key}" for key in optional if key not in arguments]
    return f"{name}({', '.join(shown)})"


def _block_input(case, case_index):
    """A random input for a block case: not centred and not of unit spread, so batch normalisation matters."""
    rng = np.random.default_rng(100 + case_index)
    return rng.uniform(-2.0, 3.0, size=case["input_shape"]).astype("float32")


def _check_block(target, name, cases, arguments_text):
    """Compare the learner's block with the reference block, layer by layer and number by number, on each case."""
    summary = _trusted().test_utils.summary
    reference = getattr(_trusted().reference, name)
    for case_index, case in enumerate(cases):
        where = _describe_block_call(name, case)
        arguments = _block_arguments(case)
        inputs = keras.Input(shape=case["input_shape"][1:])
        outputs = _learner_call(where, lambda: target(inputs, **arguments))
        if not isinstance(outputs, keras.KerasTensor):
            raise AssertionError(f"{where} returned a {type(outputs).__name__}, not the output of a Keras layer.")
        expected_inputs = keras.Input(shape=case["input_shape"][1:])
        expected_rows = summary(keras.Model(expected_inputs, reference(expected_inputs, **arguments)))
        _compare_layers(name, where, expected_rows, summary(keras.Model(inputs, outputs)), arguments_text)

        X = keras.ops.convert_to_tensor(_block_input(case, case_index))
        expected = np.asarray(reference(X, **arguments))
        got = np.asarray(_learner_call(where, lambda: target(X, **arguments)))
        _compare_values(name, where, expected, got, arguments_text)
    print(f"passed: {name} also matches the reference on {len(cases)} hidden cases.")


@functools.cache
def _reference_resnet50(case_index):
    """Summary rows, input images and inference-mode predictions of the reference ResNet50 for one hidden case."""
    case = RESNET50_CASES[case_index]
    model = _trusted().reference.ResNet50(input_shape=case["input_shape"], classes=case["classes"])
    rng = np.random.default_rng(200 + case_index)
    images = rng.uniform(size=(case["images"], *case["input_shape"])).astype("float32")
    return _trusted().test_utils.summary(model), images, np.asarray(model(images, training=False))


def _compare_layers(name, where, expected_rows, got_rows, arguments_text):
    """Raise an AssertionError that shows the first differing layers when two summaries differ."""
    if got_rows == expected_rows:
        return
    test_utils = _trusted().test_utils
    lines = [f"{name} builds different layers from the reference for a case the public checks do not try:",
             f"  {where}"]
    for position, expected, got, _ in test_utils.differences(got_rows, expected_rows)[:2]:
        lines.append(f"  layer {position}: expected {test_utils.format_row(expected) if expected else 'no layer'}")
        lines.append(f"  {' ' * len(str(position))}        got      "
                     f"{test_utils.format_row(got) if got else 'no layer'}")
    lines.append(GENERALITY_ADVICE.format(arguments_text))
    raise AssertionError("\n".join(lines))


def _compare_values(name, where, expected, got, arguments_text):
    """Raise an AssertionError when the learner's output differs from the reference output in shape or values."""
    if got.shape != expected.shape:
        raise AssertionError(f"{name}: output shape {got.shape}, expected {expected.shape} for {where}. "
                             + GENERALITY_ADVICE.format(arguments_text))
    if not np.allclose(got, expected, **TOLERANCE):
        raise AssertionError(f"{name}: the layers match the reference but the outputs do not for {where} "
                             f"(largest difference {np.max(np.abs(got - expected)):.3g}). "
                             + GENERALITY_ADVICE.format(arguments_text))
