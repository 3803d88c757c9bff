"""utils.env: scale presets, seeding and device choice."""

import random

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
