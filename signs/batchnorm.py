"""BatchNormalization's moving statistics: finding the layers, setting their momentum, measuring and repairing them.

During training BatchNorm normalises with each batch's own statistics; `predict` and `evaluate` use the moving
averages gathered along the way. These tools show and close the gap between the two (the notebook's "trap").
"""

import keras
import numpy as np


def batchnorm_layers(model):
    """Lists the BatchNormalization layers of a model, nested models included.

    Args:
        model: a Keras model.

    Returns:
        list of `keras.layers.BatchNormalization`.
    """
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif hasattr(layer, "layers"):
            found.extend(batchnorm_layers(layer))
    return found


def set_batchnorm_momentum(model, momentum):
    """Sets the momentum of every BatchNormalization layer of a model.

    Call it before `compile`: `fit` builds its training step once, with the
    momentum of that moment, and only `compile` makes it build a new one.

    Args:
        model: a Keras model.
        momentum: float in [0, 1).

    Returns:
        int, the number of layers changed.
    """
    layers = batchnorm_layers(model)
    for layer in layers:
        layer.momentum = float(momentum)
    return len(layers)


def accuracy_with_batch_statistics(model, X, Y, batch_size=32):
    """Accuracy when BatchNorm normalises with each batch's own statistics.

    That is what it does during training; the moving statistics are left unchanged.

    Comparing it with `model.evaluate` shows whether the moving statistics
    have caught up with the weights.

    Args:
        model: a Keras model.
        X: float32 array (m, 64, 64, 3).
        Y: one-hot array (m, classes).
        batch_size: int, photos per batch (the statistics are per batch).

    Returns:
        float, the share of photos classified correctly.
    """
    layers = batchnorm_layers(model)
    saved = [
        (keras.ops.convert_to_numpy(layer.moving_mean),
         keras.ops.convert_to_numpy(layer.moving_variance))
        for layer in layers
    ]
    try:
        probabilities = np.concatenate([
            keras.ops.convert_to_numpy(model(X[start:start + batch_size], training=True))
            for start in range(0, len(X), batch_size)
        ])
    finally:
        # A call in training mode also updates the moving statistics.
        for layer, (mean, variance) in zip(layers, saved):
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
    return float(np.mean(probabilities.argmax(axis=1) == np.argmax(Y, axis=1)))


def recalibrate_batchnorm(model, X, batch_size=64):
    """Recomputes BatchNorm's moving statistics for the current weights.

    Each BatchNormalization layer's moving mean and variance become the
    average, over the batches of `X`, of the batch statistics: what they
    would be after a long run with the weights frozen. The weights are not
    changed.

    Args:
        model: a Keras model, changed in place.
        X: float32 array (m, 64, 64, 3), training photos.
        batch_size: int, photos per batch.

    Returns:
        The same model.
    """
    layers = batchnorm_layers(model)
    momenta = [layer.momentum for layer in layers]
    try:
        for index, start in enumerate(range(0, len(X), batch_size)):
            # momentum = k / (k + 1) keeps a running mean of batches 0..k.
            for layer in layers:
                layer.momentum = index / (index + 1)
            model(X[start:start + batch_size], training=True)
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
    return model
