"""The synthetic sequence tasks of chapter 10 (utils/data/sequence_tasks.py)."""

import pytest
import torch

from utils.data import adding_problem
from utils.data.sequence_tasks import ADDING_BASELINE_MSE, reversal_batch


def test_adding_problem_marks_two_steps_one_in_each_half():
    x, y = adding_problem(500, 9, torch.Generator().manual_seed(0))
    assert x.shape == (500, 9, 2) and y.shape == (500,) and x.dtype == y.dtype == torch.float32
    markers = x[..., 1]
    assert torch.all(markers.sum(1) == 2) and torch.all((markers == 0) | (markers == 1))
    assert torch.all(markers[:, :4].sum(1) == 1) and torch.all(markers[:, 4:].sum(1) == 1)
    assert torch.allclose((x[..., 0] * markers).sum(1), y)
    assert torch.all((x[..., 0] >= 0) & (x[..., 0] < 1))


def test_adding_problem_baseline_and_seed():
    _, y = adding_problem(200_000, 6, torch.Generator().manual_seed(1))
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(ADDING_BASELINE_MSE, rel=0.02)
    a = adding_problem(4, 5, torch.Generator().manual_seed(3))
    b = adding_problem(4, 5, torch.Generator().manual_seed(3))
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="at least 2"):
        adding_problem(3, 1)


def test_reversal_batch():
    source, target = reversal_batch(50, 7, vocab=4, generator=torch.Generator().manual_seed(0))
    assert source.shape == target.shape == (50, 7) and source.dtype == torch.int64
    assert torch.equal(target, source.flip(1)) and source.min() >= 0 and source.max() <= 3
    with pytest.raises(ValueError):
        reversal_batch(2, 0)
