"""Helpers that the ResNet50 notebook uses.

The notebook imports what it needs from here so that its cells can stay on
the network itself. Sections:

- Data: load the SIGNS photos, one-hot labels, mini-batches, a sample grid.
- Training: the training recipe, BatchNorm's moving statistics, saving,
  evaluation plots and the robustness check.
- Your own photo: read any JPEG or PNG as a SIGNS photo and predict it.
"""

import dataclasses
import math
import os
from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure
from PIL import Image

import signs_data
from signs_data import SignsDataError, display_path  # noqa: F401 (display_path is for the notebook)

# ===========================================================================
# Data
# ===========================================================================

DATASETS_DIR = Path(__file__).resolve().parent / "datasets"
SIGNS_IMAGE_SHAPE = (64, 64, 3)


def _read_split(path, split, with_classes):
    """Reads and checks one SIGNS file.

    Args:
        path: `Path` of `train_signs.h5` or `test_signs.h5`.
        split: `"train"` or `"test"`, the prefix of the keys.
        with_classes: bool, whether to read `list_classes` as well.

    Returns:
        `(x, y, classes)`: uint8 array (m, 64, 64, 3), integer array (m,),
        and the 1-D integer array `list_classes` (None unless
        `with_classes`).

    Raises:
        SignsDataError: the file is unreadable or has wrong keys or shapes.
    """
    x_key, y_key = f"{split}_set_x", f"{split}_set_y"
    needed = [x_key, y_key] + (["list_classes"] if with_classes else [])
    rebuild = (
        "Delete it and run `make data` to rebuild it (or copy the classic "
        "SIGNS file again)."
    )
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:
        raise SignsDataError(
            f"{path} is not a readable HDF5 file ({error}); it may be damaged "
            f"or only partly copied. {rebuild}"
        ) from None
    with h5:
        missing = [key for key in needed if key not in h5]
        if missing:
            raise SignsDataError(
                f"{path} lacks the dataset(s) {missing}; a SIGNS file holds "
                f"{needed} (it has {sorted(h5.keys())}). {rebuild}"
            )
        x, y = h5[x_key][()], h5[y_key][()]
        classes = h5["list_classes"][()] if with_classes else None

    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != SIGNS_IMAGE_SHAPE:
        raise SignsDataError(
            f"{path}: {x_key} has shape {x.shape} and dtype {x.dtype}, but "
            f"SIGNS photos are uint8 of shape (m, 64, 64, 3). {rebuild}"
        )
    if not np.issubdtype(y.dtype, np.integer) or y.size != x.shape[0] or (
        y.ndim != 1 and y.shape != (1, x.shape[0])
    ):
        raise SignsDataError(
            f"{path}: {y_key} has shape {y.shape} and dtype {y.dtype}, but it "
            f"should hold one integer label per photo, shape ({x.shape[0]},). "
            f"{rebuild}"
        )
    if with_classes and (
        classes.ndim != 1 or not np.issubdtype(classes.dtype, np.integer)
    ):
        raise SignsDataError(
            f"{path}: list_classes has shape {classes.shape} and dtype "
            f"{classes.dtype}, but it should be a 1-D list of integer class "
            f"labels. {rebuild}"
        )
    return x, y.reshape(-1), classes


