"""Hidden tests for exercises/09_resnets_unets.ipynb (20 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values come from PyTorch's functional layers (F.conv2d, F.batch_norm,
F.conv_transpose2d), from modules built here (parameter counts, nn.ConvTranspose2d output
sizes) or from the definitions in the prompts. Modules are observed through scenarios.
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
    expect_raises,
    fail,
)
from utils.grading.hidden import hidden_test

# ---- exercise 1: ResidualBlock (4 points) -----------------------------------------------------------


def block_state(seed, c_in, c_out, stride):
    """A state_dict for the prescribed names, as float64 tensors with non-trivial BN statistics."""
    gen = torch.Generator().manual_seed(seed)

    def randn(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen, dtype=torch.float64) * scale

    state = {
        "conv1.weight": randn(c_out, c_in, 3, 3, scale=0.3),
        "conv2.weight": randn(c_out, c_out, 3, 3, scale=0.3),
    }
    names = ["bn1", "bn2"]
    if stride != 1 or c_in != c_out:
        state["proj_conv.weight"] = randn(c_out, c_in, 1, 1, scale=0.7)
        names.append("proj_bn")
    for name in names:
        state[f"{name}.weight"] = 1 + randn(c_out, scale=0.3)
        state[f"{name}.bias"] = randn(c_out, scale=0.3)
        state[f"{name}.running_mean"] = randn(c_out, scale=0.2)
        state[f"{name}.running_var"] = 0.5 + torch.rand(c_out, generator=gen, dtype=torch.float64)
        state[f"{name}.num_batches_tracked"] = torch.tensor(3)
    return state


def block_reference(state, x, stride, training, upstream=None):
    """(output, running statistics after, dL/dx) of the prompt's block, from functional layers."""
    stats = {k: v.clone() for k, v in state.items() if "running" in k}
    x = x.clone().requires_grad_()

    def bn(h, name):
        return F.batch_norm(
            h,
            stats[f"{name}.running_mean"],
            stats[f"{name}.running_var"],
            state[f"{name}.weight"],
            state[f"{name}.bias"],
            training=training,
        )

    out = F.relu(bn(F.conv2d(x, state["conv1.weight"], stride=stride, padding=1), "bn1"))
    out = bn(F.conv2d(out, state["conv2.weight"], padding=1), "bn2")
    if "proj_conv.weight" in state:
        short = bn(F.conv2d(x, state["proj_conv.weight"], stride=stride), "proj_bn")
    else:
        short = x
    y = F.relu(out + short)
    grad = None
    if upstream is not None:
        (y * upstream).sum().backward()
        grad = x.grad
    return y.detach(), stats, grad


def block_run(student, c_in, c_out, stride, state, x, upstream):
    """Fresh keys and shapes; then our weights: training mode with a backward pass, then evaluation."""
    block = student.ResidualBlock(c_in, c_out, stride).double()
    fresh = {k: list(v.shape) for k, v in block.state_dict().items()}
    block.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    block.train()
    inp = torch.as_tensor(x).clone().requires_grad_()
    out = block(inp)
    (out * torch.as_tensor(upstream)).sum().backward()
    stats = {k: v.detach().clone() for k, v in block.state_dict().items() if "running" in k}
    block.eval()
    with torch.no_grad():
        out_eval = block(torch.as_tensor(x).clone())
    return {"fresh": fresh, "train": out.detach(), "grad": inp.grad, "stats": stats, "eval": out_eval}


def run_block(student, seed, c_in, c_out, stride, n=3, size=6):
    state = block_state(seed, c_in, c_out, stride)
    gen = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(n, c_in, size, size, generator=gen, dtype=torch.float64)
    out_size = (size - 1) // stride + 1
    upstream = torch.randn(n, c_out, out_size, out_size, generator=gen, dtype=torch.float64)
    got = as_dict(
        student.run(block_run, c_in, c_out, stride, state, x, upstream),
        "the scenario",
        keys=["fresh", "train", "grad", "stats", "eval"],
    )
    return state, x, upstream, got


