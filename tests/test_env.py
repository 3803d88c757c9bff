"""utils.env: scale presets, seeding and device choice."""

import random
import time

import numpy as np
import pytest
import torch

from utils.env import (
    SCALE_ENV_VAR,
    by_scale,
    current_scale,
    pick_device,
    seed_everything,
    setup,
    torch_threads,
    training_clock,
)


def test_scale_override_picks_the_named_preset(monkeypatch):
    monkeypatch.setenv(SCALE_ENV_VAR, "gpu")
    assert by_scale(cpu="small", gpu="large") == "large"
    monkeypatch.setenv(SCALE_ENV_VAR, "cpu")
    assert by_scale(cpu="small", gpu="large") == "small"


def test_scale_override_must_be_cpu_or_gpu(monkeypatch):
    monkeypatch.setenv(SCALE_ENV_VAR, "tpu")
    with pytest.raises(ValueError, match="tpu"):
        by_scale(cpu=1, gpu=2)


def test_scale_follows_the_device_without_override(monkeypatch):
    monkeypatch.delenv(SCALE_ENV_VAR, raising=False)
    assert current_scale("cpu") == "cpu"
    assert current_scale("cuda") == "gpu"  # a device object needs no GPU to exist
    assert by_scale(cpu="small", gpu="large", scale="gpu") == "large"


def test_training_clock_counts_cpu_time_on_the_cpu():
    read, unit = training_clock("cpu")
    assert unit == "CPU seconds"
    started, wall = read(), time.perf_counter()
    time.sleep(0.2)  # sleeping uses no CPU time
    assert read() - started < 0.1 < time.perf_counter() - wall


@pytest.mark.parametrize("device_type", ["cuda", "mps"])
def test_training_clock_waits_for_the_gpu_before_reading_the_wall_clock(monkeypatch, device_type):
    waited = []
    module = torch.cuda if device_type == "cuda" else torch.mps
    monkeypatch.setattr(module, "synchronize", lambda *args: waited.append(time.perf_counter()))
    read, unit = training_clock(device_type)  # a device object needs no GPU to exist
    assert unit == "GPU seconds" and waited == []
    started = read()
    time.sleep(0.2)  # wall time passes, as it does while the GPU works
    assert len(waited) == 1 and waited[0] <= started
    assert read() - started >= 0.2 and len(waited) == 2


def test_training_clock_refuses_a_device_it_cannot_wait_for():
    with pytest.raises(ValueError, match="meta"):
        training_clock("meta")


def _draws():
    return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()


def test_seed_everything_makes_every_generator_repeat():
    seed_everything(123)
    first = _draws()
    seed_everything(123)
    assert _draws() == first
    seed_everything(124)
    other = _draws()
    assert all(a != b for a, b in zip(other, first))  # each of the three generators was reseeded


@pytest.mark.skipif(torch.cuda.is_available() or torch.backends.mps.is_available(), reason="an accelerator")
def test_pick_device_is_the_cpu_without_an_accelerator():
    assert pick_device() == torch.device("cpu")


def test_setup_seeds_and_reports_device_and_scale(monkeypatch, capsys):
    monkeypatch.setenv(SCALE_ENV_VAR, "gpu")
    device, scale = setup(seed=7)
    first = torch.rand(2)
    setup(seed=7)
    assert torch.equal(torch.rand(2), first)
    assert (device, scale) == (pick_device(), "gpu")
    assert "scale: gpu" in capsys.readouterr().out


def test_torch_threads_sets_the_count_inside_and_restores_it_even_after_an_error():
    before = torch.get_num_threads()
    other = 1 if before != 1 else 2
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError, match="inside"), torch_threads(other):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before
