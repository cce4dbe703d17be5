"""Describe a Keras model layer by layer, and compare two such descriptions.

`summary(model)` turns a functional model into a list of plain dictionaries, one per layer, in an order that
depends only on the graph (not on layer names or the order in which the layers were created), so two correct
implementations of the same network give equal summaries. `comparator(learner, instructor)` checks two summaries
and explains the first differences layer by layer.
"""
import json

# Settings worth comparing, by layer class. Anything else (names, dtypes, regularisers) is ignored.
_DETAILS = {
    "Conv2D": ("kernel_size", "strides", "padding", "activation", "kernel_initializer"),
    "Dense": ("activation", "kernel_initializer"),
    "BatchNormalization": ("axis",),
    "Activation": ("activation",),
    "MaxPooling2D": ("pool_size", "strides", "padding"),
    "AveragePooling2D": ("pool_size", "strides", "padding"),
    "ZeroPadding2D": ("padding",),
}


def _plain(value):
    """Tuples become lists and initializer configs become short strings, so rows compare and print simply."""
    if isinstance(value, dict) and "class_name" in value:
        seed = value.get("config", {}).get("seed")
        return f"{value['class_name']}(seed={seed})"
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _parent_names(node_arguments):
    """Names of the layers whose outputs appear anywhere in a serialized call's arguments."""
    if isinstance(node_arguments, dict):
        history = node_arguments.get("config", {}).get("keras_history") if node_arguments.get(
            "class_name") == "__keras_tensor__" else None
        if history:
            return [history[0]]
        return [name for value in node_arguments.values() for name in _parent_names(value)]
    if isinstance(node_arguments, (list, tuple)):
        return [name for value in node_arguments for name in _parent_names(value)]
    return []


def _equivalent(class_name, layer_config, rank):
    """Rewrite spellings that mean the same layer into one form, so that they compare equal."""
    plain_relu = all(not layer_config.get(key) for key in ("max_value", "negative_slope", "threshold"))
    if class_name == "ReLU" and plain_relu:
        return "Activation", {"activation": "relu"}
    if class_name == "BatchNormalization" and isinstance(layer_config.get("axis"), int):
        return class_name, dict(layer_config, axis=layer_config["axis"] % rank)
    return class_name, layer_config


def _describe(operation, config):
    """One row: layer class, output shape without the batch axis, parameter count, and class-specific settings."""
    shape = list(operation.output.shape)
    class_name, layer_config = _equivalent(config["class_name"], config.get("config", {}), len(shape))
    row = {
        "layer": class_name,
        "output_shape": shape[1:],
        "params": operation.count_params() if hasattr(operation, "count_params") else 0,
    }
    for key in _DETAILS.get(class_name, ()):
        row[key] = _plain(layer_config.get(key))
    return row


def summary(model):
    """Describe a functional Keras model layer by layer.

    Args:
        model: a keras.Model built with the functional API

    Returns:
        rows: list of dicts, one per layer, with keys "layer", "output_shape", "params", the settings that matter for
            that layer class, and "inputs": the positions in this list of the layers that feed it. Layers are ordered
            by their distance from the input, ties broken by their description, so the order never depends on names
            or on which branch of a block was written first.
    """
    operations = {operation.name: operation for operation in model.operations}
    configs = model.get_config()["layers"]
    parents = {
        config["name"]: sorted(set(_parent_names(config.get("inbound_nodes", []))))
        for config in configs
    }
    depth = {}

    def depth_of(name):
        if name not in depth:
            depth[name] = 1 + max((depth_of(parent) for parent in parents[name]), default=-1)
        return depth[name]

    described = {config["name"]: _describe(operations[config["name"]], config) for config in configs}
    position = {}
    rows = []
    for level in sorted({depth_of(name) for name in described}):
        level_rows = []
        for name in (name for name in described if depth[name] == level):
            row = dict(described[name], inputs=sorted(position[parent] for parent in parents[name]))
            level_rows.append((json.dumps(row, sort_keys=True), name, row))
        for _, name, row in sorted(level_rows, key=lambda item: item[0]):
            position[name] = len(rows)
            rows.append(row)
    return rows


def format_row(row):
    """A summary row as one readable line, e.g. `Conv2D -> (15, 15, 64), 4,160 params, kernel_size=[1, 1], ...`."""
    settings = ", ".join(
        f"{key}={value}" for key, value in row.items() if key not in ("layer", "output_shape", "params")
    )
    return f"{row['layer']} -> {tuple(row['output_shape'])}, {row['params']:,} params, {settings}"


def differences(learner, instructor):
    """List of (position, expected row or None, learner row or None, differing keys) for rows that differ."""
    found = []
    for position in range(max(len(learner), len(instructor))):
        got = learner[position] if position < len(learner) else None
        expected = instructor[position] if position < len(instructor) else None
        if got != expected:
            keys = sorted({*(got or {}), *(expected or {})} - {
                key for key in (got or {}) if expected and key in expected and got[key] == expected[key]})
            found.append((position, expected, got, keys))
    return found


def comparator(learner, instructor, shown=5):
    """Check a learner's summary against the instructor's.

    Args:
        learner: list of rows from summary(learner_model)
        instructor: list of rows from summary(reference_model), or loaded from a stored reference
        shown: how many differing layers to describe

    Raises AssertionError listing the first differing layers (expected vs got); prints one line when all match.
    """
    found = differences(learner, instructor)
    if not found:
        print("All layers match the reference.")
        return
    lines = [f"{len(found)} of {len(instructor)} layers differ from the reference "
             f"(your model has {len(learner)} layers)."]
    for position, expected, got, keys in found[:shown]:
        lines.append(f"  layer {position}, differs in {', '.join(keys)}:")
        lines.append(f"    expected {format_row(expected) if expected else 'no layer here'}")
        lines.append(f"    got      {format_row(got) if got else 'no layer here'}")
    if len(found) > shown:
        lines.append(f"  ... and {len(found) - shown} more.")
    raise AssertionError("\n".join(lines))
