"""Judge the models a sandbox returned: validate, rebuild safely, compare with the reference solution.

Runs on the host, never beside learner code. For each case the sandbox answered with a model config (JSON), the
judge

1. checks the config against an allow-list: the built-in Keras layers this assignment can use, Keras' own
   initializers and dtype policies, nothing else (no Lambda, no custom objects, no module outside Keras), and works
   out its parameter count from the graph before anything is allocated, refusing models far larger than the
   reference;
2. rebuilds it in Keras' safe mode, with the seeded initializers the config names;
3. compares it with the reference solution's model for the same case, layer by layer (`test_utils.summary`), then
   number by number on inputs drawn from a seed chosen for this run (never stored or shown).

A graded function earns its points when every case passes. Messages come from the same advice engine as the public
checks and never show a hidden input.
"""
import json
import math
import secrets
from dataclasses import dataclass, replace

import keras
import numpy as np

from checking import TOLERANCE, error_text, structure_message, training_hint, value_message
from instructor.reference import load_reference
from test_utils import summary

# What a returned model may contain: {module: class names}. Layers are those the instructions use or a learner
# could reasonably reach for; the checks then say what is wrong with them.
ALLOWED = {
    "keras.layers": {"InputLayer", "Conv2D", "BatchNormalization", "Activation", "ReLU", "Add", "ZeroPadding2D",
                     "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten",
                     "Dense", "Dropout", "Softmax"},
    "keras.initializers": {"RandomUniform", "RandomNormal", "TruncatedNormal", "GlorotUniform", "GlorotNormal",
                           "HeUniform", "HeNormal", "LecunUniform", "LecunNormal", "VarianceScaling", "Zeros",
                           "Ones", "Constant", "Orthogonal", "Identity"},
    "keras": {"DTypePolicy", "FloatDTypePolicy"},
    "keras.src.models.functional": {"Functional"},
}
TENSOR_MARKERS = {"__keras_tensor__", "__tuple__"}
MAX_LAYERS = 1_000
MAX_PARAMETER_FACTOR = 4  # a model may have up to this many times the reference's parameters (+ MIN_PARAMETER_ROOM)
MIN_PARAMETER_ROOM = 1_000_000
MAX_CONFIG_CHARACTERS = 32 * 1024 ** 2


class RejectedModel(Exception):
    """A returned config that the judge will not rebuild; the message says why, for the learner."""


@dataclass
class CaseResult:
    """The judgement of one case of one graded function."""

    passed: bool
    message: str = ""


def _allowed(node):
    if node.get("class_name") in TENSOR_MARKERS:
        return True
    module, class_name = node.get("module"), node.get("class_name")
    registered = node.get("registered_name")
    return class_name in ALLOWED.get(module, ()) and registered in (None, class_name)


def _walk(node):
    """Every dict inside a JSON value."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def validate(config_text, parameter_limit):
    """Parse and check a model config returned by the sandbox.

    Args:
        config_text: the JSON text of `model.to_json()`
        parameter_limit: the largest parameter count accepted

    Returns:
        config: the parsed config (a dict)

    Raises RejectedModel with a learner-readable reason.
    """
    if not isinstance(config_text, str) or len(config_text) > MAX_CONFIG_CHARACTERS:
        raise RejectedModel("the model description is missing or too large")
    try:
        config = json.loads(config_text)
    except json.JSONDecodeError as error:
        raise RejectedModel(f"the model description is not valid JSON ({error.msg})") from None
    if not isinstance(config, dict) or config.get("class_name") != "Functional":
        raise RejectedModel("the result is not a functional Keras model")
    for node in _walk(config):
        if "class_name" in node and not _allowed(node):
            raise RejectedModel(_not_allowed_message(node))
    layers = config.get("config", {}).get("layers")
    if not isinstance(layers, list) or not 0 < len(layers) <= MAX_LAYERS:
        raise RejectedModel(f"the model has {len(layers) if isinstance(layers, list) else 'no'} layers")
    parameters = count_parameters(config)
    if parameters > parameter_limit:
        raise RejectedModel(f"the model has {parameters:,} parameters, far more than the reference; check the "
                            "filters of each layer")
    return config


def _not_allowed_message(node):
    class_name, module = node.get("class_name"), node.get("module")
    if module and module.startswith("keras.src.ops"):
        return (f"the model applies keras.ops ({class_name}), a function rather than a layer: use the layers of the "
                "instructions, such as Activation('relu') and Add()")
    return (f"the model contains {class_name!r} from {module!r}, which the grader does not accept: build it only "
            "from the Keras layers the instructions name (no Lambda layers or custom classes)")


def _parents(layer_config):
    """Names of the layers whose outputs feed a layer's first call."""
    nodes = layer_config.get("inbound_nodes") or []
    if not nodes:
        return []
    return [node["config"]["keras_history"][0] for node in _walk(nodes[0])
            if node.get("class_name") == "__keras_tensor__"]


