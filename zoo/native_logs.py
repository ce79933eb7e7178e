"""Keep TensorFlow's native start-up noise off a command's stderr.

TensorFlow 2.19-2.21 write absl log lines from C++ before absl's logging is initialised, and
those ignore ``TF_CPP_MIN_LOG_LEVEL`` (tensorflow/tensorflow#100442, open): "WARNING: All log
messages before absl::InitializeLog() is called are written to STDERR", oneDNN and CUDA-stub
notices, "failed call to cuInit" on a machine without a GPU, and LiteRT's note that it uses its
XNNPACK delegate. :func:`filtered_stderr` routes file descriptor 2 through a thread that drops
exactly those lines and passes everything else (warnings, errors, tracebacks) through unchanged. The command lines use it; a library user's
process is left alone.
"""

import contextlib
import os
import re
import sys
import threading

#: native lines dropped: absl's pre-initialisation notice, and INFO/WARNING/ERROR lines from the
#: start-up files that only report the absence of a GPU or the use of oneDNN.
NOISE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|[IWE]\d{4} [\d:. ]+\d+ (port\.cc|cudart_stub\.cc|cuda_platform\.cc|cuda_executor\.cc|cuda_dnn\.cc"
    rb"|cuda_blas\.cc|cuda_fft\.cc|computation_placer\.cc|cpu_feature_guard\.cc|device_compiler\.h"
    rb"|dump_mlir_util\.cc|assert_op\.cc|service\.cc|cpu_client\.cc):\d+\]"
    rb"|To enable the following instructions: .* in other operations, rebuild TensorFlow"
    rb"|INFO: Created TensorFlow Lite XNNPACK delegate for CPU\.)")


def is_noise(line):
    """Whether one stderr line (bytes, without its newline) is TensorFlow start-up noise."""
    return bool(NOISE.match(line))


@contextlib.contextmanager
def filtered_stderr():
    """Within the block, stderr (fd 2, so native writes too) minus :data:`NOISE` lines."""
    try:
        sys.stderr.flush()
        original = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (embedded interpreters): nothing to filter
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def pump():
        pending = b""
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while True:
                chunk = source.read(65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                kept = b"".join(line + b"\n" for line in lines if not is_noise(line))
                if kept:
                    os.write(original, kept)
        if pending and not is_noise(pending):
            os.write(original, pending)

    thread = threading.Thread(target=pump, name="filtered-stderr", daemon=True)
    thread.start()
    try:
        yield
    finally:
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(original, 2)  # closes the pipe's last write end: the pump sees EOF
        thread.join(timeout=5)
        os.close(original)
