"""Two-dimensional loss surfaces for watching optimizers move (chapter 6).

Each surface is a function f(x, y) written once here with torch operations, so autograd
gives its gradient; ``utils/widgets/optimizer_race.js`` writes the same formulas (and their
gradients by hand) in JavaScript, and tests/test_optimizer_race_widget.py checks that the
two agree by running both through the same optimizers.

    from utils.optim_surfaces import SURFACES, surface_value, torch_trajectory
    path = torch_trajectory("ravine", "momentum", start=(-9, 1.5), steps=100, lr=0.1, beta1=0.9)

The four surfaces show four difficulties: an ill-conditioned ravine (curvature 250 times larger
across than along), Rosenbrock's curved valley, a saddle point that gradient descent
leaves only slowly, and a landscape with several minima where the start decides the end.
"""

import math

import numpy as np
import torch

# name -> label, plot window (x range, y range), default start, minimum value (for the colour scale)
SURFACES = {
    "ravine": {
        "label": "ravine (ill-conditioned)",
        "x": [-10.0, 10.0],
        "y": [-4.0, 4.0],
        "start": [-9.0, 2.5],
        "min": 0.0,
    },
    "rosenbrock": {
        "label": "Rosenbrock valley",
        "x": [-2.0, 2.0],
        "y": [-1.0, 3.0],
        "start": [-1.5, 2.5],
        "min": 0.0,
    },
    "saddle": {
        "label": "saddle point",
        "x": [-2.5, 2.5],
        "y": [-2.0, 2.0],
        "start": [-2.2, 0.02],
        "min": -0.25,
    },
    "wells": {
        "label": "several minima",
        "x": [-3.0, 3.0],
        "y": [-3.0, 3.0],
        "start": [-2.6, 2.4],
        "min": -1.6,
    },
}
# the three wells of "wells": centre x, centre y, depth, width
WELLS = [(-1.5, -1.0, 1.0, 0.6), (1.2, 1.3, 1.4, 0.5), (1.5, -1.5, 0.8, 0.7)]
BOWL = 0.02  # a gentle bowl keeps "wells" bounded below far from the wells


def surface_value(name, x, y):
    """f(x, y) of surface ``name`` for tensors (or floats) x and y."""
    x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    if name == "ravine":  # curvature 0.02 along x, 5 across (condition number 250)
        return 0.01 * x * x + 2.5 * y * y
    if name == "rosenbrock":
        return (1 - x) ** 2 + 100 * (y - x * x) ** 2
    if name == "saddle":  # a saddle at the origin, minima at (0, +-1)
        return 0.5 * x * x + 0.25 * y**4 - 0.5 * y * y
    if name == "wells":
        total = BOWL * (x * x + y * y)
        for cx, cy, depth, width in WELLS:
            total = total - depth * torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width * width))
        return total
    raise ValueError(f"unknown surface {name!r}; choose from {list(SURFACES)}")


# What each optimizer of the race is in torch.optim (Lion is not in torch.optim: the test writes it).
# Hyperparameters: lr, beta1 (the momentum coefficient of SGD with momentum and Nesterov, Adam's
# beta1), beta2 (Adam's beta2, and RMSprop's smoothing constant, which PyTorch calls alpha).
TORCH_OPTIMIZERS = {
    "sgd": lambda p, hp: torch.optim.SGD(p, lr=hp["lr"]),
    "momentum": lambda p, hp: torch.optim.SGD(p, lr=hp["lr"], momentum=hp["beta1"]),
    "nesterov": lambda p, hp: torch.optim.SGD(p, lr=hp["lr"], momentum=hp["beta1"], nesterov=True),
    "adagrad": lambda p, hp: torch.optim.Adagrad(p, lr=hp["lr"]),
    "rmsprop": lambda p, hp: torch.optim.RMSprop(p, lr=hp["lr"], alpha=hp["beta2"]),
    "adam": lambda p, hp: torch.optim.Adam(p, lr=hp["lr"], betas=(hp["beta1"], hp["beta2"])),
}


def torch_trajectory(surface, optimizer, start, steps, **hp):
    """The points [steps + 1, 2] that torch.optim's ``optimizer`` visits on ``surface`` (float64)."""
    point = torch.tensor([float(v) for v in start], dtype=torch.float64, requires_grad=True)
    opt = TORCH_OPTIMIZERS[optimizer]([point], hp)
    path = [point.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        surface_value(surface, point[0], point[1]).backward()
        opt.step()
        path.append(point.detach().clone())
    return torch.stack(path).numpy()


def grid_values(surface, n=60):
    """f on an n x n grid over the surface's window: (xs, ys, values[n, n]) for contour plots."""
    info = SURFACES[surface]
    xs, ys = np.linspace(*info["x"], n), np.linspace(*info["y"], n)
    gx, gy = torch.meshgrid(torch.tensor(xs), torch.tensor(ys), indexing="xy")
    return xs, ys, surface_value(surface, gx, gy).numpy()


def log_levels(surface, values, count=14):
    """Contour levels spaced evenly in log(f - min + 1), so the flat floor gets lines too."""
    low = SURFACES[surface]["min"]
    top = math.log1p(float(np.max(values)) - low)
    return [low + math.expm1(top * k / count) for k in range(1, count)]