@hidden_test("ResidualBlock", points=1)
def layers_have_the_prescribed_names_and_shapes(student):
    """state_dict keys and shapes for an identity block and for two projection blocks"""
    for c_in, c_out, stride in ((4, 4, 1), (3, 5, 1), (4, 4, 2)):
        state = block_state(0, c_in, c_out, stride)
        _, _, _, got = run_block(student, 0, c_in, c_out, stride)
        fresh = as_dict(got["fresh"], "the fresh state_dict")
        want = {k: list(v.shape) for k, v in state.items()}
        if sorted(fresh) != sorted(want):
            fail(
                f"ResidualBlock({c_in}, {c_out}, stride={stride}) has state_dict keys {sorted(fresh)}, "
                f"expected {sorted(want)} (bias-free convolutions; proj_* only when the shape changes)"
            )
        for k, shape in want.items():
            if list(fresh[k]) != shape:
                fail(
                    f"ResidualBlock({c_in}, {c_out}, stride={stride}): {k} has shape {fresh[k]}, "
                    f"expected {shape}"
                )


@hidden_test("ResidualBlock", points=1)
def identity_block_in_training_and_evaluation_mode(student):
    """an identity-shortcut block: outputs and running statistics in both modes"""
    state, x, upstream, got = run_block(student, 1, 4, 4, 1)
    want, stats, _ = block_reference(state, x, 1, True)
    expect_close(
        as_array(got["train"], "train-mode output", shape=tuple(want.shape)),
        want.numpy(),
        "the training-mode output of an identity block",
        rtol=1e-6,
        atol=1e-9,
    )
    for k, v in stats.items():
        expect_close(as_array(got["stats"][k], k), v.numpy(), f"{k} after a training step", rtol=1e-6)
    want, _, _ = block_reference(state | stats, x, 1, False)  # evaluation uses the updated statistics
    expect_close(
        as_array(got["eval"], "eval-mode output", shape=tuple(want.shape)),
        want.numpy(),
        "the evaluation-mode output of an identity block",
        rtol=1e-6,
        atol=1e-9,
    )


@hidden_test("ResidualBlock", points=1)
def projection_blocks_with_stride_and_new_width(student):
    """projection blocks (stride 2 with more channels; stride 2 with the same channels)"""
    for seed, c_in, c_out in ((2, 3, 6), (3, 4, 4)):
        state, x, upstream, got = run_block(student, seed, c_in, c_out, 2, size=7)
        _, stats, _ = block_reference(state, x, 2, True)
        for mode, training in (("train", True), ("eval", False)):
            want, _, _ = block_reference(state if training else state | stats, x, 2, training)
            expect_close(
                as_array(got[mode], f"{mode}-mode output", shape=tuple(want.shape)),
                want.numpy(),
                f"the {mode}-mode output of a {c_in} -> {c_out} block with stride 2",
                rtol=1e-6,
                atol=1e-9,
            )


@hidden_test("ResidualBlock", points=1)
def gradients_reach_the_input_through_both_paths(student):
    """dL/dx of an identity block and of a projection block"""
    for seed, c_in, c_out, stride in ((4, 3, 3, 1), (5, 2, 4, 2)):
        state, x, upstream, got = run_block(student, seed, c_in, c_out, stride)
        _, _, grad = block_reference(state, x, stride, True, upstream)
        expect_close(
            as_array(got["grad"], "dL/dx", shape=tuple(x.shape)),
            grad.numpy(),
            f"the gradient with respect to the input ({c_in} -> {c_out}, stride {stride})",
            rtol=1e-6,
            atol=1e-9,
        )


# ---- exercise 2: block_parameter_count (2 points) ----------------------------------------------------


def count_built(kind, c_in, c_out, stride, c_mid=None):
    """Build the block from torch layers and count its parameters."""
    conv, bn = torch.nn.Conv2d, torch.nn.BatchNorm2d
    if kind == "basic":
        layers = [
            conv(c_in, c_out, 3, stride, 1, bias=False),
            bn(c_out),
            conv(c_out, c_out, 3, 1, 1, bias=False),
            bn(c_out),
        ]
    else:
        layers = [
            conv(c_in, c_mid, 1, bias=False),
            bn(c_mid),
            conv(c_mid, c_mid, 3, stride, 1, bias=False),
            bn(c_mid),
            conv(c_mid, c_out, 1, bias=False),
            bn(c_out),
        ]
    if stride != 1 or c_in != c_out:
        layers += [conv(c_in, c_out, 1, stride, bias=False), bn(c_out)]
    return sum(p.numel() for p in torch.nn.Sequential(*layers).parameters())


