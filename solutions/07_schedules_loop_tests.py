"""Hidden tests for exercises/07_schedules_loop.ipynb (20 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Schedules are compared with torch.optim.lr_scheduler itself and clipping with
clip_grad_norm_; the loops (accumulation, the training loop, resume, the range test) run in
the student's process through scenarios on small float64 models built from weights the test
draws, and are compared with the same loops written correctly here.
"""

import math

import numpy as np
import torch

from utils.grading.expect import as_array, as_dict, as_float, as_list, expect_close, expect_raises, fail
from utils.grading.hidden import hidden_test

# ---- helpers: a small float64 MLP built the same way here and in the scenarios --------------------------


def mlp_weights(rng, sizes=(6, 8, 4)):
    return {
        "0.weight": rng.normal(scale=0.7, size=(sizes[1], sizes[0])),
        "0.bias": rng.normal(size=sizes[1]),
        "2.weight": rng.normal(scale=0.7, size=(sizes[2], sizes[1])),
        "2.bias": rng.normal(size=sizes[2]),
    }


def build_mlp(weights):
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    return model


def make_batches(rng, sizes):
    return [(rng.normal(size=(n, 6)), rng.integers(0, 4, size=n)) for n in sizes]


def as_tensors(batches):
    return [(torch.tensor(x), torch.tensor(y)) for x, y in batches]


def expect_state(got, model, what, rtol=1e-9, atol=1e-12):
    got = as_dict(got, what, keys=list(model.state_dict()))
    for key, want in model.state_dict().items():
        expect_close(got[key], want.detach().numpy(), f"{what}: {key}", rtol=rtol, atol=atol)


def return_types(student, name, calls):
    """The type names of what the student's function returns for each argument tuple."""
    function = getattr(student, name)
    return [type(function(*args)).__name__ for args in calls]


def expect_python_floats(student, name, calls):
    """The function returns a Python float (np.float64, a float subclass, is fine too)."""
    names = as_list(student.run(return_types, name, calls), f"the types {name} returns", length=len(calls))
    odd = sorted({n for n in names if n not in ("float", "float64")})
    if odd:
        fail(f"{name} should return a Python float, but it returned {', '.join(odd)}")


def torch_lrs(make_scheduler, steps, lr):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


# ---- exercise 1: warmup_cosine_lr (3 points) ------------------------------------------------------------


def sequential(warmup, total, start_factor, eta_min):
    from torch.optim import lr_scheduler as s

    return lambda o: s.SequentialLR(
        o,
        [
            s.LinearLR(o, start_factor=start_factor, total_iters=warmup),
            s.CosineAnnealingLR(o, T_max=total - warmup, eta_min=eta_min),
        ],
        milestones=[warmup],
    )


@hidden_test("warmup_cosine_lr", points=2)
def warmup_cosine_matches_sequential_lr(student):
    """every step of three warm-up + cosine schedules equals SequentialLR's, and the last is eta_min"""
    for base, warmup, total, start_factor, eta_min in [
        (0.1, 10, 60, 0.01, 0.0),
        (0.5, 1, 23, 0.1, 0.02),
        (3e-4, 17, 40, 0.25, 1e-5),
    ]:
        want = torch_lrs(sequential(warmup, total, start_factor, eta_min), total, base)
        what = f"warmup_cosine_lr(step, {base}, {warmup}, {total}, {start_factor}, {eta_min})"
        got = [
            as_float(student.warmup_cosine_lr(t, base, warmup, total, start_factor, eta_min), what)
            for t in range(total)
        ]
        expect_close(np.array(got), np.array(want), what + " over all steps", rtol=1e-7, atol=1e-12)
        expect_close(
            as_float(student.warmup_cosine_lr(total, base, warmup, total, start_factor, eta_min), what),
            eta_min,
            what + " at step = total",
            rtol=1e-7,
            atol=1e-12,
        )


