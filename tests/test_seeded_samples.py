"""Seeded sampling: counter-based noise, temperature, and the same samples in Keras, SavedModel and TFLite.

- the counter-based generator (:mod:`keras_ae.counter_noise`): its uniforms pass Kolmogorov-Smirnov
  and chi-square tests, are uncorrelated across neighbouring counters, folds and seeds, and its
  bits are the same in TF and LiteRT;
- ``temperature``: validated (a finite number > 0), ``T = 1`` is the prior itself (moments of a
  standard normal prior's codes), ``T`` scales them;
- one representative tiny configuration per generative family: for fixed ``(n, seed)`` at
  ``T = 1`` and ``T = 0.5``, ``model.sample``, the SavedModel's ``sample_seeded`` (in a process
  that never imports keras_ae) and the float32 TFLite file's ``sample_seeded`` agree within 1e-5
  (relative above 1), and the two temperatures give different samples (except the families whose
  prior is uniform, where tempering is the identity: equal samples, as the math says).

Statistical tests use a false-alarm rate of 1e-4 each (p-value threshold), so the whole file
raises a false alarm less often than once in 1,000 runs; the seeds are fixed, so a run repeats.
"""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import scipy.stats
import tensorflow as tf

from keras_ae import counter_noise, samplers, serving

ALPHA = 1e-4  # false-alarm rate of each statistical test


def _uniforms(seed, n, stream=None):
    key = counter_noise.key(seed)
    if stream is not None:
        key = counter_noise.fold(key, stream)
    return counter_noise.uniform(key, [n]).numpy().astype(np.float64)


def test_uniforms_pass_kolmogorov_smirnov_and_chi_square():
    u = _uniforms(3, 200_000)
    assert 0.0 < u.min() and u.max() < 1.0
    assert scipy.stats.kstest(u, "uniform").pvalue > ALPHA
    counts = np.bincount((u * 1000).astype(int), minlength=1000)
    assert scipy.stats.chisquare(counts).pvalue > ALPHA
    # pairs of neighbouring counters: uniform on the 32 x 32 grid of the unit square (independence)
    pairs = (u[0::2] * 32).astype(int) * 32 + (u[1::2] * 32).astype(int)
    assert scipy.stats.chisquare(np.bincount(pairs, minlength=1024)).pvalue > ALPHA


def test_streams_and_seeds_are_uncorrelated():
    n = 100_000
    # |r| of independent uniforms is ~ N(0, 1/n): the two-sided 1e-4 bound is 3.9 / sqrt(n)
    bound = scipy.stats.norm.isf(ALPHA / 2) / np.sqrt(n)
    base = _uniforms(0, n)
    for other in (_uniforms(1, n), _uniforms(0, n, stream=0), _uniforms(0, n, stream=1), _uniforms(2**31 - 2, n)):
        assert abs(np.corrcoef(base, other)[0, 1]) < bound
        assert not np.array_equal(base, other)
    assert abs(np.corrcoef(base[:-1], base[1:])[0, 1]) < bound
    np.testing.assert_array_equal(base, _uniforms(0, n))  # a key is a pure function of the seed


def test_normals_and_gumbels_have_their_distributions():
    key = counter_noise.key(9)
    z = counter_noise.normal(key, [100_000]).numpy().astype(np.float64)
    assert scipy.stats.kstest(z, "norm").pvalue > ALPHA
    g = counter_noise.gumbel(counter_noise.fold(key, 1), [100_000]).numpy().astype(np.float64)
    assert scipy.stats.kstest(g, "gumbel_r").pvalue > ALPHA
    # Gumbel-max categorical: the frequencies of softmax(logits / T)
    logits = tf.math.log(tf.constant([[0.2, 0.3, 0.5]]))
    for temperature in (1.0, 0.5):
        draws = samplers.categorical(tf.tile(logits, [60_000, 1]), samplers.sampling_seed(4), temperature).numpy()
        p = np.array([0.2, 0.3, 0.5]) ** (1.0 / temperature)
        p /= p.sum()
        assert scipy.stats.chisquare(np.bincount(draws, minlength=3), 60_000 * p).pvalue > ALPHA


