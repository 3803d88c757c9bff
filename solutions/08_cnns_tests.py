"""Hidden tests for exercises/08_cnns.ipynb (15 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values come from PyTorch (F.conv2d, F.unfold, autograd through real layers) or from
the definitions in the prompts, computed here on inputs the visible checks do not use.
"""

import numpy as np
import torch
import torch.nn.functional as F

from utils.grading.expect import (
    as_array,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_tensor,
    expect_close,
    expect_equal,
    expect_raises,
    fail,
)
from utils.grading.hidden import hidden_test


def torch_size(size, kernel, stride, padding, dilation):
    """The output length PyTorch itself produces (None where it refuses)."""
    try:
        out = F.conv2d(
            torch.zeros(1, 1, size, 1),
            torch.zeros(1, 1, kernel, 1),
            stride=(stride, 1),
            padding=(padding, 0),
            dilation=(dilation, 1),
        )
    except RuntimeError:
        return None
    return out.shape[2]


# ---- exercise 1: conv_output_size (2 points) -----------------------------------------------------------


@hidden_test("conv_output_size", points=1)
def sizes_agree_with_pytorch_on_a_grid(student):
    """every size, kernel, stride, padding and dilation of a grid where PyTorch gives an output"""
    rng = np.random.default_rng(801)
    cases = [
        (int(n), int(k), int(s), int(p), int(d))
        for n, k, s, p, d in zip(
            rng.integers(1, 40, 120),
            rng.integers(1, 8, 120),
            rng.integers(1, 5, 120),
            rng.integers(0, 4, 120),
            rng.integers(1, 4, 120),
        )
    ]
    cases += [
        (28, 3, 1, 1, 1),
        (28, 2, 2, 0, 1),
        (5, 5, 1, 0, 1),
        (5, 5, 3, 0, 1),
        (1, 1, 1, 0, 1),
        (6, 3, 2, 0, 1),
        (7, 3, 2, 0, 1),
        (4, 3, 1, 0, 2),
        (10, 4, 3, 1, 2),
    ]
    checked = 0
    for case in cases:
        want = torch_size(*case)
        if want is None:
            continue
        checked += 1
        expect_equal(
            as_int(student.conv_output_size(*case), f"conv_output_size{case}"),
            want,
            f"conv_output_size{case}",
        )
    if checked < 50:
        raise AssertionError("the test grid has too few valid cases")  # a bug in this test


@hidden_test("conv_output_size", points=1)
def refuses_what_pytorch_refuses_and_bad_arguments(student):
    """ValueError where the dilated kernel does not fit, for any out-of-range or non-integer argument"""
    expect_equal(
        as_int(student.conv_output_size(5, 3, 1, 0, 2), "conv_output_size(5, 3, 1, 0, 2)"),
        1,
        "conv_output_size(5, 3, 1, 0, 2) (the kernel spans exactly the input)",
    )
    expect_equal(
        as_int(student.conv_output_size(1, 3, 1, 1), "conv_output_size(1, 3, 1, 1)"),
        1,
        "conv_output_size(1, 3, 1, 1) (padding makes it fit)",
    )
    for args, what in [
        ((4, 3, 1, 0, 2), "a dilated kernel spanning 5 pixels over 4"),
        ((2, 3), "a kernel of 3 over 2 pixels"),
        ((4, 7, 1, 1), "a kernel of 7 over 4 + 2 pixels"),
        ((0, 1), "size 0"),
        ((5, 0), "kernel 0"),
        ((5, 3, 0), "stride 0"),
        ((5, 3, 1, -1), "padding -1"),
        ((5, 3, 1, 0, 0), "dilation 0"),
        ((-5, 3), "size -5"),
        ((5, -3), "kernel -3"),
        ((5, 3, -1), "stride -1"),
        ((5, 3, 1, 0, -1), "dilation -1"),
        ((5.0, 3), "a float size"),
        ((5, 3.0), "a float kernel"),
        ((5, 3, True), "a bool stride"),
        ((5, 3, 1, 0.5), "padding 0.5"),
        ((5, 3, 1, False), "a bool padding"),
        ((5, 3, 1, 0, 2.0), "a float dilation"),
    ]:
        expect_raises(
            lambda args=args: student.conv_output_size(*args),
            "ValueError",
            f"conv_output_size{args} ({what})",
        )


# ---- exercise 2: conv2d_loops (3 points) ---------------------------------------------------------------


