"""Run a trained generative run's exported ``sample`` in a process that imports only TensorFlow.

    python -m zoo train vqvae-digits --out runs/vq
    python -m zoo train vqvae-prior-digits --from runs/vq --out runs/vq-prior
    python -m export runs/vq-prior --out exports --tflite none
    python benchmarks/plain_tf_sample.py runs/vq-prior exports/vqvae-prior-digits/1

The child process imports ``tensorflow`` and nothing of keras-ae, loads the SavedModel, calls
``sample_seeded(n, seed, temperature=1)`` and the fresh ``sample(n, temperature=1)``, and prints which modules it imported;
this process compares ``sample_seeded`` with the Keras model's ``model.sample(n, seed)``.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD = r"""
import json, sys, time
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
n, seed = int(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
seeded = loaded.signatures["sample_seeded"](n=tf.constant(n), seed=tf.constant(seed),
                                            temperature=tf.constant(1.0))["x"].numpy()
seconds = time.perf_counter() - start
fresh = [loaded.signatures["sample"](n=tf.constant(n), temperature=tf.constant(1.0))["x"].numpy() for _ in range(2)]
np.save(sys.argv[4], seeded)
print(json.dumps({"keras_ae_imported": sorted(m for m in sys.modules if m.split(".")[0] in ("keras_ae", "zoo", "export")),
                  "seeded_seconds": round(seconds, 2), "fresh_differ": bool(not np.array_equal(*fresh)),
                  "shape": list(seeded.shape)}))
"""


def main(run_dir, saved_model, n=16, seed=3):
    out = os.path.join(tempfile.mkdtemp(prefix="plain_tf_sample_"), "seeded.npy")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    result = subprocess.run([sys.executable, "-c", CHILD, os.path.abspath(saved_model), str(n), str(seed), out], env=env,
                            capture_output=True, text=True, check=True, cwd="/")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    from zoo import load

    model = load(run_dir)
    report["equal_to_model_sample"] = bool(np.array_equal(np.load(out), np.asarray(model.sample(n, seed=seed))))
    shutil.rmtree(os.path.dirname(out))
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