def count_parameters(config):
    """The parameter count of a functional config, worked out from the graph without building any weights."""
    shapes, total = {}, 0
    for layer_config in config["config"]["layers"]:
        name, settings = layer_config.get("name"), layer_config.get("config", {})
        try:
            if layer_config["class_name"] == "InputLayer":
                shapes[name] = tuple(settings["batch_shape"])
                continue
            inputs = [shapes[parent] for parent in _parents(layer_config)]
            layer = keras.layers.deserialize({key: layer_config[key] for key in
                                              ("module", "class_name", "config", "registered_name")})
            shape = layer.compute_output_shape(inputs if len(inputs) > 1 else inputs[0])
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
            raise RejectedModel(f"the layer {name!r} cannot be rebuilt ({type(error).__name__})") from None
        if any(dimension is not None and (not isinstance(dimension, int) or dimension <= 0) for dimension in shape):
            raise RejectedModel(f"the layer {name!r} would output the shape {tuple(shape)}")
        channels = inputs[0][-1] if inputs and inputs[0] else 0
        if layer_config["class_name"] == "Conv2D":
            total += math.prod(settings["kernel_size"]) * channels * settings["filters"] + settings["filters"]
        elif layer_config["class_name"] == "Dense":
            total += channels * settings["units"] + settings["units"]
        elif layer_config["class_name"] == "BatchNormalization":
            total += 4 * channels
        shapes[name] = tuple(shape)
    return total


def _canonical_value(value, index):
    """A config value with every layer name replaced by the layer's canonical index."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            history = value["config"]["keras_history"]
            return ["tensor", index[history[0]], *history[1:]]
        return {key: _canonical_value(item, index) for key, item in value.items() if key != "name"}
    if isinstance(value, list):
        return [_canonical_value(item, index) for item in value]
    return value


def canonical_form(config):
    """A functional config with layer names replaced by positions in an order that depends only on the graph.

    Two configs with equal canonical forms describe the same layers, settings, seeds and wiring, so they build the
    same model and compute the same numbers: the judge compares a learner's model with the reference's this way
    first, and rebuilds it only when the forms differ.
    """
    layers = {layer["name"]: layer for layer in config["config"]["layers"]}
    depth = {}
    for name, layer in layers.items():  # a functional config lists every layer after the layers that feed it
        depth[name] = 1 + max((depth[parent] for parent in _all_parents(layer)), default=-1)
    index, ordered = {}, []
    for level in sorted(set(depth.values())):
        described = []
        for name in (name for name in layers if depth[name] == level):
            layer = {key: value for key, value in layers[name].items() if key not in ("name", "build_config")}
            described.append((json.dumps(_canonical_value(layer, index), sort_keys=True), name))
        for text, name in sorted(described):
            index[name] = len(ordered)
            ordered.append(text)
    ends = [_names_to_indices(config["config"].get(key), index) for key in ("input_layers", "output_layers")]
    return ordered, ends


def _names_to_indices(value, index):
    """A model's input or output list (nested lists of [layer name, node, tensor]) with names as canonical indices."""
    if isinstance(value, list):
        return [_names_to_indices(item, index) for item in value]
    return index.get(value, value) if isinstance(value, str) else value


def _all_parents(layer_config):
    return [node["config"]["keras_history"][0] for node in _walk(layer_config.get("inbound_nodes") or [])
            if node.get("class_name") == "__keras_tensor__"]


def rebuild(config):
    """A Keras model from a validated config, deserialized in safe mode (no code is loaded)."""
    return keras.models.model_from_json(json.dumps(config))


