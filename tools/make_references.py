"""Regenerate the reference data in outputs/references/ from the instructor's solution (`make references`).

For each graded function this writes `<function>.npz` (inputs and expected outputs of every public check) and
`<function>_summary.json` (the layer-by-layer description from test_utils.summary). The cases themselves are
defined in public_tests.py; this script only runs the reference solution on them.
"""
import json

import keras
import numpy as np

import public_tests
from instructor.reference import load_reference
from test_utils import summary


def block_references(function, cases):
    """Arrays and summaries of one block function over its public cases."""
    arrays, summaries = {}, {}
    for case in cases:
        X = case.random_input()
        arrays[f"{case.name}__input"] = X
        arrays[f"{case.name}__output"] = np.asarray(function(keras.ops.convert_to_tensor(X), **case.call_arguments()))
        inputs = keras.Input(shape=case.input_shape[1:])
        summaries[case.name] = summary(keras.Model(inputs, function(inputs, **case.call_arguments())))
    return arrays, summaries


def resnet50_references(ResNet50):
    """Arrays (two fixed images and the model's predictions in inference mode) and the model's summary."""
    case = public_tests.RESNET50_CASE
    model = ResNet50(input_shape=case.input_shape, **case.call_arguments())
    images = np.random.default_rng(case.seed).uniform(size=(public_tests.RESNET50_IMAGES, *case.input_shape))
    images = images.astype("float32")
    return {"images": images, "predictions": model.predict(images, verbose=0)}, summary(model)


def build_references():
    """All reference data, as {function name: (arrays, summary)}, computed from the instructor notebook."""
    reference = load_reference()
    return {
        "identity_block": block_references(reference.identity_block, public_tests.IDENTITY_BLOCK_CASES),
        "convolutional_block": block_references(reference.convolutional_block,
                                                public_tests.CONVOLUTIONAL_BLOCK_CASES),
        "ResNet50": resnet50_references(reference.ResNet50),
    }


def main():
    out_dir = public_tests.REFERENCE_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (arrays, rows) in build_references().items():
        np.savez_compressed(out_dir / f"{name}.npz", **arrays)
        (out_dir / f"{name}_summary.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
        print(f"wrote {out_dir / name}.npz and {name}_summary.json")


if __name__ == "__main__":
    main()
