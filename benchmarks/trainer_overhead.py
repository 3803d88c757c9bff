"""Trainer overhead: one epoch by the Trainer against one by a minimal hand-written loop.

    python -m benchmarks.trainer_overhead [--rounds 5] [--only mlp|tiny] [--clock wall|cpu]

Two models, each trained for one epoch from the same seed on the same batches, on the CPU:

- ``mlp``: the reference MLP (784-512-256-10) on Fashion-MNIST, batch 256. Goal: the plain
  Trainer at most 5% slower than the loop.
- ``tiny``: a 2-16-2 MLP on 16,384 moons, batch 8 (2,048 steps of well under a millisecond),
  where the Trainer's own bookkeeping shows. Goal: at most 10 microseconds more per step.

The runs alternate (loop, Trainer, Trainer with progress bar and accuracy, loop, ...) so
that a change in machine load hits all of them; the median and the fastest run of each are
compared, and so is the median of each round's difference between the Trainer and the loop run
just before it (the steadiest of the three on a busy machine, where load changes between rounds). On a
shared machine, ``OMP_NUM_THREADS=1 ... --clock cpu`` times the process's CPU time instead of
the wall clock, which other jobs inflate far less. The loop and the plain Trainer end with
identical weights, which shows they did the same work.

Even on an idle 2-core virtual machine one epoch of the tiny model varies by 10-20% from run to
run, far more than 10 us of its roughly 600 us per step, so a third comparison runs the loop and
the Trainer with a model, loss and optimizer that do nothing: the difference left is the Trainer's
own bookkeeping per step, measured to about a microsecond.
"""

import argparse
import random
import statistics

import torch
from torch import nn

from benchmarks.common import Timer, describe_machine, fashion_mlp
from utils.data import TensorBatches, load_fashion_mnist, make_moons
from utils.train import Trainer, accuracy

SEED = 0


def hand_written_loop(model, optimizer, batches, loss_fn=None):
    """The loop chapter 7 starts from: forward, loss, backward, step (and the mean loss)."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
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


def one_epoch(make_model, x, y, batch_size, clock, run, **options):
    """Seconds ``run`` takes for one epoch from a fresh, seeded model; and the final weights."""
    torch.manual_seed(SEED)
    model = make_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = TensorBatches(x, y, batch_size, seed=SEED)
    with Timer() as timer:
        run(model, optimizer, batches, **options)
    seconds = timer.cpu_seconds if clock == "cpu" else timer.seconds
    return seconds, [p.detach().clone() for p in model.parameters()]


def tiny_mlp():
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


class NoWorkModel(nn.Module):
    """Returns its input. Its one parameter is never used; the Trainer checks parameters are finite."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        return x


class NoWorkOptimizer(torch.optim.Optimizer):
    """An optimizer whose step and zero_grad do nothing."""

    def __init__(self, parameters, lr=0.0):
        super().__init__(parameters, {"lr": lr})

    def step(self, closure=None):
        pass

    def zero_grad(self, set_to_none=True):
        pass


class NoWorkLoss:
    """A loss that costs nothing to compute, differentiate or read."""

    value = torch.zeros(())

    def __call__(self, outputs, y):
        return self

    def backward(self):
        pass

    def detach(self):
        return self.value

    def item(self):
        return 0.0


