"""``python -m autograde.bench_digits``: reproduce notebook 6's figures.

Trains the seed's Net on scikit-learn's digits with the notebook's settings (the constants in
``solutions.digits``) and prints the test accuracy, which is the same on every run on one
machine, and the training time in seconds, which is not. ``--repeat N`` trains N times to show
the spread of the time.
"""

from __future__ import annotations

import argparse
import platform

import torch

from solutions import digits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograde.bench_digits", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="train this many times (default: %(default)s)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = parser.parse_args(argv)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, {platform.processor() or platform.machine()}")
    print(f"settings: seed {digits.SEED}, test fraction {digits.TEST_FRACTION}, batch size {digits.BATCH_SIZE}, "
          f"Adam lr {digits.LEARNING_RATE}, {digits.EPOCHS} epochs")
    for i in range(1, args.repeat + 1):
        run = digits.train_reference(device=args.device)
        correct = round(run["accuracy"] * run["test_size"])
        print(f"run {i}: test accuracy {run['accuracy']:.1%} ({correct} of {run['test_size']}), "
              f"training {run['seconds']:.1f} s on {run['device']} ({run['train_size']} training images)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
