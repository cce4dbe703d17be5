"""Training, evaluation and own-photo prediction (`signs.training` and its parts, `signs.evaluation`,
`signs.own_photo`, `signs.camera_shift`).

- The notebook's budget is tiny under nbgrader and full otherwise.
- Inference is sound: one photo predicts as its row of a batch, and
  `predict`/`evaluate` use BatchNorm's moving statistics, also for the
  reference ResNet50 whose blocks are called with `training=True`.
- The recipe sets BatchNorm's momentum; the trap helpers measure and repair
  stale moving statistics without side effects.
- A saved model reloads without custom objects and predicts identically.
- `predict_image` reads JPEG, PNG, RGBA and greyscale files of any size
  exactly as the training photos were made, and explains bad files.
- Evaluation helpers count, plot and transform as documented.
- Precision follows the hardware or a forced setting; mixed-precision
  training leaves a float32 model and a float32 global policy.
- The camera shift is repeatable and changes photos as documented; the
  validation split keeps participants apart; `make model`'s script runs.
"""

import io
import zipfile

import h5py
import keras
import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

import signs.augmentation
import signs.batchnorm
import signs.build
import signs.camera_shift
import signs.data
import signs.evaluation
import signs.own_photo
import signs.plots
import signs.precision
import signs.training
from signs.own_photo import PhotoError
from tools import train_model


