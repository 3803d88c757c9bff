"""Visible tests for chapter 7's exercises (exercises/07_schedules_loop.ipynb).

Expected values come from torch.optim.lr_scheduler and torch.nn.utils.clip_grad_norm_ on
the same numbers, or from a correct loop run here on a copy of the same model. Clipping
must be written by hand, so PyTorch's clipping functions are switched off while it is checked.
"""

import numpy as np
import torch

from utils.grading.expect import as_dict, as_float, expect_close, fail
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

write_it_yourself(
    "clip_grad_norm",
    "torch.nn.utils.clip_grad_norm_",
    "torch.nn.utils.clip_grad_norm",
    "torch.nn.utils.clip_grad.clip_grad_norm_",
    "torch.nn.utils.clip_grad.clip_grad_norm",
    if_present=("torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grads_with_norm_"),  # torch >= 2.6
)


def _expect_float(value, name):
    if not isinstance(value, float):
        fail(f"{name} should return a Python float, not a {type(value).__name__} (use float(...) or .item())")


def _lrs(make_scheduler, steps, lr):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)
    scheduler = make_scheduler(optimizer)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


@visible_test(
    "warmup_cosine_lr", hint="ramp while step < warmup; then cosine over (step - warmup) / (total - warmup)."
)
def warmup_then_cosine_like_sequential_lr(student):
    """10 warm-up steps then cosine over 40 steps, against SequentialLR"""
    from torch.optim import lr_scheduler as s

    want = _lrs(
        lambda o: s.SequentialLR(
            o,
            [
                s.LinearLR(o, start_factor=0.01, total_iters=10),
                s.CosineAnnealingLR(o, T_max=30, eta_min=0.001),
            ],
            milestones=[10],
        ),
        40,
        0.1,
    )
    got = [
        as_float(student.warmup_cosine_lr(t, 0.1, 10, 40, 0.01, 0.001), f"warmup_cosine_lr({t}, ...)")
        for t in range(40)
    ]
    expect_close(np.array(got), np.array(want), "the learning rates of steps 0..39", rtol=1e-6)
    _expect_float(student.warmup_cosine_lr(20, 0.1, 10, 40, 0.01, 0.001), "warmup_cosine_lr")


@visible_test(
    "one_cycle_lr",
    hint="the peak is at step pct_start * total_steps - 1; "
    "the last rate is (max_lr / div_factor) / final_div_factor.",
)
def one_cycle_like_torch(student):
    """OneCycleLR(max_lr=1.0, total_steps=50)"""
    want = _lrs(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=50), 50, 1.0)
    got = [as_float(student.one_cycle_lr(t, 1.0, 50), f"one_cycle_lr({t}, 1.0, 50)") for t in range(50)]
    expect_close(np.array(got), np.array(want), "the learning rates of steps 0..49", rtol=1e-6, atol=1e-12)
    _expect_float(student.one_cycle_lr(30, 1.0, 50), "one_cycle_lr")


# Scenarios: the student's functions work on objects (parameters with gradients, models, optimizers)
# that must be built where the student's code runs; each scenario builds them and reports plain data.


def clip_scenario(student):
    a, b = torch.zeros(2, requires_grad=True), torch.zeros(1, requires_grad=True)
    a.grad, b.grad = torch.tensor([3.0, 4.0]), torch.tensor([12.0])
    held = a.grad
    total = student.clip_grad_norm([a, b], 1.0)
    return {"total": float(total), "grads": torch.cat([a.grad, b.grad]), "in_place": a.grad is held}


def loop_scenario(student, which):
    """Build a small model, optimizer and scheduler; run the student's function on them; report."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 5),
        torch.nn.Tanh(),
        torch.nn.Dropout(0.5 if which == "resume" else 0.0),
        torch.nn.Linear(5, 2),
    ).double()
    g = torch.Generator().manual_seed(1)
    data = [
        (torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (n,), generator=g))
        for n in ([2, 5, 1] if which == "accumulate" else [4, 4, 4, 4])
    ]
    out = {}
    if which == "accumulate":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        loss = student.accumulated_step(model, optimizer, torch.nn.CrossEntropyLoss(), data)
        out["loss_type"] = type(loss).__name__
    elif which == "train":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=8)
        model.eval()  # as an earlier evaluation left it
        modes = []  # at each forward pass: is every submodule in training mode?
        model.register_forward_pre_hook(lambda *_: modes.append(all(m.training for m in model.modules())))
        student.train_loop(model, optimizer, scheduler, data, 2)
        out["modes"] = modes
    elif which == "resume":
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        model.train()
        for step, (x, y) in enumerate(data):
            if step == 2:
                checkpoint = student.make_checkpoint(model, optimizer, scheduler)
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        out["straight"] = {k: v.clone() for k, v in model.state_dict().items()}
        torch.manual_seed(99)
        model = torch.nn.Sequential(
            torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Dropout(0.5), torch.nn.Linear(5, 2)
        ).double()
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
        try:
            restore = student.restore_checkpoint
        except (AttributeError, NameError):  # check(make_checkpoint) passes only that name
            restore = student.make_checkpoint.__globals__["restore_checkpoint"]
        restore(checkpoint, model, optimizer, scheduler)
        model.train()
        for x, y in data[2:]:
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
    else:
        lrs, losses = student.lr_range_test(model, data[:2], 1e-3, 10.0, 8)
        out.update(lrs=[float(v) for v in lrs], losses=[float(v) for v in losses],
                   types=sorted({type(v).__name__ for v in [*lrs, *losses]}))
    out["state"] = model.state_dict()
    return out


def _reference(which):
    """What loop_scenario reports for a correct solution, computed here."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Dropout(0.0), torch.nn.Linear(5, 2)
    ).double()
    g = torch.Generator().manual_seed(1)
    data = [
        (torch.randn(n, 3, generator=g, dtype=torch.float64), torch.randint(0, 2, (n,), generator=g))
        for n in ([2, 5, 1] if which == "accumulate" else [4, 4, 4, 4])
    ]
    if which == "accumulate":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        x, y = torch.cat([x for x, _ in data]), torch.cat([y for _, y in data])
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, total_steps=8)
        for _ in range(2):
            for x, y in data:
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(model(x), y).backward()
                optimizer.step()
                scheduler.step()
    return model.state_dict()