def load_dataset(folder=None, build_if_missing=True):
    """Loads the SIGNS photos.

    Reads `train_signs.h5` and `test_signs.h5` from `folder`: the files
    built by `signs_data.py`, or the classic SIGNS files (same keys). When
    they are missing from the project's `datasets/` folder they are built
    first (a download, or `$SIGNS_ARCHIVE`).

    Args:
        folder: folder holding the two files; defaults to the project's
            `datasets/`.
        build_if_missing: bool, whether to build missing files (only in the
            project's `datasets/` folder).

    Returns:
        `(X_train, Y_train, X_test, Y_test, classes)`: X arrays are uint8 of
        shape (m, 64, 64, 3), Y arrays are integer labels of shape (1, m),
        `classes` is the 1-D array of class labels (0 to 5).

    Raises:
        SignsDataError: the files are missing and cannot be built, or they
            are damaged or not SIGNS files.
    """
    folder = DATASETS_DIR if folder is None else Path(folder)
    train_path = folder / signs_data.TRAIN_FILE_NAME
    test_path = folder / signs_data.TEST_FILE_NAME
    missing = [p.name for p in (train_path, test_path) if not p.is_file()]
    if missing and build_if_missing and folder.resolve() == DATASETS_DIR.resolve():
        signs_data.ensure_signs(folder)
    elif missing:
        raise SignsDataError(
            f"The SIGNS file(s) {missing} are missing from {folder}. "
            f"{signs_data.BUILD_HINT} To build into another folder, call "
            "signs_data.build_signs(archive_path, folder)."
        )

    X_train, y_train, _ = _read_split(train_path, "train", with_classes=False)
    X_test, y_test, classes = _read_split(test_path, "test", with_classes=True)
    for path, labels in ((train_path, y_train), (test_path, y_test)):
        unknown = np.setdiff1d(labels, classes)
        if unknown.size:
            raise SignsDataError(
                f"{path} has labels {unknown.tolist()} that are not in "
                f"list_classes {classes.tolist()}; the file is not a SIGNS "
                "file. Delete it and run `make data`."
            )
    return X_train, y_train.reshape(1, -1), X_test, y_test.reshape(1, -1), classes


def validation_split(folder=None):
    """Rows of the training file to fit on and rows to validate on.

    The validation rows are whole participants (`signs_data.split_validation`),
    so choices tuned on them (augmentation, epochs) never look at the test
    set, which stays held out.

    Args:
        folder: folder holding `train_signs.h5`; defaults to the project's
            `datasets/`.

    Returns:
        `(fit_rows, validation_rows)`: sorted int arrays of row indices.

    Raises:
        SignsDataError: the file does not name its photos (`train_set_files`,
            which the classic SIGNS files lack).
    """
    path = (DATASETS_DIR if folder is None else Path(folder)) / signs_data.TRAIN_FILE_NAME
    with h5py.File(path, "r") as h5:
        if "train_set_files" not in h5:
            raise SignsDataError(
                f"{path} does not name its photos (no train_set_files), so its participants are unknown. "
                "Build the project's own files with `make data`."
            )
        paths = [name.decode() if isinstance(name, bytes) else name for name in h5["train_set_files"][()]]
    return signs_data.split_validation(paths)


def convert_to_one_hot(Y, C):
    """Turns integer labels into one-hot columns.

    Args:
        Y: integer labels of shape (1, m) (any shape with m entries works).
        C: int, number of classes.

    Returns:
        float array of shape (C, m): column i is 1 in row `Y[0, i]` and 0
        elsewhere. Transpose it to get the (m, C) targets Keras expects.
    """
    labels = np.asarray(Y).reshape(-1)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"Labels must be integers, got dtype {labels.dtype}.")
    if labels.size and (labels.min() < 0 or labels.max() >= C):
        raise ValueError(
            f"Labels must lie in 0..{C - 1} for C={C}, got values from "
            f"{labels.min()} to {labels.max()}."
        )
    one_hot = np.zeros((C, labels.size))
    one_hot[labels, np.arange(labels.size)] = 1.0
    return one_hot


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """Shuffles the examples and cuts them into mini-batches.

    The shuffle is `np.random.seed(seed)` then `np.random.permutation(m)`, so
    a seed always gives the same batches.

    Args:
        X: array of shape (m, ...), one example per row.
        Y: array of shape (m, n_y), the matching targets.
        mini_batch_size: int, examples per batch.
        seed: int, seed of the shuffle.

    Returns:
        list of `(X_batch, Y_batch)` tuples covering every example once; all
        batches hold `mini_batch_size` rows except possibly the last, which
        holds the remainder.
    """
    m = X.shape[0]
    if Y.shape[0] != m:
        raise ValueError(
            f"X has {m} examples but Y has {Y.shape[0]}; both need one row "
            "per example."
        )
    np.random.seed(seed)
    order = np.random.permutation(m)
    X_shuffled, Y_shuffled = X[order], Y[order]
    return [
        (X_shuffled[start : start + mini_batch_size],
         Y_shuffled[start : start + mini_batch_size])
        for start in range(0, m, mini_batch_size)
    ]


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


# ===========================================================================
# Training
# ===========================================================================