def count_type(student, args):
    """The type of the count itself (a NumPy integer arrives as an int after the call)."""
    return type(student.block_parameter_count(*args)).__name__


@hidden_test("block_parameter_count", points=1)
def basic_blocks_with_and_without_projection(student):
    """basic blocks: same shape, more channels, stride 2 with the same channels; the count is an int"""
    for c_in, c_out, stride in ((16, 16, 1), (64, 128, 2), (32, 32, 2), (3, 5, 1)):
        got = as_int(student.block_parameter_count("basic", c_in, c_out, stride), "the count")
        expect_equal(
            got,
            count_built("basic", c_in, c_out, stride),
            f"block_parameter_count('basic', {c_in}, {c_out}, {stride})",
        )
    kind = student.run(count_type, ("basic", 64, 128, 2))
    if kind != "int":
        fail(f"block_parameter_count returned a {kind}; return a Python int")


@hidden_test("block_parameter_count", points=1)
def bottlenecks_and_bad_arguments(student):
    """bottleneck blocks of several shapes; unknown kind and missing c_mid raise ValueError"""
    for c_in, c_mid, c_out, stride in (
        (256, 64, 256, 1),
        (256, 128, 512, 2),
        (64, 64, 256, 1),
        (512, 128, 512, 2),
    ):
        got = as_int(
            student.block_parameter_count("bottleneck", c_in, c_out, stride, c_mid=c_mid), "the count"
        )
        expect_equal(
            got,
            count_built("bottleneck", c_in, c_out, stride, c_mid),
            f"block_parameter_count('bottleneck', {c_in}, {c_out}, {stride}, c_mid={c_mid})",
        )
    expect_raises(lambda: student.block_parameter_count("dense", 8, 8), "ValueError", "an unknown kind")
    expect_raises(
        lambda: student.block_parameter_count("bottleneck", 8, 8), "ValueError", "a bottleneck without c_mid"
    )


# ---- exercise 3: conv_transpose_output_size (2 points) -----------------------------------------------


@hidden_test("conv_transpose_output_size", points=1)
def agrees_with_conv_transpose2d_on_a_grid(student):
    """every valid setting of h, kernel, stride, padding, output_padding and dilation on a grid"""
    for h in (1, 3, 6):
        for k in (1, 2, 3, 5):
            for stride in (1, 2, 3):
                for dilation in (1, 2):
                    for padding in range(0, k + 1):
                        for output_padding in range(max(stride, dilation)):
                            layer = torch.nn.ConvTranspose2d(
                                1, 1, k, stride, padding, output_padding, dilation=dilation
                            )
                            try:
                                want = layer(torch.zeros(1, 1, h, 1)).shape[2]
                            except RuntimeError:
                                continue  # no output: checked in the other test
                            if want < 1:
                                continue
                            args = (h, k, stride, padding, output_padding, dilation)
                            got = as_int(student.conv_transpose_output_size(*args), f"size{args}")
                            expect_equal(got, want, f"conv_transpose_output_size{args}")


@hidden_test("conv_transpose_output_size", points=1)
def invalid_settings_raise(student):
    """output_padding too large for both stride and dilation, or no output row left, raise ValueError"""
    for args in (
        (5, 3, 1, 0, 1, 1),
        (5, 3, 2, 0, 2, 1),
        (5, 3, 2, 0, 2, 2),
        (1, 1, 1, 1, 0, 1),
        (2, 3, 1, 3, 0, 1),
        (2, 1, 1, 1, 0, 1),  # exactly zero rows: "at least one row"
        (3, 2, 2, 3, 0, 1),  # zero rows again, with a stride
    ):
        expect_raises(
            lambda args=args: student.conv_transpose_output_size(*args),
            "ValueError",
            f"conv_transpose_output_size{args}",
        )
    # allowed: output_padding below the dilation though not below the stride
    got = as_int(
        student.conv_transpose_output_size(4, 3, 1, 0, 1, 2), "size with output_padding 1, dilation 2"
    )
    expect_equal(got, 3 * 1 + 2 * 2 + 1 + 1, "conv_transpose_output_size(4, 3, 1, 0, 1, 2)")