@hidden_test("warmup_cosine_lr", points=1)
def no_warmup_is_plain_cosine_and_bad_steps_raise(student):
    """warmup=0 is plain cosine; floats; step outside [0, total] or warmup outside [0, total): ValueError"""
    from torch.optim import lr_scheduler as s

    want = torch_lrs(lambda o: s.CosineAnnealingLR(o, T_max=30, eta_min=0.001), 30, 0.2)
    got = [
        as_float(student.warmup_cosine_lr(t, 0.2, 0, 30, 0.01, 0.001), "warmup_cosine_lr with warmup=0")
        for t in range(30)
    ]
    expect_close(np.array(got), np.array(want), "warmup_cosine_lr with warmup=0 (plain cosine)", rtol=1e-7)
    expect_python_floats(
        student, "warmup_cosine_lr", [(0, 0.1, 5, 30), (3, 0.1, 5, 30), (5, 0.1, 5, 30), (30, 0.1, 5, 30)]
    )
    for args, what in [
        ((31, 0.1, 5, 30), "step > total"),
        ((-1, 0.1, 5, 30), "a negative step"),
        ((3, 0.1, 30, 30), "warmup = total"),
        ((3, 0.1, -2, 30), "a negative warmup"),
    ]:
        expect_raises(
            lambda args=args: student.warmup_cosine_lr(*args), "ValueError", f"warmup_cosine_lr with {what}"
        )


# ---- exercise 2: one_cycle_lr (2 points) ----------------------------------------------------------------


def one_cycle_case(student, max_lr, total, pct, div, final_div):
    from torch.optim import lr_scheduler as s

    want = torch_lrs(
        lambda o: s.OneCycleLR(
            o, max_lr=max_lr, total_steps=total, pct_start=pct, div_factor=div, final_div_factor=final_div
        ),
        total,
        max_lr,
    )
    what = f"one_cycle_lr(step, {max_lr}, {total}, {pct}, {div}, {final_div})"
    got = [as_float(student.one_cycle_lr(t, max_lr, total, pct, div, final_div), what) for t in range(total)]
    expect_close(np.array(got), np.array(want), what + " over all steps", rtol=1e-7, atol=1e-15)


@hidden_test("one_cycle_lr", points=1)
def one_cycle_matches_torch(student):
    """every step of OneCycleLR with default and custom factors"""
    one_cycle_case(student, 0.1, 100, 0.3, 25.0, 1e4)
    one_cycle_case(student, 2.0, 60, 0.5, 10.0, 100.0)


@hidden_test("one_cycle_lr", points=1)
def one_cycle_with_a_fractional_peak_and_bad_steps(student):
    """pct_start * total not a whole number, a short run, floats; steps outside [0, total) raise ValueError"""
    one_cycle_case(student, 0.05, 37, 0.25, 4.0, 50.0)
    one_cycle_case(student, 1.0, 12, 0.4, 25.0, 1e4)
    expect_python_floats(student, "one_cycle_lr", [(0, 1.0, 12), (3, 1.0, 12), (11, 1.0, 12)])
    for step in (12, -1):
        expect_raises(
            lambda step=step: student.one_cycle_lr(step, 1.0, 12), "ValueError", f"one_cycle_lr step {step}"
        )


# ---- exercise 3: clip_grad_norm (3 points) ---------------------------------------------------------------


def clip_scenario(student, grads, max_norm, none_index, dtype):
    params, held = [], []
    for i, g in enumerate(grads):
        p = torch.zeros(np.shape(g), dtype=getattr(torch, dtype), requires_grad=True)
        if i != none_index:
            p.grad = torch.tensor(g, dtype=getattr(torch, dtype))
        params.append(p)
        held.append(p.grad)
    total = student.clip_grad_norm(params, max_norm)
    return {
        "total": float(total),
        "total_is_tensor": isinstance(total, torch.Tensor),
        "total_shape": list(total.shape) if isinstance(total, torch.Tensor) else None,
        "total_dtype": str(total.dtype) if isinstance(total, torch.Tensor) else None,
        "grads": [h if h is not None else 0 for h in held],
        "in_place": [p.grad is h for p, h in zip(params, held)],
        "dtypes": [str(h.dtype) for h in held if h is not None],
    }