def tiny_model(size=16, seed=0):
    """Two conv + BatchNorm layers and a softmax head for (size, size, 3)
    images; the second BatchNorm is called with `training=True`, as the
    notebook's blocks are."""
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(seed))(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(4, 3, kernel_initializer=keras.initializers.GlorotUniform(seed + 1))(x)
    x = keras.layers.BatchNormalization()(x, training=True)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(
        6, activation="softmax", kernel_initializer=keras.initializers.GlorotUniform(seed + 2)
    )(x)
    return keras.Model(inputs, outputs)


def photos_and_targets(count=24, size=16, seed=0):
    """Random float photos in [0, 1] and one-hot targets of 6 classes."""
    rng = np.random.default_rng(seed)
    X = rng.random((count, size, size, 3), dtype=np.float32)
    labels = np.arange(count) % 6
    return X, keras.utils.to_categorical(labels, 6), labels


@pytest.fixture(scope="module")
def trained_tiny_model():
    """A tiny model after one epoch of the recipe (no augmentation), whose
    moving statistics are far from any batch's own statistics."""
    keras.utils.set_random_seed(0)
    model = tiny_model()
    X, Y, _ = photos_and_targets()
    recipe = signs.training.TrainingRecipe(
        batch_size=8, mirror=False, augment_probability=0.0, batchnorm_momentum=0.99)
    history = signs.training.train_with_recipe(model, X, Y, X, Y, epochs=1, recipe=recipe, verbose=0)
    assert set(history.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    return model


def batchnorm_only_model(features=5):
    """Input (features,) -> BatchNormalization -> softmax."""
    inputs = keras.Input((features,))
    outputs = keras.layers.Activation("softmax")(keras.layers.BatchNormalization()(inputs))
    return keras.Model(inputs, outputs)


# --------------------------------------------------------------- budget


def test_training_budget_is_full_normally(monkeypatch):
    monkeypatch.delenv(signs.training.AUTOGRADE_ENV_VAR, raising=False)
    budget = signs.training.training_budget()
    assert budget.train_examples is None and budget.save_model and not budget.run_eagerly
    assert budget.epochs >= 3 and budget.trap_epochs >= 1
    assert budget.experiment_photos is None and budget.experiment_epochs >= 3
    assert budget.test_examples is None and budget.gradient_steps >= 10


def test_training_budget_is_tiny_while_autograding(monkeypatch):
    monkeypatch.setenv(signs.training.AUTOGRADE_ENV_VAR, "autograde")
    budget = signs.training.training_budget()
    assert budget.epochs == 1 and budget.trap_epochs == 1
    assert 0 < budget.train_examples <= 64 and not budget.save_model and budget.run_eagerly
    assert budget.experiment_epochs == 1 and 0 < budget.experiment_photos <= 64
    assert 0 < budget.test_examples <= 32 and 0 < budget.gradient_steps <= 5


# ------------------------------------------------------------ inference


def test_one_photo_predicts_as_its_row_of_a_batch(trained_tiny_model):
    X, _, _ = photos_and_targets(count=10, seed=1)
    batch = signs.evaluation.predict_probabilities(trained_tiny_model, X)
    for index in (0, 3, 9):
        single = signs.evaluation.predict_probabilities(trained_tiny_model, X[index:index + 1])
        np.testing.assert_allclose(single[0], batch[index], atol=1e-6)


def test_predict_and_evaluate_use_moving_statistics(trained_tiny_model):
    X, Y, labels = photos_and_targets(count=12, seed=2)
    predicted = signs.evaluation.predict_probabilities(trained_tiny_model, X)
    inference = keras.ops.convert_to_numpy(trained_tiny_model(X, training=False))
    with_batch_statistics = keras.ops.convert_to_numpy(trained_tiny_model(X, training=True))
    np.testing.assert_allclose(predicted, inference, atol=1e-6)
    assert np.abs(predicted - with_batch_statistics).max() > 1e-3

    # Compiled by the recipe: cross-entropy against targets smoothed by 0.1.
    loss, accuracy = trained_tiny_model.evaluate(X, Y, verbose=0)
    smoothed = Y * 0.9 + 0.1 / 6
    expected_loss = -np.mean(np.sum(smoothed * np.log(predicted), axis=1))
    assert loss == pytest.approx(expected_loss, rel=1e-4)
    assert accuracy == pytest.approx(np.mean(predicted.argmax(axis=1) == labels))


def test_reference_resnet50_predicts_with_moving_statistics():
    from instructor.reference import load_reference

    model = load_reference().ResNet50(input_shape=(64, 64, 3), classes=6)
    X = np.random.default_rng(3).random((3, 64, 64, 3), dtype=np.float32)
    batch = signs.evaluation.predict_probabilities(model, X)
    single = signs.evaluation.predict_probabilities(model, X[1:2])
    np.testing.assert_allclose(single[0], batch[1], atol=1e-5)
    np.testing.assert_allclose(
        batch, keras.ops.convert_to_numpy(model(X, training=False)), atol=1e-5
    )


# ------------------------------------------------------ BatchNorm helpers


def test_set_batchnorm_momentum_reaches_nested_layers():
    inner = tiny_model()
    outer = keras.Sequential([keras.Input((16, 16, 3)), inner])
    assert signs.batchnorm.set_batchnorm_momentum(outer, 0.7) == 2
    assert [layer.momentum for layer in signs.batchnorm.batchnorm_layers(inner)] == [0.7, 0.7]


@pytest.mark.parametrize("momentum, run_eagerly", [(0.5, True), (0.9, False)])
def test_recipe_trains_with_its_batchnorm_momentum(momentum, run_eagerly):
    model = batchnorm_only_model()
    X = np.random.default_rng(4).normal(3.0, 1.0, (16, 5)).astype(np.float32)
    Y = keras.utils.to_categorical(np.arange(16) % 5, 5)
    recipe = signs.training.TrainingRecipe(batchnorm_momentum=momentum)
    signs.training.compile_with_recipe(model, recipe, steps_per_epoch=1, epochs=1, run_eagerly=run_eagerly)
    assert model.run_eagerly == run_eagerly
    model.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    moving_mean = keras.ops.convert_to_numpy(model.layers[1].moving_mean)
    np.testing.assert_allclose(moving_mean, (1 - momentum) * X.mean(axis=0), rtol=1e-5)


def test_batch_statistics_accuracy_leaves_moving_statistics_alone(trained_tiny_model):
    X, Y, labels = photos_and_targets(count=16, seed=5)
    layers = signs.batchnorm.batchnorm_layers(trained_tiny_model)
    before = [keras.ops.convert_to_numpy(layer.moving_mean) for layer in layers]
    accuracy = signs.batchnorm.accuracy_with_batch_statistics(trained_tiny_model, X, Y, batch_size=8)
    after = [keras.ops.convert_to_numpy(layer.moving_mean) for layer in layers]
    for old, new in zip(before, after):
        np.testing.assert_array_equal(old, new)
    # The same accuracy, computed batch by batch in training mode.
    expected = np.concatenate([
        keras.ops.convert_to_numpy(trained_tiny_model(X[start:start + 8], training=True))
        for start in (0, 8)
    ]).argmax(axis=1)
    for layer, mean in zip(layers, before):
        layer.moving_mean.assign(mean)
    assert accuracy == pytest.approx(np.mean(expected == labels))


def test_recalibration_averages_the_batch_statistics():
    model = batchnorm_only_model()
    layer = model.layers[1]
    layer.momentum = 0.99
    X = np.random.default_rng(6).normal(2.0, 3.0, (40, 5)).astype(np.float32)
    signs.batchnorm.recalibrate_batchnorm(model, X, batch_size=10)
    batches = X.reshape(4, 10, 5)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.moving_mean), batches.mean(axis=1).mean(axis=0), rtol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(layer.moving_variance), batches.var(axis=1).mean(axis=0), rtol=1e-4
    )
    assert layer.momentum == 0.99