def call_conv(student, x, weight, bias, kwargs):
    """Call conv2d_loops on tensors we keep; report the output, its dtype and x after the call."""
    x, weight = torch.tensor(x), torch.tensor(weight)
    bias = None if bias is None else torch.tensor(bias)
    out = student.conv2d_loops(x, weight, bias, **kwargs)
    return {"out": out, "dtype": str(out.dtype), "x_after": x}  # the test compares x_after with its copy


def expect_conv(student, x, weight, bias, kwargs, what, rtol=1e-7):
    """Values as F.conv2d's, and x's dtype; float64 to float64 precision (not rounded through float32)."""
    got = as_dict(student.run(call_conv, x, weight, bias, kwargs), what, keys=["out", "dtype", "x_after"])
    want = F.conv2d(
        torch.tensor(x), torch.tensor(weight), None if bias is None else torch.tensor(bias), **kwargs
    )
    atol = 1e-9 if want.dtype == torch.float64 else 1e-5
    expect_close(
        as_array(got["out"], what, shape=tuple(want.shape)), want.numpy(), what, rtol=rtol, atol=atol
    )
    expect_equal(got["dtype"], str(want.dtype), f"the output dtype for {what} (x's dtype)")
    return got


@hidden_test("conv2d_loops", points=1)
def matches_conv2d_with_stride_padding_and_dilation(student):
    """rectangular inputs and kernels, strides 1-3, paddings 0-2, dilations 1-2, with and without bias"""
    rng = np.random.default_rng(802)
    for stride, padding, dilation in [(1, 0, 1), (2, 1, 1), (3, 2, 1), (1, 2, 2), (2, 0, 2), (1, 1, 1)]:
        x = rng.normal(size=(2, 3, 9, 7))
        weight = rng.normal(size=(4, 3, 3, 2))
        bias = rng.normal(size=4) if stride != 2 else None
        expect_conv(
            student,
            x,
            weight,
            bias,
            dict(stride=stride, padding=padding, dilation=dilation),
            f"stride {stride}, padding {padding}, dilation {dilation}",
        )


