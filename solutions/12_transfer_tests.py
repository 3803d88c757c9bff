"""Hidden tests for exercises/12_transfer.ipynb (24 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values are computed here from the definitions in the prompts or with PyTorch. The
modules (LoRALinear, a model to freeze, layers for LLRD, the fine-tuning loop) are exercised
through scenarios in the student's process that only report what they observe.
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
from utils.grading.hidden import hidden_test


def expect_state_unchanged(before, after, when):
    """Every entry of the backbone's state_dict ``before`` is bit-for-bit the same ``after``."""
    before, after = as_dict(before, "the backbone before"), as_dict(after, f"the backbone {when}")
    for key, value in before.items():
        if key not in after:
            fail(f"{key} disappeared from the backbone's state_dict {when}")
        expect_close(as_array(after[key], key), as_array(value, key), f"the backbone's {key} {when}",
                     rtol=0, atol=0)


# ---- exercise 1: LoRALinear (5 points) ------------------------------------------------------------------


def lora_scenario(student, weight, bias, x, r, alpha, a_values, b_values, upstream):
    """Wrap a Linear we own; observe init, gradients, forward with given A and B, merge and unmerge."""
    weight, x, a_values, b_values, upstream = (
        torch.as_tensor(v) for v in (weight, x, a_values, b_values, upstream)
    )
    bias = None if bias is None else torch.as_tensor(bias)
    base = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None).double()
    with torch.no_grad():
        base.weight.copy_(weight)
        if bias is not None:
            base.bias.copy_(bias)
    weight_tensor = base.weight
    weight_before = base.weight.detach().clone()
    layer = student.LoRALinear(base, r=r, alpha=alpha)
    a_init = layer.A.detach().clone()
    out_init = layer(x).detach()
    xg = x.clone().requires_grad_()
    (layer(xg) * upstream).sum().backward()
    report = {
        "same_base": layer.base is base,
        "base_frozen": [p.requires_grad for p in base.parameters()],
        "A_shape": list(layer.A.shape),
        "B_shape": list(layer.B.shape),
        "A_dtype": str(layer.A.dtype),
        "A_init": a_init,
        "B_init": layer.B.detach().clone(),
        "A_grad": layer.A.grad,
        "B_grad": layer.B.grad,
        "base_grad": base.weight.grad,
        "x_grad": xg.grad,
        "out_init": out_init,
        "trainable": sorted(n for n, p in layer.named_parameters() if p.requires_grad),
    }
    with torch.no_grad():
        layer.A.copy_(a_values)
        layer.B.copy_(b_values)
    report["out_update"] = layer(x).detach()
    merged_self = layer.merge()
    report["merge_returns_self"] = merged_self is layer
    report["weight_in_place"] = layer.base.weight is weight_tensor and base.weight is weight_tensor
    report["weight_merged"] = base.weight.detach().clone()
    report["out_merged"] = layer(x).detach()
    layer.merge()  # a second merge must change nothing
    report["weight_merged_twice"] = base.weight.detach().clone()
    report["merged_grad_fn"] = base.weight.grad_fn is not None
    report["unmerge_returns_self"] = layer.unmerge() is layer
    layer.unmerge()  # a second unmerge must change nothing
    report["weight_restored"] = base.weight.detach().clone()
    report["weight_before"] = weight_before
    report["out_unmerged"] = layer(x).detach()
    return report


def lora_case(seed, out_f, in_f, r, alpha, bias=True, lead=(5,)):
    rng = np.random.default_rng(seed)
    weight = rng.normal(size=(out_f, in_f)) / math.sqrt(in_f)
    b = rng.normal(size=out_f) if bias else None
    x = rng.normal(size=(*lead, in_f))
    a_values = rng.normal(size=(r, in_f))
    b_values = rng.normal(size=(out_f, r))
    upstream = rng.normal(size=(*lead, out_f))
    return weight, b, x, r, alpha, a_values, b_values, upstream


def lora_reference(weight, b, x, r, alpha, a_values, b_values, upstream):
    base_out = x @ weight.T + (0 if b is None else b)
    delta = (alpha / r) * b_values @ a_values
    return base_out, base_out + x @ delta.T, weight + delta


def lora_rank_check_scenario(student):
    """What LoRALinear(base, r) raises for ranks below 1 (None if nothing)."""
    raised = {}
    for r in (0, -2):
        try:
            student.LoRALinear(torch.nn.Linear(3, 2), r=r, alpha=4)
            raised[str(r)] = None
        except Exception as error:  # noqa: BLE001 (the test wants its type, whatever it is)
            raised[str(r)] = type(error).__name__
    return raised


def run_lora(student, case):
    return as_dict(student.run(lora_scenario, *case), "the LoRALinear scenario")


