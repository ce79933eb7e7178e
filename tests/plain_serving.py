"""SavedModels served by a process that never imports keras_ae: the script, its jobs and the checks.

One process (``PLAIN_SCRIPT``, started with no ``PYTHONPATH`` from another folder, so the checkout
cannot be imported) serves each job two ways:

- as TF Serving does (a job with ``requests``): TF's TF1 session loader
  (``tf.compat.v1.saved_model.loader.load`` with the ``serve`` tag), every SignatureDef fed the
  REST body the export writes for it (``export.cli.write_requests``), run twice;
- with ``tf.saved_model.load`` (a job with ``x``): every signature run on the job's data, codes,
  a count and a seed.

Deterministic outputs must equal Keras's within ``1e-5`` (relative above 1,
:func:`assert_same_float32_graph`); stochastic ones are checked on shape, finiteness, the data
range and fresh draws. Used by ``tests/test_serving.py`` (its three trained models) and by the
harness shards (``tests/test_harness_configs.py``: one tiny configuration per zoo model, its
harnessed SavedModel).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import tensorflow as tf

from keras_ae import serving

PLAIN_SCRIPT = textwrap.dedent(r'''
    """Serve SavedModels with TensorFlow and NumPy only: TF's session loader fed REST bodies, and tf.saved_model.load."""
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


    def session_loader(job):
        """Every SignatureDef through the TF1 session loader, fed its REST body, run twice; outputs saved."""
        signatures = {}
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
                signatures[sig] = {"method": sigdef.method_name,
                                   "inputs": {k: t.name for k, t in sigdef.inputs.items()},
                                   "outputs": fetch}
        return signatures


    def saved_model_load(job):
        """Every signature of ``tf.saved_model.load`` on the job's data, codes, a count and a seed; outputs saved."""
        signatures = tf.saved_model.load(job["path"]).signatures
        x, z = np.load(job["x"]), dict(np.load(job["z"]))  # z: the decode inputs by name (z, or top and bottom)
        names = sorted(signatures)
        for name in names:
            fn = signatures[name]
            if name == "sample":
                runs = {"a": fn(n=tf.constant(3), temperature=tf.constant(1.0)),
                        "b": fn(n=tf.constant(3), temperature=tf.constant(1.0))}
            elif name == "sample_seeded":
                runs = {"": fn(n=tf.constant(3), seed=tf.constant(11), temperature=tf.constant(1.0))}
            elif name == "decode":
                runs = {"": fn(**{k: tf.constant(v) for k, v in z.items()})}
            else:
                runs = {"": fn(x=tf.constant(x))}
            for tag, outputs in runs.items():
                for key, value in outputs.items():
                    np.save(os.path.join(job["out"], f"{name}.{key}{tag}.npy"), value.numpy())
        return names

    jobs = json.load(open(sys.argv[1]))
    report = {}
    for job in jobs:
        entry = report[job["path"]] = {}
        if "requests" in job:
            entry["session"] = session_loader(job)
        if "x" in job:
            entry["loaded"] = saved_model_load(job)
    # `import tensorflow` itself imports keras; what must stay out is our code.
    report["modules"] = sorted(m for m in sys.modules if m.split(".")[0] in ("keras_ae", "zoo", "export"))
    print(json.dumps(report))
