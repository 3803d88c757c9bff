"""Visible tests for chapter 9's exercises (exercises/09_resnets_unets.ipynb).

Expected values come from PyTorch's own layers on the same numbers (F.conv2d, F.batch_norm,
F.conv_transpose2d, nn.ConvTranspose2d) or from the definitions in the prompts. The
transposed convolution must be written by stamping, so PyTorch's own is switched off while it
is checked.
"""

import math

import torch
import torch.nn.functional as F

from utils.grading.expect import (
    as_array,
    as_dict,
    as_float,
    as_int,
    as_list,
    expect_close,
    expect_raises,
    fail,
)
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

write_it_yourself("conv_transpose2d", "torch.nn.functional.conv_transpose2d", "torch.conv_transpose2d")


def block_scenario(student, c_in, c_out, stride, state, x):
    """Build the student's block, load the given weights, run it in training and evaluation mode."""
    block = student.ResidualBlock(c_in, c_out, stride).double()
    keys = sorted(block.state_dict())
    block.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    block.eval()  # first, with the running statistics given
    out_eval = block(torch.as_tensor(x).clone()).detach()
    block.train()
    out_train = block(torch.as_tensor(x).clone()).detach()
    return {"keys": keys, "train": out_train, "eval": out_eval}


def _block_state(c_in, c_out, stride):
    gen = torch.Generator().manual_seed(0)
    state = {
        "conv1.weight": torch.randn(c_out, c_in, 3, 3, generator=gen, dtype=torch.float64) * 0.3,
        "conv2.weight": torch.randn(c_out, c_out, 3, 3, generator=gen, dtype=torch.float64) * 0.3,
    }
    names = ["bn1", "bn2"] + (["proj_bn"] if stride != 1 or c_in != c_out else [])
    if "proj_bn" in names:
        state["proj_conv.weight"] = torch.randn(c_out, c_in, 1, 1, generator=gen, dtype=torch.float64)
    for name in names:
        state[f"{name}.weight"] = 1 + 0.2 * torch.randn(c_out, generator=gen, dtype=torch.float64)
        state[f"{name}.bias"] = 0.2 * torch.randn(c_out, generator=gen, dtype=torch.float64)
        state[f"{name}.running_mean"] = 0.1 * torch.randn(c_out, generator=gen, dtype=torch.float64)
        state[f"{name}.running_var"] = 1 + torch.rand(c_out, generator=gen, dtype=torch.float64)
        state[f"{name}.num_batches_tracked"] = torch.tensor(0)
    return state


def _block_reference(state, x, stride, training):
    def bn(h, name):
        return F.batch_norm(
            h,
            state[f"{name}.running_mean"].clone(),
            state[f"{name}.running_var"].clone(),
            state[f"{name}.weight"],
            state[f"{name}.bias"],
            training=training,
        )

    out = F.relu(bn(F.conv2d(x, state["conv1.weight"], stride=stride, padding=1), "bn1"))
    out = bn(F.conv2d(out, state["conv2.weight"], padding=1), "bn2")
    short = (
        bn(F.conv2d(x, state["proj_conv.weight"], stride=stride), "proj_bn")
        if "proj_conv.weight" in state
        else x
    )
    return F.relu(out + short)


