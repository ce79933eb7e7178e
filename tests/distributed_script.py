"""Run in a fresh process: TensorFlow's logical devices must be set before it initializes.

Trains a deterministic autoencoder for a few steps on one device and under
``MirroredStrategy`` over two logical CPU devices with the same global batch and the same
initial weights, and prints the largest weight difference as JSON.
"""

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402

from keras_ae import training  # noqa: E402
from keras_ae.models import Autoencoder  # noqa: E402


def run(strategy, init_weights, x, steps, batch):
    with strategy.scope():
        model = Autoencoder(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(16,), seed=0)
        model.build()
        if init_weights is not None:
            model.set_weights(init_weights)
        start = [w.copy() for w in model.get_weights()]
        training.compile_model(model, learning_rate=1e-2)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(batch)
    history = model.fit(ds, epochs=1, steps_per_epoch=steps, shuffle=False, verbose=0)
    return start, model.get_weights(), history.history["loss"][-1]


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    batch = 64
    x = np.random.default_rng(0).uniform(size=(batch * steps, 8, 8, 1)).astype("float32")
    devices = tf.config.list_logical_devices("CPU")
    mirrored = tf.distribute.MirroredStrategy([d.name for d in devices])
    start, single, single_loss = run(tf.distribute.get_strategy(), None, x, steps, batch)
    _, multi, multi_loss = run(mirrored, start, x, steps, batch)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(single, multi))
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(start, single))
    print(json.dumps({"replicas": mirrored.num_replicas_in_sync, "max_weight_diff": diff,
                      "max_weight_change": moved, "single_loss": single_loss, "mirrored_loss": multi_loss}))


if __name__ == "__main__":
    main()