def test_the_generator_is_the_same_in_tflite():
    litert = pytest.importorskip("ai_edge_litert.interpreter")

    class Noise(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec((), tf.int32, name="n"), tf.TensorSpec((), tf.int32, name="seed")])
        def run(self, n, seed):
            key = counter_noise.key(seed)
            return {"bits": counter_noise.bits(key, tf.range(n)), "normal": counter_noise.normal(key, tf.stack([n])),
                    "gumbel": counter_noise.gumbel(counter_noise.fold(key, 3), tf.stack([n]))}

    module = Noise()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([module.run.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # builtins only, or it raises
    runner = litert.Interpreter(model_content=converter.convert()).get_signature_runner()
    for seed in (0, 12345, 2**31 - 1, -7):
        lite = runner(n=np.array(50_000, np.int32), seed=np.array(seed, np.int32))
        ref = {k: v.numpy() for k, v in module.run(tf.constant(50_000), tf.constant(seed)).items()}
        np.testing.assert_array_equal(lite["bits"], ref["bits"])  # integer ops: exact
        # LOG/SQRT/COS differ by ulps between runtimes: 1.2e-6 measured on 3e5 draws
        np.testing.assert_allclose(lite["normal"], ref["normal"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(lite["gumbel"], ref["gumbel"], rtol=0, atol=1e-5)


# -- temperature ------------------------------------------------------------------------------------
def _tiny_vae():
    from keras_ae.models import VAE

    model = VAE(input_shape=(4, 4, 1), latent_dim=2, hidden_units=(8,), likelihood="bernoulli", seed=0)
    model.build()
    return model


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf"), "hot", True])
def test_temperature_must_be_a_finite_positive_number(temperature):
    model = _tiny_vae()
    with pytest.raises(ValueError, match=r"temperature must be .*got " + repr(temperature)[:3]):
        model.sample(2, seed=0, temperature=temperature)


def test_temperature_one_is_the_prior_and_temperature_scales_its_noise():
    model = _tiny_vae()
    n = 40_000
    seed = samplers.sampling_seed(1)
    z1 = model._prior_codes(n, seed, 1.0).numpy().astype(np.float64)
    # N(0, I): mean within 4 standard errors (1/sqrt(n)), variance within 4 of its (sqrt(2/n))
    assert np.all(np.abs(z1.mean(0)) < 4 / np.sqrt(n))
    assert np.all(np.abs(z1.var(0) - 1.0) < 4 * np.sqrt(2.0 / n))
    assert scipy.stats.kstest(z1[:, 0], "norm").pvalue > ALPHA
    z_half = model._prior_codes(n, seed, 0.5).numpy()
    np.testing.assert_allclose(z_half, 0.5 * z1, rtol=1e-6)  # the same noise, scaled
    a, b = model.sample(3, seed=2).numpy(), model.sample(3, seed=2, temperature=1.0).numpy()
    np.testing.assert_array_equal(a, b)


# -- the same samples everywhere -------------------------------------------------------------------
#: one representative tiny configuration per generative family (keras_ae.presets TEST_CONFIGS), and
#: whether its prior is uniform (tempering leaves it unchanged).
FAMILIES = {
    "vae": False,            # VAE: standard normal prior
    "mog-prior": False,      # priors: learned mixture
    "vampprior": False,      # priors: VampPrior over a Gaussian posterior
    "maf-prior": False,      # priors: MAF flow
    "iaf-mog": False,        # parts: IAF posterior + mixture prior
    "wae-vampprior": False,  # divergences (WAE) with a VampPrior
    "cat-vae": True,         # categorical: uniform one-hot prior
    "hvae2": False,          # hierarchical
    "draw": False,           # DRAW
    "cvae": False,           # conditional
    "sdgm": False,           # semi-supervised (ADGM with skip: the auxiliary draw too)
    "m1m2": False,           # semi-supervised, two stages
    "rae": False,            # regularized: ex-post mixture density
    "made": False,           # autoregressive: MADE density
    "pixelcnn": False,       # autoregressive: PixelCNN density
    "pixelvae": False,       # autoregressive: PixelVAE (z and pixels)
    "vqvae-prior": False,    # vq: PixelCNN prior over codes
    "vqvae2-prior": False,   # vq: VQ-VAE-2 top and bottom priors
}
TEMPERATURES = (1.0, 0.5)
N, SEED = 3, 11

PLAIN_SCRIPT = textwrap.dedent(r'''
    """Run sample_seeded of SavedModels with TensorFlow and NumPy only."""
    import json
    import sys

    import numpy as np
    import tensorflow as tf

    jobs = json.load(open(sys.argv[1]))
    for job in jobs:
        fn = tf.saved_model.load(job["path"]).signatures["sample_seeded"]
        for temperature, out in job["runs"]:
            inputs = {k: tf.constant(np.asarray(v, dtype)) for k, (v, dtype) in job["inputs"].items()}
            np.save(out, fn(temperature=tf.constant(temperature, tf.float32), **inputs)["x"].numpy())
    print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("keras_ae", "zoo", "export"))))
''')


def _build(name):
    from tests.test_harness_configs import build
    from keras_ae.presets import TEST_CONFIGS

    keras.utils.set_random_seed(0)
    model = build(TEST_CONFIGS[name])
    model.build()
    x = np.random.default_rng(1).uniform(0.0, 1.0, (64,) + tuple(model.data_shape)).astype(np.float32)
    model.post_fit(x, seed=0)  # the ex-post density a RAE samples from
    return model


def _seeded_inputs(model):
    """The exported ``sample_seeded``'s inputs besides ``temperature``, and ``model.sample``'s condition."""
    names = [spec.name for spec in model.export_endpoints()["sample_seeded"].inputs]
    if "y" in names:
        y = np.asarray(model.probe_conditions(N))
        return {"y": (y.tolist(), str(y.dtype)), "seed": (SEED, "int32")}, {"y": y}
    return {"n": (N, "int32"), "seed": (SEED, "int32")}, {}


def _assert_close(got, expected, what):
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape, what
    error = np.abs(got - expected) / np.maximum(1.0, np.abs(expected))
    assert np.max(error, initial=0.0) <= 1e-5, (what, np.max(np.abs(got - expected), initial=0.0))


@pytest.mark.slow
def test_seeded_samples_are_the_same_in_keras_saved_model_and_tflite(tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    keras_samples, jobs, lite_samples = {}, [], {}
    for name in FAMILIES:
        model = _build(name)
        inputs, condition = _seeded_inputs(model)
        keras_samples[name] = {t: np.asarray(model.sample(N, seed=SEED, temperature=t, **condition))
                               for t in TEMPERATURES}
        path = serving.export_saved_model(model, str(tmp_path / "models"), name)
        jobs.append({"path": path, "inputs": inputs,
                     "runs": [(t, str(tmp_path / f"{name}.{t}.npy")) for t in TEMPERATURES]})
        tflite = str(tmp_path / f"{name}.tflite")
        info = serving.export_tflite(model, tflite, "none", measure_parity=False, signatures="sample_seeded")
        assert list(info["signatures"]) == ["sample_seeded"] and not info.get("skipped"), (name, info.get("skipped"))
        runner = Interpreter(model_path=tflite).get_signature_runner("sample_seeded")
        lite_samples[name] = {t: runner(temperature=np.array(t, np.float32),
                                        **{k: np.asarray(v, dtype) for k, (v, dtype) in inputs.items()})["x"]
                              for t in TEMPERATURES}
    script = tmp_path / "plain.py"
    script.write_text(PLAIN_SCRIPT)
    (tmp_path / "jobs.json").write_text(json.dumps(jobs))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "jobs.json")], capture_output=True, text=True,
                          cwd=str(tmp_path), env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []  # keras_ae never imported there
    for name, uniform_prior in FAMILIES.items():
        for t in TEMPERATURES:
            saved = np.load(tmp_path / f"{name}.{t}.npy")
            _assert_close(saved, keras_samples[name][t], (name, t, "SavedModel"))
            _assert_close(lite_samples[name][t], keras_samples[name][t], (name, t, "TFLite"))
    for name, uniform_prior in FAMILIES.items():
        # 64 draws, and weights moved off their initial values: an untrained autoregressive prior
        # has logits near 0 (a zero-initialized output layer: exactly 0, uniform), where tempering
        # changes little or nothing
        model = _build(name)
        rng = np.random.default_rng(2)
        for weight in model.trainable_weights:
            weight.assign(weight + rng.normal(0.0, 0.5, weight.shape).astype(weight.dtype))
        condition = _seeded_inputs(model)[1] and {"y": np.asarray(model.probe_conditions(64))}
        cold, hot = (np.asarray(model.sample(64, seed=SEED, temperature=t, **condition)) for t in (0.5, 1.0))
        if uniform_prior:
            np.testing.assert_array_equal(cold, hot, err_msg=name)
        else:
            assert np.max(np.abs(cold - hot)) > 1e-3, name
