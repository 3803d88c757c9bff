"""Hidden tests for exercises/06_optimizers.ipynb (15 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values come from torch.optim (SGD, Adam, AdamW) run here on the same tensors and
gradients, or from the formulas in the prompts (Lion, the effective window), computed here.
The optimizers' behaviour (parameters updated in place, per-parameter state, skipped
parameters, zero_grad) is observed through scenarios run in the student's process.
"""

import math

import numpy as np
import torch

from utils.grading.expect import (
    as_array,
    as_dict,
    as_int,
    as_list,
    expect_close,
    expect_equal,
    expect_raises,
    fail,
)
from utils.grading.hidden import hidden_test

# ---- shared scenarios: an optimizer class on tensors we own, and on a small model ----------------------


def optimizer_on_tensors(student, class_name, start, grads, kwargs):
    """The student's optimizer over our tensors; grads[k][i] is None where parameter i has no gradient."""
    params = [torch.tensor(p, requires_grad=True) for p in start]
    optimizer = getattr(student, class_name)(iter(params), **kwargs)  # a one-shot iterable, like a generator
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        optimizer.step()
    return {
        "params": [p.detach().clone() for p in params],
        "leaves": [bool(p.is_leaf and p.requires_grad) for p in params],
    }


def optimizer_on_model(student, class_name, state, x, y, steps, kwargs):
    """Train a small MLP (our starting weights) with the student's optimizer and zero_grad."""
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    optimizer = getattr(student, class_name)(model.parameters(), **kwargs)
    x, y = torch.tensor(x), torch.tensor(y)
    grads_after_zero = []  # per step, every parameter's .grad right after zero_grad (judged in the test)
    for step in range(steps):
        optimizer.zero_grad()
        grads_after_zero.append([None if p.grad is None else p.grad.clone() for p in model.parameters()])
        batch = slice((step * 8) % len(x), (step * 8) % len(x) + 8)
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        optimizer.step()
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "grads_after_zero": grads_after_zero,
    }


def optimizer_keeping_grads(student, class_name, start, grads, steps, kwargs):
    """Gradients set once and left in place for several steps (no zero_grad): .grad must not change."""
    params = [torch.tensor(p, requires_grad=True) for p in start]
    optimizer = getattr(student, class_name)(params, **kwargs)
    for p, g in zip(params, grads):
        p.grad = torch.tensor(g)
    for _ in range(steps):
        optimizer.step()
    return {
        "params": [p.detach().clone() for p in params],
        "grads_after": [p.grad for p in params],  # compared in the test with the gradients we set
    }


def expect_kept_grads(student, class_name, seed, kwargs, make_reference, what):
    start, (grads,) = tensor_case(seed, 1)
    steps = 4
    got = as_dict(
        student.run(optimizer_keeping_grads, class_name, start, grads, steps, kwargs),
        "the scenario",
        keys=["params", "grads_after"],
    )
    grads_after = as_list(got["grads_after"], "the gradients after the steps", length=len(grads))
    if not all(
        after is not None and np.array_equal(as_array(after, f"parameter {k}'s .grad", shape=g.shape), g)
        for k, (after, g) in enumerate(zip(grads_after, grads))
    ):
        fail(f"{class_name}.step() changed a parameter's .grad: read the gradient, never write to it")
    want = reference_on_tensors(make_reference, start, [grads] * steps)
    for k, (got_p, want_p) in enumerate(
        zip(as_list(got["params"], "the parameters", length=len(start)), want)
    ):
        expect_close(
            got_p,
            want_p,
            f"parameter {k} after {steps} steps on the same, unchanged gradient {what}",
            rtol=1e-9,
            atol=1e-12,
        )


def reference_on_tensors(make, start, grads):
    params = [torch.tensor(p, requires_grad=True) for p in start]
    optimizer = make(params)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        optimizer.step()
    return [p.detach().numpy() for p in params]


def model_data(seed, n=40):
    rng = np.random.default_rng(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.5)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return state, rng.normal(size=(n, 5)), rng.integers(0, 3, size=n)


