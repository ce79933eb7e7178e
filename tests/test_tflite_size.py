"""A multi-signature TFLite file stores each weight once (issue 12).

Five signatures (encode, decode, reconstruct, score, sample) share the encoder and decoder
weights; each added signature must add graph, not another copy of the weights. Checked on the
flatbuffer itself: no two weight buffers hold the same bytes, and all buffers together are the
size of the weights counted once (closed form from the layer shapes), at float32 and with
dynamic-range quantization (int8 kernels, float32 biases).
"""

import hashlib

import keras
import numpy as np
import pytest

from keras_ae import serving
from keras_ae.models import VAE


#: The TFLite converter's dynamic-range quantization quantizes weight tensors of at least this many
#: elements and keeps smaller ones in float32.
MIN_QUANTIZED_ELEMENTS = 1024


@pytest.fixture(scope="module")
def model():
    vae = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden_units=(64,), seed=0)
    vae.build()
    return vae


def _buffers(blob):
    from tensorflow.lite.tools import flatbuffer_utils

    flat = flatbuffer_utils.read_model_from_bytearray(bytearray(blob))
    return [bytes(b.data) for b in flat.buffers if b.data is not None and len(b.data) > 0]


@pytest.mark.parametrize("quantization, kernel_bytes", [("none", 4), ("dynamic", 1)])
def test_each_weight_is_stored_once_across_signatures(model, quantization, kernel_bytes):
    blob, _, skipped = serving.convert_tflite(model, quantization)
    assert skipped == {}  # every signature converts, sample_seeded too (counter-based noise)
    assert len(serving.litert_interpreter(model_content=blob).get_signature_list()) == 6  # sample_seeded too
    buffers = _buffers(blob)
    large = [hashlib.sha1(b).hexdigest() for b in buffers if len(b) >= 256]
    assert len(large) == len(set(large)), "a weight buffer is stored twice"
    dense = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Dense)]
    sizes = [int(np.prod(layer.kernel.shape)) for layer in dense]
    kernels = sum(sizes)
    biases = sum(int(np.prod(layer.bias.shape)) for layer in dense)
    # Dynamic-range quantization leaves a kernel of fewer than MIN_QUANTIZED_ELEMENTS in float32
    # (the converter's default threshold); every bias stays float32.
    once = sum((kernel_bytes if n >= MIN_QUANTIZED_ELEMENTS else 4) * n for n in sizes) + 4 * biases
    stored = sum(len(b) for b in buffers)
    # every kernel is there; beyond the weights once, only small constants (shapes, epsilons): < 2 KB
    assert kernel_bytes * kernels <= stored <= once + 2048
