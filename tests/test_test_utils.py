"""summary() describes a model independently of names and writing order; comparator() explains differences."""
import keras
import pytest
from keras import layers

from test_utils import comparator, summary


def two_branch_model(shortcut_first, names):
    inputs = keras.Input((8, 8, 3), name=names[0])

    def shortcut(x):
        return layers.BatchNormalization(axis=3, name=names[1])(layers.Conv2D(4, 1, strides=2, name=names[2])(x))

    def main(x):
        x = layers.Conv2D(2, 1, strides=2, name=names[3])(x)
        return layers.Conv2D(4, 3, padding="same", name=names[4])(x)

    if shortcut_first:
        side = shortcut(inputs)
        path = main(inputs)
        joined = layers.Add(name=names[5])([side, path])
    else:
        path = main(inputs)
        side = shortcut(inputs)
        joined = layers.Add(name=names[5])([path, side])
    return keras.Model(inputs, layers.Activation("relu", name=names[6])(joined))


def test_summary_ignores_names_and_branch_order():
    first = summary(two_branch_model(True, [f"a{i}" for i in range(7)]))
    second = summary(two_branch_model(False, [f"b{i}" for i in range(7)]))
    assert first == second
    assert [row["layer"] for row in first][:1] == ["InputLayer"]
    assert first[-1] == {"layer": "Activation", "output_shape": [4, 4, 4], "params": 0, "activation": "relu",
                         "inputs": [len(first) - 2]}


def test_summary_records_settings_that_matter():
    rows = summary(two_branch_model(True, [f"a{i}" for i in range(7)]))
    convs = [row for row in rows if row["layer"] == "Conv2D"]
    assert {(tuple(row["kernel_size"]), tuple(row["strides"]), row["padding"]) for row in convs} == {
        ((1, 1), (2, 2), "valid"), ((3, 3), (1, 1), "same")}
    assert all(row["kernel_initializer"] == "GlorotUniform(seed=None)" for row in convs)


def test_comparator_passes_equal_summaries(capsys):
    rows = summary(two_branch_model(True, [f"a{i}" for i in range(7)]))
    comparator(rows, rows)
    assert "match" in capsys.readouterr().out


def test_comparator_shows_expected_and_got_per_layer():
    expected = summary(two_branch_model(True, [f"a{i}" for i in range(7)]))
    inputs = keras.Input((8, 8, 3))
    wrong = keras.Model(inputs, layers.Conv2D(4, 3, strides=2, padding="valid")(inputs))
    with pytest.raises(AssertionError) as failure:
        comparator(summary(wrong), expected)
    message = str(failure.value)
    assert "expected Conv2D -> (4, 4, 2)" in message
    assert "got      Conv2D -> (3, 3, 4)" in message
    assert "your model has 2 layers" in message