# ---- exercise 4: conv_transpose2d (3 points) -------------------------------------------------------


def transpose_scenario(student, x, w, b, stride, padding):
    """The call, plus whether the inputs were left unchanged."""
    tx, tw = torch.as_tensor(x).clone(), torch.as_tensor(w).clone()
    tb = None if b is None else torch.as_tensor(b).clone()
    out = student.conv_transpose2d(tx, tw, tb, stride=stride, padding=padding)
    return {"out": out, "dtype": str(getattr(out, "dtype", type(out).__name__)), "x": tx, "w": tw}


@hidden_test("conv_transpose2d", points=2)
def matches_pytorch_for_several_settings(student):
    """several shapes, kernel sizes (also non-square), strides and paddings, without bias"""
    rng = np.random.default_rng(9)
    for n, c_in, c_out, h, w, kh, kw, stride, padding in (
        (1, 1, 1, 3, 3, 2, 2, 2, 0),
        (2, 3, 4, 5, 4, 3, 3, 2, 1),
        (1, 2, 3, 4, 6, 3, 2, 3, 1),
        (3, 4, 2, 2, 3, 4, 4, 1, 2),
        (2, 2, 2, 6, 5, 1, 1, 2, 0),
    ):
        x = rng.normal(size=(n, c_in, h, w))
        weight = rng.normal(size=(c_in, c_out, kh, kw))
        want = F.conv_transpose2d(
            torch.tensor(x), torch.tensor(weight), stride=stride, padding=padding
        ).numpy()
        got = as_dict(student.run(transpose_scenario, x, weight, None, stride, padding), "the scenario")
        if got["dtype"] != "torch.float64":
            fail(f"float64 inputs gave a {got['dtype']} output; keep x's dtype")
        expect_close(
            as_array(got["out"], "the output", shape=want.shape),
            want,
            f"conv_transpose2d for x {x.shape}, weight {weight.shape}, stride {stride}, padding {padding}",
            rtol=1e-6,
            atol=1e-9,
        )
        expect_close(
            as_array(got["x"], "x after the call"), x, "x after the call (it must not change)", rtol=0
        )
        expect_close(
            as_array(got["w"], "weight after the call"),
            weight,
            "weight after the call (it must not change)",
            rtol=0,
        )


@hidden_test("conv_transpose2d", points=1)
def bias_and_float32(student):
    """a bias per output channel, and float32 inputs give a float32 output"""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(2, 3, 4, 4)).astype(np.float32)
    weight = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    bias = rng.normal(size=(2,)).astype(np.float32)
    want = F.conv_transpose2d(
        torch.tensor(x), torch.tensor(weight), torch.tensor(bias), stride=2, padding=1
    ).numpy()
    got = as_dict(student.run(transpose_scenario, x, weight, bias, 2, 1), "the scenario")
    if got["dtype"] != "torch.float32":
        fail(f"float32 inputs gave a {got['dtype']} output; keep x's dtype")
    expect_close(
        as_array(got["out"], "the output", shape=want.shape),
        want,
        "conv_transpose2d with a bias",
        rtol=1e-4,
        atol=1e-5,
    )


# ---- exercise 5: segmentation_scores (3 points) ----------------------------------------------------


def scores_reference(pred, truth, k):
    iou, dice = [], []
    for c in range(k):
        p, t = pred == c, truth == c
        inter, total = np.sum(p & t), np.sum(p) + np.sum(t)
        iou.append(inter / (total - inter) if total else math.nan)
        dice.append(2 * inter / total if total else math.nan)
    return np.array(iou), np.array(dice)


