"""``python -m export RUN_DIR``: SavedModel, TFLite variants, TF Serving config and REST bodies."""

import sys

from export.cli import main

if __name__ == "__main__":
    sys.exit(main())