@hidden_test("LoRALinear", points=1)
def starts_exactly_at_the_base_layer_with_frozen_base(student):
    """at init the output equals the base layer's, the base is the given layer, frozen; A random, B zero"""
    for seed, (out_f, in_f, r, alpha, bias) in enumerate([(6, 4, 2, 4, True), (3, 7, 3, 3, False)]):
        case = lora_case(10 + seed, out_f, in_f, r, alpha, bias)
        got = run_lora(student, case)
        base_out, _, _ = lora_reference(*case)
        expect_close(
            as_array(got["out_init"], "the output at init", shape=base_out.shape),
            base_out,
            "the output at init (B must start at zero)",
            rtol=1e-10,
            atol=1e-12,
        )
        if got["same_base"] is not True:
            fail("self.base must be the very nn.Linear you were given, not a copy")
        if any(as_list(got["base_frozen"], "requires_grad of the base's parameters")):
            fail("the base layer's parameters must have requires_grad = False")
        expect_equal(as_list(got["A_shape"], "A's shape"), [r, in_f], "A's shape")
        expect_equal(as_list(got["B_shape"], "B's shape"), [out_f, r], "B's shape")
        expect_close(as_array(got["B_init"], "B at init"), np.zeros((out_f, r)), "B at init", atol=0)
        if sorted(got["trainable"]) != ["A", "B"]:
            fail(f"the trainable parameters must be exactly A and B, got {got['trainable']}")
        if got["A_dtype"] != "torch.float64":
            fail("A must have the base weight's dtype (the test's base is float64)")
        a_init = as_array(got["A_init"], "A at init", shape=(r, in_f))
        if np.linalg.matrix_rank(a_init) < min(r, in_f):
            fail("A at init must be drawn at random: its rows are not independent (all equal, or zero?)")
    rejected = as_dict(student.run(lora_rank_check_scenario), "the rank-check scenario")
    for r, error in rejected.items():
        if error != "ValueError":
            what = f"it raised {error}" if error else "it did not raise"
            fail(f"LoRALinear(base, r={r}) must raise ValueError, but {what}")


@hidden_test("LoRALinear", points=1)
def gradients_reach_b_not_a_at_init_and_never_the_base(student):
    """first backward pass: B gets the gradient, A gets exactly zero (B = 0), the base none"""
    case = lora_case(21, 5, 6, 3, 6)
    weight, b, x, r, alpha, a_values, b_values, upstream = case
    got = run_lora(student, case)
    if got["base_grad"] is not None:
        fail("the frozen base weight received a gradient")
    a_grad = as_array(got["A_grad"], "A.grad", shape=(r, weight.shape[1]))
    expect_close(
        a_grad, np.zeros_like(a_grad), "A.grad after the first backward pass (B is zero)", atol=1e-12
    )
    # dL/dB = scale * upstream^T (x A^T): needs the A the student drew, so check it through x's gradient
    # and B's gradient being non-zero and of rank <= r with columns in the span of upstream^T x.
    b_grad = as_array(got["B_grad"], "B.grad", shape=(weight.shape[0], r))
    if not np.abs(b_grad).max() > 1e-6:
        fail("B.grad is zero: with A random and B zero, B must receive a gradient at the first step")
    g = upstream.reshape(-1, weight.shape[0]).T @ x.reshape(-1, weight.shape[1])  # [out, in]
    # B.grad = scale * G A^T, so B.grad = G @ M for some M: it lies in the column space of G.
    projection = g @ np.linalg.pinv(g)
    expect_close(projection @ b_grad, b_grad, "B.grad (it must be scale * upstream^T x A^T)", atol=1e-8)
    expect_close(
        as_array(got["x_grad"], "x.grad", shape=x.shape),
        upstream @ weight,
        "the gradient with respect to the input at init",
        rtol=1e-9,
    )


@hidden_test("LoRALinear", points=1)
def forward_uses_the_scaled_update(student):
    """with given A and B the output is base(x) + (alpha / r) x A^T B^T, also for 3-D inputs"""
    for seed, (out_f, in_f, r, alpha, lead) in enumerate(
        [(4, 6, 2, 8, (5,)), (3, 5, 4, 2, (2, 3)), (5, 5, 1, 1, (4,))]
    ):
        case = lora_case(30 + seed, out_f, in_f, r, alpha, True, lead)
        got = run_lora(student, case)
        _, want, _ = lora_reference(*case)
        expect_close(
            as_array(got["out_update"], "the output", shape=want.shape),
            want,
            f"the output with r={r}, alpha={alpha}",
            rtol=1e-9,
        )


@hidden_test("LoRALinear", points=1)
def merge_adds_the_update_in_place_once(student):
    """merge() changes the base weight tensor itself by (alpha/r) B A, once; outputs stay equal"""
    case = lora_case(41, 6, 4, 2, 5)
    got = run_lora(student, case)
    _, want_out, want_weight = lora_reference(*case)
    if got["weight_in_place"] is not True:
        fail("merge() must update base.weight in place (the same tensor), not replace it")
    if got["merge_returns_self"] is not True:
        fail("merge() must return self")
    expect_close(
        as_array(got["weight_merged"], "the merged weight"), want_weight, "the merged weight", rtol=1e-9
    )
    expect_close(
        as_array(got["weight_merged_twice"], "the weight after a second merge()"),
        want_weight,
        "the weight after a second merge() (it must do nothing)",
        rtol=1e-9,
    )
    expect_close(
        as_array(got["out_merged"], "the merged output"),
        want_out,
        "the output once merged (the update must not be added twice)",
        rtol=1e-9,
    )
    if got["merged_grad_fn"]:
        fail("after merge() the base weight has a grad_fn: merge under torch.no_grad()")