def reference_on_model(make, state, x, y, steps):
    model = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh(), torch.nn.Linear(7, 3)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    optimizer = make(model.parameters())
    x, y = torch.tensor(x), torch.tensor(y)
    for step in range(steps):
        optimizer.zero_grad()
        batch = slice((step * 8) % len(x), (step * 8) % len(x) + 8)
        torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
        optimizer.step()
    return {k: v.numpy() for k, v in model.state_dict().items()}


def expect_tensors(student, class_name, start, grads, kwargs, make_reference, what, rtol=1e-9):
    got = as_dict(
        student.run(optimizer_on_tensors, class_name, start, grads, kwargs),
        "the scenario",
        keys=["params", "leaves"],
    )
    params = as_list(got["params"], "the parameters", length=len(start))
    if not all(as_list(got["leaves"], "leaves")):
        fail(
            "after step() the parameters must still be leaf tensors that require gradients: update them "
            "in place under torch.no_grad()"
        )
    for k, (got_p, want_p) in enumerate(zip(params, reference_on_tensors(make_reference, start, grads))):
        expect_close(
            got_p,
            want_p,
            f"parameter {k} after {len(grads)} steps {what} (updated in place?)",
            rtol=rtol,
            atol=1e-12,
        )


def expect_model(student, class_name, seed, steps, kwargs, make_reference, what, rtol=1e-9):
    state, x, y = model_data(seed)
    got = as_dict(
        student.run(optimizer_on_model, class_name, state, x, y, steps, kwargs),
        "the scenario",
        keys=["state", "grads_after_zero"],
    )
    after_zero = [
        as_list(step_grads, "the gradients after zero_grad()")
        for step_grads in as_list(got["grads_after_zero"], "the gradients after zero_grad()", length=steps)
    ]
    left = [g for grads in after_zero for g in grads if g is not None]
    if any(as_array(g, "a .grad after zero_grad()").any() for g in left):
        fail("after zero_grad() a parameter still holds a gradient")
    if left:
        fail("zero_grad() should set every parameter's .grad to None, not to a tensor of zeros")
    want = reference_on_model(make_reference, state, x, y, steps)
    got_state = as_dict(got["state"], "the model's weights", keys=list(want))
    for name, value in want.items():
        expect_close(
            got_state[name], value, f"{name} after {steps} training steps {what}", rtol=rtol, atol=1e-12
        )


def tensor_case(seed, steps, shapes=((3, 2), (4,)), skip=()):
    """Starting values and per-step gradients; parameter i has no gradient at the steps in skip[i]."""
    rng = np.random.default_rng(seed)
    start = [rng.normal(size=s) for s in shapes]
    grads = [
        [
            None if k in (skip[i] if i < len(skip) else ()) else rng.normal(size=s) * (1 + i)
            for i, s in enumerate(shapes)
        ]
        for k in range(steps)
    ]
    return start, grads


# ---- exercise 1: MomentumSGD (3 points) ----------------------------------------------------------------


@hidden_test("MomentumSGD", points=1)
def momentum_on_given_tensors_in_place(student):
    """momentum 0.9 over 12 steps on our tensors, one of them without a gradient at two steps"""
    start, grads = tensor_case(1, 12, skip=((), (3, 7)))
    kwargs = {"lr": 0.05, "momentum": 0.9}
    expect_tensors(
        student,
        "MomentumSGD",
        start,
        grads,
        kwargs,
        lambda p: torch.optim.SGD(p, **kwargs),
        "with momentum 0.9",
    )
    start, grads = tensor_case(2, 5)
    kwargs = {"lr": 0.3}
    expect_tensors(
        student,
        "MomentumSGD",
        start,
        grads,
        kwargs,
        lambda p: torch.optim.SGD(p, **kwargs),
        "without momentum",
    )
    for seed, kwargs in [
        (6, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.2}),
        (7, {"lr": 0.1, "momentum": 0.9}),
    ]:
        expect_kept_grads(
            student,
            "MomentumSGD",
            seed,
            kwargs,
            lambda p, kwargs=kwargs: torch.optim.SGD(p, **kwargs),
            f"({kwargs})",
        )