def expect_scores(student, pred, truth, k, what, dtype=torch.int64):
    got = as_dict(
        student.segmentation_scores(torch.tensor(pred, dtype=dtype), torch.tensor(truth, dtype=dtype), k),
        what,
        keys=["iou", "dice"],
    )
    want_iou, want_dice = scores_reference(pred, truth, k)
    for name, want in (("iou", want_iou), ("dice", want_dice)):
        arr = as_array(got[name], f"{what}: {name}", shape=(k,), kind="float")
        if not np.array_equal(np.isnan(arr), np.isnan(want)):
            fail(
                f"{what}: {name} is NaN for classes {np.flatnonzero(np.isnan(arr)).tolist()}, but should be "
                f"NaN exactly for the classes absent from both tensors, "
                f"{np.flatnonzero(np.isnan(want)).tolist()}"
            )
        ok = ~np.isnan(want)
        expect_close(arr[ok], want[ok], f"{what}: {name}", rtol=1e-9)


@hidden_test("segmentation_scores", points=1)
def pooled_over_all_images(student):
    """random label maps [N, H, W]: pooled over all pixels, not averaged image by image"""
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 4, size=(5, 6, 7))
    pred = np.where(rng.random(truth.shape) < 0.7, truth, rng.integers(0, 4, size=truth.shape))
    pred[0] = 0  # one image predicts only background: per-image averages would differ
    expect_scores(student, pred, truth, 4, "random maps")


@hidden_test("segmentation_scores", points=1)
def empty_and_one_sided_classes(student):
    """a class in neither tensor is NaN; in only one of them it scores exactly 0"""
    truth = np.array([[0, 0, 1], [1, 2, 2]])
    pred = np.array([[0, 3, 1], [1, 0, 0]])  # class 2 only in truth, class 3 only in pred, class 4 nowhere
    expect_scores(student, pred, truth, 5, "one-sided and absent classes")
    expect_scores(
        student, np.zeros((2, 2), dtype=np.int64), np.zeros((2, 2), dtype=np.int64), 3, "all background"
    )


@hidden_test("segmentation_scores", points=1)
def float64_any_shape_and_shape_mismatch(student):
    """float64 tensors for 1-D and 4-D inputs and for uint8/int32 labels; different shapes raise ValueError"""
    rng = np.random.default_rng(12)
    for shape in ((50,), (2, 1, 4, 5)):
        truth = rng.integers(0, 3, size=shape)
        pred = rng.integers(0, 3, size=shape)
        got = as_dict(student.segmentation_scores(torch.tensor(pred), torch.tensor(truth), 3), "the scores")
        for name in ("iou", "dice"):
            if not isinstance(got[name], torch.Tensor):
                fail(f"{name} is a {type(got[name]).__name__}; return torch tensors")
            if str(torch.as_tensor(got[name]).dtype) != "torch.float64":
                fail(f"{name} has dtype {torch.as_tensor(got[name]).dtype}, expected float64")
        expect_scores(student, pred, truth, 3, f"label maps of shape {shape}")
    for dtype in (torch.uint8, torch.int32):  # uint8 masks: truth * 20 + pred would overflow
        truth = rng.integers(0, 20, size=(2, 9, 9))
        pred = np.where(rng.random(truth.shape) < 0.6, truth, rng.integers(0, 20, size=truth.shape))
        expect_scores(student, pred, truth, 20, f"{dtype} label maps with 20 classes", dtype=dtype)
    expect_raises(
        lambda: student.segmentation_scores(
            torch.zeros(2, 3, dtype=torch.int64), torch.zeros(3, 2, dtype=torch.int64), 2
        ),
        "ValueError",
        "pred and truth of different shapes",
    )


# ---- exercise 6: PreActBlock, the silent bug (3 points) ----------------------------------------------