@hidden_test("LoRALinear", points=1)
def unmerge_restores_the_base(student):
    """unmerge() (twice) brings the original weight and the unmerged output back"""
    case = lora_case(51, 4, 7, 3, 12)
    got = run_lora(student, case)
    weight, *_ = case
    _, want_out, _ = lora_reference(*case)
    if got["unmerge_returns_self"] is not True:
        fail("unmerge() must return self")
    expect_close(
        as_array(got["weight_restored"], "the weight after unmerge()"),
        weight,
        "the base weight after unmerge() (twice)",
        rtol=1e-9,
        atol=1e-12,
    )
    expect_close(
        as_array(got["out_unmerged"], "the output after unmerge()"),
        want_out,
        "the output after unmerge() (the update applies again)",
        rtol=1e-9,
    )


# ---- exercise 2: lora_counts (2 points) ----------------------------------------------------------------


@hidden_test("lora_counts", points=1)
def counts_for_square_and_rectangular_layers(student):
    """square, wide and tall layers, several ranks"""
    for shapes, r in [([(4096, 4096)], 8), ([(1024, 4096)], 16), ([(300, 7)], 3), ([(5, 2)], 1)]:
        got = as_list(student.lora_counts(shapes, r), f"lora_counts({shapes}, {r})", length=2)
        added = sum(r * (o + i) for o, i in shapes)
        frozen = sum(o * i for o, i in shapes)
        expect_equal(
            as_int(got[0], "the LoRA parameters added"), added, f"the LoRA parameters for {shapes}, r={r}"
        )
        expect_equal(as_int(got[1], "the weights adapted"), frozen, f"the weights adapted for {shapes}")


@hidden_test("lora_counts", points=1)
def sums_over_layers_and_rejects_rank_zero(student):
    """several layers (a transformer block's Q, K, V, O and MLP) add up; r < 1 raises ValueError"""
    shapes = [(512, 512)] * 4 + [(2048, 512), (512, 2048)]
    got = as_list(student.lora_counts(shapes, 4), "lora_counts for six layers", length=2)
    expect_equal(
        as_int(got[0], "added"), sum(4 * (o + i) for o, i in shapes), "the LoRA parameters of six layers"
    )
    expect_equal(as_int(got[1], "adapted"), sum(o * i for o, i in shapes), "the weights of six layers")
    got = as_list(student.lora_counts([], 8), "lora_counts([], 8)", length=2)
    expect_equal([as_int(v, "a count") for v in got], [0, 0], "lora_counts with no layers")
    from utils.grading.expect import expect_raises

    expect_raises(lambda: student.lora_counts([(4, 4)], 0), "ValueError", "lora_counts with r=0")
    expect_raises(lambda: student.lora_counts([(4, 4)], -2), "ValueError", "lora_counts with r=-2")


# ---- exercise 3: freeze_backbone (3 points) ------------------------------------------------------------


def freeze_scenario(student, x, y, eval_first):
    """A model in training mode (but the modules ``eval_first``), frozen by the student's function;
    then one training step of the head. The backbone nests its BatchNorm layers (2-d, 3-d, 1-d) and
    holds other normalisation layers that must keep training."""
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    torch.manual_seed(0)

    class Lift(torch.nn.Module):
        """BatchNorm3d over [B, C, 1, H, W], one level down."""

        def __init__(self, channels):
            super().__init__()
            self.norm = torch.nn.BatchNorm3d(channels)

        def forward(self, z):
            return self.norm(z.unsqueeze(2)).squeeze(2)

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = torch.nn.Sequential(
                torch.nn.Sequential(
                    torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.BatchNorm2d(3), torch.nn.ReLU()
                ),
                Lift(3),
                torch.nn.GroupNorm(1, 3),
                torch.nn.Dropout(0.5),
                torch.nn.Flatten(),
                torch.nn.Linear(3 * 4 * 4, 6),
                torch.nn.LayerNorm(6),
                torch.nn.BatchNorm1d(6),
                torch.nn.ReLU(),
            )
            self.head = torch.nn.Sequential(
                torch.nn.Dropout(0.2), torch.nn.Linear(6, 3), torch.nn.BatchNorm1d(3)
            )

        def forward(self, z):
            return self.head(self.backbone(z))

    model = Model()
    for p in model.head.parameters():
        p.requires_grad_(False)  # the function must switch the head on
    model.train()
    for name in eval_first:
        model.get_submodule(name).eval()
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.head.state_dict().items()}
    result = student.freeze_backbone(model)
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    modes = {name or "model": m.training for name, m in model.named_modules()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.1) if trainable else None
    loss = torch.nn.functional.cross_entropy(model(x), y)
    if optimizer is not None:
        loss.backward()
        optimizer.step()
    return {
        "returned_none": result is None,
        "flags": flags,
        "modes": modes,
        "backbone_after": model.backbone.state_dict(),
        "backbone_before": before,
        "head_before": head_before,  # the test compares the head before and after the step
        "head_after": model.head.state_dict(),
    }


