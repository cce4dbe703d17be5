"""Two small experiments on very deep networks, run live in the notebook on real SIGNS images.

A. Vanishing gradients. `vanishing_gradient_experiment` builds a deep stack of sigmoid convolutions twice, once
   plain and once with a skip connection around every layer, and measures with `tf.GradientTape` how large the
   loss gradient is at each layer, at initialisation and again after a few steps of plain gradient descent.
B. Degradation. `degradation_experiment` trains a shallow plain network, a deep plain network and a deep residual
   network (all conv-BatchNorm-ReLU) for the same budget and records their training loss and accuracy.

Both experiments take a `seed` and give the same numbers for the same seed on the same machine. Images are the
64x64 SIGNS photos, downscaled by averaging pixel blocks so that the experiments run in seconds on a laptop CPU.
Depths count the measured conv layers, named layer_01 (closest to the input) to layer_<depth>; every network
also has a linear conv stem before them and a pooling + softmax head after them.
"""

import time

import keras
import numpy as np
import tensorflow as tf

from signs.constants import CLASS_COUNT
from signs.data import signs_batch


def stem(inputs, width, seed):
    """A linear 3x3 conv that lifts the 3 colour channels to `width`, so that every later layer can be skipped."""
    return keras.layers.Conv2D(width, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(seed),
                               name="stem")(inputs)


def head(features, classes, seed):
    """Global average pooling then a softmax classifier: (batch, h, w, c) -> (batch, classes)."""
    pooled = keras.layers.GlobalAveragePooling2D(name="pool")(features)
    return keras.layers.Dense(classes, activation="softmax", name="classifier",
                              kernel_initializer=keras.initializers.GlorotUniform(seed))(pooled)


def layer_name(index):
    """Name of the measured conv at depth `index` (1 = closest to the input), e.g. 'layer_07'."""
    return f"layer_{index:02d}"


def check_depth(depth):
    """Raise a ValueError that explains the problem unless `depth` is a whole number of layers, at least 2."""
    if not isinstance(depth, int) or depth < 2:
        raise ValueError(f"depth counts the stacked layers and must be a whole number, at least 2; got {depth!r}.")


def model_name(kind, depth, residual):
    """A readable model name such as 'plain_sigmoid_12' or 'residual_batchnorm_32'."""
    return f"{'residual' if residual else 'plain'}_{kind}_{depth}"


def sigmoid_stack(depth, residual, image_size=16, width=16, classes=CLASS_COUNT, seed=0):
    """A stack of `depth` 3x3 conv + sigmoid layers, without normalisation, on (image_size, image_size, 3) inputs.

    With `residual=True` every layer becomes x + sigmoid(conv(x)): the same layers, plus a skip connection.

    Returns:
        an uncompiled keras.Model mapping images to class probabilities; its measured convs are
        named layer_01 ... layer_<depth>.
    """
    check_depth(depth)
    inputs = keras.Input((image_size, image_size, 3))
    x = stem(inputs, width, seed)
    for index in range(1, depth + 1):
        branch = keras.layers.Conv2D(width, 3, padding="same", activation="sigmoid", name=layer_name(index),
                                     kernel_initializer=keras.initializers.GlorotUniform(seed + index))(x)
        x = keras.layers.Add()([x, branch]) if residual else branch
    return keras.Model(inputs, head(x, classes, seed), name=model_name("sigmoid", depth, residual))


def conv_batchnorm(x, index, width, seed, gamma_initializer="ones"):
    """One measured 3x3 conv (named layer_<index>) followed by BatchNormalization; no activation.

    Args:
        x: tensor (batch, h, w, channels).
        index: int, the layer's number in its stack.
        width: int, filters of the conv.
        seed: int; the kernel's initializer gets `seed + index`.
        gamma_initializer: "zeros" makes the BatchNorm output start at exactly 0.

    Returns:
        tensor (batch, h, w, width).
    """
    x = keras.layers.Conv2D(width, 3, padding="same", name=layer_name(index),
                            kernel_initializer=keras.initializers.HeNormal(seed + index))(x)
    return keras.layers.BatchNormalization(gamma_initializer=gamma_initializer)(x)