SIGNS_CLASSES = 6
# The model for learners' own photos (`make model`), and the notebook's own shorter run.
MODEL_PATH = Path(__file__).resolve().parent / "outputs" / "resnet50_signs.keras"
NOTEBOOK_MODEL_PATH = MODEL_PATH.with_name("resnet50_signs_notebook.keras")
# nbgrader sets this variable (to "autograde") while it executes a notebook.
AUTOGRADE_ENV_VAR = "NBGRADER_EXECUTION"
# Largest random changes of the training augmentation; the robustness check
# changes test photos by these amounts.
MAX_ROTATION_DEGREES = 45
MAX_SHIFT = 0.1
MAX_ZOOM = 0.15
MAX_BRIGHTNESS = 0.2
MAX_CONTRAST = 0.2
# The camera augmentation's wider ranges: other cameras frame the hand smaller
# and off centre, and light it warmer or cooler (measured in BENCHMARKS.md).
CAMERA_MAX_SHIFT = 0.15
CAMERA_MAX_ZOOM_OUT = 0.45
CAMERA_MAX_WHITE_BALANCE = 0.2
CAMERA_MAX_BLUR_SIGMA = 0.6


@dataclasses.dataclass(frozen=True)
class TrainingBudget:
    """How much training the notebook does.

    Attributes:
        epochs: int, epochs of the recipe run.
        trap_epochs: int, epochs of the run that shows the moving-statistics
            trap.
        train_examples: int, or None for every training photo.
        test_examples: int, or None for every test photo, evaluated after
            training.
        save_model: bool, whether the notebook saves the trained model
            (not while autograding: a tiny run must not replace it).
        gradient_steps: int, gradient descent steps of section 1's
            vanishing-gradient experiment.
        experiment_epochs: int, epochs of section 1's degradation
            experiment.
        experiment_photos: int, or None for every training photo, in that
            experiment.
        run_eagerly: bool, whether Keras runs the training steps one
            operation at a time instead of compiling them into a graph
            first: slower per photo, but a run of a few steps then skips
            the compilation (about 20 s for ResNet50 on a CPU).
    """

    epochs: int
    trap_epochs: int
    train_examples: int | None
    test_examples: int | None
    save_model: bool
    gradient_steps: int
    experiment_epochs: int
    experiment_photos: int | None
    run_eagerly: bool


def training_budget():
    """The notebook's training budget.

    Returns:
        `TrainingBudget`: the full settings, or tiny ones (one training
        step on 16 photos, 16 test photos) when nbgrader is autograding, so
        that grading a class does not spend minutes of CPU per submission.
    """
    if os.environ.get(AUTOGRADE_ENV_VAR):
        return TrainingBudget(epochs=1, trap_epochs=1, train_examples=16, test_examples=16,
                              save_model=False, gradient_steps=2, experiment_epochs=1,
                              experiment_photos=16, run_eagerly=True)
    return TrainingBudget(epochs=4, trap_epochs=2, train_examples=None, test_examples=None,
                          save_model=True, gradient_steps=30, experiment_epochs=4,
                          experiment_photos=None, run_eagerly=False)


@dataclasses.dataclass(frozen=True)
class TrainingRecipe:
    """The settings of `train_with_recipe` (the notebook explains each one).

    Attributes:
        batch_size: int, photos per training step.
        batchnorm_momentum: float, weight of the old value in each update of
            BatchNormalization's moving mean and variance (Keras' default is
            0.99).
        peak_learning_rate: float, AdamW's learning rate at the end of the
            warm-up.
        warmup_epochs: float, epochs over which the learning rate rises
            linearly to its peak, before it follows a cosine down to 0.
        weight_decay: float, AdamW's decoupled weight decay.
        label_smoothing: float, share of each target spread over all classes.
        mirror: bool, whether half of the training photos, chosen at random
            each epoch, are mirrored left to right (a left hand becomes a
            right hand).
        augment_probability: float, chance that a training photo is randomly
            rotated, shifted, zoomed and relit (see `make_augmentation`)
            each time it is used; 0 turns that augmentation off.
        camera_augmentation: bool, whether the augmentation also imitates
            other cameras: wider shifts, zoom out to a smaller hand, white
            balance and blur (`make_augmentation(camera=True)`).
        precision: str, the numbers the training steps compute with:
            `"auto"` (see `choose_precision`), `"float32"`,
            `"mixed_bfloat16"` or `"mixed_float16"`. The model passed to
            `train_with_recipe` stays float32 in every case.
    """

    batch_size: int = 16
    batchnorm_momentum: float = 0.9
    peak_learning_rate: float = 2e-3
    warmup_epochs: float = 0.5
    weight_decay: float = 1e-4
    label_smoothing: float = 0.1
    mirror: bool = True
    augment_probability: float = 0.5
    camera_augmentation: bool = False
    precision: str = "auto"


