"""Where the code runs: device choice, seeding, Colab detection and scale presets.

Every notebook starts with the same set-up cell, which ends in ``setup()``. The
chapter's config cell then calls ``by_scale(cpu=..., gpu=...)`` to pick sizes that
finish in minutes on a laptop CPU and train longer or larger on a GPU.
"""

import contextlib
import os
import random
import subprocess
import sys
import time

import numpy as np
import torch

# Packages Colab lacks; the set-up installs only these there and never touches torch or numpy.
COLAB_EXTRA_PACKAGES = ["anywidget"]
SCALE_ENV_VAR = "DLBOOK_SCALE"  # "cpu" or "gpu": overrides the preset chosen from the device


def in_colab():
    """True inside Google Colab (its runtime always has the google.colab package loaded)."""
    return "google.colab" in sys.modules


def pick_device():
    """The fastest available device: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed):
    """Seed Python, NumPy and torch (all devices) so a rerun gives the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device


@contextlib.contextmanager
def torch_threads(n):
    """Run the body on ``n`` CPU threads, then restore the number there was.

    Tiny networks (a 2-D toy GAN) do so little arithmetic per operation that keeping two
    threads in step costs more than the second thread saves, and on a busy machine, where
    one of them keeps waiting for a core, a step can take ten times longer than on one.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def training_clock(device):
    """How to time training on ``device``: ``(read, unit)``, where ``read()`` gives seconds.

    On the CPU it is this process's CPU time, so other jobs sharing the machine do not count.
    On a GPU the work runs asynchronously and is not CPU time of this process, so the clock is
    the wall clock, read after waiting for the GPU to finish what it was given.
    """
    device = torch.device(device)
    if device.type == "cpu":
        return time.process_time, "CPU seconds"
    if device.type not in ("cuda", "mps"):
        raise ValueError(f"no training clock for device type {device.type!r}")
    synchronize = torch.cuda.synchronize if device.type == "cuda" else torch.mps.synchronize

    def read():
        synchronize()
        return time.perf_counter()

    return read, "GPU seconds"


def current_scale(device=None):
    """The size preset, "cpu" or "gpu": from $DLBOOK_SCALE if set, else from the device."""
    override = os.environ.get(SCALE_ENV_VAR)
    if override:
        if override not in ("cpu", "gpu"):
            raise ValueError(f"${SCALE_ENV_VAR} must be 'cpu' or 'gpu', not {override!r}")
        return override
    device = torch.device(device) if device is not None else pick_device()
    return "cpu" if device.type == "cpu" else "gpu"


def by_scale(cpu, gpu, scale=None):
    """Return ``cpu`` or ``gpu`` according to the scale preset.

    A chapter's config cell uses it once, e.g.
    ``CFG = by_scale(cpu=dict(epochs=5), gpu=dict(epochs=30))``.
    """
    return gpu if (scale or current_scale()) == "gpu" else cpu


def _prepare_colab(device):
    missing = []
    for name in COLAB_EXTRA_PACKAGES:
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
    from google.colab import output  # noqa: PLC0415 (exists only on Colab)

    output.enable_custom_widget_manager()  # Colab shows third-party widgets only after this
    if device.type == "cpu":
        print("No GPU in this Colab runtime: the chapter runs, at CPU scale. For a GPU choose "
              "Runtime > Change runtime type > T4 GPU, then run all cells again.")


def setup(seed=0):
    """Seed everything, pick the device, prepare Colab, set the figure style, print one line saying so.

    Returns ``(device, scale)``.
    """
    device = pick_device()
    if in_colab():
        _prepare_colab(device)
    seed_everything(seed)
    from utils.plot import use_book_style  # here, so importing utils.env stays light
    use_book_style()  # one figure style for the whole book
    scale = current_scale(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"device: {name} | scale: {scale} | torch {torch.__version__} | seed {seed}")
    return device, scale