def _expect_state(got, want, what):
    got = as_dict(got, what, keys=list(want))
    for key, value in want.items():
        expect_close(got[key], value.detach().numpy(), f"{what}: {key}", rtol=1e-9, atol=1e-12)


@visible_test(
    "clip_grad_norm",
    hint="norm of all gradients together; multiply each .grad in place by "
    "min(1, max_norm / (norm + 1e-6)); return the norm before clipping.",
)
def clips_two_gradients(student):
    """two gradients of global norm 13 clipped to 1"""
    got = as_dict(student.run(clip_scenario), "the scenario", keys=["total", "grads", "in_place"])
    expect_close(as_float(got["total"], "the returned norm"), 13.0, "the returned norm (before clipping)")
    if not got["in_place"]:
        fail("scale p.grad in place (p.grad.mul_(...)), do not replace it")
    expect_close(got["grads"], np.array([3.0, 4.0, 12.0]) / (13.0 + 1e-6), "the clipped gradients")


@visible_test(
    "accumulated_step",
    hint="weight each micro-batch's mean loss by its share of all the examples; "
    "zero the gradients once, before the first backward; step once.",
)
def three_micro_batches_equal_one_batch(student):
    """micro-batches of 2, 5 and 1 examples vs one batch of 8"""
    got = as_dict(student.run(loop_scenario, "accumulate"), "the scenario", keys=["state", "loss_type"])
    _expect_state(got["state"], _reference("accumulate"), "the weights after one accumulated step")
    if got["loss_type"] not in ("float", "float64"):
        fail(f"return the mean loss as a Python float (loss.item()), not a {got['loss_type']}")


@visible_test(
    "train_loop",
    hint="zero the gradients at every step, step the scheduler after every "
    "optimizer step, not once per epoch, and train in training mode.",
)
def two_epochs_with_one_cycle(student):
    """2 epochs of 4 batches with OneCycleLR, against a correct loop"""
    got = as_dict(student.run(loop_scenario, "train"), "the scenario", keys=["state", "modes"])
    _expect_state(got["state"], _reference("train"), "the weights after 2 epochs")
    if not all(got["modes"]):
        fail("the model arrived in evaluation mode and some forward passes ran in it: call model.train()")


@visible_test(
    "make_checkpoint",
    hint="save the model, optimizer and scheduler state_dicts and torch.get_rng_state(), "
    "as copies (copy.deepcopy): state_dict() returns the live tensors.",
)
def resume_a_dropout_run(student):
    """Adam + StepLR + dropout: checkpoint after 2 steps; 2 more steps, straight and resumed"""
    got = as_dict(student.run(loop_scenario, "resume"), "the scenario", keys=["straight", "state"])
    straight = as_dict(got["straight"], "the uninterrupted weights")
    resumed = as_dict(got["state"], "the resumed weights", keys=list(straight))
    for key, value in straight.items():
        expect_close(resumed[key], value, f"resumed vs uninterrupted weights: {key}", rtol=1e-9, atol=1e-12)


@visible_test(
    "lr_range_test",
    hint="lr_i = lr_min * (lr_max / lr_min) ** (i / (steps - 1)); stop after recording "
    "a loss above stop_factor * the smallest so far.",
)
def a_short_range_test(student):
    """1e-3 to 10 over 8 steps on 2 batches"""
    keys = ["lrs", "losses", "types", "state"]
    got = as_dict(student.run(loop_scenario, "range"), "the scenario", keys=keys)
    lrs, losses = got["lrs"], got["losses"]
    if len(lrs) != len(losses) or not lrs:
        fail(
            f"lrs and losses must be two lists of the same, nonzero length (got {len(lrs)} and {len(losses)})"
        )
    expect_close(np.array(lrs, dtype=float), 1e-3 * (1e4 ** (np.arange(len(lrs)) / 7)), "the learning rates")
    if set(got["types"]) - {"float", "float64"}:
        fail(f"record the rates and losses as Python floats (loss.item()), not {got['types']}")
