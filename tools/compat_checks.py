"""The learner-side checks of one environment of the version matrix (`tools.compat` runs this in each one).

Run as `python -m tools.compat_checks` from the repository root, with the Python of the environment under test;
prints one JSON object on its last line:

- `versions`: the installed TensorFlow, Keras and NumPy;
- `checks`: {check name: "ok" or what went wrong} for: the reference solution passes the three public checks; every
  mistake of the feedback catalogue is caught, with the hint it is known for; the SIGNS data loads; one training
  step, a save and a reload that predicts the same;
- `tolerance_used`: per graded function, the largest share of the public checks' tolerance that the reference
  solution's outputs use against the stored references (1.0 would be at the limit);
- `seconds`: per check.
"""
import contextlib
import io
import json
import os
import tempfile
import time
import traceback
from pathlib import Path

# Before TensorFlow is imported: it reads its log level once.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import public_tests  # noqa: E402
import signs.constants  # noqa: E402
import signs.data  # noqa: E402
import signs.evaluation  # noqa: E402
import signs.training  # noqa: E402
from instructor import learner_mistakes  # noqa: E402
from instructor.reference import load_reference  # noqa: E402

TINY_PHOTOS = 16


def tolerance_used(got, expected, rtol=public_tests.TOLERANCE["rtol"], atol=public_tests.TOLERANCE["atol"]):
    """max |got - expected| / (atol + rtol |expected|): np.allclose passes exactly when this is at most 1."""
    return float(np.max(np.abs(got - expected) / (atol + rtol * np.abs(expected))))


def reference_passes_public_checks(reference):
    """Run the three public checks on the reference solution; return the tolerance used per function."""
    for name in ("identity_block", "convolutional_block", "ResNet50"):
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            getattr(public_tests, f"{name}_test")(getattr(reference, name))
        if not printed.getvalue().startswith("passed"):
            raise AssertionError(f"{name}_test printed {printed.getvalue()[:200]!r}")
    used = {}
    for name, cases in (("identity_block", public_tests.IDENTITY_BLOCK_CASES),
                        ("convolutional_block", public_tests.CONVOLUTIONAL_BLOCK_CASES)):
        arrays = np.load(public_tests.REFERENCE_DIR / f"{name}.npz")
        used[name] = max(tolerance_used(np.asarray(getattr(reference, name)(
            keras.ops.convert_to_tensor(arrays[f"{case}__input"]), **public_tests.case_arguments(spec))),
            arrays[f"{case}__output"]) for case, spec in cases.items())
    arrays = np.load(public_tests.REFERENCE_DIR / "ResNet50.npz")
    case = public_tests.RESNET50_CASE
    model = reference.ResNet50(input_shape=case["input_shape"], classes=case["classes"])
    used["ResNet50"] = tolerance_used(model.predict(arrays["images"], verbose=0), arrays["predictions"])
    return used


def catalogue_caught_with_hints():
    """Every mistake of the feedback catalogue is caught by its public check, and its message holds its hint."""
    outcomes = learner_mistakes.evaluate_all()
    missed = [outcome.mistake.name for outcome in outcomes if not outcome.caught_by]
    unnamed = [outcome.mistake.name for outcome in outcomes if not outcome.hint_matched]
    if missed or unnamed:
        raise AssertionError(f"not caught: {missed}; caught without the hint: {unnamed}")
    return len(outcomes)


def data_loads():
    X_train, Y_train, X_test, Y_test, classes = signs.data.load_dataset()
    if X_train.shape[1:] != signs.constants.IMAGE_SHAPE or X_train.dtype != np.uint8:
        raise AssertionError(f"training photos {X_train.shape} {X_train.dtype}")
    if (Y_train.shape != (1, len(X_train)) or Y_test.shape != (1, len(X_test))
            or len(classes) != signs.constants.CLASS_COUNT):
        raise AssertionError(f"labels {Y_train.shape}, {Y_test.shape}, classes {classes}")
    return X_train, Y_train, X_test, Y_test


def train_save_reload(reference, data):
    """One step of the notebook's recipe on a few photos, then a save and a reload that must predict the same."""
    X_train, Y_train, X_test, Y_test = data
    X, Y = signs.data.prepare_examples(X_train, Y_train, TINY_PHOTOS)
    X_val, Y_val = signs.data.prepare_examples(X_test, Y_test, TINY_PHOTOS)
    keras.utils.set_random_seed(0)
    model = reference.ResNet50(input_shape=signs.constants.IMAGE_SHAPE, classes=signs.constants.CLASS_COUNT)
    history = signs.training.train_with_recipe(model, X, Y, X_val, Y_val, epochs=1, verbose=0, run_eagerly=True)
    if not np.isfinite(history.history["loss"][0]):
        raise AssertionError(f"training loss {history.history['loss']}")
    with tempfile.TemporaryDirectory() as folder:
        path = signs.training.save_trained_model(model, Path(folder) / "tiny.keras")
        reloaded = keras.models.load_model(path)
    if not all(np.array_equal(saved, loaded) for saved, loaded in zip(model.get_weights(), reloaded.get_weights())):
        raise AssertionError("the reloaded model's weights differ from the trained model's")
    # The trained model predicts eagerly (run_eagerly above), the reloaded one through a compiled graph: the same
    # weights may then round differently in the last bits.
    if not np.allclose(signs.evaluation.predict_probabilities(reloaded, X_val),
                       signs.evaluation.predict_probabilities(model, X_val), rtol=0, atol=1e-6):
        raise AssertionError("the reloaded model predicts differently")


def run_checks():
    """All checks, each timed and caught on its own, as the JSON-ready result."""
    result = {"versions": {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__},
              "checks": {}, "seconds": {}, "tolerance_used": {}}
    reference = load_reference()
    data = None

    def public_checks():
        result["tolerance_used"] = reference_passes_public_checks(reference)

    def load():
        nonlocal data
        data = data_loads()

    steps = {"public checks": public_checks, "feedback catalogue": catalogue_caught_with_hints,
             "data loads": load, "train, save, reload": lambda: train_save_reload(reference, data)}
    for name, step in steps.items():
        started = time.monotonic()
        try:
            step()
            result["checks"][name] = "ok"
        except Exception as error:  # every check reports, whatever the others do
            result["checks"][name] = f"{type(error).__name__}: {error}"[:500]
            traceback.print_exc()
        result["seconds"][name] = round(time.monotonic() - started, 1)
    return result


if __name__ == "__main__":
    print(json.dumps(run_checks()))