def freeze_data(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(8, 1, 4, 4)).astype(np.float32), rng.integers(0, 3, size=8)


FREEZE_BATCHNORMS = {"backbone.0.1", "backbone.1.norm", "backbone.7"}  # in freeze_scenario's model


def run_freeze(student, seed, eval_first=()):
    x, y = freeze_data(seed)
    return as_dict(
        student.run(freeze_scenario, x, y, list(eval_first)),
        "the freeze scenario",
    )


@hidden_test("freeze_backbone", points=1)
def backbone_frozen_head_trainable(student):
    """every backbone parameter frozen (BatchNorm's too), every head parameter trainable"""
    got = run_freeze(student, 1)
    flags = as_dict(got["flags"], "requires_grad of the parameters")
    wrong_backbone = [n for n, f in flags.items() if n.startswith("backbone.") and f]
    wrong_head = [n for n, f in flags.items() if n.startswith("head.") and not f]
    if wrong_backbone:
        fail(f"backbone parameters still trainable: {wrong_backbone}")
    if wrong_head:
        fail(f"head parameters not trainable: {wrong_head}")


@hidden_test("freeze_backbone", points=1)
def batchnorm_in_eval_everything_else_untouched(student):
    """the backbone's BatchNorm layers (nested, 1-d to 3-d) go to eval mode; the other modules keep theirs"""
    eval_first = ["head.0", "backbone.3"]  # two dropout layers the caller had already put in eval mode
    got = run_freeze(student, 2, eval_first)
    modes = as_dict(got["modes"], "the training flags")
    for name in sorted(FREEZE_BATCHNORMS - set(modes)):
        fail(f"the module {name} disappeared from the model")
    for name, training in modes.items():
        if name in FREEZE_BATCHNORMS and training:
            fail(f"the backbone's BatchNorm layer {name} is still in training mode")
        if name not in FREEZE_BATCHNORMS and name not in eval_first and not training:
            fail(f"{name} was switched to eval mode, but only the backbone's BatchNorm layers should be")
        if name in eval_first and training:
            fail(f"{name} was in eval mode and was switched to training mode: leave the other modules alone")


@hidden_test("freeze_backbone", points=1)
def a_training_step_leaves_the_backbone_state_unchanged(student):
    """after a training step in train mode, the backbone's state_dict (running statistics too) is unchanged"""
    got = run_freeze(student, 3)
    expect_state_unchanged(got["backbone_before"], got["backbone_after"], "after a training step")
    head_before = as_dict(got["head_before"], "the head before")
    head_after = as_dict(got["head_after"], "the head after a training step")
    if all(
        key in head_after and np.array_equal(as_array(head_after[key], key), as_array(value, key))
        for key, value in head_before.items()
    ):
        fail("the head did not change in a training step: is it trainable?")
    if got.get("returned_none") is not True:
        fail("freeze_backbone works in place and returns None")


# ---- exercise 4: llrd_param_groups (3 points) -----------------------------------------------------------


def llrd_scenario(student, sizes, lr, decay, frozen):
    """Layers (top first) of the given sizes; report each group's lr and parameter ids, and an AdamW step."""
    torch.manual_seed(0)
    layers = [torch.nn.Linear(i, o) for i, o in sizes]
    ids = {id(p): f"{k}.{n}" for k, layer in enumerate(layers) for n, p in layer.named_parameters()}
    for k in frozen:
        for p in layers[k].parameters():
            p.requires_grad_(False)
    groups = student.llrd_param_groups(layers, lr, decay)
    report = {
        "count": len(groups),
        "lrs": [float(g["lr"]) for g in groups],
        "members": [sorted(ids.get(id(p), "?") for p in g["params"]) for g in groups],
    }
    optimizer = torch.optim.AdamW(groups)
    report["optimizer_lrs"] = [float(g["lr"]) for g in optimizer.param_groups]
    return report


def llrd_blocks_scenario(student, lr, decay):
    """Blocks, a ReLU, partly frozen blocks and a frozen layer, top first; each group's lr and members."""
    torch.manual_seed(0)
    nn = torch.nn
    layers = [
        nn.Linear(4, 3),
        nn.ReLU(),
        nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 4)),
        nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 4)),
        nn.Linear(4, 4),
        nn.Embedding(10, 4),
    ]
    layers[2][0].requires_grad_(False)  # the block's LayerNorm is frozen, its Linear is not
    layers[3][0].weight.requires_grad_(False)  # one weight of the block is frozen, its bias is not
    layers[4].requires_grad_(False)
    ids = {id(p): f"{k}.{n}" for k, layer in enumerate(layers) for n, p in layer.named_parameters()}
    groups = student.llrd_param_groups(layers, lr, decay)
    report = {
        "lrs": [float(g["lr"]) for g in groups],
        "members": [sorted(ids.get(id(p), "?") for p in g["params"]) for g in groups],
    }
    optimizer = torch.optim.AdamW(groups)
    report["optimizer_lrs"] = [float(g["lr"]) for g in optimizer.param_groups]
    return report