''')

#: the inputs the ``tf.saved_model.load`` pass gives a signature: data, codes (by their names), a count and a seed.
PLAIN_INPUTS = {"x", "n", "seed", "temperature"}


def clean_env():
    """The environment of a process that cannot import the checkout (no PYTHONPATH, another cwd)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    env.pop("PYTHONPATH", None)
    return env


def run_plain_process(jobs, folder, timeout=1800):
    """Run ``PLAIN_SCRIPT`` on ``jobs`` in a fresh interpreter from ``folder``; returns its JSON report
    (``{path: {"session": {signature: SignatureDef summary}, "loaded": [signature names]}, "modules": [...]}``)."""
    script = os.path.join(folder, "serve_plain.py")
    with open(script, "w") as f:
        f.write(PLAIN_SCRIPT)
    jobs_file = os.path.join(folder, "jobs.json")
    with open(jobs_file, "w") as f:
        json.dump(jobs, f)
    proc = subprocess.run([sys.executable, script, jobs_file], capture_output=True, text=True,
                          cwd=str(folder), env=clean_env(), timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plain_servable(model):
    """Whether the ``tf.saved_model.load`` pass can feed every signature (no condition or other extra input)."""
    codes = set(model.code_spec) if isinstance(model.code_spec, dict) else {"z"}
    endpoints = model.export_endpoints()
    return set(endpoints) <= {"reconstruct", "encode", "decode", "score", "sample", "sample_seeded"} and all(
        spec.name in PLAIN_INPUTS | codes for endpoint in endpoints.values() for spec in endpoint.inputs)


def make_job(model, path, folder, x=None, requests=None):
    """A job of ``PLAIN_SCRIPT``: the session-loader pass with ``requests`` (the REST bodies' folder),
    the ``tf.saved_model.load`` pass with ``x`` (written with its codes to ``folder``)."""
    os.makedirs(folder, exist_ok=True)
    job = {"path": path, "out": folder}
    if requests is not None:
        job["requests"] = requests
    if x is not None:
        job["x"], job["z"] = os.path.join(folder, "x.npy"), os.path.join(folder, "z.npz")
        np.save(job["x"], x)
        # the exported decode's inputs by name: {"z": codes}, or one entry per part of a structured code
        np.savez(job["z"], **serving.probe_inputs(model, model.export_endpoints()["decode"], x))
    return job


def assert_same_float32_graph(got, expected, what=""):
    """Outputs of one float32 graph run twice (another process, another kernel order): within
    1e-5 of ``max(1, |value|)``. A score sums hundreds of pixel terms, so a value of 255 may move
    by one ulp (1.5e-5); the reorder error of such a sum is ~sqrt(784) eps ~ 3e-6 relative."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    error = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert np.max(error, initial=0.0) <= 1e-5, (what, np.max(np.abs(got - expected), initial=0.0))


def keras_reference(model, x):
    """Keras's answer of each plainly fed signature on ``x``, and the code (``None`` for a structured code)."""
    enc = {k: np.asarray(v) for k, v in model.encode_outputs(tf.constant(x)).items()}
    return {
        "encode": enc,
        "decode": {"reconstruction": np.asarray(model.decode(model.encode(x)))},  # a structured code too
        "reconstruct": {"reconstruction": np.asarray(model.reconstruct(x))},
        "serving_default": {"reconstruction": np.asarray(model.reconstruct(x))},
        "score": {"score": np.asarray(model.score(x))},
    }, enc.get("code")  # a structured code (VQ-VAE-2) has one entry per part instead


def check_loaded_outputs(model, job, names):
    """The ``tf.saved_model.load`` pass against Keras: deterministic paths within 1e-5 (relative above 1)."""
    x = np.load(job["x"])
    reference, _ = keras_reference(model, x)
    expected = set(reference) | ({"sample", "sample_seeded"} if model.is_generative else set())
    assert set(names) == expected, names
    endpoints = model.export_endpoints()
    for sig, outputs in reference.items():
        # a stochastic decoder's draw (PixelVAE's pixels) is fresh at every call: its shape,
        # finiteness and support are checked, not its values
        stochastic = endpoints["reconstruct" if sig == "serving_default" else sig].stochastic
        for key, value in outputs.items():
            got = np.load(os.path.join(job["out"], f"{sig}.{key}.npy"))
            assert got.shape == value.shape, (sig, key)
            if stochastic:
                assert np.all(np.isfinite(got)), (model.name, sig, key)
                if model.unit_interval_data:
                    assert got.min() >= 0.0 and got.max() <= 1.0, (model.name, sig, key)
            else:
                assert_same_float32_graph(got, value, (model.name, sig, key))
    if model.is_generative:
        # the seeded signature is model.sample(n, seed) in a process that never imported keras_ae
        seeded = np.load(os.path.join(job["out"], "sample_seeded.x.npy"))
        assert_same_float32_graph(seeded, np.asarray(model.sample(3, seed=11)), "sample_seeded")
        a = np.load(os.path.join(job["out"], "sample.xa.npy"))
        b = np.load(os.path.join(job["out"], "sample.xb.npy"))
        assert a.shape == (3,) + tuple(model.data_shape)
        assert np.all(np.isfinite(a)) and not np.array_equal(a, b)
        if model.unit_interval_data:
            assert a.min() >= 0.0 and a.max() <= 1.0


def check_session_outputs(model, job, signatures, label=""):
    """The session-loader pass against Keras: every SignatureDef described as TF Serving reads it,
    deterministic outputs of both runs within 1e-5 (relative above 1), stochastic ones finite, in
    the data range, and a ``sample`` of the asked count that is fresh between the runs."""
    endpoints = model.export_endpoints()
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
                assert_same_float32_graph(a[key], value, (label, sig, key))
                assert_same_float32_graph(b[key], value, (label, sig, key))
                continue
            assert np.all(np.isfinite(a[key])), (label, sig, key)
            if model.unit_interval_data and a[key].shape[1:] == tuple(model.data_shape):
                assert a[key].min() >= 0.0 and a[key].max() <= 1.0, (label, sig, key)
        if endpoint.stochastic and name == "sample":  # the draw of n examples, fresh at every run
            drawn = next(v for k, v in a.items() if v.shape[1:] == tuple(model.data_shape))
            # n examples, or one per condition row of a conditional sample (its y)
            count = int(fed["n"]) if "n" in fed else len(next(iter(fed.values())))
            assert len(drawn) == count > 0
            assert any(not np.array_equal(a[k], b[k]) for k in a), (label, "sample is not fresh")