# Mixed precision computes in 16 bits and keeps the weights in float32.
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# /proc/cpuinfo flags of CPUs with bfloat16 dot-product instructions (AVX512-BF16, AMX).
BFLOAT16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
CPUINFO_PATH = Path("/proc/cpuinfo")


def cpu_flags(cpuinfo_path=CPUINFO_PATH):
    """The instruction-set flags of this machine's CPU.

    Args:
        cpuinfo_path: path of a `/proc/cpuinfo`-style file.

    Returns:
        frozenset of str; empty where the file does not exist (not Linux).
    """
    try:
        text = Path(cpuinfo_path).read_text()
    except OSError:
        return frozenset()
    return frozenset(
        flag
        for line in text.splitlines() if line.startswith("flags")
        for flag in line.split(":", 1)[1].split()
    )


def choose_precision(setting="auto", flags=None, cuda_gpu=None):
    """The precision that training uses.

    `"auto"` picks `"mixed_float16"` when TensorFlow sees a CUDA GPU (its
    tensor cores compute in float16), else `"mixed_bfloat16"` when the CPU
    has bfloat16 instructions (`BFLOAT16_CPU_FLAGS`), else `"float32"`.
    Any other setting is returned as it is.

    Args:
        setting: one of `PRECISIONS`.
        flags: set of CPU flags, defaults to `cpu_flags()`.
        cuda_gpu: bool, defaults to whether TensorFlow lists a GPU.

    Returns:
        str, `"float32"`, `"mixed_bfloat16"` or `"mixed_float16"`.

    Raises:
        ValueError: `setting` is not one of `PRECISIONS`.
    """
    if setting not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {setting!r}.")
    if setting != "auto":
        return setting
    if cuda_gpu is None:
        cuda_gpu = bool(tf.config.list_physical_devices("GPU"))
    if cuda_gpu:
        return "mixed_float16"
    flags = cpu_flags() if flags is None else flags
    return "mixed_bfloat16" if BFLOAT16_CPU_FLAGS & set(flags) else "float32"


def with_precision(model, precision):
    """A copy of a model whose layers compute in `precision`.

    The layers that produce the model's outputs (the softmax) stay float32,
    so probabilities and the loss keep float32's resolution. The copy gets
    the model's current weights; its variables are float32 under every
    policy, so `model.set_weights(copy.get_weights())` brings the trained
    weights back. Keras' global dtype policy is not touched.

    Args:
        model: a functional or Sequential Keras model.
        precision: `"float32"`, `"mixed_bfloat16"` or `"mixed_float16"`.

    Returns:
        the model itself for `"float32"`, else a new model.

    Raises:
        ValueError: the model is a subclassed model, which cannot be copied
            layer by layer.
    """
    if precision == "float32":
        return model
    output_layers = {keras_tensor._keras_history.operation.name for keras_tensor in model.outputs}

    def copy_layer(layer):
        config = layer.get_config()
        if layer.name not in output_layers and not isinstance(layer, keras.layers.InputLayer):
            config["dtype"] = precision
        return type(layer).from_config(config)

    try:
        copy = keras.models.clone_model(model, clone_function=copy_layer)
    except ValueError as error:
        raise ValueError(
            f"Training in {precision} copies the model layer by layer, which works for functional and Sequential "
            f"models only ({error}). Use TrainingRecipe(precision='float32') for this model."
        ) from None
    copy.set_weights(model.get_weights())
    return copy


def scale_images(X):
    """Scales uint8 photos to what the network reads.

    Args:
        X: uint8 array of shape (m, 64, 64, 3) (any shape works).

    Returns:
        float32 array of the same shape, values in [0, 1] (X / 255).
    """
    return np.asarray(X, dtype=np.float32) / 255.0


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


