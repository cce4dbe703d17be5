"""Train the model learners use for their own photo (`make model`), or try a recipe on the validation split.

By default this trains the reference ResNet50 (the solution in the instructor notebook) on every training photo
with `MODEL_RECIPE` for `MODEL_EPOCHS` epochs, reports the held-out test accuracy and the accuracy on the
camera-shifted test photos (`signs.camera_shift.camera_shift`) and the robustness table, and saves the model to
`outputs/resnet50_signs.keras`, which the notebook's own-photo section loads when it exists.

With `--validate` it trains on the training photos minus a participant-disjoint validation split
(`signs.data.validation_split`) and reports, after every epoch, the accuracy on that split and on its
camera-shifted copy; the test set is not touched and nothing is saved. This is how the recipe and the number of
epochs were chosen.

Usage: .venv/bin/python -m tools.train_model [--validate] [--epochs N] [--train-examples N] [--seed S]
       [--camera-augmentation on|off] [--augment-probability P] [--precision auto|float32|mixed_bfloat16|...]
       [--output PATH] [--report JSON] [--run-eagerly]
"""
import argparse
import dataclasses
import json
import time
from pathlib import Path

import keras
import numpy as np

import signs.constants
import signs.data
import signs.evaluation
import signs.precision
import signs.training
from instructor.reference import load_reference
from signs.camera_shift import camera_shift

# Chosen on the validation split's camera-shifted copy (BENCHMARKS.md, "Camera shift").
MODEL_RECIPE = signs.training.TrainingRecipe(camera_augmentation=True, augment_probability=0.8)
MODEL_EPOCHS = 12


class ShiftedAccuracy(keras.callbacks.Callback):
    """After every epoch, the accuracy on fixed photos (e.g. camera-shifted ones), logged as `<name>_accuracy`."""

    def __init__(self, name, X, labels):
        super().__init__()
        self.name, self.X, self.labels = name, X, labels

    def on_epoch_end(self, epoch, logs=None):
        predicted = signs.evaluation.predict_probabilities(self.model, self.X).argmax(axis=1)
        accuracy = float(np.mean(predicted == self.labels))
        if logs is not None:
            logs[f"{self.name}_accuracy"] = accuracy
        print(f"  epoch {epoch + 1}: {self.name} accuracy {accuracy:.1%}", flush=True)


def accuracy(model, X, labels):
    return float(np.mean(signs.evaluation.predict_probabilities(model, X).argmax(axis=1) == labels))


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validate", action="store_true",
                        help="fit on the training photos minus the validation split and report on that split")
    parser.add_argument("--epochs", type=int, default=MODEL_EPOCHS)
    parser.add_argument("--train-examples", type=int, default=None,
                        help="train on the first N (fitting) photos only and evaluate on N photos (a quick check)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--camera-augmentation", choices=["on", "off"], default=None,
                        help=f"default: {'on' if MODEL_RECIPE.camera_augmentation else 'off'}")
    parser.add_argument("--augment-probability", type=float, default=MODEL_RECIPE.augment_probability)
    parser.add_argument("--precision", choices=signs.precision.PRECISIONS, default=MODEL_RECIPE.precision)
    parser.add_argument("--output", type=Path, default=signs.constants.MODEL_PATH,
                        help="where to save the model (not with --validate)")
    parser.add_argument("--report", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--run-eagerly", action="store_true",
                        help="skip compiling the training step (faster for a run of a few steps only)")
    return parser.parse_args(argv)


def main(argv=None):
    arguments = parse_arguments(argv)
    camera = MODEL_RECIPE.camera_augmentation if arguments.camera_augmentation is None \
        else arguments.camera_augmentation == "on"
    recipe = dataclasses.replace(MODEL_RECIPE, camera_augmentation=camera,
                                 augment_probability=arguments.augment_probability, precision=arguments.precision)
    X_train_orig, Y_train_orig, X_test_orig, Y_test_orig, _ = signs.data.load_dataset()
    labels_train = Y_train_orig.reshape(-1)
    if arguments.validate:
        fit_rows, evaluation_rows = signs.data.validation_split()
        X_fit, y_fit = X_train_orig[fit_rows], labels_train[fit_rows]
        X_eval, y_eval = X_train_orig[evaluation_rows], labels_train[evaluation_rows]
        evaluated = "validation"
    else:
        X_fit, y_fit, X_eval, y_eval = X_train_orig, labels_train, X_test_orig, Y_test_orig.reshape(-1)
        evaluated = "held-out test"
    count = arguments.train_examples
    X_fit, y_fit = signs.data.scale_images(X_fit[:count]), y_fit[:count]
    X_eval, y_eval = signs.data.scale_images(X_eval[:count]), y_eval[:count]
    X_eval_shifted = camera_shift(X_eval)
    precision = signs.precision.choose_precision(recipe.precision)
    print(f"Training the reference ResNet50 for {arguments.epochs} epochs on {len(X_fit)} photos in {precision}, "
          f"evaluating on {len(X_eval)} {evaluated} photos; recipe {dataclasses.asdict(recipe)}", flush=True)

    keras.utils.set_random_seed(arguments.seed)
    model = load_reference().ResNet50(input_shape=signs.constants.IMAGE_SHAPE, classes=signs.constants.CLASS_COUNT)
    started = time.perf_counter()
    history = signs.training.train_with_recipe(
        model, X_fit, keras.utils.to_categorical(y_fit, signs.constants.CLASS_COUNT), X_eval,
        keras.utils.to_categorical(y_eval, signs.constants.CLASS_COUNT),
        arguments.epochs, recipe=recipe, seed=arguments.seed, run_eagerly=arguments.run_eagerly,
        callbacks=[ShiftedAccuracy(f"camera-shifted {evaluated}", X_eval_shifted, y_eval)])
    seconds = time.perf_counter() - started

    figures = {
        "evaluated_on": evaluated,
        "precision": precision,
        "recipe": dataclasses.asdict(recipe),
        "epochs": arguments.epochs,
        "seed": arguments.seed,
        "fit_photos": len(X_fit),
        "training_seconds_with_evaluation": round(seconds, 1),
        "accuracy_per_epoch": [round(float(value), 4) for value in history.history["val_accuracy"]],
        "camera_shift_accuracy_per_epoch": [
            round(value, 4) for value in history.history[f"camera-shifted {evaluated}_accuracy"]],
        # The float32 model itself, as learners load it.
        "accuracy": accuracy(model, X_eval, y_eval),
        "camera_shift_accuracy": accuracy(model, X_eval_shifted, y_eval),
        "robustness_accuracy": signs.evaluation.evaluate_robustness(model, X_eval, y_eval),
    }
    print(f"\n{evaluated} accuracy {figures['accuracy']:.1%}, camera-shifted {figures['camera_shift_accuracy']:.1%} "
          f"({seconds:.0f} s of training with evaluation)")
    print(signs.evaluation.format_robustness(figures["robustness_accuracy"]))
    if arguments.report:
        arguments.report.parent.mkdir(parents=True, exist_ok=True)
        arguments.report.write_text(json.dumps(figures, indent=1) + "\n")
    if not arguments.validate:
        print("saved to", signs.training.save_trained_model(model, arguments.output))
    return figures


if __name__ == "__main__":
    main()