def preact_state(seed, c):
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for name in ("bn1", "bn2"):
        state[f"{name}.weight"] = 1 + 0.3 * torch.randn(c, generator=gen, dtype=torch.float64)
        state[f"{name}.bias"] = 0.3 * torch.randn(c, generator=gen, dtype=torch.float64)
        state[f"{name}.running_mean"] = 0.2 * torch.randn(c, generator=gen, dtype=torch.float64)
        state[f"{name}.running_var"] = 0.5 + torch.rand(c, generator=gen, dtype=torch.float64)
        state[f"{name}.num_batches_tracked"] = torch.tensor(2)
    for name in ("conv1", "conv2"):
        state[f"{name}.weight"] = 0.3 * torch.randn(c, c, 3, 3, generator=gen, dtype=torch.float64)
    return state


def preact_reference(state, x, training, upstream=None, zero_conv2=False):
    stats = {k: v.clone() for k, v in state.items() if "running" in k}
    x = x.clone().requires_grad_()
    w2 = torch.zeros_like(state["conv2.weight"]) if zero_conv2 else state["conv2.weight"]

    def bn(h, name):
        return F.batch_norm(
            h,
            stats[f"{name}.running_mean"],
            stats[f"{name}.running_var"],
            state[f"{name}.weight"],
            state[f"{name}.bias"],
            training=training,
        )

    out = F.conv2d(F.relu(bn(x, "bn1")), state["conv1.weight"], padding=1)
    y = x + F.conv2d(F.relu(bn(out, "bn2")), w2, padding=1)
    grad = None
    if upstream is not None:
        (y * upstream).sum().backward()
        grad = x.grad
    return y.detach(), grad


def preact_run(student, state, x, upstream, zero_conv2, training):
    block = student.PreActBlock(x.shape[1]).double()
    block.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    if zero_conv2:
        with torch.no_grad():
            block.conv2.weight.zero_()
    block.train(training)
    inp = torch.as_tensor(x).clone().requires_grad_()
    out = block(inp)
    (out * torch.as_tensor(upstream)).sum().backward()
    return {"out": out.detach(), "grad": inp.grad}


def preact_data(seed, c=3, n=4, size=5):
    gen = torch.Generator().manual_seed(seed)
    x = 2 * torch.randn(n, c, size, size, generator=gen, dtype=torch.float64) - 0.5  # many negative values
    upstream = torch.randn(n, c, size, size, generator=gen, dtype=torch.float64)
    return preact_state(seed, c), x, upstream


@hidden_test("PreActBlock", points=1)
def identity_when_the_last_convolution_is_zero(student):
    """with conv2 = 0 the block is the identity in both modes: output x and gradient = upstream"""
    state, x, upstream = preact_data(20)
    for training in (True, False):
        got = as_dict(
            student.run(preact_run, state, x, upstream, True, training), "the scenario", keys=["out", "grad"]
        )
        expect_close(
            as_array(got["out"], "output", shape=tuple(x.shape)),
            x.numpy(),
            f"the output with conv2 = 0 ({'training' if training else 'evaluation'} mode)",
            rtol=1e-9,
            atol=1e-12,
        )
        expect_close(
            as_array(got["grad"], "dL/dx", shape=tuple(x.shape)),
            upstream.numpy(),
            "the input gradient with conv2 = 0",
            rtol=1e-9,
            atol=1e-12,
        )


@hidden_test("PreActBlock", points=1)
def matches_the_reference_in_evaluation_mode(student):
    """random weights, evaluation mode: output and input gradient"""
    state, x, upstream = preact_data(21, c=4)
    want, grad = preact_reference(state, x, False, upstream)
    got = as_dict(
        student.run(preact_run, state, x, upstream, False, False), "the scenario", keys=["out", "grad"]
    )
    expect_close(
        as_array(got["out"], "output", shape=tuple(x.shape)), want.numpy(), "the output", rtol=1e-6, atol=1e-9
    )
    expect_close(
        as_array(got["grad"], "dL/dx", shape=tuple(x.shape)), grad.numpy(), "dL/dx", rtol=1e-6, atol=1e-9
    )