@hidden_test("MomentumSGD", points=1)
def nesterov_and_weight_decay_train_a_model_like_torch(student):
    """Nesterov momentum with weight decay trains an MLP like torch.optim.SGD (30 steps, zero_grad)"""
    kwargs = {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.01}
    expect_model(
        student,
        "MomentumSGD",
        3,
        30,
        kwargs,
        lambda p: torch.optim.SGD(p, **kwargs),
        "with Nesterov momentum and weight decay",
    )
    kwargs = {"lr": 0.05, "momentum": 0.95, "weight_decay": 0.1}
    expect_model(
        student,
        "MomentumSGD",
        4,
        25,
        kwargs,
        lambda p: torch.optim.SGD(p, **kwargs),
        "with momentum and weight decay",
    )


def make_optimizer(student, class_name, kwargs):
    """Only construct the optimizer (to see whether it raises)."""
    getattr(student, class_name)([torch.zeros(2, requires_grad=True)], **kwargs)
    return True


@hidden_test("MomentumSGD", points=1)
def skipped_parameter_keeps_its_buffer_and_bad_settings_raise(student):
    """a skipped parameter keeps its momentum; a zero gradient is not skipped; bad settings raise"""
    start, grads = tensor_case(5, 10, shapes=((2,), (3,), (1,)), skip=((0, 1), (4,), (5, 6, 7)))
    grads[6][0] = np.zeros(2)  # a gradient of zeros is a gradient: the momentum still moves the parameter
    grads[8][1] = np.zeros(3)
    kwargs = {"lr": 0.1, "momentum": 0.5, "nesterov": True}
    expect_tensors(
        student,
        "MomentumSGD",
        start,
        grads,
        kwargs,
        lambda p: torch.optim.SGD(p, **kwargs),
        "with gradients missing at some steps",
    )
    for kwargs in [{"lr": 0.0}, {"lr": 0.1, "momentum": 0.0, "weight_decay": 0.0}]:
        allowed = student.run(make_optimizer, "MomentumSGD", kwargs)
        expect_equal(allowed, True, f"MomentumSGD with {kwargs} (allowed: only negative values raise)")
    for kwargs, what in [
        ({"lr": -0.1}, "a negative lr"),
        ({"lr": 0.1, "momentum": -0.9}, "a negative momentum"),
        ({"lr": 0.1, "nesterov": True}, "nesterov=True without momentum"),
        ({"lr": 0.1, "weight_decay": -1.0}, "a negative weight_decay"),
    ]:
        expect_raises(
            lambda kwargs=kwargs: student.run(make_optimizer, "MomentumSGD", kwargs),
            "ValueError",
            f"MomentumSGD with {what}",
        )


# ---- exercise 2: adam_updates (2 points) ---------------------------------------------------------------


def adam_leaves_grads_alone(student, grads):
    given = torch.tensor(grads)
    updates = student.adam_updates(given, lr=0.01)
    return {"grads_after": given, "updates": updates}  # the test compares grads_after with its own copy


def torch_adam_updates(grads, **kwargs):
    grads = torch.as_tensor(grads)
    p = torch.zeros(grads.shape[1:], dtype=grads.dtype, requires_grad=True)
    optimizer = torch.optim.Adam([p], **kwargs)
    updates = []
    for g in grads:
        before = p.detach().clone()
        p.grad = g.clone()
        optimizer.step()
        updates.append((p.detach() - before).numpy())
    return np.stack(updates)


def uncorrected_updates(grads, lr, beta1, beta2, eps):
    m = np.zeros(grads.shape[1:])
    v = np.zeros(grads.shape[1:])
    out = []
    for g in grads:
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        out.append(-lr * m / (np.sqrt(v) + eps))
    return np.stack(out)


