"""The numbers training computes with: float32, or 16-bit mixed precision where the hardware supports it."""

from pathlib import Path

import keras
import tensorflow as tf

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


def _output_layer_names(model):
    """Names of the layers that produce a model's outputs, read through Keras' public API.

    A functional model records them as `output_names`; a Sequential model's output is its last layer.

    Args:
        model: a Keras model.

    Returns:
        set of str; empty for a subclassed model.
    """
    if isinstance(model, keras.Sequential):
        return {model.layers[-1].name}
    return set(getattr(model, "output_names", ()))


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
    output_layers = _output_layer_names(model)

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