@hidden_test("llrd_param_groups", points=1)
def one_group_per_layer_top_first(student):
    """each layer's parameters (weight and bias) in its own group, in the order given"""
    sizes = [(8, 3), (8, 8), (5, 8), (4, 5)]
    got = as_dict(student.run(llrd_scenario, sizes, 1e-3, 0.5, []), "the scenario")
    expect_equal(as_int(got["count"], "the number of groups"), 4, "the number of groups")
    for k, members in enumerate(as_list(got["members"], "the groups' parameters")):
        expect_equal(sorted(members), [f"{k}.bias", f"{k}.weight"], f"the parameters of group {k}")


@hidden_test("llrd_param_groups", points=1)
def learning_rates_decay_geometrically_from_the_top(student):
    """group k gets lr * decay ** k (k = 0 for the first layer given), also as AdamW sees them"""
    for lr, decay in [(1e-3, 0.5), (3e-4, 0.9), (0.02, 1 / 2.6)]:
        sizes = [(6, 4), (6, 6), (4, 6), (3, 4), (2, 3)]
        got = as_dict(student.run(llrd_scenario, sizes, lr, decay, []), "the scenario")
        want = np.array([lr * decay**k for k in range(len(sizes))])
        expect_close(
            as_array(got["lrs"], "the groups' lr", shape=want.shape),
            want,
            f"the learning rates (lr={lr}, decay={decay:.3g})",
            rtol=1e-7,
            atol=0,
        )
        expect_close(
            as_array(got["optimizer_lrs"], "AdamW's lr", shape=want.shape),
            want,
            "the learning rates AdamW uses",
            rtol=1e-7,
            atol=0,
        )


@hidden_test("llrd_param_groups", points=1)
def frozen_layers_get_no_group_and_depths_still_count(student):
    """frozen or parameterless layers get no group, blocks keep their trainable parameters, depths count"""
    sizes = [(6, 4), (6, 6), (4, 6), (3, 4)]
    got = as_dict(student.run(llrd_scenario, sizes, 0.01, 0.5, [1]), "the scenario")
    expect_close(
        as_array(got["lrs"], "the groups' lr", shape=(3,)),
        np.array([0.01, 0.01 * 0.25, 0.01 * 0.125]),
        "the learning rates with layer 1 frozen",
        rtol=1e-7,
        atol=0,
    )
    members = as_list(got["members"], "the groups' parameters", length=3)
    expect_equal(
        [sorted(m) for m in members],
        [["0.bias", "0.weight"], ["2.bias", "2.weight"], ["3.bias", "3.weight"]],
        "the groups' parameters with layer 1 frozen",
    )
    got = as_dict(student.run(llrd_blocks_scenario, 0.01, 0.5), "the scenario with blocks")
    want_members = [
        ["0.bias", "0.weight"],
        ["2.1.bias", "2.1.weight"],
        ["3.0.bias", "3.2.bias", "3.2.weight"],
        ["5.weight"],
    ]
    members = as_list(got["members"], "the groups' parameters", length=len(want_members))
    expect_equal(
        [sorted(m) for m in members],
        want_members,
        "the groups' parameters for layers that are blocks (a ReLU, partly frozen blocks, a frozen layer)",
    )
    for key, what in (("lrs", "the groups' lr"), ("optimizer_lrs", "AdamW's lr")):
        expect_close(
            as_array(got[key], what, shape=(4,)),
            np.array([0.01 * 0.5**k for k in (0, 2, 3, 5)]),
            f"{what} for layers that are blocks, with a ReLU and frozen layers among them",
            rtol=1e-7,
            atol=0,
        )


# ---- exercise 5: bradley_terry_loss (2 points) ---------------------------------------------------------


def bt_scenario(student, chosen, rejected):
    chosen, rejected = torch.as_tensor(chosen), torch.as_tensor(rejected)
    c = chosen.clone().requires_grad_()
    r = rejected.clone().requires_grad_()
    loss = student.bradley_terry_loss(c, r)
    loss.backward()
    return {
        "loss": loss.detach(),
        "dim": loss.dim(),
        "dtype": str(loss.dtype),
        "c_grad": c.grad,
        "r_grad": r.grad,
    }


@hidden_test("bradley_terry_loss", points=1)
def matches_the_definition_with_gradients(student):
    """loss and gradients against -mean log sigmoid(r_c - r_r), several sizes"""
    rng = np.random.default_rng(5)
    for n in (1, 7, 64):
        chosen, rejected = rng.normal(size=n) * 2, rng.normal(size=n) * 2
        got = as_dict(student.run(bt_scenario, chosen, rejected), "the scenario")
        c, r = torch.tensor(chosen, requires_grad=True), torch.tensor(rejected, requires_grad=True)
        want = -F.logsigmoid(c - r).mean()
        want.backward()
        if got["dim"] != 0:
            fail("the loss must be a 0-d tensor (the mean over the pairs)")
        expect_close(as_float(got["loss"], "the loss"), want.item(), f"the loss for {n} pairs", rtol=1e-9)
        expect_close(
            as_array(got["c_grad"], "the gradient for r_chosen"),
            c.grad.numpy(),
            "the gradient with respect to r_chosen",
            rtol=1e-8,
        )
        expect_close(
            as_array(got["r_grad"], "the gradient for r_rejected"),
            r.grad.numpy(),
            "the gradient with respect to r_rejected",
            rtol=1e-8,
        )


