"""Learning-rate schedule explorer: the schedulers of ``torch.optim.lr_scheduler``, drawn.

The reader picks a schedule, moves its parameters with sliders, and reads the learning
rate at any step (a slider, or the mouse over the plot). "Step t" is the learning rate
the (t+1)-th ``optimizer.step()`` uses, i.e. after ``t`` calls of ``scheduler.step()``;
the widget shows the PyTorch line that builds the same scheduler, and its numbers agree
with PyTorch's (the tests check it in a browser).

The formulas live in ``lr_schedules.js``; Python only sends the slider set-up, so the
demo works on the static website.

    from utils.widgets.lr_schedules import LRScheduleExplorer
    LRScheduleExplorer()                                          # warm-up + cosine
    LRScheduleExplorer("onecycle", lr=0.5, total_steps=300, pct_start=0.25)

Chapter 7 also passes what it measured (``measured_runs``): the training loss of its project's
runs, one per schedule, drawn under the schedule (the run of the chosen schedule highlighted),
and its LR range test, with the learning rate it chose marked.
"""

import math
import pathlib

import numpy as np

from .base import BookWidget

# name -> (label, {parameter: (slider min, max, step, default)}); every schedule also has COMMON
SCHEDULES = {
    "step": ("StepLR", {"step_size": (1, 200, 1, 30), "gamma": (0.05, 0.95, 0.05, 0.1)}),
    "exponential": ("ExponentialLR", {"gamma": (0.9, 0.999, 0.001, 0.97)}),
    "cosine": ("CosineAnnealingLR", {"T_max": (1, 1000, 1, 100), "eta_min": (0.0, 0.1, 0.001, 0.0)}),
    "warm_restarts": ("CosineAnnealingWarmRestarts",
                      {"T_0": (1, 200, 1, 20), "T_mult": (1, 4, 1, 2), "eta_min": (0.0, 0.1, 0.001, 0.0)}),
    "warmup_cosine": ("linear warm-up + cosine",
                      {"warmup": (1, 200, 1, 10), "start_factor": (0.01, 1.0, 0.01, 0.01),
                       "eta_min": (0.0, 0.1, 0.001, 0.0)}),
    "onecycle": ("OneCycleLR", {"pct_start": (0.1, 0.9, 0.05, 0.3), "div_factor": (1, 100, 1, 25),
                                "final_div_factor": (10, 10_000, 10, 10_000)}),
}
# lr: the optimizer's learning rate (OneCycleLR's max_lr); total_steps: the length of the plot
COMMON = {"lr": (0.01, 1.0, 0.01, 0.1), "total_steps": (20, 1000, 10, 100)}


def _sliders(specs, given):
    """``{parameter: [min, max, step, value]}``, the value from ``given`` or the default."""
    out = {}
    for key, (low, high, stride, default) in specs.items():
        value = given.get(key, default)
        if not low <= value <= high:
            raise ValueError(f"{key}={value} is outside its slider range [{low}, {high}]")
        out[key] = [low, high, stride, value]
    return out