@hidden_test("adam_updates", points=1)
def bias_corrected_updates_match_torch_adam(student):
    """120 steps of bias-corrected Adam equal torch.optim.Adam's updates; step 1 is about -lr * sign(g)"""
    rng = np.random.default_rng(11)
    for shape, kwargs in [
        ((120, 3, 4), {"lr": 1e-2}),
        ((100, 5), {"lr": 3e-3, "betas": (0.5, 0.9), "eps": 1e-6}),
        ((100, 2), {"lr": 0.1, "betas": (0.95, 0.95)}),
    ]:
        grads = rng.normal(size=shape) * np.geomspace(1e-4, 10, shape[-1])
        got = as_array(
            student.adam_updates(torch.tensor(grads), **kwargs),
            "adam_updates(grads)",
            shape=shape,
            kind="float",
        )
        expect_close(
            got,
            torch_adam_updates(grads, **kwargs),
            f"the updates for gradients of shape {shape}",
            rtol=1e-7,
            atol=1e-14,
        )
        lr, eps = kwargs["lr"], kwargs.get("eps", 1e-8)
        expect_close(got[0], -lr * grads[0] / (np.abs(grads[0]) + eps), "the first update", rtol=1e-7)


@hidden_test("adam_updates", points=1)
def uncorrected_updates_and_float32(student):
    """without bias correction the first steps are too large, as the formula says; float32 stays float32"""
    rng = np.random.default_rng(12)
    grads = rng.normal(size=(60, 4)) + 0.5
    for beta1, beta2 in [(0.9, 0.999), (0.8, 0.99)]:
        got = as_array(
            student.adam_updates(torch.tensor(grads), lr=0.01, betas=(beta1, beta2), bias_correction=False),
            "adam_updates(..., bias_correction=False)",
            shape=grads.shape,
        )
        expect_close(
            got,
            uncorrected_updates(grads, 0.01, beta1, beta2, 1e-8),
            f"the uncorrected updates with betas ({beta1}, {beta2})",
            rtol=1e-7,
            atol=1e-14,
        )
    got = as_dict(
        student.run(adam_leaves_grads_alone, grads), "the scenario", keys=["grads_after", "updates"]
    )
    if not np.array_equal(as_array(got["grads_after"], "grads after the call", shape=grads.shape), grads):
        fail("adam_updates changed the grads tensor it was given; work on new tensors instead")
    expect_close(got["updates"], torch_adam_updates(grads, lr=0.01), "the updates", rtol=1e-7, atol=1e-14)
    single = student.adam_updates(torch.tensor(grads, dtype=torch.float32), lr=0.01)
    if not (torch.is_tensor(single) and single.dtype == torch.float32):
        fail("adam_updates of float32 gradients should return a float32 tensor")
    expect_close(
        single,
        torch_adam_updates(grads.astype(np.float32), lr=0.01),
        "the float32 updates",
        rtol=1e-4,
        atol=1e-8,
    )


# ---- exercise 3: ScratchAdamW (3 points) ---------------------------------------------------------------


@hidden_test("ScratchAdamW", points=1)
def adamw_on_tensors_with_skipped_steps(student):
    """25 steps on our tensors like torch.optim.AdamW, parameters skipped at some steps, a zero gradient"""
    start, grads = tensor_case(21, 25, shapes=((3, 2), (4,), (2,)), skip=((), (0, 1, 2, 10), (5, 6, 7, 8)))
    grads[12][2] = np.zeros(2)  # a gradient of zeros is a gradient: decay, moments and step count go on
    kwargs = {"lr": 1e-2, "weight_decay": 0.1}
    expect_tensors(
        student, "ScratchAdamW", start, grads, kwargs, lambda p: torch.optim.AdamW(p, **kwargs), "of AdamW"
    )
    expect_kept_grads(
        student, "ScratchAdamW", 26, kwargs, lambda p: torch.optim.AdamW(p, **kwargs), "(weight decay 0.1)"
    )


@hidden_test("ScratchAdamW", points=1)
def adamw_trains_a_model_like_torch(student):
    """ScratchAdamW trains an MLP like torch.optim.AdamW (40 steps, zero_grad, several settings)"""
    for seed, kwargs in [
        (22, {"lr": 1e-2, "weight_decay": 0.05}),
        (23, {"lr": 3e-3, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.5}),
        (24, {}),
    ]:
        expect_model(
            student,
            "ScratchAdamW",
            seed,
            40,
            kwargs,
            lambda p, kwargs=kwargs: torch.optim.AdamW(p, **kwargs),
            f"with {kwargs or 'the defaults'}",
        )


