"""Every exported signature served as TF Serving serves it: TF's session loader, by SignatureDef.

TF Serving does not call ``tf.saved_model.load``: it loads a SavedModel into a TF1 session
(``tf.compat.v1.saved_model.loader.load`` with the ``serve`` tag) and runs a signature by feeding
the tensors its SignatureDef names for the inputs and fetching those it names for the outputs.
Here one tiny configuration per model (``keras_ae.presets`` TEST_CONFIGS with ``saved_model``, the
first by name, as ``tests/test_serving.py`` picks them) is exported with the REST bodies the
export writes (``export.cli.write_requests``: the ``requests/`` files users get), and a process
that never imports keras_ae feeds each body to its signature through that loader, a conditional
model's labels included. Deterministic outputs equal Keras's within ``1e-5`` (relative above 1,
``assert_same_float32_graph``); stochastic ones (``sample``, a stochastic decoder) are checked on
shape, finiteness, the data range and fresh draws. ``saved_model_cli run`` (the same loader)
runs a VAE's ``score`` and ``sample`` from the same bodies.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_ae import serving
from keras_ae.presets import TEST_CONFIGS

from export.cli import write_requests
from tests.test_harness_configs import build, config_batch
from tests.test_serving import assert_same_float32_graph

#: one configuration per model: the first by name that exports a SavedModel
REPRESENTATIVES = {}
for _name, _config in sorted(TEST_CONFIGS.items()):
    if _config.saved_model:
        REPRESENTATIVES.setdefault(_config.model, _config)

SESSION_SCRIPT = textwrap.dedent(r'''
    """Run every signature of SavedModels through TF's TF1 session loader, fed by the REST bodies."""
    import json
    import os
    import sys

    import numpy as np
    import tensorflow as tf

    v1 = tf.compat.v1


    def columns(body, inputs):
        """TF Serving's mapping of a :predict body to one array per SignatureDef input key."""
        if "instances" in body:
            rows = body["instances"]
            if isinstance(rows[0], dict):
                found = {k: [row[k] for row in rows] for k in rows[0]}
            else:  # bare values: the signature has one input
                found = {next(iter(inputs)): rows}
        else:
            found = body["inputs"] if isinstance(body["inputs"], dict) else {next(iter(inputs)): body["inputs"]}
        assert set(found) == set(inputs), (sorted(found), sorted(inputs))
        return {k: np.asarray(v, dtype=tf.as_dtype(inputs[k].dtype).as_numpy_dtype) for k, v in found.items()}


    jobs = json.load(open(sys.argv[1]))
    report = {}
    for job in jobs:
        entry = report[job["name"]] = {"signatures": {}}
        with tf.Graph().as_default() as graph, v1.Session(graph=graph) as sess:
            meta = v1.saved_model.loader.load(sess, ["serve"], job["path"])
            for sig, sigdef in sorted(meta.signature_def.items()):
                if sig == "__saved_model_init_op":  # TF2's initializer entry, run by the loader itself
                    continue
                # serving_default answers the reconstruct body without a signature_name
                request = os.path.join(job["requests"], ("reconstruct" if sig == "serving_default" else sig) + ".json")
                with open(request) as f:
                    body = json.load(f)
                feed = columns(body, sigdef.inputs)
                feed_tensors = {sigdef.inputs[k].name: v for k, v in feed.items()}
                fetch = {k: t.name for k, t in sigdef.outputs.items()}
                for tag in ("a", "b"):  # twice: stochastic signatures must draw afresh
                    outputs = sess.run(fetch, feed_dict=feed_tensors)
                    np.savez(os.path.join(job["out"], f"{sig}.{tag}.npz"), **outputs)
                np.savez(os.path.join(job["out"], f"{sig}.inputs.npz"), **feed)
                entry["signatures"][sig] = {"method": sigdef.method_name,
                                            "inputs": {k: t.name for k, t in sigdef.inputs.items()},
                                            "outputs": fetch}
    report["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("keras_ae", "zoo", "export"))
    print(json.dumps(report))
''')


def clean_env():
    """The environment of a process that cannot import the checkout (no PYTHONPATH, another cwd)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("PYTHONPATH", None)
    return env


def export_with_requests(model, x, base, name):
    """The SavedModel of ``model`` under ``base`` and the REST bodies the export writes beside it."""
    path = serving.export_saved_model(model, base, name)
    requests = os.path.join(path, "requests")  # where the export puts them (TF Serving ignores the folder)
    os.makedirs(requests)
    write_requests(requests, model, path, x)
    return path, requests


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Each representative exported, and every signature of each run through the session loader."""
    root = tmp_path_factory.mktemp("session")
    built, jobs = {}, []
    for model_name, config in sorted(REPRESENTATIVES.items()):
        keras.utils.set_random_seed(0)  # the same tiny weights whatever ran before
        model = build(config)
        model.build()
        x, _, _, _ = config_batch(config)
        model.post_fit(x, seed=0)  # e.g. the ex-post density that sample draws from
        path, requests = export_with_requests(model, x, str(root / "models"), config.name)
        out = root / "out" / config.name
        out.mkdir(parents=True)
        built[model_name] = model
        jobs.append({"name": model_name, "path": path, "requests": requests, "out": str(out)})
    script = root / "session_loader.py"
    script.write_text(SESSION_SCRIPT)
    (root / "jobs.json").write_text(json.dumps(jobs))
    proc = subprocess.run([sys.executable, str(script), str(root / "jobs.json")], capture_output=True, text=True,
                          cwd=str(root), env=clean_env(), timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return built, {job["name"]: job for job in jobs}, report


@pytest.mark.slow
def test_the_session_process_never_imports_keras_ae(served):
    _, jobs, report = served
    assert report["modules"] == []
    assert set(jobs) <= set(report)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", sorted(REPRESENTATIVES))
def test_every_signature_runs_through_the_session_loader(model_name, served):
    built, jobs, report = served
    model, job = built[model_name], jobs[model_name]
    endpoints = model.export_endpoints()
    signatures = report[model_name]["signatures"]
    assert set(signatures) == set(endpoints) | {"serving_default"}
    functions = serving.export_functions(model)
    for sig, described in signatures.items():
        name = "reconstruct" if sig == "serving_default" else sig
        endpoint = endpoints[name]
        assert described["method"] == "tensorflow/serving/predict"
        assert sorted(described["inputs"]) == sorted(spec.name for spec in endpoint.inputs)
        fed = dict(np.load(os.path.join(job["out"], f"{sig}.inputs.npz")))
        fn, specs = functions[name]
        reference = {k: np.asarray(v) for k, v in fn(*[tf.constant(fed[s.name], s.dtype) for s in specs]).items()}
        a = dict(np.load(os.path.join(job["out"], f"{sig}.a.npz")))
        b = dict(np.load(os.path.join(job["out"], f"{sig}.b.npz")))
        assert set(a) == set(reference), (sig, sorted(a), sorted(reference))
        for key, value in reference.items():
            assert a[key].shape == value.shape, (sig, key, a[key].shape, value.shape)
            if not endpoint.stochastic:
                assert_same_float32_graph(a[key], value, (model_name, sig, key))
                assert_same_float32_graph(b[key], value, (model_name, sig, key))
                continue
            assert np.all(np.isfinite(a[key])), (model_name, sig, key)
            if model.unit_interval_data and a[key].shape[1:] == tuple(model.data_shape):
                assert a[key].min() >= 0.0 and a[key].max() <= 1.0, (model_name, sig, key)
        if endpoint.stochastic and name == "sample":  # the draw of n examples, fresh at every run
            drawn = next(v for k, v in a.items() if v.shape[1:] == tuple(model.data_shape))
            # n examples, or one per condition row of a conditional sample (its y)
            count = int(fed["n"]) if "n" in fed else len(next(iter(fed.values())))
            assert len(drawn) == count > 0
            assert any(not np.array_equal(a[k], b[k]) for k in a), (model_name, "sample is not fresh")


def test_session_loader_mapping_of_rest_bodies():
    """The body-to-feed mapping the session process uses, on the three REST formats."""
    namespace = {}
    exec(SESSION_SCRIPT.split("\njobs = ")[0], namespace)  # the helpers only, not the job loop

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
