"""Every figure the notebook shows: SIGNS photos, section 1's experiments, training and the trained model.

Each function returns a `matplotlib.figure.Figure`, which a notebook shows when it is the last value of a cell.
"""

import math

import keras
import numpy as np
from matplotlib.figure import Figure


def plot_sign_samples(X, Y, per_class=4):
    """Draws the first few photos of each class, one row per class.

    Args:
        X: uint8 array of shape (m, 64, 64, 3).
        Y: integer labels of shape (1, m) or (m,).
        per_class: int, photos shown per class.

    Returns:
        `matplotlib.figure.Figure` (shown when it is the last value of a
        notebook cell).
    """
    labels = np.asarray(Y).reshape(-1)
    classes = np.unique(labels)
    figure = Figure(
        figsize=(1.3 * per_class, 1.3 * len(classes) + 0.4), layout="constrained"
    )
    axes = figure.subplots(len(classes), per_class, squeeze=False)
    for row, label in enumerate(classes):
        rows_of_class = np.flatnonzero(labels == label)[:per_class]
        for column, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            if column < len(rows_of_class):
                ax.imshow(X[rows_of_class[column]])
            else:
                ax.set_axis_off()
        axes[row][0].set_ylabel(f"y = {label}", rotation=0, ha="right",
                                va="center")
    figure.suptitle("SIGNS samples, one row per class (the digit signed)")
    return figure


def plot_augmentation_examples(photo, augmentation, count=7):
    """Shows a photo beside random augmented copies of it.

    Args:
        photo: float32 array (64, 64, 3) in [0, 1].
        augmentation: layer from `make_augmentation`.
        count: int, number of copies.

    Returns:
        `matplotlib.figure.Figure`, the original first.
    """
    copies = np.repeat(photo[np.newaxis], count, axis=0)
    changed = keras.ops.convert_to_numpy(augmentation(copies, training=True))
    figure = Figure(figsize=(1.6 * (count + 1), 2.0), layout="constrained")
    axes = figure.subplots(1, count + 1)
    for ax, image, title in zip(axes, [photo, *changed], ["original"] + [""] * count):
        ax.imshow(np.clip(image, 0.0, 1.0))
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
    figure.suptitle("One training photo and random augmented copies of it")
    return figure


def plot_training_curves(history):
    """Loss and accuracy per epoch, training against test.

    Args:
        history: `keras.callbacks.History` or its `history` dict (keys
            `loss`, `accuracy`, and optionally `val_loss`, `val_accuracy`).

    Returns:
        `matplotlib.figure.Figure`.
    """
    logs = getattr(history, "history", history)
    epochs = np.arange(1, len(logs["loss"]) + 1)
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    for ax, metric in zip(figure.subplots(1, 2), ("loss", "accuracy")):
        ax.plot(epochs, logs[metric], "o-", label="training (augmented photos)")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], "s-", label="test (new people)")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    figure.axes[1].set_ylim(0, 1.02)
    figure.suptitle("Training curves")
    return figure


def plot_confusion_matrix(matrix, class_names=None):
    """Draws a confusion matrix with its counts.

    Args:
        matrix: int array (classes, classes) from `confusion_matrix`.
        class_names: labels of the classes (defaults to 0, 1, ...).

    Returns:
        `matplotlib.figure.Figure`.
    """
    classes = matrix.shape[0]
    names = [str(name) for name in (range(classes) if class_names is None else class_names)]
    figure = Figure(figsize=(4.6, 4.2), layout="constrained")
    ax = figure.subplots()
    ax.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        dark = count > matrix.max() / 2
        ax.text(column, row, str(count), ha="center", va="center",
                color="white" if dark else "black")
    ax.set_xticks(range(classes), names)
    ax.set_yticks(range(classes), names)
    ax.set_xlabel("predicted sign")
    ax.set_ylabel("true sign")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(f"Test set: {np.trace(matrix)} of {matrix.sum()} right ({accuracy:.1%})")
    return figure