def two_optimizers(student, start_a, start_b, grads_a, grads_b):
    """Two ScratchAdamW objects stepped alternately must not share state."""
    a = torch.tensor(start_a, requires_grad=True)
    b = torch.tensor(start_b, requires_grad=True)
    opt_a = student.ScratchAdamW([a], lr=0.05, weight_decay=0.0)
    opt_b = student.ScratchAdamW([b], lr=0.05, weight_decay=0.0)
    for k in range(len(grads_a)):
        a.grad = torch.tensor(grads_a[k])
        opt_a.step()
        if k < len(grads_b):
            b.grad = torch.tensor(grads_b[k])
            opt_b.step()
    return [a.detach().clone(), b.detach().clone()]


@hidden_test("ScratchAdamW", points=1)
def two_optimizers_keep_separate_state(student):
    """two ScratchAdamW objects stepped alternately behave like two separate torch.optim.AdamW"""
    rng = np.random.default_rng(25)
    start_a, start_b = rng.normal(size=4), rng.normal(size=4)
    grads_a, grads_b = rng.normal(size=(12, 4)), rng.normal(size=(5, 4)) * 100
    got = as_list(student.run(two_optimizers, start_a, start_b, grads_a, grads_b), "the scenario", length=2)
    for k, (start, grads) in enumerate([(start_a, grads_a), (start_b, grads_b)]):
        want = reference_on_tensors(
            lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.0), [start], [[g] for g in grads]
        )[0]
        expect_close(
            got[k],
            want,
            f"the parameter of optimizer {'ab'[k]} (state shared between objects?)",
            rtol=1e-9,
            atol=1e-12,
        )


# ---- exercise 4: lion_step (2 points) ------------------------------------------------------------------


def lion_reference(param, grad, m, lr, betas, weight_decay):
    beta1, beta2 = betas
    c = beta1 * m + (1 - beta1) * grad
    return param - lr * (np.sign(c) + weight_decay * param), beta2 * m + (1 - beta2) * grad


@hidden_test("lion_step", points=1)
def lion_steps_follow_the_paper(student):
    """single steps for several settings, with exact zeros, and a chain of 60 steps"""
    rng = np.random.default_rng(31)
    for lr, betas, wd in [(1e-3, (0.9, 0.99), 0.0), (0.1, (0.5, 0.999), 0.3), (3e-4, (0.95, 0.98), 1.0)]:
        param, grad, m = rng.normal(size=(3, 5)), rng.normal(size=(3, 5)), rng.normal(size=(3, 5)) * 2
        grad[0, :2], m[0, :2] = 0.0, 0.0  # c = 0 exactly: sign(0) = 0
        grad[1, 0], m[1, 0] = -1.0, (1 - betas[0]) / betas[0]  # c = 0 exactly again (up to rounding: tiny)
        got = as_list(
            student.lion_step(
                torch.tensor(param), torch.tensor(grad), torch.tensor(m), lr=lr, betas=betas, weight_decay=wd
            ),
            "lion_step(...)",
            length=2,
        )
        want_p, want_m = lion_reference(param, grad, m, lr, betas, wd)
        want_p[1, 0] = np.asarray(as_array(got[0], "new_param", shape=(3, 5)))[1, 0]  # rounding decides here
        expect_close(
            as_array(got[0], "new_param", shape=(3, 5)),
            want_p,
            f"the new parameter (lr {lr}, wd {wd})",
            rtol=1e-12,
            atol=1e-15,
        )
        expect_close(
            as_array(got[1], "new_exp_avg", shape=(3, 5)),
            want_m,
            f"the new exp_avg (betas {betas})",
            rtol=1e-12,
            atol=1e-15,
        )
    param, m = rng.normal(size=6), np.zeros(6)
    got_p, got_m = torch.tensor(param), torch.tensor(m)
    for _ in range(60):
        grad = rng.normal(size=6) + 0.3
        got_p, got_m = student.lion_step(got_p, torch.tensor(grad), got_m, lr=0.01, weight_decay=0.1)
        param, m = lion_reference(param, grad, m, 0.01, (0.9, 0.99), 0.1)
    expect_close(got_p, param, "the parameter after 60 chained steps", rtol=1e-10, atol=1e-12)
    expect_close(got_m, m, "exp_avg after 60 chained steps", rtol=1e-10, atol=1e-12)


