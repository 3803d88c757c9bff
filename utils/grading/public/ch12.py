"""Visible tests for chapter 12's exercises (exercises/12_transfer.ipynb).

Expected values come from the definitions in the prompts, computed here with PyTorch. The
hidden tests try other shapes, ranks and inputs, and look at more of each object's behaviour.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from utils.grading.expect import (
    as_array,
    as_dict,
    as_float,
    as_int,
    as_list,
    expect_close,
    expect_equal,
    fail,
)
from utils.grading.public import visible_test


def lora_visible_scenario(student, x):
    """Wrap a small Linear; report the output at init, the gradients, and merge/unmerge."""
    x = torch.as_tensor(x)
    torch.manual_seed(0)
    base = torch.nn.Linear(3, 2).double()
    weight = base.weight.detach().clone()
    layer = student.LoRALinear(base, r=2, alpha=4)
    out_init = layer(x).detach()
    layer(x).sum().backward()
    with torch.no_grad():
        layer.B.fill_(0.5)
    out = layer(x).detach()
    layer.merge()
    merged = layer(x).detach()
    layer.unmerge()
    return {
        "base_out": base(x).detach(),
        "out_init": out_init,
        "A_grad": layer.A.grad,
        "B_grad": layer.B.grad,
        "out": out,
        "merged": merged,
        "restored": base.weight.detach(),
        "weight": weight,
        "A": layer.A.detach(),
        "frozen": not base.weight.requires_grad,
    }


@visible_test(
    "LoRALinear", hint="B starts at zero; the update is (alpha / r) * x A^T B^T; merge adds it in place."
)
def lora_on_a_small_layer(student):
    """a 3 -> 2 layer with r=2, alpha=4: init, gradients, forward, merge and unmerge"""
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    got = as_dict(student.run(lora_visible_scenario, x), "the scenario")
    base_out = as_array(got["base_out"], "base(x)")
    expect_close(
        as_array(got["out_init"], "the output at init", shape=(4, 2)),
        base_out,
        "the output at init (it must equal the base layer's)",
    )
    if not got["frozen"]:
        fail("the base weight must be frozen (requires_grad False)")
    expect_close(
        as_array(got["A_grad"], "A.grad", shape=(2, 3)),
        np.zeros((2, 3)),
        "A.grad at init (zero, because B is zero)",
    )
    a = as_array(got["A"], "A", shape=(2, 3))
    want = base_out + 2.0 * x @ a.T @ np.full((2, 2), 0.5).T
    expect_close(as_array(got["out"], "the output", shape=(4, 2)), want, "the output with B = 0.5")
    expect_close(as_array(got["merged"], "the merged output", shape=(4, 2)), want, "the output after merge()")
    expect_close(
        as_array(got["restored"], "the weight after unmerge()"),
        as_array(got["weight"], "the weight"),
        "the base weight after unmerge()",
    )


@visible_test("lora_counts", hint="A is [r, in] and B is [out, r]: r * (in + out) per layer.")
def the_4096_example(student):
    """one 4096 x 4096 layer at r = 8"""
    got = as_list(student.lora_counts([(4096, 4096)], 8), "lora_counts([(4096, 4096)], 8)", length=2)
    expect_equal([as_int(v, "a count") for v in got], [65536, 16777216], "lora_counts([(4096, 4096)], 8)")


def freeze_visible_scenario(student):
    model = torch.nn.Module()
    model.backbone = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    model.head = torch.nn.Linear(4, 2)
    model.train()
    student.freeze_backbone(model)
    return {
        "flags": {n: p.requires_grad for n, p in model.named_parameters()},
        "bn_training": model.backbone[1].training,
        "head_training": model.head.training,
    }


@visible_test("freeze_backbone", hint="requires_grad_(False) on the backbone; BatchNorm modules to .eval().")
def a_small_model(student):
    """Linear + BatchNorm backbone, Linear head"""
    got = as_dict(student.run(freeze_visible_scenario), "the scenario")
    flags = as_dict(got["flags"], "requires_grad")
    if any(flags[n] for n in flags if n.startswith("backbone")) or not all(
        flags[n] for n in flags if n.startswith("head")
    ):
        fail("the backbone must be frozen and the head trainable")
    if got["bn_training"]:
        fail("the backbone's BatchNorm must be in eval mode")
    if not got["head_training"]:
        fail("the head must stay in training mode")


def llrd_visible_scenario(student):
    layers = [torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)]
    groups = student.llrd_param_groups(layers, 0.1, 0.5)
    return [float(g["lr"]) for g in groups]


@visible_test("llrd_param_groups", hint="depth 0 is the first layer given: lr * decay ** depth.")
def three_layers(student):
    """three layers, lr 0.1, decay 0.5"""
    got = as_array(student.run(llrd_visible_scenario), "the groups' lr", shape=(3,))
    expect_close(got, np.array([0.1, 0.05, 0.025]), "the learning rates")


@visible_test("bradley_terry_loss", hint="-F.logsigmoid(r_chosen - r_rejected).mean()")
def two_pairs(student):
    """two pairs of scores"""
    got = as_float(student.bradley_terry_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])), "the loss")
    expect_close(
        got, -(F.logsigmoid(torch.tensor(2.0)) + F.logsigmoid(torch.tensor(-1.0))).item() / 2, "the loss"
    )


@visible_test(
    "dpo_loss", hint="margin = (pi_c - ref_c) - (pi_r - ref_r); loss = -logsigmoid(beta * margin).mean()."
)
def one_pair(student):
    """one pair, beta 0.5"""
    got = as_list(
        student.dpo_loss(
            torch.tensor([-10.0]), torch.tensor([-12.0]), torch.tensor([-11.0]), torch.tensor([-11.0]), 0.5
        ),
        "(loss, margin)",
        length=2,
    )
    expect_close(as_array(got[1], "the margin", shape=(1,)), np.array([2.0]), "the margin")
    expect_close(as_float(got[0], "the loss"), math.log1p(math.exp(-1.0)), "the loss")


def finetune_visible_scenario(student):
    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    head = torch.nn.Linear(4, 2)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    x, y = torch.randn(8, 3) * 3 + 2, torch.arange(8) % 2
    losses = student.finetune_head(backbone, head, x, y, steps=5, lr=0.5)
    return {
        "changed": [k for k, v in backbone.state_dict().items() if not torch.equal(v, before[k])],
        "losses": losses,
    }


@visible_test("finetune_head", hint="Which mode must a frozen backbone with BatchNorm be in?")
def backbone_untouched(student):
    """five steps leave the backbone's state_dict exactly as it was"""
    got = as_dict(student.run(finetune_visible_scenario), "the scenario")
    as_array(got["losses"], "the losses", shape=(5,), kind="float")
    if got["changed"]:
        fail(f"these entries of the backbone's state_dict changed: {got['changed']}")


@visible_test("lora_rank_experiment", hint="Train only lora.A and lora.B; the rank-4 change needs r >= 4.")
def two_ranks(student):
    """ranks 1 and 4 on the default problem (fewer steps)"""
    got = as_array(student.lora_rank_experiment([1, 4], steps=200), "the errors", shape=(2,), kind="float")
    if not got[1] < 0.01 < got[0]:
        fail(f"expected rank 1 to stay well above 0.01 and rank 4 to fall below it; got {got.tolist()}")
