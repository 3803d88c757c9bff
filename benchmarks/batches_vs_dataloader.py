"""TensorBatches against DataLoader(TensorDataset): one shuffled epoch of Fashion-MNIST batches.

    python -m benchmarks.batches_vs_dataloader [--rounds 5] [--batch-size 256]

Only the batching is timed (no model): every batch is produced, as training would need
it. A DataLoader indexes one example at a time and stacks them; TensorBatches indexes
the whole batch at once. Goal: TensorBatches at least 3x faster.
"""

import argparse
import statistics

import torch

from benchmarks.common import Timer, describe_machine
from utils.data import TensorBatches, load_fashion_mnist


def epoch_seconds(batches):
    with Timer() as timer:
        for _batch in batches:
            pass
    return timer.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    describe_machine()
    data = load_fashion_mnist()
    train, _ = data.as_datasets()
    size = args.batch_size
    variants = {
        "DataLoader(TensorDataset)": lambda: torch.utils.data.DataLoader(train, size, shuffle=True),
        "TensorBatches": lambda: TensorBatches(data.train_x, data.train_y, size, seed=0),
        "TensorBatches, augment=True": lambda: TensorBatches(data.train_x, data.train_y, size, seed=0,
                                                             augment=True),
    }
    times = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, make in variants.items():
            times[name].append(epoch_seconds(make()))
    baseline = statistics.median(times["DataLoader(TensorDataset)"])
    print(f"\none epoch (60,000 images, batch {size}), median of {args.rounds} alternating rounds:")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"  {name:30s} {median:7.3f} s   {baseline / median:6.1f}x the DataLoader's speed"
              f"   (runs: {', '.join(f'{s:.3f}' for s in seconds)})")
    print("goal: TensorBatches at least 3x faster than the DataLoader")


if __name__ == "__main__":
    main()
