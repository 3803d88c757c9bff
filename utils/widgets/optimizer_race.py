"""Optimizer race: optimizers stepping on 2-D loss surfaces, computed live in the browser.

``optimizer_race.js`` holds the surfaces (the formulas of :mod:`utils.optim_surfaces`) and
the update rules of SGD, momentum, Nesterov, AdaGrad, RMSprop, Adam and Lion, so every
slider value and every clicked starting point gives a fresh trajectory with no kernel.
Python only sends the settings: the surfaces' windows and starting points and a learning
rate per optimizer and surface to start from (chosen by the chapter or taken from
``DEFAULT_LRS``). tests/test_optimizer_race_widget.py checks the JavaScript's trajectories
against ``torch.optim`` on the same surfaces.

    from utils.widgets.optimizer_race import OptimizerRace, optimizer_race_data
    OptimizerRace(optimizer_race_data())
"""

import pathlib

from utils.optim_surfaces import SURFACES

from .base import BookWidget

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "lion")
# Starting learning rates per surface (beta1 0.9, beta2 0.999; Lion's beta2 0.99): each makes
# progress within a few hundred steps without diverging; the reader moves them from there.
DEFAULT_LRS = {
    "ravine": {
        "sgd": 0.38,
        "momentum": 0.07,
        "nesterov": 0.07,
        "adagrad": 2.0,
        "rmsprop": 0.1,
        "adam": 0.5,
        "lion": 0.05,
    },
    "rosenbrock": {
        "sgd": 1e-3,
        "momentum": 2e-4,
        "nesterov": 2e-4,
        "adagrad": 0.3,
        "rmsprop": 0.01,
        "adam": 0.1,
        "lion": 0.01,
    },
    "saddle": {
        "sgd": 0.1,
        "momentum": 0.03,
        "nesterov": 0.03,
        "adagrad": 0.5,
        "rmsprop": 0.02,
        "adam": 0.05,
        "lion": 0.02,
    },
    "wells": {
        "sgd": 0.1,
        "momentum": 0.05,
        "nesterov": 0.05,
        "adagrad": 0.5,
        "rmsprop": 0.02,
        "adam": 0.1,
        "lion": 0.02,
    },
}
MINIMA = {"ravine": [[0.0, 0.0]], "rosenbrock": [[1.0, 1.0]], "saddle": [[0.0, 1.0], [0.0, -1.0]]}


def optimizer_race_data(
    lrs=None,
    start_surface="ravine",
    start_optimizers=("sgd", "momentum", "adam"),
    steps=150,
    beta1=0.9,
    beta2=0.999,
):
    """The widget's payload; ``lrs`` ({surface: {optimizer: lr}}) overrides the default rates."""
    if start_surface not in SURFACES:
        raise ValueError(f"unknown surface {start_surface!r}; choose from {list(SURFACES)}")
    unknown = set(start_optimizers) - set(OPTIMIZERS)
    if unknown or not start_optimizers:
        raise ValueError(f"start_optimizers must be some of {OPTIMIZERS}, got {start_optimizers}")
    if not 1 <= steps <= 500:
        raise ValueError(f"steps must be between 1 and 500, got {steps}")
    surfaces = {}
    for name, info in SURFACES.items():
        rates = dict(DEFAULT_LRS[name]) | dict((lrs or {}).get(name, {}))
        surfaces[name] = {
            "label": info["label"],
            "x": info["x"],
            "y": info["y"],
            "start": info["start"],
            "min": info["min"],
            "minima": MINIMA.get(name, []),
            "lr": {opt: float(rates[opt]) for opt in OPTIMIZERS},
        }
    return {
        "surfaces": surfaces,
        "optimizers": list(OPTIMIZERS),
        "start_surface": start_surface,
        "start_optimizers": list(start_optimizers),
        "steps": int(steps),
        "beta1": float(beta1),
        "beta2": float(beta2),
    }


class OptimizerRace(BookWidget):
    """Trajectories of several optimizers on a 2-D surface; ``data`` from :func:`optimizer_race_data`."""

    _esm = pathlib.Path(__file__).with_name("optimizer_race.js")

    def __init__(self, data=None, **kwargs):
        data = optimizer_race_data() if data is None else data
        missing = {"surfaces", "optimizers", "start_surface", "start_optimizers", "steps"} - set(data)
        if missing:
            raise ValueError(f"not an optimizer_race_data payload: missing {sorted(missing)}")
        super().__init__(data, **kwargs)