def _numbers(values, what):
    """A 1-D list of finite floats from a list, array or tensor (tensors may live on a GPU)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{what} is empty")
    return array


def _binned(values, points):
    """(centres, means): ``values`` averaged over at most ``points`` equal runs of steps."""
    edges = np.linspace(0, len(values), min(points, len(values)) + 1).round().astype(int)
    centres = [int((a + b - 1) // 2) for a, b in zip(edges[:-1], edges[1:])]
    means = [float(np.mean(values[a:b])) for a, b in zip(edges[:-1], edges[1:])]
    return centres, means


def _rounded(values, digits=5):
    return [float(f"{v:.{digits}g}") if math.isfinite(v) else None for v in values]


def measured_runs(runs, range_test=None, points=120):
    """The ``runs=`` and ``range_test=`` arguments of :class:`LRScheduleExplorer` from measurements.

    ``runs``: {name: {"loss": per-step training losses, "lr": per-step learning rates,
    "acc": final test accuracy (optional)}}; a name that is a key of ``SCHEDULES`` is
    highlighted when the reader picks that schedule. Losses are averaged over at most
    ``points`` groups of steps, so the payload stays small. ``range_test``: {"lr": [...],
    "loss": [...], "chosen": the learning rate picked from it}.
    """
    items = []
    total = None
    for name, run in runs.items():
        loss = _numbers(run["loss"], f"the losses of run {name!r}")
        lr = _numbers(run["lr"], f"the learning rates of run {name!r}")
        if len(lr) != len(loss):
            raise ValueError(f"run {name!r} has {len(loss)} losses but {len(lr)} learning rates")
        if total is not None and len(loss) != total:
            raise ValueError(
                f"run {name!r} has {len(loss)} steps, the others {total}: compare runs of equal length"
            )
        total = len(loss)
        steps, means = _binned(loss, points)
        items.append(
            {
                "name": str(name),
                "schedule": name if name in SCHEDULES else None,
                "step": steps,
                "loss": _rounded(means),
                "lr": _rounded([float(lr[t]) for t in steps]),
                "acc": float(run["acc"]) if run.get("acc") is not None else None,
            }
        )
    out = {"runs": {"total_steps": total, "items": items}}
    if range_test is not None:
        lrs = _numbers(range_test["lr"], "the range test's learning rates")
        losses = _numbers(range_test["loss"], "the range test's losses")
        if len(lrs) != len(losses) or np.any(lrs <= 0):
            raise ValueError("the range test needs as many positive learning rates as losses")
        keep = np.unique(np.linspace(0, len(lrs) - 1, min(points * 2, len(lrs))).round().astype(int))
        out["range_test"] = {
            "lr": _rounded(lrs[keep].tolist()),
            "loss": _rounded(losses[keep].tolist()),
            "chosen": float(range_test["chosen"]),
        }
    return out


def _check_measured(runs, range_test):
    if runs is not None:
        if not runs.get("items") or not all({"name", "step", "loss", "lr"} <= set(r) for r in runs["items"]):
            raise ValueError("runs must come from measured_runs(): {'total_steps', 'items': [...]}")
    if range_test is not None and not {"lr", "loss", "chosen"} <= set(range_test):
        raise ValueError("range_test must come from measured_runs(): {'lr', 'loss', 'chosen'}")


def schedule_data(schedule="warmup_cosine", step=None, runs=None, range_test=None, **values):
    """The JSON payload of :class:`LRScheduleExplorer` (see there for the arguments)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose from {list(SCHEDULES)}")
    known = [*COMMON, *SCHEDULES[schedule][1]]
    if unknown := sorted(set(values) - set(known)):
        raise ValueError(f"schedule {schedule!r} has no parameter(s) {unknown}; its sliders are {known}")
    common = _sliders(COMMON, values)
    schedules = {name: {"label": label, "params": _sliders(params, values if name == schedule else {})}
                 for name, (label, params) in SCHEDULES.items()}
    total = common["total_steps"][3]
    if schedules["warmup_cosine"]["params"]["warmup"][3] >= total:
        raise ValueError(f"warmup must be shorter than total_steps={total}")
    step = total // 4 if step is None else step
    if not (isinstance(step, int) and 0 <= step < total):
        raise ValueError(f"step must be an integer in [0, total_steps) = [0, {total}); got {step!r}")
    data = {"schedule": schedule, "schedules": schedules, "common": common, "step": step}
    _check_measured(runs, range_test)
    if runs is not None:
        data["runs"] = runs
    if range_test is not None:
        data["range_test"] = range_test
    return data


class LRScheduleExplorer(BookWidget):
    """The learning rate over training steps for six PyTorch schedulers.

    ``schedule``: the one shown first, a key of ``SCHEDULES``. ``step``: the step whose
    learning rate is read out first (default: a quarter of the way). Keyword arguments
    set starting slider values: ``lr`` and ``total_steps`` (``COMMON``) and the chosen
    schedule's parameters, e.g. ``gamma=0.5`` for "step" or ``pct_start=0.25`` for "onecycle".
    ``runs`` and ``range_test`` (optional, from ``measured_runs``) add the measured panels.
    """

    _esm = pathlib.Path(__file__).with_name("lr_schedules.js")

    def __init__(self, schedule="warmup_cosine", step=None, runs=None, range_test=None, **values):
        super().__init__(schedule_data(schedule, step, runs, range_test, **values))