def lion_scenario(student, param, grad, m):
    given = [torch.tensor(a) for a in (param, grad, m)]
    new_param, new_m = student.lion_step(*given, lr=0.01, betas=(0.9, 0.99), weight_decay=0.5)
    return {
        "param": new_param,
        "m": new_m,
        "dtypes": [str(new_param.dtype), str(new_m.dtype)],
        "inputs_after": given,  # compared in the test with its own copies
    }


@hidden_test("lion_step", points=1)
def lion_leaves_inputs_alone_and_keeps_float32(student):
    """the given tensors are not changed, float32 stays float32, the values are right"""
    rng = np.random.default_rng(32)
    param, grad = (rng.normal(size=(4, 3)).astype(np.float32) for _ in range(2))
    m = (0.1 * rng.normal(size=(4, 3))).astype(np.float32)  # small: the beta1 mix and m differ in sign
    got = as_dict(
        student.run(lion_scenario, param, grad, m),
        "the scenario",
        keys=["param", "m", "dtypes", "inputs_after"],
    )
    after = as_list(got["inputs_after"], "the inputs after the call", length=3)
    for name, value, original in zip(("param", "grad", "exp_avg"), after, (param, grad, m)):
        if not np.array_equal(as_array(value, f"{name} after the call", shape=original.shape), original):
            fail(f"lion_step changed the {name} tensor it was given; return new tensors instead")
    expect_equal(as_list(got["dtypes"], "dtypes"), ["torch.float32", "torch.float32"], "the dtypes returned")
    want_p, want_m = lion_reference(
        param.astype(np.float64), grad.astype(np.float64), m.astype(np.float64), 0.01, (0.9, 0.99), 0.5
    )
    expect_close(got["param"], want_p, "the new parameter", rtol=1e-5, atol=1e-6)
    expect_close(got["m"], want_m, "the new exp_avg", rtol=1e-5, atol=1e-6)


# ---- exercise 5: train_steps (3 points) ----------------------------------------------------------------


def train_scenario(student, state, x, y, lr, steps, batch_size, stale_grads=False):
    model = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.ReLU(), torch.nn.Linear(10, 4)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    if stale_grads:  # gradients left over from earlier work, which no step may use
        model(torch.tensor(x)).pow(2).sum().backward()
    losses = student.train_steps(
        model, torch.tensor(x), torch.tensor(y), lr=lr, steps=steps, batch_size=batch_size
    )
    return {
        "types": [type(v).__name__ for v in losses],
        "losses": [float(v) for v in losses],
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
    }


def train_data(seed, n):
    rng = np.random.default_rng(seed)
    model = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.ReLU(), torch.nn.Linear(10, 4)).double()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64) * 0.4)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    return state, rng.normal(size=(n, 6)), rng.integers(0, 4, size=n)


