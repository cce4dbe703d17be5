"""The stored reference files in outputs/references are exactly what `make references` computes today."""
import json

import numpy as np
import pytest

import public_tests
from tools.make_references import build_references


@pytest.fixture(scope="module")
def regenerated():
    return build_references()


@pytest.mark.parametrize("name", ["identity_block", "convolutional_block", "ResNet50"])
def test_stored_references_match_regeneration(regenerated, name):
    arrays, rows = regenerated[name]
    stored = np.load(public_tests.REFERENCE_DIR / f"{name}.npz")
    assert sorted(stored.files) == sorted(arrays)
    for key, array in arrays.items():
        assert stored[key].shape == array.shape and stored[key].dtype == array.dtype, key
        # Inputs are drawn from seeds and must be identical; outputs may differ by float rounding across CPUs.
        if key.endswith("__input") or key == "images":
            np.testing.assert_array_equal(stored[key], array, err_msg=key)
        else:
            np.testing.assert_allclose(stored[key], array, rtol=1e-5, atol=1e-6, err_msg=key)
    stored_rows = json.loads((public_tests.REFERENCE_DIR / f"{name}_summary.json").read_text())
    assert stored_rows == json.loads(json.dumps(rows))


def test_reference_model_has_the_published_parameter_count(regenerated):
    _, rows = regenerated["ResNet50"]
    assert sum(row["params"] for row in rows) == public_tests.RESNET50_PARAMETERS == 23_600_006


def test_training_and_inference_cases_really_differ(regenerated):
    """The paired cases use one input, so a block that ignores `training` cannot pass both."""
    for name in ("identity_block", "convolutional_block"):
        arrays, _ = regenerated[name]
        np.testing.assert_array_equal(arrays["training__input"], arrays["inference__input"])
        assert np.max(np.abs(arrays["training__output"] - arrays["inference__output"])) > 0.1
