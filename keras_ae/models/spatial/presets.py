"""Recipes of the deep spatial autoencoder (Finn et al. 2016) on the procedural moving-objects video.

The pair differs only in the slowness term: ``spatial-ae-video`` trains on reconstruction +
``slowness_weight`` * g_slow, ``spatial-ae-video-noslow`` on the reconstruction alone (g_slow is
still logged). ``python -m zoo train`` feeds both consecutive-frame triples, and the run's
``metrics.json`` has ``position_r2``: how well a linear map of the feature points predicts the
true object positions on held-out sequences.
"""

from keras_ae.presets.registry import Recipe, TestConfig, register, register_test_configs

#: 64 feature points from three 3x3 convolutions (the first of stride 2: the points' maps are
#: 16x16), an MLP decoder (128 units) to the 16x16 grey target. Chosen on the moving-objects video
#: (README, "Feature points from video"): the paper's linear decoder and larger receptive fields
#: gave feature points that drift to the frame's centre and locate the objects worse (R^2 0.5-0.7),
#: and 32 points located them worse than 64 (test R^2 0.893 against 0.953 with the slowness term).
VIDEO_BODY = dict(architecture="conv", num_points=64, filters=(16, 16), strides=(2, 1), kernel_size=3,
                  target_downsample=2, hidden_units=(128,))

register(
    Recipe("spatial-ae-video", "DeepSpatialAutoencoder", {**VIDEO_BODY, "slowness_weight": 30.0}, "moving-objects",
           "Deep spatial autoencoder, 64 feature points, slowness term 30 (moving-objects video)",
           epochs=8, batch_size=64, learning_rate=3e-3),
    Recipe("spatial-ae-video-noslow", "DeepSpatialAutoencoder", {**VIDEO_BODY, "slowness_weight": 0.0},
           "moving-objects", "Deep spatial autoencoder, 64 feature points, no slowness term (moving-objects video)",
           epochs=8, batch_size=64, learning_rate=3e-3),
)

#: Tiny configurations through the contract harness (tests/test_harness_configs.py): every graph-changing
#: argument value of the recipes above.
_TINY = dict(architecture="conv", num_points=3, filters=(4, 4), strides=(2, 1), kernel_size=3, target_downsample=2,
             hidden_units=(8,))
register_test_configs(
    TestConfig("spatial-ae", "DeepSpatialAutoencoder", dict(_TINY, slowness_weight=0.5), input_shape=(8, 8, 1),
               grey=True),
    TestConfig("spatial-ae-noslow", "DeepSpatialAutoencoder", dict(_TINY, slowness_weight=0.0),
               input_shape=(8, 8, 1), grey=True, saved_model=False, tflite=False),
)
