"""The live experiments of `signs.depth_experiments`, run small on real SIGNS images, show what the notebook says.

The thresholds come from seeds 0 to 4 of exactly the configurations below (the tests use seed 0). Each test's
comment gives the measured range: ratios keep at least a factor of 10 to spare, loss gaps at least 0.15.
"""

import keras
import numpy as np
import pytest

from signs import data, depth_experiments

VANISHING_CONFIG = {"depth": 8, "steps": 10, "image_size": 8, "count": 64, "seed": 0, "verbose": False}
DEGRADATION_CONFIG = {"shallow_depth": 4, "deep_depth": 32, "epochs": 3, "image_size": 8, "seed": 0,
                      "verbose": False}


@pytest.fixture(scope="module")
def vanishing(signs_h5_dir):
    return depth_experiments.vanishing_gradient_experiment(**VANISHING_CONFIG)


@pytest.fixture(scope="module")
def degradation(signs_h5_dir):
    return depth_experiments.degradation_experiment(**DEGRADATION_CONFIG)


def test_downscale_averages_pixel_blocks():
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    small = data.downscale(images, 2)
    assert small.shape == (2, 2, 2, 3) and small.dtype == np.float32
    expected_top_left = images[:, :2, :2, :].reshape(2, 4, 3).mean(axis=1) / 255.0
    np.testing.assert_allclose(small[:, 0, 0, :], expected_top_left, rtol=1e-6)