def train_reference(state, x, y, lr, steps, batch_size):
    model = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.ReLU(), torch.nn.Linear(10, 4)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    x, y = torch.tensor(x), torch.tensor(y)
    losses = []
    for step in range(steps):
        start = (step * batch_size) % len(x)
        loss = torch.nn.functional.cross_entropy(
            model(x[start : start + batch_size]), y[start : start + batch_size]
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses, {k: v.numpy() for k, v in model.state_dict().items()}


def run_training(student, seed, n, lr, steps, batch_size, stale_grads=False):
    state, x, y = train_data(seed, n)
    got = as_dict(
        student.run(train_scenario, state, x, y, lr, steps, batch_size, stale_grads),
        "the scenario",
        keys=["types", "losses", "state"],
    )
    return got, train_reference(state, x, y, lr, steps, batch_size)


@hidden_test("train_steps", points=1)
def losses_match_a_correct_loop(student):
    """the returned batch losses equal those of a correct loop (20 steps)"""
    got, (losses, _) = run_training(student, 41, 96, 0.05, 20, 32)
    expect_close(as_list(got["losses"], "the losses", length=20), losses, "the batch losses", rtol=1e-9)
    kinds = sorted(set(as_list(got["types"], "the types of the losses")))
    if kinds != ["float"]:
        fail(f"the losses should be Python floats (loss.item()), not {', '.join(kinds)}: tensors keep graphs")


@hidden_test("train_steps", points=1)
def trains_the_given_model_like_a_correct_loop(student):
    """the model passed in (with stale gradients) ends with the weights of a correct loop; batches wrap"""
    got, (_, state) = run_training(student, 42, 50, 0.1, 15, 16, stale_grads=True)
    got_state = as_dict(got["state"], "the model's weights", keys=list(state))
    for name, value in state.items():
        expect_close(
            got_state[name],
            value,
            f"{name} of the model after training (was the model itself trained, each step with only its "
            "own batch's gradient?)",
            rtol=1e-9,
            atol=1e-12,
        )


@hidden_test("train_steps", points=1)
def other_settings(student):
    """other learning rates, step counts and batch sizes, with and without stale gradients"""
    for seed, n, lr, steps, batch_size, stale in [(43, 64, 0.2, 7, 64, True), (44, 30, 0.01, 25, 7, False)]:
        got, (losses, state) = run_training(student, seed, n, lr, steps, batch_size, stale)
        expect_close(
            as_list(got["losses"], "the losses", length=steps), losses, f"the losses (lr {lr})", rtol=1e-9
        )
        got_state = as_dict(got["state"], "the model's weights", keys=list(state))
        for name, value in state.items():
            expect_close(
                got_state[name], value, f"{name} after {steps} steps (lr {lr})", rtol=1e-9, atol=1e-12
            )


# ---- exercise 6: ema_window (2 points) -----------------------------------------------------------------

# (beta, share): none of these puts log(1 - share) / log(beta) within 1e-4 of a whole number,
# so float rounding in a measured sum cannot change the answer.
WINDOW_CASES = [
    (0.9, 1 - 1 / math.e),
    (0.99, 1 - 1 / math.e),
    (0.999, 1 - 1 / math.e),
    (0.5, 0.9),
    (0.95, 0.5),
    (0.8, 0.99),
    (0.9999, 1 - 1 / math.e),
    (0.99, 0.95),
    (0.3, 0.97),
    (0.999, 0.25),
]


def window_formula(beta, share):
    """The weights of the n most recent gradients sum to 1 - beta**n."""
    ratio = math.log(1 - share) / math.log(beta)
    if abs(ratio - round(ratio)) < 1e-4:
        raise AssertionError(f"test bug: ({beta}, {share}) lies on a boundary")
    return math.ceil(ratio)


@hidden_test("ema_window", points=1)
def windows_for_many_betas_and_shares(student):
    """the measured windows for ten (beta, share) pairs, up to beta = 0.9999"""
    for beta, share in WINDOW_CASES:
        got = as_int(student.ema_window(beta, share), f"ema_window({beta}, {share:.3f})")
        expect_equal(got, window_formula(beta, share), f"ema_window({beta}, {share:.3f})")
    # exactly on a boundary, with every sum exact in binary: the share is reached, not exceeded;
    # and a share a hair above a boundary, which needs one more step
    boundaries = [(0.5, 0.5, 1), (0.5, 0.75, 2), (0.5, 0.875, 3), (0.25, 0.9375, 2), (0.5, 0.75 + 1e-12, 3)]
    for beta, share, n in boundaries:
        got = as_int(student.ema_window(beta, share), f"ema_window({beta}, {share})")
        expect_equal(got, n, f"ema_window({beta}, {share!r}) (a sum of exact binary fractions: no tolerance)")


@hidden_test("ema_window", points=1)
def default_share_and_bad_input(student):
    """the default share is 1 - 1/e; bad betas and shares raise ValueError"""
    for beta in (0.9, 0.98, 0.995):
        got = as_int(student.ema_window(beta), f"ema_window({beta})")
        expect_equal(got, window_formula(beta, 1 - 1 / math.e), f"ema_window({beta})")
    for args in [(1.0, 0.5), (0.0, 0.5), (-0.5, 0.5), (1.5, 0.5), (0.9, 1.0), (0.9, 0.0), (0.9, -0.2)]:
        expect_raises(lambda args=args: student.ema_window(*args), "ValueError", f"ema_window{args}")