class RandomWhiteBalance(keras.layers.Layer):
    """Random colour temperature: red and blue scaled in opposite directions.

    A camera's white balance scales the channels: warm light (or a warm
    setting) raises red and lowers blue, cool light the reverse. Each image
    gets red x (1 + t) and blue x (1 - t) for t uniform in
    [-factor, factor], then values are clipped to [0, 1].

    Args:
        factor: float, the largest t.
        seed: int or None.
    """

    def __init__(self, factor, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        temperature = keras.random.uniform(
            (keras.ops.shape(images)[0], 1, 1, 1), -self.factor, self.factor, seed=self.seed_generator)
        gains = keras.ops.concatenate(
            [1.0 + temperature, keras.ops.ones_like(temperature), 1.0 - temperature], axis=-1)
        return keras.ops.clip(images * keras.ops.cast(gains, images.dtype), 0.0, 1.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "factor": self.factor, "seed": self.seed}


def make_augmentation(seed=None, camera=False):
    """Random changes that a photo of a hand may show and that keep its sign.

    Rotation up to `MAX_ROTATION_DEGREES`, shifts up to `MAX_SHIFT` of the
    side, zoom in or out up to `MAX_ZOOM`, brightness and contrast changes
    up to `MAX_BRIGHTNESS` and `MAX_CONTRAST`. Uncovered corners repeat the
    nearest edge pixel, as a real background would continue. (Mirroring is
    separate: see `make_training_dataset`.)

    With `camera=True` the changes also imitate photos from other cameras:
    shifts up to `CAMERA_MAX_SHIFT`, zoom out up to `CAMERA_MAX_ZOOM_OUT`
    (a smaller hand), white balance up to `CAMERA_MAX_WHITE_BALANCE` and a
    Gaussian blur of sigma up to `CAMERA_MAX_BLUR_SIGMA` pixels.

    Args:
        seed: int or None, seed of the random changes.
        camera: bool, whether to add the camera changes.

    Returns:
        `keras.layers.Pipeline` mapping float images (m, 64, 64, 3) in
        [0, 1] to changed images of the same shape (call it with
        `training=True`; it works inside `tf.data`).
    """
    seeds = [None] * 7 if seed is None else [seed + i for i in range(7)]
    shift = CAMERA_MAX_SHIFT if camera else MAX_SHIFT
    zoom = (-MAX_ZOOM, CAMERA_MAX_ZOOM_OUT) if camera else MAX_ZOOM
    layers = [
        keras.layers.RandomRotation(
            MAX_ROTATION_DEGREES / 360, fill_mode="nearest", seed=seeds[0]
        ),
        keras.layers.RandomTranslation(shift, shift, fill_mode="nearest", seed=seeds[1]),
        keras.layers.RandomZoom(zoom, fill_mode="nearest", seed=seeds[2]),
        keras.layers.RandomBrightness(
            MAX_BRIGHTNESS, value_range=(0, 1), seed=seeds[3]
        ),
        keras.layers.RandomContrast(
            MAX_CONTRAST, value_range=(0, 1), seed=seeds[4]
        ),
    ]
    if camera:
        layers += [
            RandomWhiteBalance(CAMERA_MAX_WHITE_BALANCE, seed=seeds[5]),
            keras.layers.RandomGaussianBlur(
                1.0, kernel_size=3, sigma=CAMERA_MAX_BLUR_SIGMA, value_range=(0, 1), seed=seeds[6]
            ),
        ]
    return keras.layers.Pipeline(layers, name="augmentation")


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


def augment_some(images, augmentation, probability, seed=None):
    """Replaces a random share of a batch by augmented copies.

    Args:
        images: float32 tensor (batch, 64, 64, 3).
        augmentation: layer from `make_augmentation`.
        probability: float, chance that each photo is replaced.
        seed: int or None, seed of the choice.

    Returns:
        float32 tensor of the same shape.
    """
    changed = augmentation(images, training=True)
    chosen = tf.random.uniform([tf.shape(images)[0], 1, 1, 1], seed=seed) < probability
    return tf.where(chosen, changed, images)


def make_training_dataset(X, Y, batch_size, mirror=False, augmentation=None,
                          augment_probability=1.0, seed=None):
    """Shuffled (and optionally mirrored and augmented) training batches.

    Args:
        X: float32 array (m, 64, 64, 3), scaled by `scale_images`.
        Y: one-hot array (m, classes).
        batch_size: int.
        mirror: bool, whether to mirror a random half of the photos.
        augmentation: layer from `make_augmentation`, or None.
        augment_probability: float, chance that a photo is augmented each
            time it is used.
        seed: int or None, seed of the shuffle (reshuffled every epoch), the
            mirroring and the choice of photos to augment.

    Returns:
        `tf.data.Dataset` of `(images, targets)` batches.
    """
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.asarray(X, np.float32), np.asarray(Y, np.float32))
    )
    dataset = dataset.shuffle(len(X), seed=seed).batch(batch_size)
    if mirror:
        flip = keras.layers.RandomFlip("horizontal", seed=seed)
        dataset = dataset.map(
            lambda images, targets: (flip(images, training=True), targets),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if augmentation is not None and augment_probability > 0:
        dataset = dataset.map(
            lambda images, targets: (
                augment_some(images, augmentation, augment_probability, seed),
                targets,
            ),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def learning_rate_schedule(recipe, steps_per_epoch, epochs):
    """Linear warm-up to the peak learning rate, then a cosine down to 0.

    Args:
        recipe: `TrainingRecipe`.
        steps_per_epoch: int, training steps in one epoch.
        epochs: int, epochs of the whole run.

    Returns:
        `keras.optimizers.schedules.CosineDecay` (a built-in schedule, so a
        saved model reloads without custom objects).
    """
    total_steps = steps_per_epoch * epochs
    warmup_steps = min(round(recipe.warmup_epochs * steps_per_epoch), total_steps - 1)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=recipe.peak_learning_rate / 10,
        decay_steps=total_steps - warmup_steps,
        warmup_target=recipe.peak_learning_rate,
        warmup_steps=warmup_steps,
    )


def compile_with_recipe(model, recipe, steps_per_epoch, epochs, run_eagerly=False):
    """Sets the BatchNorm momentum and compiles the model for the recipe.

    Args:
        model: a Keras model mapping (m, 64, 64, 3) images to (m, classes)
            softmax probabilities.
        recipe: `TrainingRecipe`.
        steps_per_epoch: int, training steps in one epoch.
        epochs: int, epochs of the whole run.
        run_eagerly: bool, see `TrainingBudget`.

    Returns:
        The same model, compiled (AdamW, with loss scaling when layers
        compute in float16; label-smoothed cross-entropy on one-hot targets,
        accuracy).
    """
    set_batchnorm_momentum(model, recipe.batchnorm_momentum)
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate_schedule(recipe, steps_per_epoch, epochs),
        weight_decay=recipe.weight_decay,
    )
    if any(layer.dtype_policy.name == "mixed_float16" for layer in model.layers):
        # float16 gradients of small losses underflow to 0 unless the loss is scaled up first.
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            label_smoothing=recipe.label_smoothing
        ),
        metrics=["accuracy"],
        run_eagerly=run_eagerly,
    )
    return model