@hidden_test("bradley_terry_loss", points=1)
def finite_and_right_for_huge_score_differences(student):
    """differences of +-800, +-500 and +-100 (float32 and float64): finite, correct losses and gradients"""
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        chosen = np.array([800.0, -800.0, 500.0, -500.0, 100.0, -100.0, 0.0], dtype=dtype)
        rejected = np.zeros(7, dtype=dtype)
        got = as_dict(student.run(bt_scenario, chosen, rejected), "the scenario")
        c = torch.tensor(chosen, dtype=torch.float64, requires_grad=True)
        want = -F.logsigmoid(c).mean()
        want.backward()
        if got["dtype"] != f"torch.{name}":
            fail(f"the loss should have the scores' dtype, torch.{name}, but it is {got['dtype']}")
        loss = as_float(got["loss"], "the loss")
        if not math.isfinite(loss):
            fail(f"the loss is {loss} for differences of +-800 ({name}): compute log sigmoid stably")
        expect_close(loss, want.item(), f"the loss for huge differences ({name})", rtol=1e-5)
        grads = as_array(got["c_grad"], "the gradient", shape=(7,))
        if not np.all(np.isfinite(grads)):
            fail(f"the gradient is not finite for huge differences ({name})")
        expect_close(
            grads, c.grad.numpy(), f"the gradient for huge differences ({name})", rtol=1e-5, atol=1e-9
        )


# ---- exercise 6: dpo_loss (3 points) --------------------------------------------------------------------


def dpo_scenario(student, pc, pr, rc, rr, beta):
    pc, pr, rc, rr = (torch.as_tensor(v) for v in (pc, pr, rc, rr))
    pc_t, pr_t = pc.clone().requires_grad_(), pr.clone().requires_grad_()
    loss, margin = student.dpo_loss(pc_t, pr_t, rc, rr, beta)
    loss.backward()
    return {
        "loss": loss.detach(),
        "dim": loss.dim(),
        "dtype": str(loss.dtype),
        "margin": margin.detach(),
        "margin_grad": margin.requires_grad,
        "pc_grad": pc_t.grad,
        "pr_grad": pr_t.grad,
        "refs_after": [rc, rr],  # the test compares them with its own copies
    }


def dpo_reference(pc, pr, rc, rr, beta):
    t = [torch.tensor(v, requires_grad=True) for v in (pc, pr)]
    margin = (t[0] - torch.tensor(rc)) - (t[1] - torch.tensor(rr))
    loss = -F.logsigmoid(beta * margin).mean()
    loss.backward()
    return loss.item(), margin.detach().numpy(), t[0].grad.numpy(), t[1].grad.numpy()


def dpo_case(seed, n):
    rng = np.random.default_rng(seed)
    pc, pr = rng.normal(-40, 5, size=n), rng.normal(-40, 5, size=n)
    rc, rr = pc + rng.normal(0, 2, size=n), pr + rng.normal(0, 2, size=n)  # policy near the reference
    return pc, pr, rc, rr


@hidden_test("dpo_loss", points=1)
def margins_are_differences_of_log_ratios(student):
    """the margin: (pi_c - ref_c) - (pi_r - ref_r), shape [N], detached; references not modified"""
    pc, pr, rc, rr = dpo_case(61, 9)
    got = as_dict(student.run(dpo_scenario, pc, pr, rc, rr, 0.1), "the scenario")
    _, margin, _, _ = dpo_reference(pc, pr, rc, rr, 0.1)
    expect_close(as_array(got["margin"], "the margin", shape=(9,)), margin, "the margins", rtol=1e-9)
    if got["margin_grad"]:
        fail("the margin must be detached (no gradient)")
    refs_after = as_list(got["refs_after"], "the references after the call", length=2)
    if not all(
        np.array_equal(as_array(after, "a reference after the call", shape=ref.shape), ref)
        for after, ref in zip(refs_after, (rc, rr))
    ):
        fail("dpo_loss modified the reference log-probabilities")


@hidden_test("dpo_loss", points=1)
def loss_and_gradients_for_several_betas(student):
    """loss and gradients with respect to the policy's log-probs, beta 0.1, 0.5 and 2"""
    for seed, beta in ((62, 0.1), (63, 0.5), (64, 2.0)):
        pc, pr, rc, rr = dpo_case(seed, 12)
        got = as_dict(
            student.run(dpo_scenario, pc, pr, rc, rr, beta),
            "the scenario",
        )
        loss, _, gc, gr = dpo_reference(pc, pr, rc, rr, beta)
        if got["dim"] != 0:
            fail("the loss must be a 0-d tensor (the mean over the pairs)")
        expect_close(as_float(got["loss"], "the loss"), loss, f"the DPO loss (beta={beta})", rtol=1e-9)
        expect_close(
            as_array(got["pc_grad"], "d loss / d pi_chosen"),
            gc,
            f"d loss / d pi_chosen (beta={beta})",
            rtol=1e-8,
        )
        expect_close(
            as_array(got["pr_grad"], "d loss / d pi_rejected"),
            gr,
            f"d loss / d pi_rejected (beta={beta})",
            rtol=1e-8,
        )