def bookkeeping_only(rounds, clock):
    """The same loop and Trainer with a model, loss and optimizer that do no work at all.

    What is left is each one's own bookkeeping (batches, device moves, tallies, the scaler...),
    small enough that this machine's noise, a share of the total, no longer hides it.
    """
    x, y = make_moons(n=16384, noise=0.2, seed=SEED)

    def run(loop):
        batches = TensorBatches(x, y, 8, seed=SEED)
        model = NoWorkModel()
        optimizer = NoWorkOptimizer(model.parameters())
        with Timer() as timer:
            if loop:
                hand_written_loop(model, optimizer, batches, loss_fn=NoWorkLoss())
            else:
                Trainer(model, optimizer, NoWorkLoss(), device="cpu", progress=False).fit(batches, epochs=1)
        return timer.cpu_seconds if clock == "cpu" else timer.seconds

    steps = -(-len(x) // 8)
    differences = [run(loop=False) - run(loop=True) for _ in range(rounds)]
    median, (low, high) = statistics.median(differences), bootstrap_interval(differences)
    print(f"\nbookkeeping only (model, loss and optimizer do nothing), {steps} steps, {rounds} rounds, "
          f"{clock} time:\n  Trainer minus loop per step: {median / steps * 1e6:+.2f} us "
          f"(95% interval [{low / steps * 1e6:+.2f}, {high / steps * 1e6:+.2f}])")


def compare(title, make_model, x, y, batch_size, rounds, clock):
    variants = {
        "hand-written loop": (hand_written_loop, {}),
        "Trainer": (trainer_epoch, {"progress": False}),
        "Trainer + progress bar + accuracy": (trainer_epoch,
                                              {"progress": True, "metrics": {"acc": accuracy}}),
    }
    times = {name: [] for name in variants}
    final_weights = {}
    for _ in range(rounds):
        for name, (run, options) in variants.items():
            seconds, final_weights[name] = one_epoch(make_model, x, y, batch_size, clock, run, **options)
            times[name].append(seconds)
    steps = -(-len(x) // batch_size)
    loop_median, loop_best = statistics.median(times["hand-written loop"]), min(times["hand-written loop"])
    print(f"\n{title}: one epoch, {steps} steps of batch {batch_size}, {rounds} alternating rounds, "
          f"{clock} time; relative to the loop:")
    print(f"  {'':36s} {'median':>8s} {'ratio':>6s} {'fastest':>8s} {'ratio':>6s} {'us/step more':>13s}")
    for name, seconds in times.items():
        median, best = statistics.median(seconds), min(seconds)
        extra = (median - loop_median) / steps * 1e6
        print(f"  {name:36s} {median:7.3f}s {median / loop_median:6.3f} {best:7.3f}s {best / loop_best:6.3f}"
              f" {extra:+12.1f}   (runs: {', '.join(f'{s:.3f}' for s in seconds)})")
    same = all(torch.equal(a, b)
               for a, b in zip(final_weights["Trainer"], final_weights["hand-written loop"]))
    median, best = statistics.median(times["Trainer"]), min(times["Trainer"])
    # Each round's Trainer run minus the loop run just before it: a change of load between rounds
    # cancels out, so the median of these differences is the steadiest estimate on a shared machine.
    differences = [t - loop for t, loop in zip(times["Trainer"], times["hand-written loop"])]
    paired = statistics.median(differences)
    low, high = bootstrap_interval(differences)
    print(f"  identical weights, Trainer vs loop: {same}")
    print(f"  Trainer overhead: {median / loop_median - 1:+.1%} by the medians, "
          f"{best / loop_best - 1:+.1%} by the fastest runs, {paired / loop_median:+.1%} by the median "
          f"paired difference; per step: {(median - loop_median) / steps * 1e6:+.1f} us by the medians, "
          f"{(best - loop_best) / steps * 1e6:+.1f} by the fastest, {paired / steps * 1e6:+.1f} paired")
    print(f"  95% interval of the paired per-step difference: [{low / steps * 1e6:+.1f}, "
          f"{high / steps * 1e6:+.1f}] us (what this machine's noise lets {rounds} rounds resolve)")


def bootstrap_interval(values, resamples=2000, seed=SEED):
    """A 95% interval for the median of ``values``: the median of many resamples drawn with replacement."""
    pick = random.Random(seed)
    medians = sorted(statistics.median(pick.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=["mlp", "tiny"])
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    args = parser.parse_args()
    describe_machine()
    if args.only in (None, "mlp"):
        data = load_fashion_mnist()
        compare("reference MLP (goal: at most +5%)", fashion_mlp, data.train_x, data.train_y, 256,
                args.rounds, args.clock)
    if args.only in (None, "tiny"):
        x, y = make_moons(n=16384, noise=0.2, seed=SEED)
        compare("tiny MLP (goal: at most +10 us/step)", tiny_mlp, x, y, 8, args.rounds, args.clock)
        bookkeeping_only(args.rounds, args.clock)


if __name__ == "__main__":
    main()