def expect_clip(student, grads, max_norm, none_index, what, dtype="float64"):
    got = as_dict(
        student.run(clip_scenario, grads, max_norm, none_index, dtype),
        "the scenario",
        keys=["total", "total_is_tensor", "total_shape", "total_dtype", "grads", "in_place", "dtypes"],
    )
    params = []
    for i, g in enumerate(grads):
        p = torch.zeros(np.shape(g), dtype=getattr(torch, dtype), requires_grad=True)
        if i != none_index:
            p.grad = torch.tensor(g, dtype=getattr(torch, dtype))
        params.append(p)
    want_total = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
    rtol = 1e-9 if dtype == "float64" else 1e-5
    if not got["total_is_tensor"]:
        fail(f"clip_grad_norm must return the norm as a 0-d tensor ({what})")
    if got["total_shape"] != []:
        fail(f"the returned norm has shape {got['total_shape']}; it should be 0-d, shape [] ({what})")
    if got["dtypes"] and got["total_dtype"] != f"torch.{dtype}":
        fail(f"the returned norm is {got['total_dtype']}; it should have the gradients' dtype ({what})")
    if not got["dtypes"] and got["total_dtype"] != "torch.float32":
        fail(f"with no gradient at all, return torch.tensor(0.0), not a {got['total_dtype']} tensor ({what})")
    expect_close(got["total"], want_total, f"the returned norm, before clipping ({what})", rtol=rtol)
    if not all(got["in_place"]):
        fail(f"clip_grad_norm must scale each p.grad in place, not put a new tensor there ({what})")
    if got["dtypes"] != [f"torch.{dtype}"] * len(got["dtypes"]):
        fail(f"the gradients changed dtype: {got['dtypes']} ({what})")
    for i, p in enumerate(params):
        if i != none_index:
            expect_close(
                got["grads"][i],
                p.grad.numpy(),
                f"gradient {i} after clipping ({what})",
                rtol=rtol,
                atol=1e-30,
            )


@hidden_test("clip_grad_norm", points=2)
def clips_like_torch_and_never_scales_up(student):
    """large and small global norms, parameters without gradient, float32 and float64, in place"""
    rng = np.random.default_rng(3)
    grads = [rng.normal(size=(4, 3)) * 3, rng.normal(size=5), rng.normal(size=(2, 2, 2)) * 0.1]
    expect_clip(student, grads, 1.0, None, "global norm ~ 10, max_norm 1")
    expect_clip(student, grads, 1.0, 1, "one parameter has no gradient")
    expect_clip(student, grads, 100.0, None, "global norm below max_norm: nothing changes")
    expect_clip(student, [g * 0.01 for g in grads], 0.05, None, "float32", dtype="float32")


@hidden_test("clip_grad_norm", points=1)
def tiny_gradients_follow_torchs_formula(student):
    """tiny gradients, where the 1e-6 of PyTorch's formula matters; no gradient at all"""
    rng = np.random.default_rng(4)
    grads = [rng.normal(size=(3, 3)) * 1e-7, rng.normal(size=4) * 1e-7]
    expect_clip(student, grads, 1e-7, None, "global norm ~ 4e-7, max_norm 1e-7")
    # just below max_norm, PyTorch's formula still scales by max_norm / (norm + 1e-6) < 1
    expect_clip(student, grads, 5e-7, None, "global norm ~ 3.5e-7, max_norm 5e-7")
    expect_clip(student, grads[:1], 1.0, 0, "no parameter has a gradient")


# ---- exercise 4: accumulated_step (3 points) --------------------------------------------------------------


def accumulation_scenario(student, weights, steps):
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    losses, types, forwards, backwards = [], [], [], []
    model.register_forward_hook(lambda module, inputs, output: forwards[-1].append(len(inputs[0])))
    model[0].weight.register_hook(lambda grad: backwards.append(backwards.pop() + 1))
    for micro in steps:
        for p in model.parameters():  # stale gradients from somewhere else: they must not count
            p.grad = torch.full_like(p, 3.0)
        data = [(torch.tensor(x), torch.tensor(y)) for x, y in micro]
        forwards.append([])
        backwards.append(0)
        loss = student.accumulated_step(model, optimizer, torch.nn.CrossEntropyLoss(), data)
        types.append(type(loss).__name__)
        losses.append(float(loss))
    return {"state": model.state_dict(), "losses": losses, "types": types, "forwards": forwards,
            "backwards": backwards}


def expect_accumulation(student, rng, sizes_per_step, what, check_types=False):
    weights = mlp_weights(rng)
    steps = [make_batches(rng, sizes) for sizes in sizes_per_step]
    got = as_dict(
        student.run(accumulation_scenario, weights, steps),
        "the scenario",
        keys=["state", "losses", "types", "forwards", "backwards"],
    )
    for k, (sizes, forwards, backwards) in enumerate(zip(sizes_per_step, got["forwards"], got["backwards"])):
        if list(forwards) != list(sizes) or backwards != len(sizes):
            fail(
                f"step {k}: micro-batches of sizes {list(sizes)} went through the model as batches of "
                f"{list(forwards)} with {backwards} backward pass(es); run each micro-batch through the "
                "model and call backward() once per micro-batch"
            )
    model = build_mlp(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9)
    want_losses = []
    for micro in steps:
        x = torch.cat([torch.tensor(x) for x, _ in micro])
        y = torch.cat([torch.tensor(y) for _, y in micro])
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        want_losses.append(loss.item())
    expect_close(
        np.array(as_list(got["losses"], "the returned losses", length=len(steps)), dtype=float),
        np.array(want_losses),
        f"the returned mean losses ({what})",
        rtol=1e-9,
    )
    expect_state(got["state"], model, f"the weights after {len(steps)} accumulated steps ({what})")
    odd = sorted({name for name in got["types"] if name not in ("float", "float64")})
    if check_types and odd:
        fail(f"accumulated_step should return the mean loss as a Python float (loss.item()), not {odd}")