@hidden_test("dpo_loss", points=1)
def large_margins_stay_finite(student):
    """margins of thousands of nats (both signs, float64 and float32): finite, right losses and gradients"""
    for dtype, rtol, atol in ((np.float64, 1e-9, 1e-12), (np.float32, 1e-5, 1e-8)):
        name = np.dtype(dtype).name
        pc = np.array([0.0, -5000.0, -10.0, -800.0], dtype=dtype)
        pr = np.array([-5000.0, 0.0, -10.0, 0.0], dtype=dtype)
        rc = np.array([-10.0, -10.0, -10.0, -10.0], dtype=dtype)
        rr = np.array([-10.0, -10.0, -10.0, -10.0], dtype=dtype)
        got = as_dict(student.run(dpo_scenario, pc, pr, rc, rr, 1.0), "the scenario")
        loss, _, gc, gr = dpo_reference(*(v.astype(np.float64) for v in (pc, pr, rc, rr)), 1.0)
        if got["dtype"] != f"torch.{name}":
            fail(f"the loss should have the log-probabilities' dtype, torch.{name}, but it is {got['dtype']}")
        value = as_float(got["loss"], "the loss")
        if not math.isfinite(value):
            fail(f"the loss is {value} for a margin of -5000 ({name}): compute log sigmoid stably")
        expect_close(value, loss, f"the loss for huge margins ({name})", rtol=rtol)
        grads = (("pc_grad", gc, "d loss / d pi_chosen"), ("pr_grad", gr, "d loss / d pi_rejected"))
        for key, want, what in grads:
            grad = as_array(got[key], what, shape=(4,))
            if not np.all(np.isfinite(grad)):
                fail(f"{what} is not finite for huge margins ({name}): compute log sigmoid stably")
            expect_close(grad, want, f"{what} for huge margins ({name})", rtol=rtol, atol=atol)


# ---- exercise 7: finetune_head, the silent bug (3 points) ------------------------------------------------


def finetune_scenario(student, x, y, steps, lr, weights):
    """A backbone with BatchNorm (and dropout) and a head we own; the student's loop; what changed."""
    x, y, weights = torch.as_tensor(x), torch.as_tensor(y), [torch.as_tensor(w) for w in weights]
    backbone = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Dropout(0.5)
    )
    head = torch.nn.Linear(8, 3)
    with torch.no_grad():
        for p, w in zip([*backbone.parameters(), *head.parameters()], weights):
            p.copy_(w)
        backbone[1].running_mean.copy_(weights[-2])
        backbone[1].running_var.copy_(weights[-1])
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.train()
    modes = {"backbone": [], "head": []}  # the training flag of each module at each of its calls
    backbone.register_forward_pre_hook(lambda module, _: modes["backbone"].append(module.training))
    head.register_forward_pre_hook(lambda module, _: modes["head"].append(module.training))
    losses = student.finetune_head(backbone, head, x, y, steps=steps, lr=lr)
    return {
        "losses": losses,
        "loss_types": sorted({type(v).__name__ for v in losses}) if isinstance(losses, list) else [],
        "modes": modes,
        "before": before,
        "after": backbone.state_dict(),
        "head": head.state_dict(),
    }


def finetune_case(seed, steps=15):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(24, 5)).astype(np.float32) * 2 + 1
    y = rng.integers(0, 3, size=24)
    shapes = [(8, 5), (8,), (8,), (8,), (3, 8), (3,)]
    weights = [rng.normal(size=s).astype(np.float32) * 0.5 for s in shapes]
    weights += [rng.normal(size=8).astype(np.float32), rng.uniform(0.5, 2, size=8).astype(np.float32)]
    return x, y, steps, 0.5, weights


def finetune_reference(x, y, steps, lr, weights):
    """The correct loop, here: eval-mode backbone features, full-batch SGD on the head."""
    w1, b1, gamma, beta, wh, bh, mean, var = (torch.tensor(w) for w in weights)
    h = F.relu(F.batch_norm(torch.tensor(x) @ w1.T + b1, mean, var, gamma, beta, training=False, eps=1e-5))
    wh, bh = wh.clone().requires_grad_(), bh.clone().requires_grad_()
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(h @ wh.T + bh, torch.tensor(y))
        gw, gb = torch.autograd.grad(loss, [wh, bh])
        with torch.no_grad():
            wh -= lr * gw
            bh -= lr * gb
        losses.append(loss.item())
    return losses, wh.detach().numpy(), bh.detach().numpy()


@hidden_test("finetune_head", points=1)
def the_backbone_state_is_exactly_unchanged(student):
    """every backbone parameter and BatchNorm buffer is bit-for-bit what it was"""
    got = as_dict(student.run(finetune_scenario, *finetune_case(71)), "the scenario")
    expect_state_unchanged(got["before"], got["after"], "after fine-tuning")