# ------------------------------------------------------------------ data


def test_training_dataset_shuffles_every_photo_once():
    X, Y, _ = photos_and_targets(count=20)
    plain = signs.augmentation.make_training_dataset(X, Y, batch_size=8, seed=0)
    assert [images.shape[0] for images, _ in plain] == [8, 8, 4]
    seen = np.concatenate([images.numpy() for images, _ in plain])
    assert sorted(map(bytes, seen)) == sorted(map(bytes, X))
    assert not np.array_equal(seen, X)


def test_training_dataset_mirrors_about_half():
    X, _, _ = photos_and_targets(count=100)
    Y = np.arange(len(X), dtype=np.float32)[:, np.newaxis]
    dataset = signs.augmentation.make_training_dataset(X, Y, batch_size=50, mirror=True, seed=0)
    mirrored = []
    for images, targets in dataset:
        for image, index in zip(images.numpy(), targets.numpy()[:, 0].astype(int)):
            same = np.array_equal(image, X[index])
            assert same or np.array_equal(image, X[index][:, ::-1]), index
            mirrored.append(not same)
    assert 0.3 <= np.mean(mirrored) <= 0.7


@pytest.mark.parametrize("probability, low, high", [(1.0, 1.0, 1.0), (0.5, 0.3, 0.7), (0.0, 0.0, 0.0)])
def test_training_dataset_augments_the_chosen_share(probability, low, high):
    X, _, _ = photos_and_targets(count=120)
    # Each target is the photo's index, to find the original of each row.
    Y = np.arange(len(X), dtype=np.float32)[:, np.newaxis]
    dataset = signs.augmentation.make_training_dataset(
        X, Y, batch_size=40, augmentation=signs.augmentation.make_augmentation(seed=0),
        augment_probability=probability, seed=0,
    )
    changed = []
    for images, targets in dataset:
        originals = X[targets.numpy()[:, 0].astype(int)]
        changed.extend(np.abs(images.numpy() - originals).mean(axis=(1, 2, 3)) > 1e-3)
    assert len(changed) == len(X)
    assert low <= np.mean(changed) <= high


def test_scale_images_divides_by_255():
    X = np.array([[0, 51, 255]], dtype=np.uint8)
    scaled = signs.data.scale_images(X)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled, [[0.0, 0.2, 1.0]])


# ----------------------------------------------------------------- saving


def saved_weight_groups(path):
    """Top-level groups of the weights file inside a `.keras` archive."""
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5"))) as weights:
        return set(weights.keys())


