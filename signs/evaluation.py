"""Measuring a trained model: probabilities, the confusion matrix and accuracy on changed test photos."""

import keras
import numpy as np

from signs.augmentation import MAX_BRIGHTNESS, MAX_CONTRAST, MAX_ROTATION_DEGREES, MAX_SHIFT, MAX_ZOOM
from signs.constants import CLASS_COUNT


def predict_probabilities(model, X, batch_size=64):
    """Class probabilities in inference mode (BatchNorm uses its moving statistics).

    Args:
        model: a Keras model.
        X: float32 array (m, 64, 64, 3).
        batch_size: int, photos per forward pass.

    Returns:
        float array (m, classes).
    """
    return model.predict(X, batch_size=batch_size, verbose=0)


def confusion_matrix(labels, predicted, classes=CLASS_COUNT):
    """Counts each (true class, predicted class) pair.

    Args:
        labels: integer array (m,), true classes.
        predicted: integer array (m,), predicted classes.
        classes: int, number of classes.

    Returns:
        int array (classes, classes): row = true class, column = predicted.
    """
    matrix = np.zeros((classes, classes), dtype=int)
    np.add.at(matrix, (np.ravel(labels), np.ravel(predicted)), 1)
    return matrix


def _geometric(layer):
    """Turns a Keras image layer with fixed factors into a plain function."""
    return lambda X: keras.ops.convert_to_numpy(layer(X, training=True))


def _contrast(X, factor):
    """Scales each photo's deviation from its own mean colour by `factor`."""
    mean = X.mean(axis=(1, 2), keepdims=True)
    return np.clip((X - mean) * factor + mean, 0.0, 1.0)


def robustness_transforms():
    """Fixed changes to test photos, like those of other people's photos.

    Each change is as large as the largest of the training augmentation
    (`MAX_ROTATION_DEGREES`, `MAX_SHIFT`, ...), and is applied to every
    photo by the same amount, so the accuracy it gives is repeatable.

    Returns:
        dict mapping a name to a function that takes float32 images
        (m, 64, 64, 3) in [0, 1] and returns changed images of that shape.
    """
    layers = keras.layers
    turn = MAX_ROTATION_DEGREES / 360
    return {
        "original": lambda X: X,
        "mirrored (other hand)": lambda X: X[:, :, ::-1, :],
        # Keras rotates counter-clockwise (left) for positive factors.
        f"rotated {MAX_ROTATION_DEGREES / 2:g}° left": _geometric(
            layers.RandomRotation((turn / 2, turn / 2), fill_mode="nearest")),
        f"rotated {MAX_ROTATION_DEGREES}° right": _geometric(
            layers.RandomRotation((-turn, -turn), fill_mode="nearest")),
        f"shifted {MAX_SHIFT:.0%} right": _geometric(
            layers.RandomTranslation(0.0, (MAX_SHIFT, MAX_SHIFT), fill_mode="nearest")),
        f"shifted {MAX_SHIFT:.0%} up": _geometric(
            layers.RandomTranslation((-MAX_SHIFT, -MAX_SHIFT), 0.0, fill_mode="nearest")),
        f"zoomed in {MAX_ZOOM:.0%}": _geometric(
            layers.RandomZoom((-MAX_ZOOM, -MAX_ZOOM), fill_mode="nearest")),
        f"zoomed out {MAX_ZOOM:.0%}": _geometric(
            layers.RandomZoom((MAX_ZOOM, MAX_ZOOM), fill_mode="nearest")),
        f"brighter (+{MAX_BRIGHTNESS})": lambda X: np.clip(X + MAX_BRIGHTNESS, 0.0, 1.0),
        f"darker (-{MAX_BRIGHTNESS})": lambda X: np.clip(X - MAX_BRIGHTNESS, 0.0, 1.0),
        f"lower contrast (×{1 - MAX_CONTRAST:g})": lambda X: _contrast(X, 1 - MAX_CONTRAST),
    }


def evaluate_robustness(model, X, labels, transforms=None):
    """Test accuracy on changed copies of the test photos.

    Args:
        model: a Keras model.
        X: float32 array (m, 64, 64, 3) in [0, 1], the test photos.
        labels: integer array (m,), their classes.
        transforms: dict name -> function, defaults to
            `robustness_transforms()`.

    Returns:
        dict mapping each transform's name to the accuracy (float) on the
        changed photos.
    """
    transforms = robustness_transforms() if transforms is None else transforms
    labels = np.ravel(labels)
    # One predict call for every changed copy: each call has a fixed cost.
    changed = np.concatenate([transform(X) for transform in transforms.values()])
    correct = predict_probabilities(model, changed).argmax(axis=1) == np.tile(labels, len(transforms))
    accuracies = correct.reshape(len(transforms), len(labels)).mean(axis=1)
    return {name: float(accuracy) for name, accuracy in zip(transforms, accuracies)}


def format_robustness(accuracies):
    """Formats `evaluate_robustness`'s result as an aligned text table.

    Args:
        accuracies: dict name -> accuracy.

    Returns:
        str, one line per transform.
    """
    width = max(len(name) for name in accuracies)
    return "\n".join(
        f"{name:<{width}}  {accuracy:6.1%}" for name, accuracy in accuracies.items()
    )