class Judge:
    """Compares returned models with the reference solution; one Judge serves a whole grading run.

    Args:
        cases: the checking.Case list of the run
        seed: seed of the inputs; None draws a fresh one (a run's inputs are never stored)
    """

    def __init__(self, cases, seed=None):
        self.cases = {case.id: case for case in cases}
        self.reference = load_reference()
        self.rng_seed = secrets.randbits(32) if seed is None else seed
        self._expected, self._forms = {}, {}

    def expected(self, case):
        """The reference's answer to a case, computed once per run.

        Returns:
            (rows, inputs, outputs, other_mode_outputs): the reference model's summary rows; the inputs
            drawn for this run (blocks: uniform in [-2, 3), neither centred nor of unit spread, so that batch
            normalisation matters; ResNet50: two images in [0, 1)); the reference outputs on them; for a block
            called with training True or False, the outputs of the other mode (to recognise a block that ignores
            `training`), else None
        """
        if case.id not in self._expected:
            model = self._reference_model(case)
            rng = np.random.default_rng([self.rng_seed, len(self._expected)])
            other_mode = None
            if case.function == "ResNet50":
                inputs = rng.uniform(size=(2, *case.input_shape)).astype("float32")
                outputs = np.asarray(model(inputs, training=False))
            else:
                inputs = rng.uniform(-2.0, 3.0, size=case.input_shape).astype("float32")
                outputs = np.asarray(model(inputs))
                if case.training is not None:
                    other = self._reference_model(replace(case, training=not case.training))
                    other_mode = np.asarray(other(inputs))
            self._expected[case.id] = (summary(model), inputs, outputs, other_mode)
        return self._expected[case.id]

    def _reference_form(self, case):
        """(canonical form, parameter count) of the reference model's config for a case, computed once per run."""
        if case.id not in self._forms:
            with keras.StatelessScope():  # the config only: no weights needed
                config = json.loads(self._reference_model(case).to_json())
            self._forms[case.id] = canonical_form(config), count_parameters(config)
        return self._forms[case.id]

    def _reference_model(self, case):
        function = getattr(self.reference, case.function)
        if case.function == "ResNet50":
            return function(input_shape=case.input_shape, **case.call_arguments())
        inputs = keras.Input(shape=case.input_shape[1:])
        return keras.Model(inputs, function(inputs, **case.call_arguments()))

    def judge(self, case_id, config_text):
        """A CaseResult for the model config the sandbox returned for one case."""
        case = self.cases[case_id]
        reference_form, parameters = self._reference_form(case)
        where = case.describe()
        try:
            config = validate(config_text, MAX_PARAMETER_FACTOR * parameters + MIN_PARAMETER_ROOM)
            if canonical_form(config) == reference_form:
                return CaseResult(True)
            model = rebuild(config)
        except RejectedModel as reason:
            return CaseResult(False, f"{case.function}: {reason}.\n(while checking {where})")
        except Exception as error:  # a config that passed validation but that Keras cannot rebuild
            return CaseResult(False, f"{case.function}: the model cannot be rebuilt ({type(error).__name__}: "
                                     f"{error_text(error)}).\n(while checking {where})")
        expected_rows, inputs, expected_outputs, other_mode = self.expected(case)
        got_rows = summary(model)
        if got_rows != expected_rows:
            return CaseResult(False, structure_message(case, expected_rows, got_rows, model))
        # Inside a model, a BatchNormalization called without `training` follows the layers before it, so the
        # rebuilt model's numbers can hide what the function does when it is called on its own: check the calls.
        if case.function != "ResNet50" and training_hint(model, case.training):
            return CaseResult(False, value_message(case, model, None, expected_outputs))
        got = np.asarray(model(inputs, training=False) if case.function == "ResNet50" else model(inputs))
        if got.shape != expected_outputs.shape:
            return CaseResult(False, f"{case.function}: output shape {got.shape}, expected "
                                     f"{expected_outputs.shape} for {where}.")
        if not np.allclose(got, expected_outputs, **TOLERANCE):
            return CaseResult(False, value_message(case, model, got, expected_outputs, other_mode))
        return CaseResult(True)