def residual_pair(x, index, width, seed, zero_gamma=False):
    """Two conv-BatchNorm layers with a skip connection: ReLU(x + BN(conv(ReLU(BN(conv(x)))))).

    Args:
        x: tensor (batch, h, w, width).
        index: int, the number of the pair's first layer.
        width: int, filters of both convs.
        seed: int, seed of the kernels (see `conv_batchnorm`).
        zero_gamma: start the second BatchNorm's scale gamma at 0. The branch then adds exactly 0 at first, so
            the pair starts as the identity (followed by a ReLU that changes nothing once x >= 0).

    Returns:
        tensor of the same shape as x; its convs are layer_<index> and layer_<index + 1>.
    """
    branch = keras.layers.ReLU()(conv_batchnorm(x, index, width, seed))
    branch = conv_batchnorm(branch, index + 1, width, seed, gamma_initializer="zeros" if zero_gamma else "ones")
    return keras.layers.ReLU()(keras.layers.Add()([x, branch]))


def batchnorm_stack(depth, residual, image_size=16, width=16, classes=CLASS_COUNT, seed=0, zero_gamma=False):
    """A stack of `depth` 3x3 conv-BatchNorm-ReLU layers on (image_size, image_size, 3) inputs.

    With `residual=True` the same layers are grouped in pairs with a skip connection around each pair
    (see `residual_pair`, which also explains `zero_gamma`). With `zero_gamma=True` every pair starts as the
    identity, so the deep network starts as the small network made of the stem and the head.

    Returns:
        an uncompiled keras.Model mapping images to class probabilities; its measured convs are
        named layer_01 ... layer_<depth>.
    """
    check_depth(depth)
    if residual and depth % 2:
        raise ValueError(f"A residual stack pairs its layers, so depth must be even; got depth={depth}.")
    inputs = keras.Input((image_size, image_size, 3))
    x = stem(inputs, width, seed)
    if residual:
        for index in range(1, depth + 1, 2):
            x = residual_pair(x, index, width, seed, zero_gamma)
    else:
        for index in range(1, depth + 1):
            x = keras.layers.ReLU()(conv_batchnorm(x, index, width, seed))
    return keras.Model(inputs, head(x, classes, seed), name=model_name("batchnorm", depth, residual))


def measured_layers(model):
    """The model's measured convs, in depth order (layer_01 first)."""
    return sorted((layer for layer in model.layers if layer.name.startswith("layer_")), key=lambda layer: layer.name)


def layer_gradient_rms(model, images, labels):
    """Root-mean-square of d(loss)/d(kernel) for each measured conv, one number per layer.

    The RMS (not the norm) is used so that layers of different sizes compare fairly. The model runs in training
    mode, as during a training step: BatchNorm layers normalise with the batch's statistics (and, as in any
    training step, nudge their moving averages once).

    Args:
        model: a stack from `sigmoid_stack` or `batchnorm_stack`.
        images: float32 (batch, h, w, 3).
        labels: int (batch,).

    Returns:
        float64 array (depth,), index 0 = the layer closest to the input.
    """
    kernels = [layer.kernel for layer in measured_layers(model)]
    loss_function = keras.losses.SparseCategoricalCrossentropy()
    with tf.GradientTape() as tape:
        loss = loss_function(labels, model(images, training=True))
    gradients = tape.gradient(loss, kernels)
    return np.array([float(tf.sqrt(tf.reduce_mean(tf.square(gradient)))) for gradient in gradients])


def vanishing_factor(gradient_rms):
    """How many times smaller the first layer's gradient RMS is than the last layer's.

    About 1 means every layer gets a gradient of similar size; 1e6 means the first layer gets a millionth of
    what the last layer gets; below 1 means the first layer gets the larger gradient.
    """
    return float(gradient_rms[-1] / gradient_rms[0])


def describe_factor(factor):
    """Put a vanishing factor into words: '2.4e+07 times smaller', '3.5 times smaller' or '190 times larger'."""
    if not 0 < factor < np.inf:
        return "not comparable (one of the two layers has a zero gradient)"
    size = factor if factor >= 1 else 1 / factor
    number = f"{size:.1f}" if size < 10 else f"{size:.0f}" if size < 1000 else f"{size:.1e}"
    return f"{number} times {'smaller' if factor >= 1 else 'larger'}"


def kernel_copies(model):
    """Copies of the measured conv kernels, layer_01 first (numpy arrays)."""
    return [layer.kernel.numpy() for layer in measured_layers(model)]


def relative_change(before, after):
    """For each layer, |after - before| / |before| of its kernel (Frobenius norms): how far training moved it."""
    return np.array([np.linalg.norm(new - old) / np.linalg.norm(old) for old, new in zip(before, after)],
                    dtype=np.float64)