def train_with_recipe(model, X_train, Y_train, X_test, Y_test, epochs,
                      recipe=TrainingRecipe(), seed=0, callbacks=(), verbose=2,
                      run_eagerly=False):
    """Trains a model on SIGNS with the recipe, checking the test set after
    every epoch.

    In mixed precision (`recipe.precision`, see `choose_precision`) the
    steps run on a copy of the model that computes in 16 bits
    (`with_precision`); its weights are copied back at the end, so `model`
    stays float32 and so does Keras' global dtype policy.

    Args:
        model: a Keras model, (m, 64, 64, 3) images to (m, classes)
            probabilities; trained in place, and compiled with the recipe.
        X_train, X_test: float32 arrays (m, 64, 64, 3) from `scale_images`.
        Y_train, Y_test: one-hot arrays (m, classes).
        epochs: int.
        recipe: `TrainingRecipe`.
        seed: int, seed of the shuffle and the augmentation.
        callbacks: extra Keras callbacks (they see the model being trained,
            the 16-bit copy in mixed precision).
        verbose: Keras' verbosity (2: one line per epoch).
        run_eagerly: bool, see `TrainingBudget`.

    Returns:
        `keras.callbacks.History`; `history.history` holds per-epoch `loss`,
        `accuracy`, `val_loss` and `val_accuracy` (the test set, evaluated
        with BatchNorm's moving statistics, in the training precision).
    """
    steps_per_epoch = math.ceil(len(X_train) / recipe.batch_size)
    compile_with_recipe(model, recipe, steps_per_epoch, epochs, run_eagerly)
    training_model = with_precision(model, choose_precision(recipe.precision))
    if training_model is not model:
        compile_with_recipe(training_model, recipe, steps_per_epoch, epochs, run_eagerly)
    dataset = make_training_dataset(
        X_train, Y_train, recipe.batch_size, recipe.mirror,
        make_augmentation(seed, recipe.camera_augmentation), recipe.augment_probability, seed
    )
    history = training_model.fit(
        dataset,
        epochs=epochs,
        validation_data=(X_test, Y_test),
        callbacks=list(callbacks),
        shuffle=False,  # the dataset reshuffles itself every epoch
        verbose=verbose,
    )
    if training_model is not model:
        model.set_weights(training_model.get_weights())
    return history


