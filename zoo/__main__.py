"""``python -m zoo``: list, train and evaluate the zoo's recipes."""

import sys

from zoo.cli import main

if __name__ == "__main__":
    sys.exit(main())
