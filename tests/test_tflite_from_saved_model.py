"""TFLite converted from a SavedModel just exported (what ``python -m export`` and the harness do).

Converting reads a SavedModel of the model; a caller that has one already passes it
(``saved_model=``) instead of paying for a second trace and write. The file must be the one
``convert_tflite`` makes on its own: the same signatures, the same outputs, and the input checks
of the SavedModel (which TFLite has no kernel for) dropped by the converter, not failing it.
"""

import numpy as np
import pytest

from keras_ae import serving
from keras_ae.models import VAE


@pytest.fixture(scope="module")
def model():
    vae = VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), seed=0)
    vae.build()
    return vae


def test_conversion_of_an_exported_saved_model_answers_as_a_fresh_one(model, tmp_path):
    folder = serving.export_saved_model(model, str(tmp_path / "models"), "vae")
    fresh, _, fresh_skipped = serving.convert_tflite(model)
    reused, ops, skipped = serving.convert_tflite(model, saved_model=folder)
    assert ops == "builtins" and skipped == fresh_skipped == {}  # sample_seeded included (counter-based noise)
    a, b = (serving.litert_interpreter(model_content=blob) for blob in (fresh, reused))
    assert a.get_signature_list() == b.get_signature_list()
    x = (np.random.default_rng(0).uniform(size=(5, 4, 4, 1)) > 0.5).astype("float32")
    for sig in ("reconstruct", "encode", "score"):
        np.testing.assert_array_equal(*(serving.tflite_runner(i)(sig, {"x": x})[
            "reconstruction" if sig == "reconstruct" else ("code" if sig == "encode" else "score")] for i in (a, b)))
    seeded = {"n": np.array(3, np.int32), "seed": np.array(7, np.int32), "temperature": np.array(0.5, np.float32)}
    np.testing.assert_array_equal(*(serving.tflite_runner(i)("sample_seeded", seeded)["x"] for i in (a, b)))


def test_a_folder_without_a_saved_model_is_an_export_error(model, tmp_path):
    with pytest.raises(serving.ExportError, match="saved_model must be a SavedModel folder"):
        serving.convert_tflite(model, saved_model=str(tmp_path))
