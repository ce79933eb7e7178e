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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    root = argv[0] if argv else "exports"
    sidecars = sorted(glob.glob(os.path.join(root, "tflite", "*", "*", "*.json")))
    if not sidecars:
        print(f"error: no TFLite sidecars under {root}/tflite", file=sys.stderr)
        return 2
    cells = {}
    for path in sidecars:
        with open(path) as f:
            info = json.load(f)
        parity, quantization = info["parity"], info["quantization"]
        name = os.path.basename(os.path.dirname(os.path.dirname(path)))
        recon = parity["max_abs_error"]["reconstruct"]["reconstruction"]
        score = parity["max_abs_error"]["score"]["score"] / max(1e-12, parity["keras_max_abs_value"]["score"]["score"])
        cells[name, quantization] = f"{recon:.1e} / {score:.1e}"
    names = sorted({name for name, _ in cells})
    print("| model | " + " | ".join(QUANTIZATIONS) + " |")
    print("|---|" + "---|" * len(QUANTIZATIONS))
    for name in names:
        print(f"| {name} | " + " | ".join(cells.get((name, q), "-") for q in QUANTIZATIONS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
