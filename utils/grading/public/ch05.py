"""Visible tests for chapter 5's exercises (exercises/05_init_norm.ipynb).

Expected values come from PyTorch's own layers on the same numbers, or from the formulas
in the prompts. The normalisation exercises must be written from their formulas, so
PyTorch's normalisation functions are switched off while they are checked.
"""

import math

import numpy as np
import torch

from utils.grading.expect import as_array, as_dict, as_float, expect_close, expect_raises, fail
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

BATCH_NORM = ("torch.nn.functional.batch_norm", "torch.batch_norm")
# batch_norm_step also has these routes: native_batch_norm returns the batch statistics, and instance
# norm over x viewed as one "instance" with C channels computes batch norm's output
write_it_yourself(
    "batch_norm_step",
    *BATCH_NORM,
    "torch.native_batch_norm",
    "torch.nn.functional.instance_norm",
    "torch.instance_norm",
)
write_it_yourself("ScratchBatchNorm1d", *BATCH_NORM)
write_it_yourself(
    "group_norm",
    "torch.nn.functional.group_norm",
    "torch.group_norm",
    "torch.nn.functional.layer_norm",
    "torch.layer_norm",
    "torch.nn.functional.instance_norm",
    "torch.instance_norm",
)
write_it_yourself("rms_norm", "torch.nn.functional.rms_norm", "torch.rms_norm")


@visible_test(
    "init_std",
    hint="He: sqrt(2 / fan_in); Xavier: sqrt(2 / (fan_in + fan_out)); uniform bound = sqrt(3) * std.",
)
def three_rules_for_one_layer(student):
    """the three rules for a 100 -> 50 layer"""
    for scheme, variance in {"lecun": 1 / 100, "xavier": 2 / 150, "he": 2 / 100}.items():
        expect_close(
            as_float(student.init_std(scheme, 100, 50), f"init_std({scheme!r}, 100, 50)"),
            math.sqrt(variance),
            f"init_std({scheme!r}, 100, 50)",
        )
    expect_close(
        as_float(student.init_std("he", 100, 50, "uniform"), "the He uniform bound"),
        math.sqrt(6 / 100),
        "init_std('he', 100, 50, 'uniform')",
    )
    expect_raises(lambda: student.init_std("zeros", 3, 3), "ValueError", "init_std('zeros', 3, 3)")


