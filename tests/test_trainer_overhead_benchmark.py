"""benchmarks/trainer_overhead.py's bookkeeping-only comparison: its stand-ins really do no work.

The timings themselves are the benchmark's to print; here only that the comparison runs and that
the stand-ins leave nothing but bookkeeping (the loop and the Trainer see the same batches).
"""

import re

import torch

from benchmarks.trainer_overhead import (
    NoWorkLoss,
    NoWorkModel,
    NoWorkOptimizer,
    bookkeeping_only,
    hand_written_loop,
)
from utils.data import TensorBatches


def test_the_stand_ins_change_nothing_and_the_comparison_reports_a_per_step_difference(capsys):
    model = NoWorkModel()
    before = model.unused.detach().clone()
    x, y = torch.randn(64, 2), torch.randint(0, 2, (64,))
    assert hand_written_loop(model, NoWorkOptimizer(model.parameters()), TensorBatches(x, y, 8, seed=0),
                             loss_fn=NoWorkLoss()) == 0.0
    assert torch.equal(model.unused, before) and model.unused.grad is None
    bookkeeping_only(rounds=2, clock="cpu")
    shown = capsys.readouterr().out
    assert re.search(r"Trainer minus loop per step: [+-]\d+\.\d\d us \(95% interval \[", shown), shown
