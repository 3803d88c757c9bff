"""Trainer overhead: one epoch by the Trainer against one by a minimal hand-written loop.

    python -m benchmarks.trainer_overhead [--rounds 5]

Both train the reference MLP (784-512-256-10) on Fashion-MNIST for one epoch from the
same seed on the same batches, on the CPU. The runs alternate (loop, Trainer, Trainer
with progress bar and accuracy, loop, ...) so that a change in machine load hits all of
them; the median and the fastest run of each are compared (on a busy machine the fastest
is the better estimate of the work itself). Both end with identical weights, which shows
they did the same work. Goal: the plain Trainer at most 5% slower than the loop.
"""

import argparse
import statistics

import torch
from torch import nn

from benchmarks.common import Timer, describe_machine, fashion_mlp
from utils.data import TensorBatches, load_fashion_mnist
from utils.train import Trainer, accuracy

BATCH_SIZE = 256
SEED = 0


def hand_written_loop(model, optimizer, batches):
    """The loop chapter 7 starts from: forward, loss, backward, step (and the mean loss)."""
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    total, count = 0.0, 0
    for x, y in batches:
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total, count = total + loss.item() * len(y), count + len(y)
    return total / count


def trainer_epoch(model, optimizer, batches, **options):
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), device="cpu", **options)
    trainer.fit(batches, epochs=1)


def one_epoch(data, run, **options):
    """Seconds ``run`` takes for one epoch from a fresh, seeded model; and the final weights."""
    torch.manual_seed(SEED)
    model = fashion_mlp()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = TensorBatches(data.train_x, data.train_y, BATCH_SIZE, seed=SEED)
    with Timer() as timer:
        run(model, optimizer, batches, **options)
    return timer.seconds, [p.detach().clone() for p in model.parameters()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    describe_machine()
    data = load_fashion_mnist()
    variants = {
        "hand-written loop": (hand_written_loop, {}),
        "Trainer": (trainer_epoch, {"progress": False}),
        "Trainer + progress bar + accuracy": (trainer_epoch,
                                              {"progress": True, "metrics": {"acc": accuracy}}),
    }
    times = {name: [] for name in variants}
    final_weights = {}
    for _ in range(args.rounds):
        for name, (run, options) in variants.items():
            seconds, final_weights[name] = one_epoch(data, run, **options)
            times[name].append(seconds)
    loop_median, loop_best = statistics.median(times["hand-written loop"]), min(times["hand-written loop"])
    print(f"\none epoch, batch {BATCH_SIZE}, {args.rounds} alternating rounds; time relative to the loop:")
    print(f"  {'':36s} {'median':>8s} {'ratio':>6s} {'fastest':>8s} {'ratio':>6s}")
    for name, seconds in times.items():
        median, best = statistics.median(seconds), min(seconds)
        print(f"  {name:36s} {median:7.2f}s {median / loop_median:6.3f} {best:7.2f}s {best / loop_best:6.3f}"
              f"   (runs: {', '.join(f'{s:.2f}' for s in seconds)})")
    same = all(torch.equal(a, b) for a, b in zip(final_weights["Trainer"],
                                                  final_weights["hand-written loop"]))
    print(f"identical weights, Trainer vs loop: {same}")
    print(f"Trainer overhead: {statistics.median(times['Trainer']) / loop_median - 1:+.1%} by the medians, "
          f"{min(times['Trainer']) / loop_best - 1:+.1%} by the fastest runs (goal: at most +5%)")


if __name__ == "__main__":
    main()