@visible_test(
    "batch_norm_step",
    hint="biased variance to normalise, unbiased (m - 1) for running_var; "
    "new = (1 - momentum) * old + momentum * batch.",
)
def one_step_like_batchnorm1d(student):
    """a batch of 4 with 2 channels, compared with nn.BatchNorm1d"""
    x = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [6.0, 0.0]], dtype=torch.float64)
    ones, zeros = torch.ones(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    y, mean, var = student.batch_norm_step(x, ones, zeros, zeros.clone(), ones.clone())
    reference = torch.nn.BatchNorm1d(2).double()
    want = reference(x).detach()
    expect_close(as_array(y, "y", shape=(4, 2)), want.numpy(), "y")
    expect_close(
        as_array(mean, "new running_mean", shape=(2,)), reference.running_mean.numpy(), "new running_mean"
    )
    expect_close(
        as_array(var, "new running_var", shape=(2,)), reference.running_var.numpy(), "new running_var"
    )


def _train_then_eval(student, batches, eval_batch):
    norm = student.ScratchBatchNorm1d(2).double()
    for x in batches:
        norm(torch.tensor(x, dtype=torch.float64))
    norm.eval()
    return {
        "eval_output": norm(torch.tensor(eval_batch, dtype=torch.float64)).detach(),
        "buffers": dict(norm.named_buffers()),
    }


@visible_test(
    "ScratchBatchNorm1d",
    hint="register running_mean/running_var as buffers; in eval mode use them and do not update them.",
)
def two_training_batches_then_eval(student):
    """two training batches, then eval mode, compared with nn.BatchNorm1d"""
    batches = [[[1.0, 2.0], [3.0, 5.0], [2.0, -1.0]], [[0.0, 1.0], [4.0, 4.0], [5.0, 0.0]]]
    eval_batch = [[1.0, 1.0], [2.0, 3.0]]
    got = as_dict(
        student.run(_train_then_eval, batches, eval_batch), "the module", keys=["eval_output", "buffers"]
    )
    reference = torch.nn.BatchNorm1d(2).double()
    for x in batches:
        reference(torch.tensor(x, dtype=torch.float64))
    reference.eval()
    want = reference(torch.tensor(eval_batch, dtype=torch.float64)).detach().numpy()
    buffers = as_dict(got["buffers"], "the module's buffers")
    for name in ("running_mean", "running_var"):
        if name not in buffers:
            fail(f"the module has no buffer named {name}: use self.register_buffer({name!r}, ...)")
        expect_close(
            as_array(buffers[name], name, shape=(2,)),
            getattr(reference, name).numpy(),
            f"{name} after two training batches",
        )
    expect_close(
        as_array(got["eval_output"], "the eval-mode output", shape=(2, 2)), want, "the eval-mode output"
    )


@visible_test(
    "group_norm",
    hint="reshape to (N, num_groups, -1), normalise each row, reshape back, then "
    "apply weight and bias per channel.",
)
def two_groups_like_nn_groupnorm(student):
    """an [2, 4, 3] input in 2 groups, compared with nn.GroupNorm"""
    x = torch.arange(24, dtype=torch.float64).reshape(2, 4, 3) ** 1.5
    w, b = (
        torch.tensor([1.0, 2.0, 0.5, 1.0], dtype=torch.float64),
        torch.tensor([0.0, 1.0, -1.0, 0.0], dtype=torch.float64),
    )
    got = as_array(student.group_norm(x, 2, w, b), "group_norm(x, 2, w, b)", shape=(2, 4, 3))
    layer = torch.nn.GroupNorm(2, 4).double()
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.bias.copy_(b)
        expect_close(got, layer(x).numpy(), "group_norm(x, 2, w, b)")


@visible_test(
    "rms_norm", hint="divide by sqrt(mean(x**2 over the last axis) + eps); do not subtract the mean."
)
def rms_of_two_vectors(student):
    """two vectors of length 3, compared with nn.RMSNorm"""
    x = torch.tensor([[3.0, 4.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    w = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    layer = torch.nn.RMSNorm(3, eps=1e-6).double()
    with torch.no_grad():
        layer.weight.copy_(w)
        expect_close(
            as_array(student.rms_norm(x, w), "rms_norm(x, w)", shape=(2, 3)),
            layer(x).numpy(),
            "rms_norm(x, w)",
        )


@visible_test(
    "inverted_dropout",
    hint="keep where u >= p, multiply the kept values by 1 / (1 - p); training=False returns x.",
)
def a_small_mask(student):
    """four values, p = 0.5, and evaluation mode"""
    x = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    u = torch.tensor([0.1, 0.5, 0.7, 0.2], dtype=torch.float64)
    expect_close(
        as_array(student.inverted_dropout(x, 0.5, u), "inverted_dropout(x, 0.5, u)", shape=(4,)),
        np.array([0.0, 4.0, 6.0, 0.0]),
        "inverted_dropout(x, 0.5, u)",
    )
    expect_close(
        as_array(student.inverted_dropout(x, 0.5, u, training=False), "evaluation mode", shape=(4,)),
        x.numpy(),
        "inverted_dropout(x, 0.5, u, training=False)",
    )


def _evaluate_twice(student):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(8, 2),
    )
    x, y = torch.randn(40, 3), torch.randint(0, 2, (40,))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    first = student.evaluate(model, x, y, batch_size=8)
    second = student.evaluate(model, x, y, batch_size=40)
    changed = any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    all_training = all(module.training for module in model.modules())
    model.eval()
    with torch.no_grad():
        reference = (model(x).argmax(1) == y).float().mean().item()
    return {"first": first, "second": second, "reference": reference, "changed": changed,
            "all_training": all_training}


@visible_test(
    "evaluate", hint="model.eval() and torch.no_grad() around the loop, then put the old mode back."
)
def same_answer_whatever_the_batch_size(student):
    """a BN + dropout model evaluated twice: same accuracy, model unchanged"""
    got = as_dict(student.run(_evaluate_twice), "evaluate")
    if got["changed"]:
        fail("evaluate changed the model's parameters or buffers (were the running statistics updated?)")
    if not got["all_training"]:
        fail("the model was in training mode, but after evaluate some of its layers are not")
    expect_close(as_float(got["first"], "evaluate(...)"), got["reference"], "the accuracy with batches of 8")
    expect_close(
        as_float(got["second"], "evaluate(...)"), got["reference"], "the accuracy with one batch of 40"
    )


@visible_test("layer_stds", hint="apply the activation, then take h.std(unbiased=False) of each layer.")
def two_relu_layers(student):
    """two identity-like layers with ReLU"""
    x = torch.tensor([[1.0, -1.0], [2.0, 0.0]], dtype=torch.float64)
    eye = torch.eye(2, dtype=torch.float64)
    result = student.layer_stds(x, [eye, 2 * eye], "relu")
    if not (isinstance(result, list) and all(isinstance(v, float) for v in result)):
        fail("layer_stds should return a list of Python floats (use .item() on each std)")
    got = as_array(result, "layer_stds", shape=(2,))
    first = torch.relu(x).std(unbiased=False).item()
    expect_close(got, np.array([first, 2 * first]), "layer_stds(x, [I, 2I], 'relu')")


@visible_test("depth_to_collapse", hint="count layers from 1 and compare with threshold * (layer 1's std).")
def he_keeps_relu_alive(student):
    """He with ReLU never collapses; the small init with tanh collapses within 10 layers"""
    if student.depth_to_collapse("he", "relu") is not None:
        fail("with He initialisation a ReLU stack should not collapse within 50 layers (expected None)")
    got = student.depth_to_collapse("small", "tanh")
    if not isinstance(got, int) or not 2 <= got <= 10:
        fail(f"with std 0.01 a tanh stack of width 256 should collapse within a few layers, got {got!r}")