@hidden_test("finetune_head", points=1)
def the_head_learns_on_eval_mode_features(student):
    """the head ends where full-batch SGD on the eval-mode features takes it"""
    case = finetune_case(72)
    got = as_dict(student.run(finetune_scenario, *case), "the scenario")
    _, want_w, want_b = finetune_reference(*case)
    modes = as_dict(got["modes"], "the modules' modes")
    if any(as_list(modes["backbone"], "the backbone's modes")):
        fail("the backbone was called in training mode: its features must come from eval mode")
    head_modes = as_list(modes["head"], "the head's modes")
    if not head_modes or not all(head_modes):
        fail("the head was called in eval mode: it trains, so it stays in training mode")
    head = as_dict(got["head"], "the head's state_dict")
    expect_close(
        as_array(head["weight"], "the head's weight", shape=want_w.shape),
        want_w,
        "the head's weight after training",
        rtol=1e-4,
        atol=1e-5,
    )
    expect_close(
        as_array(head["bias"], "the head's bias", shape=want_b.shape),
        want_b,
        "the head's bias after training",
        rtol=1e-4,
        atol=1e-5,
    )


@hidden_test("finetune_head", points=1)
def the_losses_are_the_ones_of_that_training(student):
    """one loss per step, equal to the reference loop's losses (another seed, 25 steps)"""
    case = finetune_case(73, steps=25)
    got = as_dict(student.run(finetune_scenario, *case), "the scenario")
    want, _, _ = finetune_reference(*case)
    if got["loss_types"] != ["float"]:
        fail(f"the losses must be a list of Python floats (loss.item()), not {got['loss_types']}")
    expect_close(
        as_array(got["losses"], "the losses", shape=(25,), kind="float"),
        np.array(want),
        "the losses of the 25 steps",
        rtol=1e-4,
        atol=1e-6,
    )


# ---- exercise 8: lora_rank_experiment (3 points) -----------------------------------------------------------


def rank_lower_bounds(ranks, d, true_rank, seed):
    """The smallest relative error any rank-r update can reach on the exercise's problem (exact)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(d, d, generator=g, dtype=torch.float32) / math.sqrt(d)
    delta = torch.randn(d, true_rank, generator=g) @ torch.randn(true_rank, d, generator=g) / math.sqrt(d)
    x = torch.randn(512, d, generator=g)
    target = (x @ (w + delta).T).double()
    # ||X (M - delta)^T||^2 with X = QR: the best rank-r M leaves the tail of the singular values
    # of R delta^T.
    _, r_factor = torch.linalg.qr(x.double())
    singular = torch.linalg.svdvals(r_factor @ delta.double().T)
    scale = target.pow(2).mean().item() * target.numel()
    return [float(singular[r:].pow(2).sum()) / scale for r in ranks]


@hidden_test("lora_rank_experiment", points=1)
def one_finite_error_per_rank(student):
    """a list of finite, non-negative floats, one per rank, below the error of no update at all"""
    ranks = [1, 4]
    got = as_array(
        student.lora_rank_experiment(ranks, d=16, true_rank=3, steps=200, seed=1),
        "the errors",
        shape=(2,),
        kind="float",
    )
    if not np.all(np.isfinite(got)) or np.any(got < 0):
        fail("the errors must be finite and non-negative")
    no_update = rank_lower_bounds([0], 16, 3, 1)[0]
    if not np.all(got < no_update):
        fail("some errors are no better than not training at all: is LoRA's update trained?")


@hidden_test("lora_rank_experiment", points=1)
def below_the_true_rank_near_the_best_possible_and_never_below(student):
    """r < true_rank: at least the exact lower bound (only A and B train) and within 1% of it"""
    ranks, d, true_rank, seed = [1, 2], 24, 4, 2
    got = as_array(
        student.lora_rank_experiment(ranks, d=d, true_rank=true_rank, steps=300, seed=seed),
        "the errors",
        shape=(2,),
        kind="float",
    )
    bounds = rank_lower_bounds(ranks, d, true_rank, seed)
    for r, e, bound in zip(ranks, got, bounds):
        if e < bound * (1 - 1e-3):
            fail(
                f"rank {r} reaches an error below what any rank-{r} update can: is more than A and B trained?"
            )
        if e > 1.01 * bound + 1e-4:  # 300 steps of Adam reach the bound to about 1e-6
            fail(
                f"rank {r} stays above the best rank-{r} error: check the training (Adam, lr 0.02) and the"
                " relative error (divided by the mean square of the target)"
            )


@hidden_test("lora_rank_experiment", points=1)
def at_or_above_the_true_rank_the_change_is_learnt(student):
    """r >= true_rank: the relative error falls below 1e-3"""
    got = as_array(
        student.lora_rank_experiment([3, 6], d=20, true_rank=3, steps=300, seed=3),
        "the errors",
        shape=(2,),
        kind="float",
    )
    if not np.all(got < 1e-3):
        fail(
            f"ranks 3 and 6 should fit a rank-3 change almost exactly; the relative errors are {got.tolist()}"
        )