def test_signs_batch_is_a_seeded_sample_of_real_images(signs_h5_dir):
    images, labels = data.signs_batch(48, image_size=16, seed=3)
    assert images.shape == (48, 16, 16, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0 and images.std() > 0.05
    assert labels.shape == (48,) and set(labels) <= set(range(6))
    again, _ = data.signs_batch(48, image_size=16, seed=3)
    other, _ = data.signs_batch(48, image_size=16, seed=4)
    np.testing.assert_array_equal(images, again)
    assert not np.array_equal(images, other)


def test_signs_batch_explains_bad_arguments(signs_h5_dir):
    with pytest.raises(ValueError, match="must divide 64"):
        data.signs_batch(8, image_size=24)
    with pytest.raises(ValueError, match="has .* images; asked for"):
        data.signs_batch(10**6)


def test_stacks_name_one_measured_conv_per_layer():
    for model in (depth_experiments.sigmoid_stack(5, residual=True, image_size=8),
                  depth_experiments.batchnorm_stack(6, residual=False, image_size=8)):
        names = [layer.name for layer in depth_experiments.measured_layers(model)]
        assert names == [f"layer_{index:02d}" for index in range(1, len(names) + 1)]
        assert len(names) == (5 if "sigmoid" in model.name else 6), model.name


def stem_and_features(model, images, training):
    """The stem's output and the features the head receives, as numpy arrays."""
    probe = keras.Model(model.input, [model.get_layer("stem").output, model.get_layer("pool").input])
    return tuple(np.asarray(tensor) for tensor in probe(images, training=training))


def test_zero_gamma_residual_stack_starts_as_its_stem():
    """With zero gamma in each branch's last BatchNorm, every residual pair adds exactly 0 at initialisation."""
    images = np.random.default_rng(0).uniform(size=(4, 8, 8, 3)).astype(np.float32)
    zero_gamma = depth_experiments.batchnorm_stack(6, residual=True, image_size=8, seed=1, zero_gamma=True)
    for training in (True, False):
        stem_output, features = stem_and_features(zero_gamma, images, training)
        np.testing.assert_array_equal(features, np.maximum(stem_output, 0.0))
    standard = depth_experiments.batchnorm_stack(6, residual=True, image_size=8, seed=1)
    stem_output, features = stem_and_features(standard, images, training=True)
    assert np.abs(features - np.maximum(stem_output, 0.0)).max() > 0.1


def test_same_seed_gives_the_same_numbers(signs_h5_dir):
    config = {"depth": 4, "steps": 2, "image_size": 8, "count": 16, "seed": 5, "verbose": False}
    first = depth_experiments.vanishing_gradient_experiment(**config)
    second = depth_experiments.vanishing_gradient_experiment(**config)
    for kind in ("plain", "residual"):
        for key in ("initial", "trained", "change"):
            np.testing.assert_array_equal(first[kind][key], second[kind][key])


def test_plain_sigmoid_stack_loses_its_gradient_on_the_way_down(vanishing):
    # Measured, seeds 0-4: 6.5e4 to 3.2e5 at initialisation, 7.5e4 to 2.5e5 after the steps.
    for moment in ("initial", "trained"):
        factor = depth_experiments.vanishing_factor(vanishing["plain"][moment])
        assert factor >= 1e3, f"plain stack ({moment}): first layer's gradient only {factor:.3g} times smaller"


def test_skip_connections_keep_the_gradient_alive(vanishing):
    # Measured, seeds 0-4: 4.8 to 8.0 at initialisation, 1.7 to 6.6 after the steps.
    for moment in ("initial", "trained"):
        factor = depth_experiments.vanishing_factor(vanishing["residual"][moment])
        assert factor <= 1e2, f"residual stack ({moment}): first layer's gradient {factor:.3g} times smaller"


def test_first_plain_layer_barely_learns(vanishing):
    # First layer's change / last layer's change. Measured, seeds 0-4: plain 1.6e-6 to 1.4e-5,
    # residual 0.11 to 0.22.
    plain, residual = vanishing["plain"]["change"], vanishing["residual"]["change"]
    assert plain[0] < 1e-3 * plain[-1]
    assert residual[0] > 1e-2 * residual[-1]


def test_batchnorm_cures_vanishing_at_initialisation(degradation):
    # Measured, seeds 0-4: the deep plain stack's first layer gets 140 to 190 times the last layer's gradient.
    factor = depth_experiments.vanishing_factor(degradation["deep plain"]["initial_gradient_rms"])
    assert factor < 1.0, f"first layer's gradient is {factor:.3g} times smaller than the last's"


def test_deep_plain_network_trains_worse_than_shallow(degradation):
    # Final training loss, deep plain minus shallow plain. Measured, seeds 0-4: 0.36 to 0.54.
    deep, shallow = degradation["deep plain"]["loss"][-1], degradation["shallow plain"]["loss"][-1]
    assert deep > shallow + 0.2, f"deep plain loss {deep:.3f}, shallow plain loss {shallow:.3f}"


def test_residual_twin_recovers(degradation):
    # Final training loss, deep plain minus deep residual. Measured, seeds 0-4: 0.99 to 1.39.
    plain, residual = degradation["deep plain"]["loss"][-1], degradation["deep residual"]["loss"][-1]
    assert residual < plain - 0.5, f"deep residual loss {residual:.3f}, deep plain loss {plain:.3f}"


def test_deep_residual_network_beats_the_shallow_one(degradation):
    # Final training loss, shallow plain minus deep residual. Measured, seeds 0-4: 0.64 to 0.85.
    shallow, residual = degradation["shallow plain"]["loss"][-1], degradation["deep residual"]["loss"][-1]
    assert residual < shallow - 0.3, f"deep residual loss {residual:.3f}, shallow plain loss {shallow:.3f}"


def test_all_networks_get_the_same_budget(degradation):
    assert [len(run["loss"]) for run in degradation.values()] == [DEGRADATION_CONFIG["epochs"]] * 3
    assert [run["depth"] for run in degradation.values()] == [4, 32, 32]


def test_vanishing_factor_is_put_into_words():
    assert depth_experiments.vanishing_factor(np.array([1e-8, 1e-4, 1e-2])) == pytest.approx(1e6)
    assert depth_experiments.describe_factor(2.4e7) == "2.4e+07 times smaller"
    assert depth_experiments.describe_factor(8.43) == "8.4 times smaller"
    assert depth_experiments.describe_factor(1 / 190) == "190 times larger"
    assert depth_experiments.describe_factor(0.0).startswith("not comparable")