@hidden_test("conv2d_loops", points=1)
def matches_grouped_and_depthwise_convolutions(student):
    """2 and 4 groups, and depthwise (one group per channel)"""
    rng = np.random.default_rng(803)
    for groups, c_in, c_out in [(2, 4, 6), (4, 4, 8), (3, 3, 3)]:
        x = rng.normal(size=(2, c_in, 6, 6))
        weight = rng.normal(size=(c_out, c_in // groups, 3, 3))
        expect_conv(
            student,
            x,
            weight,
            rng.normal(size=c_out),
            dict(groups=groups, padding=1),
            f"{groups} groups, {c_in} -> {c_out} channels",
        )


@hidden_test("conv2d_loops", points=1)
def keeps_the_dtype_and_leaves_the_input_alone(student):
    """a float32 input gives float32; x is not changed; an asymmetric kernel is not flipped"""
    rng = np.random.default_rng(804)
    x = rng.normal(size=(1, 2, 6, 5)).astype(np.float32)
    weight = rng.normal(size=(3, 2, 3, 3)).astype(np.float32)
    got = expect_conv(student, x, weight, None, dict(padding=1), "a float32 input", rtol=1e-4)
    expect_equal(got["dtype"], "torch.float32", "the output dtype for a float32 input")
    if not np.array_equal(as_array(got["x_after"], "x after the call", shape=x.shape), x):
        fail("conv2d_loops changed the input x; pad a copy instead")
    ramp = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    expect_conv(
        student,
        ramp,
        np.array([[[[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [0.0, 0.0, 0.0]]]]),
        None,
        {},
        "an asymmetric kernel on a ramp (no flip)",
    )


# ---- exercise 3: im2col (2 points) ---------------------------------------------------------------------


@hidden_test("im2col", points=1)
def columns_match_unfold(student):
    """several channels, kernels 1-4, strides and paddings, non-square inputs"""
    rng = np.random.default_rng(805)
    for k, stride, padding, shape in [
        (2, 1, 0, (2, 3, 5, 6)),
        (3, 2, 1, (1, 4, 7, 5)),
        (1, 1, 0, (2, 2, 3, 3)),
        (4, 3, 2, (1, 2, 8, 9)),
        (3, 1, 1, (3, 1, 4, 4)),
    ]:
        x = torch.tensor(rng.normal(size=shape))
        want = F.unfold(x, k, stride=stride, padding=padding)
        got = as_tensor(
            student.im2col(x, k, stride=stride, padding=padding),
            f"im2col with kernel {k}",
            shape=tuple(want.shape),
        )
        if got.dtype != torch.float64:
            fail(f"im2col of a float64 x should be float64, not {got.dtype}")
        # the columns are copies of x's values: exact, not rounded through float32
        expect_close(
            got.numpy(),
            want.numpy(),
            f"im2col with kernel {k}, stride {stride}, padding {padding}, x {shape}",
            rtol=0,
            atol=0,
        )


@hidden_test("im2col", points=1)
def columns_times_weights_is_the_convolution_in_float32(student):
    """W.view(C_out, -1) @ im2col(x) equals F.conv2d; float32 stays float32"""
    rng = np.random.default_rng(806)
    x = torch.tensor(rng.normal(size=(2, 3, 6, 6)), dtype=torch.float32)
    weight = torch.tensor(rng.normal(size=(5, 3, 3, 3)), dtype=torch.float32)
    cols = as_tensor(student.im2col(x, 3, padding=1), "im2col(x, 3, padding=1)", shape=(2, 27, 36))
    if cols.dtype != torch.float32:
        fail(f"im2col of a float32 x should be float32, not {cols.dtype}")
    out = (weight.view(5, -1) @ cols).view(2, 5, 6, 6)
    expect_close(
        out.numpy(),
        F.conv2d(x, weight, padding=1).numpy(),
        "weights @ columns vs F.conv2d",
        rtol=1e-4,
        atol=1e-4,
    )


# ---- exercise 4: receptive_field (2 points) ------------------------------------------------------------


def field_by_gradient(layers, size=96):
    """The receptive field of a centre unit, measured: the extent of its non-zero input gradient."""
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    h = x
    for kernel, stride, dilation in layers:
        weight = torch.ones(1, 1, kernel, kernel, dtype=torch.float64)
        h = F.conv2d(h, weight, stride=stride, dilation=dilation)
    h[0, 0, h.shape[2] // 2, h.shape[3] // 2].backward()
    rows = torch.nonzero(x.grad[0, 0].abs().sum(1)).flatten()
    return int(rows.max() - rows.min() + 1)


@hidden_test("receptive_field", points=1)
def fields_confirmed_by_gradients(student):
    """random stacks of convolutions, strided layers and dilations, checked by autograd"""
    rng = np.random.default_rng(807)
    for _ in range(8):
        layers = [
            (int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            for _ in range(int(rng.integers(1, 5)))
        ]
        got = as_list(student.receptive_field(layers), f"receptive_field({layers})", length=2)
        expect_equal(as_int(got[0], "field"), field_by_gradient(layers), f"the field of {layers}")


@hidden_test("receptive_field", points=1)
def jumps_and_the_classic_stacks(student):
    """the jump after strides; VGG-like, AlexNet-like and dilated stacks; an empty stack"""
    cases = {
        ((3, 1, 1),) * 4: (9, 1),
        ((3, 1, 1), (2, 2, 1)) * 3: (22, 8),
        ((11, 4, 1), (3, 2, 1), (5, 1, 1), (3, 2, 1), (3, 1, 1)): (99, 16),
        ((3, 1, 1), (3, 1, 2), (3, 1, 4), (3, 1, 8)): (31, 1),
        ((2, 2, 1), (2, 2, 1), (3, 1, 1)): (12, 4),
        ((1, 3, 1), (3, 1, 1)): (7, 3),
        (): (1, 1),
    }
    for layers, (field, jump) in cases.items():
        got = as_list(student.receptive_field(list(layers)), f"receptive_field({list(layers)})", length=2)
        expect_equal(as_int(got[0], "field"), field, f"the field of {list(layers)}")
        expect_equal(as_int(got[1], "jump"), jump, f"the jump of {list(layers)}")


# ---- exercise 5: images_to_batch (2 points) ------------------------------------------------------------


def convert_and_keep(student, images):
    """Call images_to_batch on an array we keep; report the result, its dtype and the array after."""
    array = np.array(images, dtype=np.uint8)
    out = student.images_to_batch(array)
    return {
        "out": out,
        "dtype": str(out.dtype),
        "images_after": array,  # the test compares it with its own copy
        "is_tensor": isinstance(out, torch.Tensor),
    }


@hidden_test("images_to_batch", points=1)
def channels_move_to_axis_one(student):
    """colour and four-channel images of non-square sizes, a dark one: every pixel and channel in its place"""
    rng = np.random.default_rng(808)
    for shape, brightest in [((3, 5, 7, 3), 255), ((2, 4, 4, 4), 255), ((1, 6, 2, 3), 90)]:
        images = rng.integers(0, brightest + 1, size=shape, dtype=np.uint8)  # a dark image too: always / 255
        got = as_dict(
            student.run(convert_and_keep, images),
            "images_to_batch",
            keys=["out", "dtype", "images_after", "is_tensor"],
        )
        want = images.transpose(0, 3, 1, 2).astype(np.float64) / 255
        expect_close(
            as_array(got["out"], f"the batch for images {shape}", shape=want.shape),
            want,
            f"the batch for images {shape}",
            rtol=1e-6,
        )


@hidden_test("images_to_batch", points=1)
def float32_values_in_zero_one_and_input_untouched(student):
    """a float32 tensor, 255 -> 1.0 and 0 -> 0.0, the array not changed; one grey channel works too"""
    images = np.zeros((2, 3, 2, 1), dtype=np.uint8)
    images[0, 1, 0, 0], images[1, 2, 1, 0] = 255, 51
    got = as_dict(
        student.run(convert_and_keep, images),
        "images_to_batch",
        keys=["out", "dtype", "images_after", "is_tensor"],
    )
    if not got["is_tensor"]:
        fail("images_to_batch should return a torch tensor")
    expect_equal(got["dtype"], "torch.float32", "the dtype of the batch")
    want = images.transpose(0, 3, 1, 2).astype(np.float64) / 255
    expect_close(as_array(got["out"], "the batch", shape=(2, 1, 3, 2)), want, "a grey batch", rtol=1e-6)
    after = as_array(got["images_after"], "the images after the call", shape=images.shape)
    if not np.array_equal(after, images):
        fail("images_to_batch changed the images it was given")


# ---- exercise 6: flip_and_crop (2 points) --------------------------------------------------------------


def reference_flip_and_crop(images, padding, flips, tops, lefts):
    images = torch.tensor(images)
    images = torch.where(torch.tensor(flips).view(-1, 1, 1, 1), images.flip(-1), images)
    padded = F.pad(images, (padding,) * 4)
    h, w = images.shape[-2:]
    return torch.stack(
        [padded[i, :, t : t + h, left : left + w] for i, (t, left) in enumerate(zip(tops, lefts))]
    )


def augment_and_keep(student, images, padding, flips, tops, lefts):
    """Call flip_and_crop on tensors we keep; report the result, its dtype and the images after."""
    x = torch.tensor(images)
    out = student.flip_and_crop(x, padding, torch.tensor(flips), torch.tensor(tops), torch.tensor(lefts))
    out_storage = out.untyped_storage().data_ptr() if isinstance(out, torch.Tensor) else None
    return {
        "out": out,
        "dtype": str(out.dtype),
        "images_after": x,  # the images after the call and both storage addresses: the test compares them
        "storages": [out_storage, x.untyped_storage().data_ptr()],
    }


@hidden_test("flip_and_crop", points=1)
def every_flip_and_offset(student):
    """colour, non-square float64 images; every combination of flip and offset, corners included"""
    rng = np.random.default_rng(809)
    padding = 2
    offsets = [(t, left) for t in range(5) for left in range(5)]
    n = len(offsets) * 2
    images = rng.normal(size=(n, 3, 5, 7))
    flips = [bool(i % 2) for i in range(n)]
    tops = [offsets[i // 2][0] for i in range(n)]
    lefts = [offsets[i // 2][1] for i in range(n)]
    got = as_dict(
        student.run(augment_and_keep, images, padding, flips, tops, lefts),
        "flip_and_crop",
        keys=["out", "dtype", "images_after", "storages"],
    )
    want = reference_flip_and_crop(images, padding, flips, tops, lefts)
    # flips and crops copy values: exact, and float64 stays float64
    expect_close(
        as_array(got["out"], "the augmented batch", shape=tuple(want.shape)),
        want.numpy(),
        "the augmented batch (flip first, then pad, then crop at (top, left))",
        rtol=0,
        atol=0,
    )
    expect_equal(got["dtype"], "torch.float64", "the dtype of the augmented batch of float64 images")


@hidden_test("flip_and_crop", points=1)
def dtype_input_and_padding_three(student):
    """float32 stays float32, the images are not changed, padding 3 with offsets up to 6; padding 0"""
    rng = np.random.default_rng(810)
    images = rng.normal(size=(4, 1, 6, 6)).astype(np.float32)
    flips, tops, lefts = [True, False, True, False], [0, 6, 3, 6], [6, 0, 3, 6]
    got = as_dict(
        student.run(augment_and_keep, images, 3, flips, tops, lefts),
        "flip_and_crop",
        keys=["out", "dtype", "images_after", "storages"],
    )
    want = reference_flip_and_crop(images, 3, flips, tops, lefts)
    expect_close(
        as_array(got["out"], "the augmented batch", shape=(4, 1, 6, 6)), want.numpy(), "padding 3", rtol=1e-6
    )
    expect_equal(got["dtype"], "torch.float32", "the dtype of the augmented batch")
    after = as_array(got["images_after"], "the images after the call", shape=images.shape)
    if not np.array_equal(after, images):
        fail("flip_and_crop changed the images it was given (flip or pad a copy)")
    # padding 0 and no flip: nothing moves, but the result is still a new tensor
    got = as_dict(
        student.run(augment_and_keep, images, 0, [False] * 4, [0] * 4, [0] * 4),
        "flip_and_crop",
        keys=["out", "dtype", "images_after", "storages"],
    )
    expect_close(as_array(got["out"], "the batch", shape=(4, 1, 6, 6)), images, "padding 0, no flip", rtol=0)
    out_storage, x_storage = as_list(got["storages"], "the storage addresses", length=2)
    x_storage = as_int(x_storage, "the images' storage address")
    if out_storage is not None and as_int(out_storage, "the output's storage address") == x_storage:
        fail("with padding 0 and no flip, flip_and_crop returned the images themselves; return a new tensor")


# ---- exercise 7: shift_experiment (2 points) -----------------------------------------------------------


def reference_shift(t, dy, dx):
    h, w = t.shape[-2:]
    padded = F.pad(t, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    return padded[..., max(-dy, 0) : max(-dy, 0) + h, max(-dx, 0) : max(-dx, 0) + w]


def reference_experiment(x, weight, dy, dx, margin):
    x, weight = torch.tensor(x), torch.tensor(weight)
    h, w = x.shape[-2:]

    def conv(t):
        return F.conv2d(t, weight, padding=weight.shape[-1] // 2)

    inside = (..., slice(margin, h - margin), slice(margin, w - margin))
    moved = conv(reference_shift(x, dy, dx))
    return {
        "equivariance": (moved - reference_shift(conv(x), dy, dx))[inside].abs().max().item(),
        "change": (moved - conv(x))[inside].abs().max().item(),
        "pooled_change": (moved.mean(dim=(2, 3)) - conv(x).mean(dim=(2, 3))).abs().max().item(),
    }


def expect_experiment(student, x, weight, dy, dx, margin, what):
    got = as_dict(
        student.shift_experiment(torch.tensor(x), torch.tensor(weight), dy, dx, margin),
        what,
        keys=["equivariance", "change", "pooled_change"],
    )
    want = reference_experiment(x, weight, dy, dx, margin)
    for key in want:
        expect_close(
            as_float(got[key], f"{key} for {what}"), want[key], f"{key} for {what}", rtol=1e-9, atol=1e-9
        )  # float64 in, float64 precision out (not computed in float32)


@hidden_test("shift_experiment", points=1)
def shifts_in_every_direction(student):
    """several images and channels, shifts down, up, left and right, kernels 3 and 5"""
    rng = np.random.default_rng(811)
    x = rng.normal(size=(2, 2, 14, 12))
    for dy, dx, k in [(2, 1, 3), (-3, 0, 3), (0, -2, 5), (-1, 3, 5)]:
        weight = rng.normal(size=(3, 2, k, k))
        expect_experiment(student, x, weight, dy, dx, 5, f"shift ({dy}, {dx}) with a {k}x{k} kernel")


@hidden_test("shift_experiment", points=1)
def a_zero_shift_and_the_margin(student):
    """no shift gives zeros (Python floats); margin 0 counts the border, where equivariance breaks"""
    rng = np.random.default_rng(812)
    x = rng.normal(size=(1, 1, 10, 10))
    weight = rng.normal(size=(2, 1, 3, 3))
    got = as_dict(
        student.shift_experiment(torch.tensor(x), torch.tensor(weight), 0, 0, 2),
        "no shift",
        keys=["equivariance", "change", "pooled_change"],
    )
    for key, value in got.items():
        if abs(as_float(value, key)) > 1e-12:
            fail(f"with no shift, {key} should be 0")
        if not isinstance(value, float):
            fail(f"{key} should be a Python float (use .item()), not a {type(value).__name__}")
    expect_experiment(student, x, weight, 1, -2, 0, "margin 0 (the border included)")
    expect_experiment(student, x, weight, 2, 2, 1, "margin 1")
    # a single feature on the top row, shifted up out of the image: conv(shift(x)) is all zero, so
    # "change" is 3 (the kernel's centre); shift(conv(x)) - conv(x) would give 2, equivariance is 1
    edge = np.zeros((1, 1, 8, 9))
    edge[0, 0, 0, 4] = 1.0
    kernel = np.array([[[[0.0, 1.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 0.0]]]])
    expect_experiment(student, edge, kernel, -1, 0, 0, "a feature on the border shifted out, margin 0")