@visible_test(
    "ResidualBlock",
    hint="conv-BN-ReLU-conv-BN, add the shortcut, then ReLU; a projection "
    "(proj_conv 1x1 with the stride, proj_bn) only when the shape changes.",
)
def block_with_projection(student):
    """a 2 -> 4 channel block with stride 2, in training and evaluation mode"""
    state = _block_state(2, 4, 2)
    x = torch.randn(3, 2, 6, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    got = as_dict(
        student.run(block_scenario, 2, 4, 2, state, x), "the scenario", keys=["keys", "train", "eval"]
    )
    if as_list(got["keys"], "state_dict keys") != sorted(state):
        fail(f"the block's state_dict keys are {got['keys']}, expected {sorted(state)}")
    for mode, training in (("train", True), ("eval", False)):
        want = _block_reference(state, x, 2, training)
        expect_close(
            as_array(got[mode], f"output in {mode} mode", shape=tuple(want.shape)),
            want.numpy(),
            f"output in {mode} mode",
            rtol=1e-6,
            atol=1e-8,
        )


def count_type_scenario(student, args):
    """The type of the count as returned (a NumPy integer would arrive as an int after a call)."""
    return type(student.block_parameter_count(*args)).__name__


@visible_test(
    "block_parameter_count",
    hint="3x3 conv: 9 * c_in * c_out; BatchNorm2d(c): 2c; "
    "projection (1x1 conv + BN) when stride != 1 or c_in != c_out.",
)
def two_blocks(student):
    """a basic 64 -> 64 block and a bottleneck 256 -> 64 -> 256"""
    kind = student.run(count_type_scenario, ("basic", 64, 64))
    if kind != "int":
        fail(f"block_parameter_count returned a {kind}; return a Python int")
    got = as_int(student.block_parameter_count("basic", 64, 64), "basic 64 -> 64")
    if got != 2 * 9 * 64 * 64 + 4 * 64:
        fail(f"block_parameter_count('basic', 64, 64) returned {got}; count the two 3x3 kernels and two BNs")
    got = as_int(
        student.block_parameter_count("bottleneck", 256, 256, c_mid=64), "bottleneck 256 -> 64 -> 256"
    )
    if got != 256 * 64 + 9 * 64 * 64 + 64 * 256 + 2 * (64 + 64 + 256):
        fail(f"block_parameter_count('bottleneck', 256, 256, c_mid=64) returned {got}")
    expect_raises(lambda: student.block_parameter_count("wide", 8, 8), "ValueError", "an unknown kind")


@visible_test(
    "conv_transpose_output_size",
    hint="(h - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1",
)
def a_few_sizes(student):
    """stride 2 with kernel 2 and 3, and an output_padding that is too large"""
    for args, want in (((8, 2, 2), 16), ((8, 3, 2, 1), 15), ((8, 3, 2, 1, 1), 16)):
        got = as_int(student.conv_transpose_output_size(*args), f"conv_transpose_output_size{args}")
        if got != want:
            fail(f"conv_transpose_output_size{args} returned {got}, nn.ConvTranspose2d gives {want}")
    expect_raises(
        lambda: student.conv_transpose_output_size(8, 3, 2, 0, 2),
        "ValueError",
        "output_padding=2 with stride 2 and dilation 1",
    )


@visible_test(
    "conv_transpose2d",
    hint="every input pixel (i, j) adds x[:, :, i, j] times the kernel at "
    "(i * stride, j * stride); then crop `padding` from every side and add the bias.",
)
def one_small_case(student):
    """a batch of 2, 3 -> 2 channels, stride 2, padding 1, without and with a bias"""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(2, generator=gen, dtype=torch.float64)
    for bias in (None, b):
        what = f"conv_transpose2d(x, w, {'b' if bias is not None else 'None'}, stride=2, padding=1)"
        want = F.conv_transpose2d(x, w, bias, stride=2, padding=1)
        out = student.conv_transpose2d(x, w, bias, stride=2, padding=1)
        if getattr(out, "dtype", None) != torch.float64:
            fail(f"{what}: float64 inputs gave a {getattr(out, 'dtype', type(out).__name__)} output")
        got = as_array(out, what, shape=tuple(want.shape))
        expect_close(got, want.numpy(), what, rtol=1e-6, atol=1e-9)


@visible_test(
    "segmentation_scores",
    hint="IoU = |P and T| / |P or T|, Dice = 2|P and T| / (|P| + |T|) "
    "over all pixels; NaN for a class in neither tensor.",
)
def a_tiny_label_map(student):
    """a 2 x 3 label map with 4 classes, one of them absent"""
    truth = torch.tensor([[0, 1, 1], [0, 2, 2]])
    pred = torch.tensor([[0, 1, 2], [0, 2, 0]])
    got = as_dict(student.segmentation_scores(pred, truth, 4), "the scores", keys=["iou", "dice"])
    for name in ("iou", "dice"):
        if not isinstance(got[name], torch.Tensor) or got[name].dtype != torch.float64:
            kind = got[name].dtype if isinstance(got[name], torch.Tensor) else type(got[name]).__name__
            fail(f"{name} should be a float64 tensor, not {kind}")
    iou, dice = as_array(got["iou"], "iou", shape=(4,)), as_array(got["dice"], "dice", shape=(4,))
    if not (math.isnan(iou[3]) and math.isnan(dice[3])):
        fail("class 3 is in neither tensor: its IoU and Dice should be NaN")
    expect_close(iou[:3], [2 / 3, 1 / 2, 1 / 3], "iou of classes 0-2")
    expect_close(dice[:3], [4 / 5, 2 / 3, 1 / 2], "dice of classes 0-2")


def preact_scenario(student, state, x, zero_conv2):
    """The student's pre-activation block with given weights, in evaluation mode."""
    block = student.PreActBlock(x.shape[1]).double()
    block.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    if zero_conv2:
        with torch.no_grad():
            block.conv2.weight.zero_()
    block.eval()
    inp = torch.as_tensor(x).clone()
    return {"out": block(inp).detach(), "x": inp}


@visible_test("PreActBlock", hint="the shortcut must carry the block's input x itself, not relu(BN(x)).")
def identity_when_the_branch_is_zero(student):
    """with conv2 = 0 the block returns its input, negative values included"""
    gen = torch.Generator().manual_seed(3)
    state = {}  # the state_dict of a PreActBlock(3)
    for name in ("bn1", "bn2"):
        state[f"{name}.weight"] = torch.ones(3, dtype=torch.float64)
        state[f"{name}.bias"] = torch.zeros(3, dtype=torch.float64)
        state[f"{name}.running_mean"] = torch.zeros(3, dtype=torch.float64)
        state[f"{name}.running_var"] = torch.ones(3, dtype=torch.float64)
        state[f"{name}.num_batches_tracked"] = torch.tensor(0)
    for name in ("conv1", "conv2"):
        state[f"{name}.weight"] = torch.randn(3, 3, 3, 3, generator=gen, dtype=torch.float64)
    x = torch.randn(2, 3, 4, 4, generator=gen, dtype=torch.float64)
    got = as_dict(student.run(preact_scenario, state, x, True), "the scenario", keys=["out", "x"])
    expect_close(as_array(got["out"], "output", shape=(2, 3, 4, 4)), x.numpy(), "the output with conv2 = 0")


@visible_test(
    "gradient_norms",
    hint="keep every h_l (retain_grad, or torch.autograd.grad), loss = "
    "0.5 * (h_L ** 2).sum() / N, norms from h_0 to h_L.",
)
def two_layers(student):
    """a 2-layer plain stack on 3 examples of width 4"""
    gen = torch.Generator().manual_seed(4)
    weights = [torch.randn(4, 4, generator=gen, dtype=torch.float64) for _ in range(2)]
    x = torch.randn(3, 4, generator=gen, dtype=torch.float64)
    hs = [x.clone().requires_grad_()]
    for w in weights:
        hs.append(F.relu(hs[-1] @ w.T))
    grads = torch.autograd.grad(0.5 * (hs[-1] ** 2).sum() / 3, hs)
    got = as_list(student.gradient_norms(weights, x, False), "gradient_norms(...)", length=3)
    if any(type(v) is not float for v in got):
        fail("gradient_norms should return Python floats (.item()), not " + type(got[0]).__name__)
    expect_close([as_float(v, "a norm") for v in got], [g.norm().item() for g in grads], "the three norms")
