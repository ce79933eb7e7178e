"""The deep spatial autoencoder (issue 18): spatial softmax, slowness, moving-objects video, contract, zoo."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from keras_ae import data, objectives, testing
from keras_ae.evaluation import feature_points
from keras_ae.data import video
from keras_ae.layers import SpatialSoftmax
from keras_ae.models import DeepSpatialAutoencoder

# -- spatial softmax ---------------------------------------------------------------------------
def test_spatial_softmax_gives_the_peak_of_a_one_hot_map_and_the_centre_of_a_uniform_one():
    height, width = 5, 7
    maps = np.zeros((3, height, width, 2), np.float32)
    maps[0, 1, 4, 0] = maps[0, 3, 0, 1] = 1.0  # example 0: channel 0 peaks at row 1, column 4; channel 1 at (3, 0)
    maps[1, 4, 6, :] = 1.0  # example 1: both at the bottom-right pixel
    # example 2 stays uniform (all zero)
    layer = SpatialSoftmax(temperature=1e-3, learn_temperature=False, flatten=False)
    points = layer(maps).numpy()
    x = lambda column: -1.0 + 2.0 * column / (width - 1)  # noqa: E731
    y = lambda row: -1.0 + 2.0 * row / (height - 1)  # noqa: E731
    np.testing.assert_allclose(points[0], [[x(4), y(1)], [x(0), y(3)]], atol=1e-6)
    np.testing.assert_allclose(points[1], [[1.0, 1.0], [1.0, 1.0]], atol=1e-6)
    np.testing.assert_allclose(points[2], np.zeros((2, 2)), atol=1e-6)
    # Any temperature leaves a uniform map at the centre; flat output interleaves (x_c, y_c).
    uniform = SpatialSoftmax(temperature=3.0)(np.full((1, 4, 4, 3), 0.7, np.float32)).numpy()
    np.testing.assert_allclose(uniform, np.zeros((1, 6)), atol=1e-6)
    flat = SpatialSoftmax(temperature=1e-3, learn_temperature=False)(maps[:1]).numpy()
    np.testing.assert_allclose(flat[0], points[0].reshape(-1), atol=1e-6)


def test_spatial_softmax_temperature_is_a_weight_when_learned_and_checked():
    learned = SpatialSoftmax(temperature=0.5)
    learned.build((None, 4, 4, 1))
    assert [w.name for w in learned.trainable_weights] == ["log_temperature"]
    np.testing.assert_allclose(np.exp(learned.log_temperature.numpy()), 0.5, rtol=1e-6)
    fixed = SpatialSoftmax(temperature=0.5, learn_temperature=False)
    fixed.build((None, 4, 4, 1))
    assert not fixed.trainable_weights
    with pytest.raises(ValueError, match="temperature must be > 0"):
        SpatialSoftmax(temperature=0.0)


# -- slowness ------------------------------------------------------------------------------------
def test_slowness_is_zero_for_constant_velocity_and_positive_otherwise():
    rng = np.random.default_rng(0)
    start, velocity = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))
    f = [tf.constant(start + t * velocity, tf.float32) for t in range(3)]
    np.testing.assert_allclose(objectives.slowness(*f).numpy(), np.zeros(5), atol=1e-5)
    acceleration = rng.normal(size=(5, 6))
    bent = [tf.constant(start + t * velocity + 0.5 * t * t * acceleration, tf.float32) for t in range(3)]
    # f_next - 2 f + f_prev = acceleration, so the term is ||acceleration||^2 per example.
    np.testing.assert_allclose(objectives.slowness(*bent).numpy(), np.sum(acceleration**2, axis=1), rtol=1e-5)


def test_the_models_slowness_term_is_that_of_its_feature_points():
    model = DeepSpatialAutoencoder(input_shape=(8, 8, 1), num_points=3, filters=(4,), kernel_size=3, seed=1)
    model.build()
    frames = np.random.default_rng(1).uniform(size=(3, 4, 8, 8, 1)).astype(np.float32)
    terms = model.loss_terms(frames[1], x_prev=frames[0], x_next=frames[2])
    f = [model.encode(frame) for frame in frames]
    np.testing.assert_allclose(terms["slowness"], objectives.slowness(*f), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(terms["reconstruction"], model.score(frames[1]), rtol=1e-5)
    with pytest.raises(ValueError, match="x_next"):
        model.loss_terms(frames[1], x_prev=frames[0])


def test_mixed_precision_keeps_the_spatial_softmax_in_float32():
    model = DeepSpatialAutoencoder(input_shape=(8, 8, 1), num_points=2, filters=(4,), kernel_size=3,
                                   dtype="mixed_float16", seed=0)
    model.build()
    frames = np.random.default_rng(2).uniform(size=(3, 2, 8, 8, 1)).astype(np.float32)
    assert model.feature_maps.compute_dtype == "float16" and model.encode(frames[1]).dtype == tf.float32
    terms = model.loss_terms(frames[1], x_prev=frames[0], x_next=frames[2])
    assert all(np.all(np.isfinite(v)) for v in terms.values())


# -- the moving-objects video ----------------------------------------------------------------------
def test_the_video_is_deterministic_per_seed_and_split_by_sequence():
    generator = video.MovingObjects()
    a_frames, a_positions = generator.sequence(seed=(1, 5))
    b_frames, b_positions = video.MovingObjects().sequence(seed=(1, 5))
    np.testing.assert_array_equal(a_frames, b_frames)
    np.testing.assert_array_equal(a_positions, b_positions)
    other, _ = generator.sequence(seed=(1, 6))
    assert not np.array_equal(a_frames, other)
    train = video.load_video_sequences("moving-objects", "train")
    test = video.load_video_sequences("moving-objects", "test")
    assert train.frames.shape == (512, 16, 32, 32, 1) and test.positions.shape == (128, 16, 3, 2)
    np.testing.assert_array_equal(train.frames[5], a_frames)  # training sequence i is seed (1, i)
    assert not any(np.array_equal(test.frames[i], train.frames[i]) for i in range(8))
    x, y = data.load_arrays("moving-objects", "test")
    np.testing.assert_array_equal(x, test.frames.reshape((-1, 32, 32, 1)))
    assert np.all(y == -1) and data.dataset_shape("moving-objects") == (32, 32, 1)
    assert 0.0 <= x.min() and x.max() <= 1.0
    # Positions stay inside the frame (objects bounce off the walls); velocities are smooth between bounces.
    assert np.all(np.abs(train.positions) < 1.0)


def test_the_positions_are_where_the_objects_are_drawn():
    generator = video.MovingObjects()
    frames, positions = generator.sequence(seed=(0, 3))
    # The frames are the rendering of the positions ...
    np.testing.assert_allclose(generator.render(positions), frames, atol=1e-4)
    # ... and each object, drawn alone, is centred on its position at its own brightness.
    columns, rows = np.meshgrid(np.arange(32), np.arange(32))
    for k in range(generator.num_objects):
        alone = np.full_like(positions, -5.0)  # the other objects far outside the frame
        alone[:, k] = positions[:, k]
        image = generator.render(alone)[..., 0]  # [T, 32, 32]
        mass = image.sum(axis=(1, 2))
        centre_x = (image * columns).sum(axis=(1, 2)) / mass
        centre_y = (image * rows).sum(axis=(1, 2)) / mass
        expected = video.unit_to_pixel(positions[:, k], 32)
        np.testing.assert_allclose(centre_x, expected[:, 0], atol=0.05)
        np.testing.assert_allclose(centre_y, expected[:, 1], atol=0.05)
        np.testing.assert_allclose(image.max(axis=(1, 2)), generator.brightness[k], atol=1e-6)


def test_windows_are_consecutive_frames_of_one_sequence():
    frames = np.arange(2 * 5, dtype=np.float32).reshape(2, 5, 1, 1, 1)  # frame value = 5 s + t
    windows = video.frame_windows(frames, positions=np.arange(10).reshape(2, 5))
    np.testing.assert_array_equal(windows["x"].ravel(), [1, 2, 3, 6, 7, 8])
    np.testing.assert_array_equal(windows["x_prev"].ravel(), [0, 1, 2, 5, 6, 7])
    np.testing.assert_array_equal(windows["x_next"].ravel(), [2, 3, 4, 7, 8, 9])
    np.testing.assert_array_equal(windows["positions"], [1, 2, 3, 6, 7, 8])
    batches = list(video.window_pipeline(frames / 10.0, batch_size=4, shuffle=True, seed=0).as_numpy_iterator())
    x = np.concatenate([b["x"] for b in batches]).ravel()
    np.testing.assert_allclose(np.sort(x), [0.1, 0.2, 0.3, 0.6, 0.7, 0.8], atol=1e-6)
    for b in batches:
        np.testing.assert_allclose(b["x_prev"] + 0.1, b["x"], atol=1e-6)
        np.testing.assert_allclose(b["x_next"] - 0.1, b["x"], atol=1e-6)
    with pytest.raises(ValueError, match="T >= 3"):
        video.frame_windows(frames[:, :2])


# -- the metric -------------------------------------------------------------------------------------
class _OracleCodes:
    """A stand-in model whose code is a linear function of the true positions (plus a useless unit)."""

    def __init__(self, lookup):
        self.lookup = lookup
        self.code_spec = tf.TensorSpec((7,), tf.float32)

    def encode(self, x):
        positions = self.lookup[np.asarray(x)[:, 0, 0, 0].astype(int)].reshape(len(x), -1)
        return np.concatenate([2.0 * positions[:, ::-1] + 1.0, np.ones((len(x), 1))], axis=1)


def test_position_r2_is_one_for_a_linear_code_and_low_for_an_unrelated_one():
    rng = np.random.default_rng(0)
    positions = rng.uniform(-1, 1, size=(300, 3, 2))
    frames = np.zeros((300, 2, 2, 1), np.float32)
    frames[:, 0, 0, 0] = np.arange(300)  # the frame names its own positions
    model = _OracleCodes(positions)
    r2 = feature_points.position_r2(model, frames[:200], positions[:200], frames[200:], positions[200:])
    assert r2["r2"] > 0.999999 and r2["r2_min"] > 0.999999 and len(r2["r2_per_coordinate"]) == 6
    shuffled = _OracleCodes(positions[rng.permutation(300)])
    r2 = feature_points.position_r2(shuffled, frames[:200], positions[:200], frames[200:], positions[200:])
    assert r2["r2"] < 0.1
    with pytest.raises(ValueError, match="one position array per frame"):
        feature_points.position_r2(model, frames[:200], positions[:100], frames[200:], positions[200:])


# -- the contract ---------------------------------------------------------------------------------------
def test_a_tiny_spatial_autoencoder_gives_feature_points_and_a_downsampled_target():
    frames = video.MovingObjects(image_size=8, num_objects=1, object_radius=1.5, sequence_length=6).sequences(
        [(0, i) for i in range(4)]).frames  # [4, 6, 8, 8, 1] -> 16 triples
    windows = video.frame_windows(frames)

    def make():
        return DeepSpatialAutoencoder(input_shape=(8, 8, 1), num_points=3, filters=(4,), kernel_size=3,
                                      hidden_units=(8,), slowness_weight=0.5, seed=3)

    # The harness (both paths, 2 replicas, export) runs on the "spatial-ae" tiny configuration of
    # keras_ae/models/spatial/presets.py (tests/test_harness_configs.py); here what a feature-point model adds.
    model = make()
    assert sorted(model.export_endpoints()) == ["decode", "encode", "reconstruct", "score"]
    points = model.feature_points(windows["x"][:5]).numpy()
    assert points.shape == (5, 3, 2) and np.all(np.abs(points) <= 1.0)
    assert model.encode_outputs(windows["x"][:2])["feature_points"].shape == (2, 3, 2)
    assert model.reconstruct(windows["x"][:2]).shape == (2, 8, 8, 1)
    assert model.decode_target(model.encode(windows["x"][:2])).shape == (2, 4, 4, 1)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="target_downsample must divide"):
        DeepSpatialAutoencoder(input_shape=(10, 10, 1), target_downsample=3)
    with pytest.raises(ValueError, match="strides must give one stride"):
        DeepSpatialAutoencoder(input_shape=(8, 8, 1), filters=(4, 4), strides=(2,))
    with pytest.raises(ValueError, match="architecture must be one of"):
        DeepSpatialAutoencoder(input_shape=(8, 8, 1), architecture="mlp")
    with pytest.raises(ValueError, match="frames of shape"):
        DeepSpatialAutoencoder(input_shape=(64,))


# -- the zoo ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_zoo_trains_on_frame_triples_and_reports_the_position_r2(tmp_path, capsys):
    from zoo.cli import main

    run_dir = tmp_path / "run"
    tiny = ["--set", "filters=[4]", "--set", "strides=[2]", "--set", "num_points=4", "--set", "kernel_size=3",
            "--set", "hidden_units=[]"]
    assert main(["train", "spatial-ae-video", "--epochs", "1", "--batch-size", "512", "--out", str(run_dir),
                 "--quiet", *tiny]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("position_r2", "position_r2_min", "position_r2_train", "test_reconstruction", "test_slowness"):
        assert key in metrics and key in metrics["definitions"], key
    assert -1.0 < metrics["position_r2"] <= 1.0 and metrics["num_test"] == 128 * 14
    assert (run_dir / "feature_points.png").is_file() and (run_dir / "reconstructions.png").is_file()
    os.remove(run_dir / "metrics.json")
    assert main(["eval", str(run_dir), "--quiet"]) == 0
    recomputed = json.loads((run_dir / "metrics.json").read_text())
    assert recomputed["position_r2"] == pytest.approx(metrics["position_r2"], abs=1e-9)
    assert recomputed["test_slowness"] == pytest.approx(metrics["test_slowness"], rel=1e-6)


def test_zoo_refuses_a_dataset_without_sequences_for_a_model_that_needs_them():
    from zoo import runner
    from keras_ae.presets import RECIPES

    recipe = RECIPES["spatial-ae-video"]
    model = runner.build_model(recipe, (8, 8, 1), seed=0, filters=(4,), strides=(1,), num_points=2)
    x = np.zeros((4, 8, 8, 1), np.float32)
    with pytest.raises(runner.CliError, match="digits is not a video dataset; train it on one \\(moving-objects"):
        runner.training_pipelines(model, recipe, "digits", x, x, 2, 0)
    assert runner.position_metrics(model, "digits") == {} and runner.test_positions("digits") is None
