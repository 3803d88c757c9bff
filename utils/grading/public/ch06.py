"""Visible tests for chapter 6's exercises (exercises/06_optimizers.ipynb).

Expected values come from torch.optim on the same tensors and gradients, or from the formulas
in the prompts. The optimizers must be written from their update rules, so torch.optim's SGD,
Adam and AdamW are switched off while exercises 1-3 are checked.
"""

import math

import numpy as np
import torch

from utils.grading.expect import as_array, as_dict, as_int, as_list, expect_close, expect_equal, fail
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

write_it_yourself("MomentumSGD", "torch.optim.SGD", "torch.optim.sgd.sgd")
ADAM = ("torch.optim.Adam", "torch.optim.AdamW", "torch.optim.adam.adam", "torch.optim.adamw.adamw")
write_it_yourself("adam_updates", *ADAM)
write_it_yourself("ScratchAdamW", *ADAM)


def _three_steps(student, class_name, kwargs, grads):
    p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    optimizer = getattr(student, class_name)([p], **kwargs)
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
    return {"p": p.detach().clone(), "leaf": bool(p.is_leaf and p.requires_grad)}


def _reference(make, grads):
    p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    optimizer = make([p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
    return p.detach().numpy()


GRADS = [[0.5, -1.0], [0.25, 2.0], [-0.5, 1.0]]


@visible_test(
    "MomentumSGD",
    hint="b = g at the first step, then b = momentum * b + g; p -= lr * b, in place under torch.no_grad().",
)
def three_momentum_steps(student):
    """three steps with momentum 0.9 on one tensor, compared with torch.optim.SGD"""
    got = as_dict(
        student.run(_three_steps, "MomentumSGD", {"lr": 0.1, "momentum": 0.9}, GRADS), "the scenario"
    )
    if not got["leaf"]:
        fail("the parameter is no longer a leaf that requires grad: update it in place under torch.no_grad()")
    want = _reference(lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), GRADS)
    expect_close(as_array(got["p"], "the parameter", shape=(2,)), want, "the parameter after 3 steps")


@visible_test("adam_updates", hint="m and v start at 0; divide by 1 - beta**t for the bias correction.")
def first_adam_steps(student):
    """the first two updates, with and without bias correction"""
    grads = torch.tensor([[0.5, -2.0], [0.1, -1.0]], dtype=torch.float64)
    got = as_array(student.adam_updates(grads, lr=0.1), "adam_updates(grads, lr=0.1)", shape=(2, 2))
    expect_close(got[0], [-0.1, 0.1], "the first bias-corrected update (about -lr * sign(g))", rtol=1e-6)
    m1, v1 = 0.1 * grads[0].numpy(), 0.001 * grads[0].numpy() ** 2
    got = as_array(
        student.adam_updates(grads, lr=0.1, bias_correction=False), "the uncorrected updates", shape=(2, 2)
    )
    expect_close(got[0], -0.1 * m1 / (np.sqrt(v1) + 1e-8), "the first uncorrected update")


@visible_test(
    "ScratchAdamW",
    hint="per parameter: t, m, v; first p *= 1 - lr * weight_decay, then the bias-corrected Adam step.",
)
def three_adamw_steps(student):
    """three steps on one tensor, compared with torch.optim.AdamW"""
    kwargs = {"lr": 0.1, "weight_decay": 0.5}
    got = as_dict(student.run(_three_steps, "ScratchAdamW", kwargs, GRADS), "the scenario")
    want = _reference(lambda p: torch.optim.AdamW(p, **kwargs), GRADS)
    expect_close(as_array(got["p"], "the parameter", shape=(2,)), want, "the parameter after 3 steps")


@visible_test("lion_step", hint="the sign of beta1 * m + (1 - beta1) * g; m is updated with beta2.")
def one_lion_step(student):
    """one step on three numbers"""
    param, grad, m = (
        torch.tensor(v, dtype=torch.float64) for v in ([1.0, 2.0, 3.0], [0.5, -1.0, 0.0], [-1.0, 0.0, 0.0])
    )
    got = as_list(
        student.lion_step(param, grad, m, lr=0.1, betas=(0.9, 0.99), weight_decay=0.1),
        "lion_step(...)",
        length=2,
    )
    expect_close(
        as_array(got[0], "new_param", shape=(3,)),
        [1.0 + 0.1 - 0.01, 2.0 + 0.1 - 0.02, 3.0 - 0.03],
        "new_param",
    )
    expect_close(as_array(got[1], "new_exp_avg", shape=(3,)), [-0.99 + 0.005, -0.01, 0.0], "new_exp_avg")


def _train(student):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2).double()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    x = torch.linspace(-1, 1, 24, dtype=torch.float64).reshape(8, 3)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    model(x).pow(2).sum().backward()  # old gradients, which no step may use
    losses = student.train_steps(model, x, y, lr=0.5, steps=6, batch_size=4)
    return {"losses": [float(v) for v in losses], "start": start, "x": x, "y": y}


@visible_test(
    "train_steps", hint="zero the gradients in every step, before backward() (the model may hold old ones)."
)
def six_steps_of_a_linear_model(student):
    """six steps of a linear model that holds old gradients, compared with a correct loop"""
    got = as_dict(student.run(_train), "the scenario")
    model = torch.nn.Linear(3, 2).double()
    model.load_state_dict(got["start"])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    want = []
    for step in range(6):
        start = (step * 4) % 8
        loss = torch.nn.functional.cross_entropy(
            model(got["x"][start : start + 4]), got["y"][start : start + 4]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        want.append(loss.item())
    expect_close(as_list(got["losses"], "the losses", length=6), want, "the six batch losses")


@visible_test("ema_window", hint="accumulate v_1 + v_2 + ... until the sum reaches share.")
def windows_of_two_betas(student):
    """beta 0.9 with the default share, and beta 0.5 with share 0.9"""
    expect_equal(
        as_int(student.ema_window(0.9), "ema_window(0.9)"),
        math.ceil(math.log(1 / math.e) / math.log(0.9)),
        "ema_window(0.9)",
    )
    expect_equal(as_int(student.ema_window(0.5, 0.9), "ema_window(0.5, 0.9)"), 4, "ema_window(0.5, 0.9)")