@hidden_test("PreActBlock", points=1)
def matches_the_reference_in_training_mode(student):
    """random weights, training mode (batch statistics): output and input gradient"""
    state, x, upstream = preact_data(22, c=2, n=6)
    want, grad = preact_reference(state, x, True, upstream)
    got = as_dict(
        student.run(preact_run, state, x, upstream, False, True), "the scenario", keys=["out", "grad"]
    )
    expect_close(
        as_array(got["out"], "output", shape=tuple(x.shape)),
        want.numpy(),
        "the training-mode output",
        rtol=1e-6,
        atol=1e-9,
    )
    expect_close(
        as_array(got["grad"], "dL/dx", shape=tuple(x.shape)),
        grad.numpy(),
        "the training-mode dL/dx",
        rtol=1e-6,
        atol=1e-9,
    )


# ---- exercise 7: gradient_norms (3 points) --------------------------------------------------------


def norms_reference(weights, x, residual):
    hs = [torch.as_tensor(x).clone().requires_grad_()]
    for w in weights:
        branch = F.relu(hs[-1] @ torch.as_tensor(w).T)
        hs.append(hs[-1] + branch if residual else branch)
    grads = torch.autograd.grad(0.5 * (hs[-1] ** 2).sum() / len(x), hs)
    return [g.norm().item() for g in grads]


def norms_run(student, weights, x, residual):
    tw = [torch.as_tensor(w).clone() for w in weights]
    tx = torch.as_tensor(x).clone()
    norms = student.gradient_norms(tw, tx, residual)
    return {
        "norms": [float(v) for v in norms],
        "types": [type(norms).__name__] + [type(v).__name__ for v in norms],
        "x": tx,
        "w": tw,
        "x_requires_grad": tx.requires_grad,
        "w_requires_grad": [w.requires_grad for w in tw],
    }


def norms_data(seed, depth, width, n=8):
    rng = np.random.default_rng(seed)
    weights = [rng.normal(scale=math.sqrt(1 / width), size=(width, width)) for _ in range(depth)]
    return weights, rng.normal(size=(n, width))


def expect_norms(student, weights, x, residual, what):
    got = as_dict(
        student.run(norms_run, weights, x, residual),
        "the scenario",
        keys=["norms", "types", "x", "w", "x_requires_grad", "w_requires_grad"],
    )
    norms = [as_float(v, "a norm") for v in as_list(got["norms"], "the norms", length=len(weights) + 1)]
    want = norms_reference(weights, x, residual)
    expect_close(norms, want, what, rtol=1e-6, atol=1e-12)
    # float64 inputs must be computed in float64: float32 arithmetic is off by about 1e-7
    expect_close(norms, want, f"{what} (computed in x's dtype, float64?)", rtol=1e-10, atol=1e-14)
    return got


@hidden_test("gradient_norms", points=1)
def plain_stack(student):
    """a 12-layer plain stack: every norm, input first"""
    weights, x = norms_data(30, 12, 16)
    expect_norms(student, weights, x, False, "the norms of a 12-layer plain stack")


@hidden_test("gradient_norms", points=1)
def residual_stack(student):
    """a 12-layer residual stack (the ReLU on the branch only): every norm, input first"""
    weights, x = norms_data(31, 12, 16)
    expect_norms(student, weights, x, True, "the norms of a 12-layer residual stack")


@hidden_test("gradient_norms", points=1)
def one_layer_and_inputs_unchanged(student):
    """a 1-layer stack of each kind: a list of Python floats; the given tensors are not changed"""
    for residual in (False, True):
        weights, x = norms_data(32 + residual, 1, 5, n=3)
        got = expect_norms(
            student,
            weights,
            x,
            residual,
            f"the norms of a 1-layer {'residual' if residual else 'plain'} stack",
        )
        types = as_list(got["types"], "the types")
        if types[0] != "list" or any(t != "float" for t in types[1:]):
            fail(f"gradient_norms returned a {types[0]} of {sorted(set(types[1:]))}; return a list of floats")
        expect_close(
            as_array(got["x"], "x after the call"), x, "x after the call (it must not change)", rtol=0
        )
        expect_close(as_array(got["w"][0], "W after the call"), weights[0], "W after the call", rtol=0)
        if got.get("x_requires_grad"):
            fail("gradient_norms switched on requires_grad of the x it was given; work on a copy")
        if any(got["w_requires_grad"]):
            fail("gradient_norms switched on requires_grad of the weights it was given; leave them alone")