def test_saved_model_reloads_and_predicts_identically(trained_tiny_model, tmp_path):
    path = signs.training.save_trained_model(trained_tiny_model, tmp_path / "new" / "tiny.keras")
    assert path.is_file()
    trained_tiny_model.save(tmp_path / "with_optimizer.keras")
    assert "optimizer" in saved_weight_groups(tmp_path / "with_optimizer.keras")
    assert "optimizer" not in saved_weight_groups(path)
    reloaded = keras.models.load_model(path)
    X, _, _ = photos_and_targets(count=8, seed=7)
    np.testing.assert_array_equal(
        signs.evaluation.predict_probabilities(reloaded, X),
        signs.evaluation.predict_probabilities(trained_tiny_model, X),
    )
    assert [layer.momentum for layer in signs.batchnorm.batchnorm_layers(reloaded)] == [0.99, 0.99]


# ------------------------------------------------------------ own photo


def write_photo(path, mode, size, file_format):
    """Writes a smooth colourful test image of `size` (w, h) in `mode`."""
    width, height = size
    ramp_x = np.linspace(0, 255, width)[np.newaxis, :]
    ramp_y = np.linspace(255, 0, height)[:, np.newaxis]
    rgb = np.stack(
        [ramp_x + 0 * ramp_y, ramp_y + 0 * ramp_x, (ramp_x + ramp_y) / 2], axis=-1
    ).astype(np.uint8)
    image = Image.fromarray(rgb).convert(mode)
    image.save(path, format=file_format)
    return path


@pytest.fixture(scope="module")
def photo_model():
    return tiny_model(size=64, seed=3)


@pytest.mark.parametrize(
    "name, mode, size, file_format",
    [
        ("wide.jpg", "RGB", (120, 90), "JPEG"),
        ("grey.jpg", "L", (64, 64), "JPEG"),
        ("clear.png", "RGBA", (50, 70), "PNG"),
        ("grey.png", "L", (300, 200), "PNG"),
    ],
)
def test_predict_image_uses_the_training_preprocessing(photo_model, tmp_path, name, mode, size, file_format):
    path = write_photo(tmp_path / name, mode, size, file_format)
    probabilities = signs.own_photo.predict_image(photo_model, path)
    assert probabilities.shape == (6,)
    assert probabilities.sum() == pytest.approx(1.0, abs=1e-5)

    as_training_photo = signs.build.photo_to_array(path.read_bytes())
    assert as_training_photo.shape == (64, 64, 3) and as_training_photo.dtype == np.uint8
    np.testing.assert_array_equal(signs.own_photo.load_photo(path), as_training_photo)
    expected = photo_model.predict(as_training_photo[np.newaxis] / 255.0, verbose=0)[0]
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)


def test_predict_image_explains_a_missing_file(photo_model, tmp_path):
    with pytest.raises(PhotoError, match="no file at .*missing.png"):
        signs.own_photo.predict_image(photo_model, tmp_path / "missing.png")


