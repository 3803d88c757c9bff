"""Visible tests for chapter 8's exercises (exercises/08_cnns.ipynb).

Expected values come from PyTorch (F.conv2d, F.unfold, autograd) on the same numbers, or from
the definitions in the prompts. Exercises 2 and 3 ask for the convolution written by hand, so
PyTorch's convolution and unfold are switched off while they are checked.
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
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

CONV = (
    "torch.nn.functional.conv2d",
    "torch.conv2d",
    "torch.nn.functional.unfold",
    "torch._C._nn.im2col",
    # the other convolutions reach the same answer (a 1-d one row by row, a 3-d one over a depth of 1,
    # a transposed one with the kernel flipped, torch.convolution under all of them)
    "torch.nn.functional.conv1d",
    "torch.conv1d",
    "torch.nn.functional.conv3d",
    "torch.conv3d",
    "torch.nn.functional.conv_transpose2d",
    "torch.conv_transpose2d",
    "torch.convolution",
)
write_it_yourself("conv2d_loops", *CONV)
write_it_yourself("im2col", *CONV)


@visible_test(
    "conv_output_size", hint="floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1"
)
def a_few_sizes(student):
    """28 x 28 with 3x3 kernels: same padding, stride 2, dilation 2; a kernel that does not fit; bad input"""
    for args, want in [
        ((28, 3, 1, 1, 1), 28),
        ((28, 3, 2, 1, 1), 14),
        ((28, 3, 1, 0, 2), 24),
        ((7, 2, 2, 0, 1), 3),
    ]:
        expect_equal(
            as_int(student.conv_output_size(*args), f"conv_output_size{args}"),
            want,
            f"conv_output_size{args}",
        )
    for args, what in [((3, 5), "a kernel of 5 over 3 pixels"), ((5, 3, -1), "a negative stride"),
                       ((5, 3.0), "a float kernel")]:
        expect_raises(
            lambda args=args: student.conv_output_size(*args), "ValueError", f"conv_output_size{args}: {what}"
        )


@visible_test(
    "conv2d_loops",
    hint="pad with zeros, then out[:, o, i, j] = sum of the window times weight[o]; "
    "no kernel flip; the window starts at i * stride and its taps are dilation apart.",
)
def small_convolutions_like_conv2d(student):
    """a [1, 2, 5, 5] input, 3 filters: plain, then stride 2 + padding 1, then dilation 2 with a bias"""
    x = torch.arange(50, dtype=torch.float64).reshape(1, 2, 5, 5) / 10
    weight = torch.linspace(-1, 1, 54, dtype=torch.float64).reshape(3, 2, 3, 3)
    bias = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    for kwargs in ({}, {"stride": 2, "padding": 1}, {"dilation": 2, "bias": bias}):
        got = as_tensor(student.conv2d_loops(x, weight, **kwargs), f"conv2d_loops with {list(kwargs)}")
        want = F.conv2d(x, weight, **kwargs)
        expect_close(
            as_array(got, "the output", shape=tuple(want.shape)),
            want.numpy(),
            f"the output with {list(kwargs)}",
        )


@visible_test(
    "im2col",
    hint="one slice of the padded input per kernel tap (a, b); stack them on a new axis 2 "
    "and reshape to [N, C * K * K, L], channel first.",
)
def columns_like_unfold(student):
    """a [1, 2, 4, 4] input, kernel 3, with and without padding"""
    x = torch.arange(32, dtype=torch.float64).reshape(1, 2, 4, 4)
    for kwargs in ({}, {"padding": 1, "stride": 2}):
        want = F.unfold(x, 3, **kwargs)
        got = as_array(student.im2col(x, 3, **kwargs), f"im2col(x, 3, {kwargs})", shape=tuple(want.shape))
        expect_close(got, want.numpy(), f"im2col(x, 3, {kwargs})")


@visible_test("receptive_field", hint="field += dilation * (kernel - 1) * jump; then jump *= stride.")
def the_examples_of_the_prompt(student):
    """two 3x3 convolutions, then a 2x2 pooling with stride 2; and no layers at all"""
    for layers, want in [
        ([(3, 1, 1), (3, 1, 1)], (5, 1)),
        ([(3, 1, 1), (3, 1, 1), (2, 2, 1)], (6, 2)),
        ([], (1, 1)),
    ]:
        got = as_list(student.receptive_field(layers), f"receptive_field({layers})", length=2)
        expect_equal(as_int(got[0], "field"), want[0], f"the field of {layers}")
        expect_equal(as_int(got[1], "jump"), want[1], f"the jump of {layers}")


@visible_test(
    "images_to_batch",
    hint="reshape keeps the memory order, so it scrambles pixels and channels; "
    "move the channel axis with permute(0, 3, 1, 2).",
)
def a_tiny_colour_image(student):
    """one 2 x 3 RGB image whose red, green and blue values differ"""
    images = np.arange(18, dtype=np.uint8).reshape(1, 2, 3, 3) * 10
    got = as_tensor(student.images_to_batch(images), "images_to_batch(images)", shape=(1, 3, 2, 3))
    if got.dtype != torch.float32:
        fail(f"the batch should be float32, not {got.dtype}")
    want = images.transpose(0, 3, 1, 2).astype(np.float64) / 255
    expect_close(
        got.numpy(), want, "the batch (channel c of pixel (i, j) = images[n, i, j, c] / 255)", rtol=1e-6
    )


@visible_test(
    "flip_and_crop",
    hint="flip with .flip(-1), pad with zeros, then take rows top..top+H-1 and "
    "columns left..left+W-1 of the padded image.",
)
def two_images(student):
    """two 3 x 3 images, padding 1: the first flipped and moved, the second untouched"""
    images = torch.arange(18, dtype=torch.float32).reshape(2, 1, 3, 3) + 1
    got = as_tensor(
        student.flip_and_crop(
            images, 1, torch.tensor([True, False]), torch.tensor([0, 1]), torch.tensor([2, 1])
        ),
        "flip_and_crop(...)",
        shape=(2, 1, 3, 3),
    )
    want = np.array([[[[0, 0, 0], [2, 1, 0], [5, 4, 0]]], [[[10, 11, 12], [13, 14, 15], [16, 17, 18]]]])
    expect_close(got.numpy(), want, "the augmented images")


@visible_test(
    "shift_experiment",
    hint="shift by slicing into a tensor of zeros; the margin excludes the border "
    "where the zeros that came in (and the padding) make the two sides differ.",
)
def one_image_one_kernel(student):
    """a smooth 12 x 12 image, a 3x3 kernel, shift (2, -1), margin 3"""
    grid = torch.arange(12, dtype=torch.float64)
    x = (torch.sin(grid / 2)[:, None] * torch.cos(grid / 3)[None, :]).reshape(1, 1, 12, 12)
    weight = torch.tensor([[[[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]]], dtype=torch.float64)
    got = as_dict(
        student.shift_experiment(x, weight, 2, -1, 3),
        "shift_experiment(...)",
        keys=["equivariance", "change", "pooled_change"],
    )
    for key, value in got.items():
        if not isinstance(value, float):
            fail(f"{key} should be a Python float (use .item()), not a {type(value).__name__}")
    if as_float(got["equivariance"], "equivariance") > 1e-12:
        fail("away from the border conv(shift(x)) and shift(conv(x)) should be equal; check both shifts")
    conv = F.conv2d(x, weight, padding=1)
    moved = torch.zeros_like(x)
    moved[..., 2:, :11] = x[..., :10, 1:]
    change = (F.conv2d(moved, weight, padding=1) - conv)[..., 3:9, 3:9].abs().max().item()
    expect_close(as_float(got["change"], "change"), change, "change")
    pooled = (F.conv2d(moved, weight, padding=1).mean(dim=(2, 3)) - conv.mean(dim=(2, 3))).abs().max().item()
    expect_close(as_float(got["pooled_change"], "pooled_change"), pooled, "pooled_change")
