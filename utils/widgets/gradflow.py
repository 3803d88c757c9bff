"""Gradient-flow explorer: how large the gradient is in each layer of a deep MLP.

Python runs real backward passes once: for every activation x initialisation x depth it
builds a fresh deep MLP, computes the cross-entropy loss on a batch of real examples,
calls ``backward()`` and records the norm of each layer's weight gradient. Those numbers
(a few hundred floats) are the JSON payload; ``gradflow.js`` draws them as bars on a
log scale and lets the reader switch activation, initialisation and depth, so the demo
keeps working on the static website.

    from utils.widgets.gradflow import GradientFlowExplorer, gradient_flow_data
    data = gradient_flow_data(x, y, dataset="Fashion-MNIST")   # x [n, features], y [n] labels
    GradientFlowExplorer(data)
"""

import math
import pathlib

import torch
from torch import nn

from .base import BookWidget

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
ACTIVATION_LABELS = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU"}
SMALL_STD, LARGE_STD = 0.01, 0.3
# name -> (label, function that initialises a weight matrix in place); biases start at zero
INITS = {
    "small": (f"small normal (std {SMALL_STD})", lambda w: nn.init.normal_(w, 0.0, SMALL_STD)),
    "xavier": ("Xavier/Glorot normal", nn.init.xavier_normal_),
    "he": ("He/Kaiming normal", lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
    "large": (f"large normal (std {LARGE_STD})", lambda w: nn.init.normal_(w, 0.0, LARGE_STD)),
}
MAX_DEPTH = 60  # keeps the payload and the bars readable


def deep_mlp(n_in, n_out, *, depth, width, activation, init, seed=0):
    """``depth`` linear layers (``depth - 1`` hidden layers of ``width`` units), each hidden one
    followed by ``activation``; weights drawn by the scheme ``init`` (a key of ``INITS``)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {list(ACTIVATIONS)}")
    if init not in INITS:
        raise ValueError(f"unknown initialisation {init!r}; choose from {list(INITS)}")
    if not 2 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 2 and {MAX_DEPTH} linear layers, got {depth}")
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)  # the same seed gives the same network, whatever ran before
    sizes = [n_in] + [width] * (depth - 1) + [n_out]
    layers = []
    for i in range(depth):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        INITS[init][1](linear.weight)
        nn.init.zeros_(linear.bias)
        layers.append(linear)
        if i < depth - 1:
            layers.append(ACTIVATIONS[activation]())
    torch.random.set_rng_state(generator_state)  # leave the caller's random stream untouched
    return nn.Sequential(*layers)


def layer_gradient_norms(model, x, y):
    """One forward and backward pass of the cross-entropy loss; returns the Frobenius norm of
    each linear layer's weight gradient, input side first, as Python floats."""
    model.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return [m.weight.grad.norm().item() for m in model if isinstance(m, nn.Linear)]


def _round(value, digits=3):
    """Three significant digits, so the payload stays small; 0 stays 0 (an underflow)."""
    if value == 0 or not math.isfinite(value):
        return 0.0 if value == 0 else None
    return float(f"{value:.{digits - 1}e}")


def gradient_flow_data(x, y, *, activations=tuple(ACTIVATIONS), inits=tuple(INITS), depths=(5, 10, 20, 30),
                       width=64, seed=0, start=("sigmoid", "xavier", 10), dataset=""):
    """The JSON payload of :class:`GradientFlowExplorer`, measured by real backward passes.

    ``x``: a float tensor [n, features] (flatten images first), ``y``: class indices [n].
    For every activation, initialisation (keys of ``ACTIVATIONS``, ``INITS``) and depth
    (number of linear layers), a fresh network from :func:`deep_mlp` with hidden ``width``
    and ``seed`` is run forward and backward on the whole batch once. ``start`` is the
    (activation, init, depth) shown first.
    """
    x = torch.as_tensor(x).float().cpu()
    y = torch.as_tensor(y).long().cpu()
    if x.dim() != 2 or y.dim() != 1 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need x [n, features] and y [n] with n > 0, "
                         f"got {tuple(x.shape)} and {tuple(y.shape)}")
    depths = [int(d) for d in depths]
    if not depths or any(not 2 <= d <= MAX_DEPTH for d in depths) or len(set(depths)) != len(depths):
        raise ValueError(f"depths must be distinct numbers of linear layers in [2, {MAX_DEPTH}], "
                         f"got {depths}")
    for name in activations:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose from {list(ACTIVATIONS)}")
    for name in inits:
        if name not in INITS:
            raise ValueError(f"unknown initialisation {name!r}; choose from {list(INITS)}")
    start = (start[0], start[1], int(start[2]))
    if start[0] not in activations or start[1] not in inits or start[2] not in depths:
        raise ValueError(f"start={start} must name one of the measured settings")
    n_out = int(y.max()) + 1
    norms = {}
    for activation in activations:
        for init in inits:
            for depth in depths:
                model = deep_mlp(x.shape[1], n_out, depth=depth, width=width, activation=activation,
                                 init=init, seed=seed)
                measured = layer_gradient_norms(model, x, y)
                norms[f"{activation}|{init}|{depth}"] = [_round(v) for v in measured]
    return {
        "activations": [[name, ACTIVATION_LABELS[name]] for name in activations],
        "inits": [[name, INITS[name][0]] for name in inits],
        "depths": depths,
        "norms": norms,
        "start": list(start),
        "width": int(width),
        "batch": len(x),
        "dataset": str(dataset),
    }


class GradientFlowExplorer(BookWidget):
    """Bars of per-layer gradient norms (log scale) for a choice of activation, init and depth.

    ``data`` is the payload of :func:`gradient_flow_data` (measure it once, show it many times).
    """

    _esm = pathlib.Path(__file__).with_name("gradflow.js")

    def __init__(self, data, **kwargs):
        missing = {"activations", "inits", "depths", "norms", "start"} - set(data)
        if missing:
            raise ValueError(f"not a gradient_flow_data payload: missing {sorted(missing)}")
        super().__init__(data, **kwargs)
