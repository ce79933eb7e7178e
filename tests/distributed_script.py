"""Run in a fresh process: TensorFlow's logical devices must be set before it initializes.

``distributed_script.py [STEPS]``: trains a deterministic autoencoder for STEPS steps on one
device and under ``MirroredStrategy`` over two logical CPU devices with the same global batch and
the same initial weights, and prints the largest weight difference as JSON.

``distributed_script.py vae``: for a VAE, prints (as JSON) whether the two replicas draw different
noise for the same batch, and the ELBO logged by ``fit`` on one device and on two replicas with
the standard error of their difference.
"""

import json
import sys

import numpy as np
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)


from keras_ae import training  # noqa: E402
from keras_ae.models import VAE, Autoencoder  # noqa: E402


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


def vae_main(steps=4, batch=64):
    x = (np.random.default_rng(0).uniform(size=(batch * steps, 8, 8, 1)) < 0.4).astype("float32")
    devices = tf.config.list_logical_devices("CPU")
    mirrored = tf.distribute.MirroredStrategy([d.name for d in devices])
    results = {}
    for name, strategy in (("single", tf.distribute.get_strategy()), ("mirrored", mirrored)):
        with strategy.scope():
            model = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(32,), seed=0)
            model.build()
            if name == "mirrored":
                model.set_weights(start)
            start = [w.copy() for w in model.get_weights()]
            training.compile_model(model, learning_rate=1e-3)
        # Per-example ELBO spread at the start weights sets the statistical tolerance.
        elbo = model.loss_terms(tf.constant(x), training=False)["elbo"].numpy()
        history = model.fit(tf.data.Dataset.from_tensor_slices(x).batch(batch), epochs=1, shuffle=False, verbose=0)
        results[name] = {"elbo": history.history["elbo"][-1], "elbo_std": float(elbo.std())}
    # The same batch on both replicas: the posterior is the same, so different reconstruction
    # terms can only come from different noise.
    same = tf.constant(x[:8])
    per_replica = mirrored.run(lambda: model.loss_terms(same, training=True)["reconstruction"])
    local = [t.numpy() for t in mirrored.experimental_local_results(per_replica)]
    codes = mirrored.run(lambda: model._encode(same))
    local_codes = [c.numpy() for c in mirrored.experimental_local_results(codes)]
    n = len(x)
    print(json.dumps({
        "replicas": mirrored.num_replicas_in_sync,
        "noise_differs": bool(np.max(np.abs(local[0] - local[1])) > 1e-4),
        "codes_equal": bool(np.max(np.abs(local_codes[0] - local_codes[1])) < 1e-6),
        "single_elbo": results["single"]["elbo"], "mirrored_elbo": results["mirrored"]["elbo"],
        # Two independent noise draws over the same n examples: the difference of the means has
        # a standard error of at most sqrt(2) * std / sqrt(n).
        "standard_error": float(np.sqrt(2.0 / n) * results["single"]["elbo_std"]),
    }))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "vae":
        return vae_main()
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