@hidden_test("accumulated_step", points=2)
def unequal_micro_batches_equal_the_big_batch(student):
    """3 steps over micro-batches of 5, 2 and 9 examples (and 1, 7), with stale gradients present"""
    expect_accumulation(student, np.random.default_rng(5), [[5, 2, 9], [1, 7], [4, 4, 3]], "unequal sizes")


@hidden_test("accumulated_step", points=1)
def equal_micro_batches_and_a_single_one(student):
    """4 equal micro-batches, then one micro-batch alone (a plain step); the loss is a Python float"""
    rng = np.random.default_rng(6)
    expect_accumulation(student, rng, [[4, 4, 4, 4], [10]], "equal sizes", check_types=True)


# ---- exercise 5: train_loop (3 points) -----------------------------------------------------------------


def train_loop_scenario(student, weights, batches, epochs, max_lr):
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=max_lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=epochs * len(batches)
    )
    data = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    model.eval()  # left in evaluation mode by an earlier evaluation
    for p in model.parameters():  # and stale gradients from somewhere else: they must not count
        p.grad = torch.full_like(p, 3.0)
    modes = []  # at every forward pass: is every submodule in training mode?
    model.register_forward_pre_hook(lambda module, _: modes.append(all(m.training for m in module.modules())))
    losses = student.train_loop(model, optimizer, scheduler, data, epochs)
    return {
        "state": model.state_dict(),
        "training": modes,
        "loss_types": sorted({type(v).__name__ for v in losses}),
        "losses": [float(v) for v in losses],
        "lr": optimizer.param_groups[0]["lr"],
        "scheduler_steps": scheduler.last_epoch,
    }


def reference_train_loop(weights, batches, epochs, max_lr):
    model = build_mlp(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=max_lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=max_lr, total_steps=epochs * len(batches)
    )
    losses = []
    for _ in range(epochs):
        for x, y in as_tensors(batches):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
    return model, losses, optimizer.param_groups[0]["lr"]


def run_train_loop(student, seed, epochs, sizes):
    rng = np.random.default_rng(seed)
    weights, batches = mlp_weights(rng), make_batches(rng, sizes)
    got = as_dict(
        student.run(train_loop_scenario, weights, batches, epochs, 0.5),
        "the scenario",
        keys=["state", "losses", "lr", "scheduler_steps", "training", "loss_types"],
    )
    return got, reference_train_loop(weights, batches, epochs, 0.5)


@hidden_test("train_loop", points=2)
def trains_like_the_correct_loop(student):
    """3 epochs of 4 batches with OneCycleLR: the loss of every step and the final weights"""
    got, (model, losses, _) = run_train_loop(student, 7, 3, [8, 8, 8, 5])
    expect_close(
        np.array(as_list(got["losses"], "the losses", length=len(losses)), dtype=float),
        np.array(losses),
        "the loss of every step",
        rtol=1e-9,
    )
    expect_state(got["state"], model, "the weights after training")
    if got["loss_types"] != ["float"]:
        fail(f"the losses should be Python floats (loss.item()), not {got['loss_types']}")
    if not all(got["training"]):
        fail(
            f"{got['training'].count(False)} of {len(got['training'])} forward passes ran with the model (or "
            "one of its submodules) in evaluation mode: put the whole model in training mode (model.train())"
        )


@hidden_test("train_loop", points=1)
def the_schedule_advances_once_per_optimizer_step(student):
    """after 2 epochs of 5 batches the scheduler has stepped 10 times, and the weights are right"""
    got, (model, _, lr) = run_train_loop(student, 8, 2, [6, 6, 6, 6, 6])
    if got["scheduler_steps"] != 10:
        fail(f"the scheduler was stepped {got['scheduler_steps']} times in 10 optimizer steps")
    expect_close(got["lr"], lr, "the learning rate at the end", rtol=1e-9)
    expect_state(got["state"], model, "the weights after training")


