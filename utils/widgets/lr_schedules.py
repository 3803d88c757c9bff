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
"""

import pathlib

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


def schedule_data(schedule="warmup_cosine", step=None, **values):
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
    return {"schedule": schedule, "schedules": schedules, "common": common, "step": step}


class LRScheduleExplorer(BookWidget):
    """The learning rate over training steps for six PyTorch schedulers.

    ``schedule``: the one shown first, a key of ``SCHEDULES``. ``step``: the step whose
    learning rate is read out first (default: a quarter of the way). Keyword arguments
    set starting slider values: ``lr`` and ``total_steps`` (``COMMON``) and the chosen
    schedule's parameters, e.g. ``gamma=0.5`` for "step" or ``pct_start=0.25`` for "onecycle".
    """

    _esm = pathlib.Path(__file__).with_name("lr_schedules.js")

    def __init__(self, schedule="warmup_cosine", step=None, **values):
        super().__init__(schedule_data(schedule, step, **values))
