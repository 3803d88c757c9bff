"""benchmarks/gpu.py, the one command for a GPU: its CPU-only exit and its report of the AMP dtype.

The training itself needs CUDA; here only what can run without it is checked, with CUDA on
a T4 (compute capability 7.5) and on an A100 (8.0) simulated by monkeypatch.
"""

import subprocess
import sys

import pytest
import torch

from benchmarks import gpu
from tools.notebooks import ROOT


def test_without_a_gpu_it_says_so_and_exits_cleanly():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: run `python -m benchmarks.gpu` itself")
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("No GPU available") and "nothing was measured" in result.stdout


@pytest.mark.parametrize(("name", "capability", "expected"), [
    ("Tesla T4", (7, 5),
     "compute capability 7.5; amp='auto' uses float16 (no native bf16: fp16 with a GradScaler)"),
    ("NVIDIA A100", (8, 0), "compute capability 8.0; amp='auto' uses bfloat16 (native bf16)"),
])
def test_the_report_shows_the_dtype_the_trainer_picks(monkeypatch, name, capability, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)  # a T4 says so too
    assert gpu.describe_gpu(torch.device("cuda")) == f"GPU: {name}, {expected}"