def predict_probabilities(model, X, batch_size=64):
    """Class probabilities in inference mode (BatchNorm uses its moving
    statistics).

    Args:
        model: a Keras model.
        X: float32 array (m, 64, 64, 3).
        batch_size: int, photos per forward pass.

    Returns:
        float array (m, classes).
    """
    return model.predict(X, batch_size=batch_size, verbose=0)


def accuracy_with_batch_statistics(model, X, Y, batch_size=32):
    """Accuracy when BatchNorm normalises with each batch's own statistics,
    as it does during training; the moving statistics are left unchanged.

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


def save_trained_model(model, path=MODEL_PATH):
    """Saves a model's architecture and weights in the native Keras format.

    `model.save` would also store the optimizer's state (for AdamW, two more
    numbers per weight, so a file three times as large). The file written
    here holds an uncompiled copy instead: it predicts exactly as `model`,
    and can be compiled again to train further.

    Args:
        model: a Keras model.
        path: destination ending in `.keras`; its folder is created.

    Returns:
        `Path` of the saved file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Rebuilt from its configuration, the copy has the same layers but no
    # compiled optimizer (keras.models.clone_model would compile it again).
    copy = type(model).from_config(model.get_config())
    copy.set_weights(model.get_weights())
    copy.save(path)
    return path


# ---------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------


def confusion_matrix(labels, predicted, classes=SIGNS_CLASSES):
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


# ===========================================================================
# Your own photo
# ===========================================================================


class PhotoError(Exception):
    """A photo cannot be read; the message says why and what to do."""


def load_photo(path):
    """Reads a photo and makes it a SIGNS photo, exactly as the training
    photos were made (`signs_data.photo_to_array`: upright, RGB, 64x64).

    Args:
        path: path of a JPEG or PNG file of any size; RGBA and greyscale
            work too (alpha is dropped, grey is repeated in R, G and B). A
            photo that is not square is squashed to a square, so crop it
            first.

    Returns:
        uint8 array of shape (64, 64, 3).

    Raises:
        PhotoError: the file is missing or is not a readable image.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise PhotoError(
            f"There is no file at {path} (the folder the notebook runs in is "
            f"{Path.cwd()}). Check the path and the file name."
        ) from None
    except OSError as error:
        raise PhotoError(f"{path} cannot be read: {error.strerror}.") from None
    try:
        return signs_data.photo_to_array(data)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise PhotoError(
            f"{path} is not an image that can be opened ({error}). Save the "
            "photo as JPEG or PNG and try again."
        ) from None


def predict_image(model, path):
    """Class probabilities for one photo file.

    Args:
        model: a trained Keras model, (m, 64, 64, 3) to (m, classes).
        path: path of a JPEG or PNG file (see `load_photo`).

    Returns:
        float array of shape (classes,), summing to 1.

    Raises:
        PhotoError: the file is missing or is not a readable image.
    """
    photo = scale_images(load_photo(path))[np.newaxis]
    return predict_probabilities(model, photo)[0]


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