@pytest.mark.parametrize("content", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_predict_image_explains_an_unreadable_file(photo_model, tmp_path, content):
    path = tmp_path / "broken.png"
    path.write_bytes(content)
    with pytest.raises(PhotoError, match="broken.png is not an image"):
        signs.own_photo.predict_image(photo_model, path)


def test_predict_image_explains_a_folder(photo_model, tmp_path):
    with pytest.raises(PhotoError, match="cannot be read"):
        signs.own_photo.predict_image(photo_model, tmp_path)


def test_photo_prediction_figure(photo_model, tmp_path):
    path = write_photo(tmp_path / "hand.png", "RGB", (80, 80), "PNG")
    probabilities = signs.own_photo.predict_image(photo_model, path)
    figure = signs.plots.plot_photo_prediction(signs.own_photo.load_photo(path), probabilities)
    assert isinstance(figure, Figure)
    bars = figure.axes[1].patches
    assert [bar.get_width() for bar in bars] == pytest.approx(list(probabilities))
    best = int(np.argmax(probabilities))
    assert f"prediction: {best}" in figure.axes[1].get_title()


# ------------------------------------------------------------- evaluation


def test_confusion_matrix_counts_pairs():
    matrix = signs.evaluation.confusion_matrix([0, 1, 1, 2, 5], [0, 1, 2, 2, 0])
    assert matrix.shape == (6, 6) and matrix.sum() == 5
    assert matrix[1, 2] == 1 and matrix[5, 0] == 1 and matrix[1, 1] == 1
    assert np.trace(matrix) == 3


def test_evaluation_figures():
    history = {"loss": [1.5, 0.8], "accuracy": [0.4, 0.7], "val_loss": [1.7, 0.9], "val_accuracy": [0.3, 0.6]}
    curves = signs.plots.plot_training_curves(history)
    assert isinstance(curves, Figure) and len(curves.axes) == 2
    assert [len(ax.lines) for ax in curves.axes] == [2, 2]

    matrix = signs.evaluation.confusion_matrix([0, 1, 2], [0, 2, 2])
    drawn = signs.plots.plot_confusion_matrix(matrix, class_names=[0, 1, 2, 3, 4, 5])
    assert isinstance(drawn, Figure)
    assert "2 of 3 right" in drawn.axes[0].get_title()

    X = np.zeros((5, 8, 8, 3), dtype=np.uint8)
    probabilities = np.eye(6)[[0, 1, 3, 3, 5]]
    grid = signs.plots.plot_misclassified(X, [0, 2, 3, 4, 5], probabilities)
    titles = [ax.get_title() for ax in grid.axes if ax.get_title()]
    assert titles == ["predicted 1 (100%)\ntrue 2", "predicted 3 (100%)\ntrue 4"]


def bright_square(left, top, size=8, side=64):
    """A black (1, side, side, 3) photo with a white square at (left, top)."""
    photo = np.zeros((1, side, side, 3), dtype=np.float32)
    photo[0, top:top + size, left:left + size] = 1.0
    return photo


def centre_of_brightness(photo):
    """(x, y) centre of mass of a (1, h, w, 3) photo's brightness."""
    weight = photo[0].sum(axis=-1)
    rows, columns = np.indices(weight.shape)
    return (columns * weight).sum() / weight.sum(), (rows * weight).sum() / weight.sum()


def transform_named(transforms, start, end=""):
    """The one transform whose name starts and ends as given."""
    [name] = [name for name in transforms if name.startswith(start) and name.endswith(end)]
    return transforms[name]


def test_robustness_transforms_move_the_photo_as_named():
    transforms = signs.evaluation.robustness_transforms()
    shift = signs.augmentation.MAX_SHIFT * 64
    photo = bright_square(left=40, top=20)
    x0, y0 = centre_of_brightness(photo)

    x, y = centre_of_brightness(transform_named(transforms, "shifted", "right")(photo))
    assert x - x0 == pytest.approx(shift, abs=1) and y == pytest.approx(y0, abs=1)
    x, y = centre_of_brightness(transform_named(transforms, "shifted", "up")(photo))
    assert y0 - y == pytest.approx(shift, abs=1) and x == pytest.approx(x0, abs=1)
    x, _ = centre_of_brightness(transforms["mirrored (other hand)"](photo))
    assert x == pytest.approx(63 - x0)
    # Rotating left (counter-clockwise) lifts a point right of the centre,
    # rotating right lowers it.
    _, y = centre_of_brightness(transform_named(transforms, "rotated", "left")(photo))
    assert y < y0 - 3
    _, y = centre_of_brightness(transform_named(transforms, "rotated", "right")(photo))
    assert y > y0 + 3
    # Zooming in moves an off-centre square away from the centre (32, 32).
    x, _ = centre_of_brightness(transform_named(transforms, "zoomed in")(photo))
    assert x > x0 + 1
    x, _ = centre_of_brightness(transform_named(transforms, "zoomed out")(photo))
    assert x < x0 - 1

    smooth = np.random.default_rng(8).random((2, 64, 64, 3), dtype=np.float32)
    for name, transform in transforms.items():
        changed = transform(smooth)
        assert changed.shape == smooth.shape, name
        np.testing.assert_array_equal(changed, transform(smooth), err_msg=name)
        assert (np.abs(changed - smooth).mean() > 0.01) == (name != "original"), name


def test_evaluate_robustness_reports_every_transform(photo_model):
    X = np.random.default_rng(9).random((6, 64, 64, 3), dtype=np.float32)
    labels = signs.evaluation.predict_probabilities(photo_model, X).argmax(axis=1)
    accuracies = signs.evaluation.evaluate_robustness(photo_model, X, labels)
    assert list(accuracies) == list(signs.evaluation.robustness_transforms())
    assert accuracies["original"] == 1.0
    assert all(0.0 <= value <= 1.0 for value in accuracies.values())
    table = signs.evaluation.format_robustness(accuracies)
    assert table.splitlines()[0].startswith("original") and "100.0%" in table


def test_evaluate_robustness_scores_each_transform_on_its_own_copies(photo_model):
    # evaluate_robustness predicts every changed copy in one call; each accuracy must still be that of its own
    # transform, as if the copies were predicted one transform at a time.
    X = np.random.default_rng(10).random((6, 64, 64, 3), dtype=np.float32)
    labels = np.arange(6)
    transforms = {"original": lambda X: X, "mirrored": lambda X: X[:, :, ::-1, :],
                  "black": lambda X: np.zeros_like(X), "grey": lambda X: np.full_like(X, 0.5)}
    accuracies = signs.evaluation.evaluate_robustness(photo_model, X, labels, transforms)
    for name, transform in transforms.items():
        alone = signs.evaluation.predict_probabilities(photo_model, transform(X)).argmax(axis=1)
        assert accuracies[name] == pytest.approx(np.mean(alone == labels)), name


# ------------------------------------------------------------ precision


@pytest.mark.parametrize("setting", ["float32", "mixed_bfloat16", "mixed_float16"])
def test_a_forced_precision_is_used_on_any_machine(setting):
    for flags, cuda_gpu in [(set(), False), ({"avx512_bf16"}, False), (set(), True)]:
        assert signs.precision.choose_precision(setting, flags, cuda_gpu) == setting


@pytest.mark.parametrize("flags, cuda_gpu, expected", [
    ({"avx512f", "avx512_bf16"}, False, "mixed_bfloat16"),
    ({"amx_bf16", "amx_tile"}, False, "mixed_bfloat16"),
    ({"avx2", "avx512f", "fma"}, False, "float32"),
    ({"avx512_bf16"}, True, "mixed_float16"),
    (set(), True, "mixed_float16"),
])
def test_auto_precision_follows_the_hardware(flags, cuda_gpu, expected):
    assert signs.precision.choose_precision("auto", flags, cuda_gpu) == expected


def test_an_unknown_precision_is_named_in_the_error():
    with pytest.raises(ValueError, match="'bfloat16'"):
        signs.precision.choose_precision("bfloat16")


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f avx512_bf16\n\nprocessor\t: 1\nflags\t\t: fpu sse\n")
    assert signs.precision.cpu_flags(cpuinfo) == {"fpu", "avx512f", "avx512_bf16", "sse"}
    assert signs.precision.cpu_flags(tmp_path / "missing") == frozenset()


def test_a_mixed_precision_copy_keeps_its_output_layer_in_float32():
    model = tiny_model()
    copy = signs.precision.with_precision(model, "mixed_bfloat16")
    policies = [layer.dtype_policy.name for layer in copy.layers[1:]]
    assert policies[:-1] == ["mixed_bfloat16"] * (len(policies) - 1) and policies[-1] == "float32"
    X, _, _ = photos_and_targets(count=4)
    assert keras.ops.convert_to_numpy(copy(X)).dtype == np.float32
    np.testing.assert_allclose(copy.predict(X, verbose=0), model.predict(X, verbose=0), atol=0.02)
    assert signs.precision.with_precision(model, "float32") is model
    assert keras.config.dtype_policy().name == "float32"


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_training_leaves_a_float32_model(precision, tmp_path):
    keras.utils.set_random_seed(0)
    model = tiny_model()
    before = [weight.copy() for weight in model.get_weights()]
    X, Y, _ = photos_and_targets()
    recipe = signs.training.TrainingRecipe(batch_size=8, mirror=False, augment_probability=0.0, precision=precision)
    signs.training.train_with_recipe(model, X, Y, X, Y, epochs=1, recipe=recipe, verbose=0, run_eagerly=True)

    assert keras.config.dtype_policy().name == "float32"
    assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
    assert all(weight.dtype == np.float32 for weight in model.get_weights())
    # The trained weights, moving statistics included, came back from the 16-bit copy.
    changed = [not np.array_equal(old, new) for old, new in zip(before, model.get_weights())]
    assert all(changed)
    reloaded = keras.models.load_model(signs.training.save_trained_model(model, tmp_path / "mixed.keras"))
    assert {layer.dtype_policy.name for layer in reloaded.layers} == {"float32"}
    probabilities = signs.evaluation.predict_probabilities(reloaded, X)
    assert probabilities.dtype == np.float32
    np.testing.assert_array_equal(probabilities, signs.evaluation.predict_probabilities(model, X))


def test_float16_training_scales_the_loss():
    copy = signs.precision.with_precision(tiny_model(), "mixed_float16")
    recipe = signs.training.TrainingRecipe()
    signs.training.compile_with_recipe(copy, recipe, steps_per_epoch=2, epochs=1)
    assert isinstance(copy.optimizer, keras.optimizers.LossScaleOptimizer)
    signs.training.compile_with_recipe(model := tiny_model(), recipe, steps_per_epoch=2, epochs=1)
    assert not isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)


