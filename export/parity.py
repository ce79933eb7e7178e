"""Summarize the measured TFLite parity of every export under a folder (reads the JSON sidecars).

    python -m export.parity exports

Prints a Markdown table: per model and quantization, the max |error| against Keras of
``reconstruct`` (data units, data in [0, 1]) and of ``score`` relative to the largest score.
"""

import glob
import json
import os
import sys

QUANTIZATIONS = ("none", "float16", "dynamic", "int8")


def read_cell(path):
    """``(quantization, "recon / score")`` of one sidecar, or ``ValueError`` naming the file and the fault."""
    try:
        with open(path) as f:
            info = json.load(f)
        parity, quantization = info["parity"], info["quantization"]
        recon = float(parity["max_abs_error"]["reconstruct"]["reconstruction"])
        score = float(parity["max_abs_error"]["score"]["score"]) / max(
            1e-12, float(parity["keras_max_abs_value"]["score"]["score"]))
    except OSError as e:
        raise ValueError(f"cannot read the sidecar {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"the sidecar {path} is not JSON: {e.msg} at character {e.pos}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"the sidecar {path} has no measured parity "
                         f"({type(e).__name__}: {e}); export it again with measure_parity") from None
    return quantization, f"{recon:.1e} / {score:.1e}"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    root = argv[0] if argv else "exports"
    sidecars = sorted(glob.glob(os.path.join(root, "tflite", "*", "*", "*.json")))
    if not sidecars:
        print(f"error: no TFLite sidecars under {root}/tflite", file=sys.stderr)
        return 2
    cells = {}
    for path in sidecars:
        try:
            quantization, cell = read_cell(path)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        name = os.path.basename(os.path.dirname(os.path.dirname(path)))
        cells[name, quantization] = cell
    names = sorted({name for name, _ in cells})
    print("| model | " + " | ".join(QUANTIZATIONS) + " |")
    print("|---|" + "---|" * len(QUANTIZATIONS))
    for name in names:
        print(f"| {name} | " + " | ".join(cells.get((name, q), "-") for q in QUANTIZATIONS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
