import sys

from autograde.cli import main

if __name__ == "__main__":  # not when a helper process (multiprocessing spawn) imports it
    sys.exit(main())