# --------------------------------------------------------- camera shift


def uniform_photos(value=0.5, count=3, size=64):
    return np.full((count, size, size, 3), value, np.float32)


def test_camera_shift_is_deterministic_and_seeded():
    X = np.random.default_rng(11).random((4, 64, 64, 3), dtype=np.float32)
    shifted = signs.camera_shift.camera_shift(X)
    assert shifted.shape == X.shape and shifted.dtype == np.float32
    assert 0.0 <= shifted.min() and shifted.max() <= 1.0
    np.testing.assert_array_equal(shifted, signs.camera_shift.camera_shift(X))
    assert np.abs(signs.camera_shift.camera_shift(X, seed=1) - shifted).mean() > 0.01


def test_camera_shift_warms_the_white_balance():
    shifted = signs.camera_shift.camera_shift(uniform_photos())
    red, blue = shifted[..., 0].mean(axis=(1, 2)), shifted[..., 2].mean(axis=(1, 2))
    assert np.all(red / blue > signs.camera_shift.RED_GAIN[0] / signs.camera_shift.BLUE_GAIN[1] - 0.02)


def test_camera_shift_darkens_the_corners():
    shifted = signs.camera_shift.camera_shift(uniform_photos()).mean(axis=3)
    assert np.all(shifted[:, :8, :8].mean(axis=(1, 2)) < shifted[:, 28:36, 28:36].mean(axis=(1, 2)) - 0.02)


