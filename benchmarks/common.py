"""What the benchmark scripts share: the machine report, the reference models, a timer."""

import os
import platform
import time

import torch
from torch import nn


def describe_machine():
    """One line on what the numbers were measured on; the load shows other work sharing the CPU."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"torch {torch.__version__} | {platform.processor() or platform.machine()} | "
          f"{os.cpu_count()} CPUs | torch threads {torch.get_num_threads()} | load average {load:.1f}")


def fashion_mlp():
    """784-512-256-10 with ReLU: 535,818 parameters."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                         nn.Linear(256, 10))


def fashion_cnn(widths=(16, 32, 64)):
    """Blocks of conv 3x3, batch norm, ReLU and 2x2 max-pooling, then one linear layer."""
    layers, channels, size = [], 1, 28
    for width in widths:
        layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                   nn.MaxPool2d(2)]
        channels, size = width, size // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * size * size, 10))


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``; waits for the GPU so its work is counted.

    ``t.cpu_seconds`` is the CPU time this process used meanwhile: with one torch thread
    (``OMP_NUM_THREADS=1``) it measures the work itself even when other jobs share the cores.
    """

    def __enter__(self):
        _synchronize()
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        _synchronize()
        self.seconds = time.perf_counter() - self.started
        self.cpu_seconds = time.process_time() - self.cpu_started


def _synchronize():
    if torch.cuda.is_available():
        torch.cuda.synchronize()