def plot_misclassified(X, labels, probabilities, max_photos=12):
    """Shows the test photos the model got wrong.

    Args:
        X: array (m, 64, 64, 3), uint8 or floats in [0, 1].
        labels: integer array (m,), true classes.
        probabilities: float array (m, classes), the model's outputs.
        max_photos: int, most photos shown.

    Returns:
        `matplotlib.figure.Figure`, one photo per panel titled with the
        predicted class (and its probability) and the true class.
    """
    labels = np.ravel(labels)
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)[:max_photos]
    columns = min(6, max(1, len(wrong)))
    rows = max(1, math.ceil(len(wrong) / columns))
    figure = Figure(figsize=(1.8 * columns, 2.1 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes:
        ax.set_axis_off()
    for ax, index in zip(axes, wrong):
        ax.imshow(X[index])
        ax.set_title(
            f"predicted {predicted[index]} ({probabilities[index].max():.0%})\n"
            f"true {labels[index]}",
            fontsize=9,
        )
    total = int(np.sum(predicted != labels))
    figure.suptitle(
        f"{total} misclassified test photo(s)"
        + (f", first {len(wrong)} shown" if total > len(wrong) else "")
    )
    return figure


def plot_photo_prediction(photo, probabilities, class_names=None):
    """Shows a photo beside a bar chart of the model's probabilities.

    Args:
        photo: array (64, 64, 3), uint8 or floats in [0, 1], as the model
            sees it (e.g. from `load_photo`).
        probabilities: float array (classes,), from `predict_image`.
        class_names: labels of the classes (defaults to 0, 1, ...).

    Returns:
        `matplotlib.figure.Figure`.
    """
    classes = len(probabilities)
    names = [str(name) for name in (range(classes) if class_names is None else class_names)]
    best = int(np.argmax(probabilities))
    figure = Figure(figsize=(8, 3.2), layout="constrained")
    photo_ax, bars_ax = figure.subplots(1, 2, width_ratios=[1, 1.4])
    photo_ax.imshow(photo)
    photo_ax.set_axis_off()
    photo_ax.set_title("what the model sees (64×64)")
    colours = ["tab:orange" if k == best else "tab:blue" for k in range(classes)]
    bars_ax.barh(range(classes), probabilities, color=colours)
    bars_ax.set_yticks(range(classes), names)
    bars_ax.invert_yaxis()
    bars_ax.set_xlim(0, 1)
    bars_ax.set_xlabel("probability")
    bars_ax.set_ylabel("fingers shown")
    bars_ax.set_title(f"prediction: {names[best]} ({probabilities[best]:.0%})")
    return figure


def _two_panels(titles, ylabels):
    """A figure of two side-by-side panels, titled and labelled, for section 1's experiments.

    Args:
        titles: two str, one per panel.
        ylabels: two str, one per panel.

    Returns:
        `(figure, (left_axes, right_axes))`.
    """
    figure = Figure(figsize=(11, 4))
    panels = figure.subplots(1, 2)
    for axes, title, ylabel in zip(panels, titles, ylabels):
        axes.set_title(title)
        axes.set_ylabel(ylabel)
    return figure, panels


def _finish_panels(figure, xlabel, ticks, log_scale=False):
    """Labels the x-axes of a `_two_panels` figure, adds grids and legends, and lays it out.

    Args:
        figure: from `_two_panels`, with its lines drawn.
        xlabel: str, label of both x-axes.
        ticks: array of the x-axis ticks.
        log_scale: bool, whether the y-axes are logarithmic.

    Returns:
        The same figure.
    """
    for axes in figure.axes:
        if log_scale:
            axes.set_yscale("log")
        axes.set_xlabel(xlabel)
        axes.set_xticks(ticks)
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize=8)
    figure.tight_layout()
    return figure


def plot_gradient_profiles(results):
    """Plot experiment A: gradient RMS per layer (log scale) and how far each layer moved during the steps.

    Args:
        results: dict from `signs.depth_experiments.vanishing_gradient_experiment`.

    Returns:
        the matplotlib Figure (two panels).
    """
    figure, (gradient_axes, change_axes) = _two_panels(
        ("Gradient reaching each layer", f"How far each layer moved in {results['steps']} steps"),
        ("gradient RMS of the layer's kernel", "relative change of the kernel"))
    layers = np.arange(1, results["depth"] + 1)
    names = {"plain": ("tab:red", "plain"), "residual": ("tab:blue", "with skip connections")}
    for kind, (colour, name) in names.items():
        gradient_axes.plot(layers, results[kind]["initial"], "o--", color=colour, label=f"{name}, at initialisation")
        gradient_axes.plot(layers, results[kind]["trained"], "s-", color=colour,
                           label=f"{name}, after {results['steps']} steps")
        change_axes.plot(layers, results[kind]["change"], "s-", color=colour, label=name)
    return _finish_panels(figure, "layer (1 = closest to the input)", layers, log_scale=True)


def plot_degradation_curves(results):
    """Plot experiment B: training loss and accuracy per epoch, one line per network.

    Args:
        results: dict from `signs.depth_experiments.degradation_experiment`.

    Returns:
        the matplotlib Figure (two panels).
    """
    figure, (loss_axes, accuracy_axes) = _two_panels(
        ("Training loss, same budget for all", "Training accuracy, same budget for all"),
        ("training loss (mean over the epoch)", "training accuracy (mean over the epoch)"))
    colours = {"shallow plain": "tab:green", "deep plain": "tab:red", "deep residual": "tab:blue"}
    epochs = np.arange(1, len(results["deep plain"]["loss"]) + 1)
    for name, run in results.items():
        label = f"{name} ({run['depth']} layers)"
        loss_axes.plot(epochs, run["loss"], "o-", color=colours[name], label=label)
        accuracy_axes.plot(epochs, run["accuracy"], "o-", color=colours[name], label=label)
    return _finish_panels(figure, "epoch", epochs)