def test_camera_shift_makes_the_hand_smaller():
    X = np.zeros((6, 64, 64, 3), np.float32)
    X[:, 16:48, 16:48] = 1.0  # a bright square, a quarter of the photo, on a black border
    shifted = signs.camera_shift.camera_shift(X).mean(axis=3)
    bright_share = (shifted > 0.3).mean(axis=(1, 2))
    scale = signs.camera_shift.shift_parameters(len(X))["scale"]
    assert np.all(bright_share < 0.25 * (scale + 0.05) ** 2)


def test_camera_shift_explains_wrong_input():
    with pytest.raises(ValueError, match=r"shape \(64, 64, 3\)"):
        signs.camera_shift.camera_shift(np.zeros((64, 64, 3)))
    with pytest.raises(ValueError, match="scale_images"):
        signs.camera_shift.camera_shift(np.full((1, 8, 8, 3), 255.0))


def test_white_balance_augmentation_moves_red_and_blue_apart():
    layer = signs.augmentation.RandomWhiteBalance(0.2, seed=0)
    X = uniform_photos(count=16, size=8)
    changed = keras.ops.convert_to_numpy(layer(X, training=True))
    red, green, blue = (changed[..., channel].mean(axis=(1, 2)) for channel in range(3))
    np.testing.assert_allclose(green, 0.5)
    np.testing.assert_allclose(red - 0.5, 0.5 - blue, atol=1e-6)
    assert np.all(np.abs(red - 0.5) <= 0.1 + 1e-6) and np.ptp(red) > 0.05
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(X, training=False)), X)


