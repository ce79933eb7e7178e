"""Every exported signature served as TF Serving serves it: TF's session loader, by SignatureDef.

TF Serving does not call ``tf.saved_model.load``: it loads a SavedModel into a TF1 session
(``tf.compat.v1.saved_model.loader.load`` with the ``serve`` tag) and runs a signature by feeding
the tensors its SignatureDef names for the inputs and fetching those it names for the outputs.
One tiny configuration per model (``keras_ae.presets`` TEST_CONFIGS with ``saved_model``, the
first by name) has its harnessed SavedModel served with the REST bodies the export writes
(``export.cli.write_requests``: the ``requests/`` files users get) by a process that never imports
keras_ae, each body fed to its signature through that loader, a conditional model's labels
included: the last test of each harness shard (``tests/test_harness_configs.py``, the script and
checks in ``tests/plain_serving.py``). Deterministic outputs equal Keras's within ``1e-5``
(relative above 1, ``assert_same_float32_graph``); stochastic ones (``sample``, a stochastic
decoder) are checked on shape, finiteness, the data range and fresh draws. Here: the script's
mapping of REST bodies to feeds, and ``saved_model_cli run`` (the same loader) on a VAE's ``score``
and ``sample`` from the same bodies.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import serving
from keras_ae.presets import TEST_CONFIGS

from export.cli import write_requests
from tests.test_harness_configs import config_batch
from tests.plain_serving import PLAIN_SCRIPT, assert_same_float32_graph, clean_env


def export_with_requests(model, x, base, name):
    """The SavedModel of ``model`` under ``base`` and the REST bodies the export writes beside it."""
    path = serving.export_saved_model(model, base, name)
    requests = os.path.join(path, "requests")  # where the export puts them (TF Serving ignores the folder)
    os.makedirs(requests)
    write_requests(requests, model, path, x)
    return path, requests


def test_session_loader_mapping_of_rest_bodies():
    """The body-to-feed mapping the session process uses, on the three REST formats."""
    namespace = {}
    exec(PLAIN_SCRIPT.split("\njobs = ")[0], namespace)  # the helpers only, not the job loop

    class Spec:
        def __init__(self, dtype):
            self.dtype = dtype.as_datatype_enum

    inputs = {"x": Spec(tf.float32), "y": Spec(tf.int32)}
    rows = {"instances": [{"x": [0.5, 1.0], "y": 2}, {"x": [0.0, 0.25], "y": 0}]}
    got = namespace["columns"](rows, inputs)
    assert got["x"].dtype == np.float32 and got["x"].shape == (2, 2) and got["y"].tolist() == [2, 0]
    assert got["y"].dtype == np.int32
    scalar = namespace["columns"]({"inputs": {"n": 3}}, {"n": Spec(tf.int32)})
    assert scalar["n"].shape == () and scalar["n"] == 3
    bare = namespace["columns"]({"instances": [[1.0], [2.0]]}, {"x": Spec(tf.float32)})
    assert bare["x"].shape == (2, 1)
    with pytest.raises(AssertionError):
        namespace["columns"]({"instances": [{"x": [1.0]}]}, inputs)


@pytest.mark.slow
def test_saved_model_cli_runs_score_and_sample_from_the_rest_bodies(tmp_path):
    """``saved_model_cli run`` by SignatureDef on a VAE: ``score`` equals Keras, ``sample`` is a draw."""
    from tests.test_harness_configs import build as build_config

    config = TEST_CONFIGS["vae"]
    keras.utils.set_random_seed(0)
    model = build_config(config)
    model.build()
    x, _, _, _ = config_batch(config)
    path, requests = export_with_requests(model, x, str(tmp_path / "models"), "vae")
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    specs = {sig: dict(zip([s.name for s in spec], spec)) for sig, (_, spec) in serving.export_functions(model).items()}
    for sig in ("score", "sample"):
        with open(os.path.join(requests, f"{sig}.json")) as f:
            body = json.load(f)
        if "instances" in body:
            fed = {k: np.asarray([row[k] for row in body["instances"]], specs[sig][k].dtype.as_numpy_dtype)
                   for k in body["instances"][0]}
        else:
            fed = {k: np.asarray(v, specs[sig][k].dtype.as_numpy_dtype) for k, v in body["inputs"].items()}
        arguments, files = [], []
        for k, v in fed.items():
            if v.ndim == 0:  # a scalar as a Python literal (--input_exprs), the rest as .npy files (--inputs)
                arguments.append(f"{k}={v.item()}")
            else:
                np.save(tmp_path / f"{sig}.{k}.npy", v)
                files.append(f"{k}={tmp_path / f'{sig}.{k}.npy'}")
        out = tmp_path / f"{sig}.out"
        command = [cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", sig, "--outdir", str(out)]
        command += (["--inputs", ";".join(files)] if files else []) + (
            ["--input_exprs", ";".join(arguments)] if arguments else [])
        run = subprocess.run(command, capture_output=True, text=True, cwd=str(tmp_path), env=clean_env(), timeout=300)
        assert run.returncode == 0, run.stderr[-2000:]
        if sig == "score":
            assert_same_float32_graph(np.load(out / "score.npy"), model.score(fed["x"]), "saved_model_cli score")
        else:
            drawn = np.load(out / "x.npy")
            assert drawn.shape == (int(fed["n"]),) + tuple(model.data_shape)
            assert np.all(np.isfinite(drawn)) and drawn.min() >= 0.0 and drawn.max() <= 1.0