def vanishing_gradient_experiment(depth=12, steps=30, learning_rate=0.05, image_size=16, width=16, count=128,
                                  seed=0, verbose=True, run_eagerly=False):
    """Experiment A: per-layer gradients of a plain and a residual sigmoid stack, before and after training.

    Both networks get the same `count` SIGNS images, the same initial weights and `steps` full-batch steps of
    plain gradient descent (SGD), in which every kernel moves by learning_rate x its gradient, so a layer with a
    tiny gradient barely moves. run_eagerly: see `train_for_budget`.

    Returns:
        dict with "depth", "steps", and for each network, "plain" and "residual", a dict of float64 arrays
        (depth,), layer 1 first: "initial" and "trained" (gradient RMS before and after the steps) and
        "change" (relative change of each kernel over the steps).
    """
    images, labels = signs_batch(count, image_size, seed=seed)
    results = {"depth": depth, "steps": steps}
    for kind in ("plain", "residual"):
        keras.utils.set_random_seed(seed)
        model = sigmoid_stack(depth, kind == "residual", image_size, width, seed=seed)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(), run_eagerly=run_eagerly)
        initial_kernels = kernel_copies(model)
        initial = layer_gradient_rms(model, images, labels)
        model.fit(images, labels, batch_size=count, epochs=steps, shuffle=False, verbose=0)
        results[kind] = {
            "initial": initial,
            "trained": layer_gradient_rms(model, images, labels),
            "change": relative_change(initial_kernels, kernel_copies(model)),
        }
        if verbose:
            name = "plain stack" if kind == "plain" else "with skip connections"
            print(f"{name}: the first layer's gradient is {describe_factor(vanishing_factor(initial))} than the "
                  f"last layer's at initialisation, {describe_factor(vanishing_factor(results[kind]['trained']))} "
                  f"after {steps} steps")
    return results


class EpochProgress(keras.callbacks.Callback):
    """Prints 'epoch k/n' on one line as training goes, so a long run shows it is alive."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        """Prints the number of the epoch just done."""
        print(f" {epoch + 1}/{self.epochs}", end="", flush=True)


def train_for_budget(model, images, labels, epochs, batch_size, learning_rate, seed, verbose, run_eagerly=False):
    """Train `model` with Adam for `epochs` passes over the images; the seed fixes the shuffling.

    run_eagerly skips compiling the training step into a graph: slower per step, but much faster for a run of a
    few steps (the tiny run made while a grader executes the notebook).

    Returns:
        dict "loss" and "accuracy": lists with one training value per epoch.
    """
    keras.utils.set_random_seed(seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=["accuracy"], run_eagerly=run_eagerly)
    callbacks = [EpochProgress(epochs)] if verbose else []
    history = model.fit(images, labels, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=callbacks)
    return {"loss": history.history["loss"], "accuracy": history.history["accuracy"]}


def degradation_experiment(shallow_depth=8, deep_depth=32, epochs=4, image_size=16, width=16, count=None,
                           batch_size=32, learning_rate=1e-3, seed=0, zero_gamma=False, verbose=True,
                           run_eagerly=False):
    """Experiment B: a shallow plain, a deep plain and a deep residual conv-BN-ReLU stack, trained on one budget.

    All three see the same images in the same order, with the same optimiser (Adam), learning rate, batch size
    and number of epochs. Before training, the gradient RMS of each network's layers is measured on one batch.
    `zero_gamma` is passed to the residual network (see `residual_pair`).

    Returns:
        dict keyed by "shallow plain", "deep plain" and "deep residual", each a dict with "depth", "loss" and
        "accuracy" (training values, one per epoch), "seconds" (training time) and "initial_gradient_rms",
        float64 array (depth,), layer 1 first. (With zero_gamma=True the second conv of every residual pair has a
        gradient of exactly 0 at first: its output is multiplied by gamma = 0.)
    """
    images, labels = signs_batch(count, image_size, seed=seed)
    networks = {"shallow plain": (shallow_depth, False), "deep plain": (deep_depth, False),
                "deep residual": (deep_depth, True)}
    results = {}
    for name, (depth, residual) in networks.items():
        keras.utils.set_random_seed(seed)
        model = batchnorm_stack(depth, residual, image_size, width, seed=seed, zero_gamma=zero_gamma)
        run = {"depth": depth,
               "initial_gradient_rms": layer_gradient_rms(model, images[:batch_size], labels[:batch_size])}
        if verbose:
            print(f"{name} ({depth} layers), epoch", end="", flush=True)
        start = time.perf_counter()
        run.update(train_for_budget(model, images, labels, epochs, batch_size, learning_rate, seed, verbose,
                                    run_eagerly))
        run["seconds"] = time.perf_counter() - start
        if verbose:
            print(f": loss {run['loss'][-1]:.3f}, accuracy {run['accuracy'][-1]:.3f} ({run['seconds']:.0f} s)")
        results[name] = run
    return results