def test_camera_augmentation_runs_in_the_training_dataset():
    X, Y, _ = photos_and_targets(count=8, size=64)
    dataset = signs.augmentation.make_training_dataset(
        X, Y, batch_size=4, augmentation=signs.augmentation.make_augmentation(0, camera=True), seed=0)
    batches = [images.numpy() for images, _ in dataset]
    assert [len(batch) for batch in batches] == [4, 4]
    assert all(0.0 <= batch.min() and batch.max() <= 1.0 for batch in batches)


# ------------------------------------------------------- validation split


def test_validation_split_keeps_participants_apart(signs_h5_dir):
    fit_rows, validation_rows = signs.data.validation_split(signs_h5_dir)
    with h5py.File(signs_h5_dir / signs.build.TRAIN_FILE_NAME) as h5:
        paths = [name.decode() for name in h5["train_set_files"][()]]
        labels = h5["train_set_y"][()]
    assert sorted(np.concatenate([fit_rows, validation_rows])) == list(range(len(paths)))
    counts = np.bincount(labels[validation_rows], minlength=6)
    assert np.all(counts <= signs.build.VALIDATION_PHOTOS_PER_CLASS) and counts.sum() > 0.1 * len(paths)
    manifest = signs.build.load_manifest()
    photos = [signs.build.parse_photo_path(p) for p in set(manifest["files"]) | set(manifest["grouping_files"])]
    group_of = {photo.path: index for index, group in enumerate(signs.build.group_participants(photos))
                for photo in group}
    fit_groups = {group_of[paths[row]] for row in fit_rows}
    assert fit_groups.isdisjoint(group_of[paths[row]] for row in validation_rows)


def test_validation_split_explains_classic_files(tmp_path):
    with h5py.File(tmp_path / signs.build.TRAIN_FILE_NAME, "w") as h5:
        h5["train_set_x"] = np.zeros((2, 64, 64, 3), np.uint8)
    with pytest.raises(signs.build.SignsDataError, match="make data"):
        signs.data.validation_split(tmp_path)


# ------------------------------------------------------------ make model


def test_model_script_trains_saves_and_reports_a_float32_model(tmp_path):
    output = tmp_path / "model.keras"
    figures = train_model.main(["--epochs", "1", "--train-examples", "16", "--run-eagerly",
                                "--output", str(output), "--report", str(tmp_path / "report.json")])
    assert figures["evaluated_on"] == "held-out test" and figures["fit_photos"] == 16
    assert 0.0 <= figures["camera_shift_accuracy"] <= 1.0
    assert set(figures["robustness_accuracy"]) == set(signs.evaluation.robustness_transforms())
    reloaded = keras.models.load_model(output)
    assert {layer.dtype_policy.name for layer in reloaded.layers} == {"float32"}
    X = signs.data.scale_images(signs.data.load_dataset()[2][:16])
    predicted = signs.evaluation.predict_probabilities(reloaded, X).argmax(axis=1)
    assert np.mean(predicted == signs.data.load_dataset()[3].reshape(-1)[:16]) == pytest.approx(
        figures["accuracy"])