# ---- exercise 6: make_checkpoint / restore_checkpoint (3 points) ----------------------------------------


def resume_scenario(student, weights, batches, first, second, dropout, kind):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Dropout(dropout), torch.nn.Linear(8, 4)
    ).double()
    model.load_state_dict({k.replace("2.", "3."): torch.tensor(v) for k, v in weights.items()})
    if kind == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=first + second)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    data = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    model.train()
    for x, y in data[:first]:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
    rng_before = torch.get_rng_state()
    checkpoint = student.make_checkpoint(model, optimizer, scheduler)
    rng_states = [rng_before, torch.get_rng_state()]  # before and after: compared in the test
    last_lrs = [scheduler.get_last_lr()]

    def odd_values(value, where):
        if isinstance(value, dict):
            return [bad for k, v in value.items() for bad in odd_values(v, f"{where}[{k!r}]")]
        if isinstance(value, (list, tuple)):
            return [bad for i, v in enumerate(value) for bad in odd_values(v, f"{where}[{i}]")]
        if value is None or isinstance(value, (torch.Tensor, bool, int, float, str)):
            return []
        return [f"{where}: {type(value).__name__}"]

    odd = odd_values(checkpoint, "checkpoint")[:3]
    for x, y in data[first:]:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
    straight = {k: v.clone() for k, v in model.state_dict().items()}
    # a fresh process: other weights, other objects, another random state
    torch.manual_seed(12345)
    fresh = torch.nn.Sequential(
        torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Dropout(dropout), torch.nn.Linear(8, 4)
    ).double()
    if kind == "adamw":
        optimizer = torch.optim.AdamW(fresh.parameters(), lr=0.01)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=first + second)
    else:
        optimizer = torch.optim.SGD(fresh.parameters(), lr=0.3, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    torch.rand(7)
    student.restore_checkpoint(checkpoint, fresh, optimizer, scheduler)
    last_lrs.append(scheduler.get_last_lr())
    fresh.train()
    for x, y in data[first:]:
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(fresh(x), y).backward()
        optimizer.step()
        scheduler.step()
    return {
        "straight": straight,
        "resumed": fresh.state_dict(),
        "lr": optimizer.param_groups[0]["lr"],
        "rng_states": rng_states,
        "odd": odd,
        "last_lrs": last_lrs,
    }


def run_resume(student, seed, dropout, kind):
    rng = np.random.default_rng(seed)
    weights, batches = mlp_weights(rng), make_batches(rng, [6] * 8)
    got = as_dict(
        student.run(resume_scenario, weights, batches, 3, 5, dropout, kind),
        "the scenario",
        keys=["straight", "resumed", "lr", "rng_states", "odd", "last_lrs"],
    )
    if got["odd"]:
        fail(f"a checkpoint holds plain data (tensors, numbers, strings, lists, dicts), not {got['odd']}")
    rng_before, rng_after = (
        as_array(state, "the random state", kind="int")
        for state in as_list(got["rng_states"], "the random states", length=2)
    )
    if not np.array_equal(rng_before, rng_after):
        fail("make_checkpoint changed the random state of the run it saves (it must only read it)")
    straight = as_dict(got["straight"], "the weights of the uninterrupted run")
    resumed = as_dict(got["resumed"], "the weights of the resumed run", keys=list(straight))
    for key, want in straight.items():
        expect_close(resumed[key], want, f"resumed vs uninterrupted run: {key}", rtol=1e-12, atol=1e-14)
    return weights, batches, straight, got


@hidden_test("make_checkpoint", points=2)
def resumes_a_dropout_adamw_one_cycle_run_exactly(student):
    """AdamW + OneCycleLR + dropout: 3 steps, checkpoint, 5 more; resumed in fresh objects: same weights"""
    weights, _, straight, _ = run_resume(student, 9, 0.3, "adamw")
    if all(np.allclose(straight[k.replace("2.", "3.")], v) for k, v in weights.items()):
        fail("the model did not train at all")


@hidden_test("make_checkpoint", points=1)
def resumes_sgd_momentum_and_step_lr(student):
    """SGD with momentum + StepLR, no dropout: resumed = uninterrupted run, trains correctly; same last lr"""
    weights, batches, straight, got = run_resume(student, 10, 0.0, "sgd")
    model = build_mlp(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for x, y in as_tensors(batches):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
        scheduler.step()
    for key, want in model.state_dict().items():
        expect_close(
            straight[key.replace("2.", "3.")], want.numpy(), f"the uninterrupted run: {key}", rtol=1e-9
        )
    expect_close(got["lr"], optimizer.param_groups[0]["lr"], "the learning rate after resuming", rtol=1e-12)
    saved, restored = got["last_lrs"]
    expect_close(restored, saved, "scheduler.get_last_lr() just after restoring (is the scheduler restored?)")


# ---- exercise 7: lr_range_test (3 points) ---------------------------------------------------------------


def range_scenario(student, weights, batches, lr_min, lr_max, steps, stop_factor):
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.Tanh(), torch.nn.Linear(8, 4)).double()
    model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
    data = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    lrs, losses = student.lr_range_test(model, data, lr_min, lr_max, steps, stop_factor)
    return {
        "lrs": [float(v) for v in lrs],
        "losses": [float(v) for v in losses],
        "types": sorted({type(v).__name__ for v in [*lrs, *losses]}),
        "state": model.state_dict(),
    }


def reference_range_test(weights, batches, lr_min, lr_max, steps, stop_factor):
    model = build_mlp(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr_min, momentum=0.9)
    data, lrs, losses = as_tensors(batches), [], []
    for i in range(steps):
        lr = lr_min * (lr_max / lr_min) ** (i / (steps - 1))
        optimizer.param_groups[0]["lr"] = lr
        x, y = data[i % len(data)]
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        lrs.append(lr)
        losses.append(loss.item())
        if not math.isfinite(losses[-1]) or losses[-1] > stop_factor * min(losses):
            break
    return lrs, losses, model


def expect_range_test(student, seed, lr_min, lr_max, steps, stop_factor, what, nan_batch=None):
    rng = np.random.default_rng(seed)
    weights, batches = mlp_weights(rng), make_batches(rng, [16] * 5)
    if nan_batch is not None:  # a corrupt example: the loss of the step that meets it is NaN
        batches[nan_batch][0][0, 0] = np.nan
    got = as_dict(
        student.run(range_scenario, weights, batches, lr_min, lr_max, steps, stop_factor),
        "the scenario",
        keys=["lrs", "losses", "types", "state"],
    )
    lrs, losses, model = reference_range_test(weights, batches, lr_min, lr_max, steps, stop_factor)
    got_lrs = as_list(got["lrs"], f"the learning rates ({what})")
    if len(got_lrs) != len(lrs):
        fail(f"the test recorded {len(got_lrs)} steps; it should have recorded {len(lrs)} ({what})")
    expect_close(np.array(got_lrs, dtype=float), np.array(lrs), f"the learning rates ({what})", rtol=1e-9)
    got_losses = np.array(as_list(got["losses"], "the losses", length=len(losses)), dtype=float)
    finite = np.isfinite(losses)
    if not np.array_equal(np.isfinite(got_losses), finite):
        fail(f"the losses are not finite where they should be ({what})")
    expect_close(got_losses[finite], np.array(losses)[finite], f"the losses ({what})", rtol=1e-8)
    if finite.all():
        expect_state(got["state"], model, f"the model after the test ({what})", rtol=1e-8, atol=1e-10)
    return lrs, steps, got["types"]


@hidden_test("lr_range_test", points=2)
def stops_when_the_loss_explodes(student):
    """1e-4 to 1e3 over 60 steps: the rates, losses and weights, up to the step where the loss explodes"""
    lrs, steps, _ = expect_range_test(student, 11, 1e-4, 1e3, 60, 4.0, "a ramp that explodes")
    if len(lrs) >= steps:
        raise AssertionError("test data did not explode: choose a larger lr_max")


@hidden_test("lr_range_test", points=1)
def runs_all_steps_when_nothing_explodes(student):
    """1e-3 to 0.1 over 12 steps (more than the 5 batches): every step recorded, as floats; NaN loss stops"""
    lrs, steps, types = expect_range_test(student, 12, 1e-3, 0.1, 12, 50.0, "a gentle ramp")
    if len(lrs) != steps:
        raise AssertionError("test data exploded: choose a smaller lr_max")
    odd = sorted(set(types) - {"float", "float64"})
    if odd:
        fail(f"lrs and losses should be lists of Python floats (loss.item()), not of {odd}")
    lrs, _, _ = expect_range_test(student, 12, 1e-3, 0.1, 12, 50.0, "a NaN loss at step 3", nan_batch=3)
    if len(lrs) != 4:
        raise AssertionError("the NaN batch did not stop the reference at step 3")
