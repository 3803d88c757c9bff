"""Initialisation explorer: what a weight initialisation does to the signal in a deep stack.

Python runs the real thing once: for every activation x initialisation x depth it builds a
fresh stack of ``depth`` equal-width linear layers (each followed by the activation,
biases zero), sends a batch of real examples through it, back-propagates the
cross-entropy loss of a linear classifier head, and records for every layer the
standard deviation and a histogram of the activations and of their gradients.
``init_explorer.js`` draws those numbers (the spread per layer on a log scale, and
the histogram of the layer the reader picks), so the demo also works on the static
website.

The same seed draws the same weights layer after layer, so a shallow stack is the first layers
of the deepest one: its activations are the deepest stack's first ones, and the payload keeps
them once. Its gradients differ (they flow back from its own output), so they are kept for
every depth.

    from utils.widgets.init_explorer import InitExplorer, layer_statistics, init_explorer_data
    stats = layer_statistics(x, y, activation="relu", init="he")   # one setting, as floats
    InitExplorer(init_explorer_data(x, y, depths=(5, 10, 20, 50), dataset="Fashion-MNIST"))
"""

import functools
import math
import pathlib

import torch
from torch import nn

from .base import BookWidget

ACTIVATIONS = {"tanh": ("tanh", nn.Tanh), "relu": ("ReLU", nn.ReLU), "gelu": ("GELU", nn.GELU)}
SMALL_STD = 0.01
# name -> (label, std of N(0, std^2) for a layer with fan_in inputs and fan_out outputs)
INITS = {
    "small": (f"small (std {SMALL_STD})", lambda fan_in, fan_out: SMALL_STD),
    "lecun": ("LeCun (1/fan_in)", lambda fan_in, fan_out: math.sqrt(1.0 / fan_in)),
    "xavier": ("Xavier (2/(in+out))", lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out))),
    "he": ("He (2/fan_in)", lambda fan_in, fan_out: math.sqrt(2.0 / fan_in)),
}
HISTOGRAM_BINS = 20  # inside [-range, range]; one more bin on each side counts what falls outside
MAX_DEPTH = 60


def init_stack(n_in, *, depth, width, activation, init, seed=0):
    """``depth`` linear layers of ``width`` units (the first takes ``n_in`` inputs), each followed
    by ``activation``; weights N(0, std^2) with the std of scheme ``init``, biases zero."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {list(ACTIVATIONS)}")
    if init not in INITS:
        raise ValueError(f"unknown initialisation {init!r}; choose from {list(INITS)}")
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"depth must be between 1 and {MAX_DEPTH} layers, got {depth}")
    generator = torch.Generator().manual_seed(seed)  # the same seed gives the same stack
    layers = []
    for i in range(depth):
        # skip_init: no default initialisation, since the weights are drawn again just below
        linear = nn.utils.skip_init(nn.Linear, n_in if i == 0 else width, width)
        std = INITS[init][1](linear.in_features, linear.out_features)
        with torch.no_grad():
            linear.weight.normal_(0.0, std, generator=generator)
            linear.bias.zero_()
        layers += [linear, ACTIVATIONS[activation][1]()]
    return nn.Sequential(*layers)


def histogram(values, limit):
    """Shares (in thousandths, rounded) of ``values`` in HISTOGRAM_BINS equal bins over
    [-limit, limit], with one extra bin at each end for everything beyond."""
    values = values.flatten().double()
    inside = torch.histc(values.clamp(-limit, limit), bins=HISTOGRAM_BINS, min=-limit, max=limit)
    below = (values < -limit).sum().item()
    above = (values > limit).sum().item()
    inside[0] -= below  # clamp moved those into the edge bins; count them separately
    inside[-1] -= above
    counts = [below, *inside.tolist(), above]
    return [round(1000 * c / len(values)) for c in counts]


def _spread_limit(std):
    """Three standard deviations, or 1 when the spread is 0 or not finite."""
    return 3.0 * std if math.isfinite(std) and std > 0 else 1.0


def layer_statistics(x, y, *, activation, init, depth=50, width=256, seed=0, with_histograms=False):
    """Send ``x`` through a fresh :func:`init_stack` and back-propagate the cross-entropy of a
    linear head (initialised by the same scheme) on labels ``y``.

    Returns ``{"act_std": [...], "grad_std": [...]}``: for each layer (input side first) the
    standard deviation of its activations (after the nonlinearity) and of the loss's gradient
    with respect to them. With ``with_histograms``, also ``act_hist``/``grad_hist`` (one
    :func:`histogram` per layer) and the ranges ``act_limit``/``grad_limit`` they cover:
    3 std of layer 1's activations, and 3 std of the last layer's gradients.
    """
    x = torch.as_tensor(x).float().flatten(1)
    y = torch.as_tensor(y).long()
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(
            f"need x [n, features] and y [n] with n >= 2, got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    stack = init_stack(x.shape[1], depth=depth, width=width, activation=activation, init=init, seed=seed)
    head = nn.Linear(width, int(y.max()) + 1)
    with torch.no_grad():
        head.weight.normal_(
            0.0, INITS[init][1](width, head.out_features), generator=torch.Generator().manual_seed(seed + 1)
        )
        head.bias.zero_()
    outputs, h = [], x
    for module in stack:
        h = module(h)
        if not isinstance(module, nn.Linear):
            h.retain_grad()  # keep dL/dh of this layer's activations after backward()
            outputs.append(h)
    nn.functional.cross_entropy(head(h), y).backward()
    result = {
        "act_std": [h.std().item() for h in outputs],
        "grad_std": [h.grad.std().item() for h in outputs],
    }
    if with_histograms:
        act_limit = _spread_limit(result["act_std"][0])
        grad_limit = _spread_limit(result["grad_std"][-1])
        result["act_limit"], result["grad_limit"] = act_limit, grad_limit
        result["act_hist"] = [histogram(h.detach(), act_limit) for h in outputs]
        result["grad_hist"] = [histogram(h.grad, grad_limit) for h in outputs]
    return result


def _round(value, digits=3):
    """Three significant digits; None for inf/NaN (JSON has neither)."""
    if not math.isfinite(value):
        return None
    return 0.0 if value == 0 else float(f"{value:.{digits - 1}e}")


def _rounded(stats):
    """:func:`layer_statistics`' numbers for the payload: spreads and ranges to 3 digits."""
    return {
        key: [_round(v) for v in value]
        if key.endswith("std")
        else (_round(value) if key.endswith("limit") else value)
        for key, value in stats.items()
    }


def init_explorer_data(
    x,
    y,
    *,
    activations=tuple(ACTIVATIONS),
    inits=tuple(INITS),
    depths=(5, 10, 20, 50),
    width=256,
    seed=0,
    start=("tanh", "xavier"),
    dataset="",
):
    """The JSON payload of :class:`InitExplorer`: :func:`layer_statistics` with histograms for
    every activation x initialisation x depth, measured on ``x`` (a batch of examples) and ``y``.

    ``settings["relu|he"]`` holds the deepest stack's numbers (``act_std``, ``grad_hist``...) and,
    under ``shallower[str(depth)]``, the gradients of each shallower stack: its activations are
    the first ``depth`` of the deepest stack's (see the module's docstring).
    """
    for name in activations:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; choose from {list(ACTIVATIONS)}")
    for name in inits:
        if name not in INITS:
            raise ValueError(f"unknown initialisation {name!r}; choose from {list(INITS)}")
    if tuple(start) not in {(a, i) for a in activations for i in inits}:
        raise ValueError(f"start={tuple(start)} must name a measured (activation, init) pair")
    depths = sorted({int(d) for d in depths})
    if not depths:
        raise ValueError("depths must name at least one depth")
    *shallower, deepest = depths
    measure = functools.partial(layer_statistics, x, y, width=width, seed=seed, with_histograms=True)
    settings = {}
    for activation in activations:
        for init in inits:
            runs = {d: _rounded(measure(activation=activation, init=init, depth=d)) for d in depths}
            setting = runs[deepest]
            setting["shallower"] = {
                str(d): {key: value for key, value in runs[d].items() if key.startswith("grad")}
                for d in shallower
            }
            settings[f"{activation}|{init}"] = setting
    return {
        "activations": [[name, ACTIVATIONS[name][0]] for name in activations],
        "inits": [[name, INITS[name][0]] for name in inits],
        "settings": settings,
        "start": list(start),
        "depths": depths,
        "depth": deepest,
        "width": int(width),
        "bins": HISTOGRAM_BINS,
        "batch": len(x),
        "dataset": str(dataset),
    }


class InitExplorer(BookWidget):
    """Per-layer spread (log scale) and histograms of activations or gradients, for a choice of
    activation, initialisation and depth; ``data`` comes from :func:`init_explorer_data`."""

    _esm = pathlib.Path(__file__).with_name("init_explorer.js")

    def __init__(self, data, **kwargs):
        missing = {"activations", "inits", "settings", "start", "depths", "depth", "bins"} - set(data)
        if missing:
            raise ValueError(f"not an init_explorer_data payload: missing {sorted(missing)}")
        super().__init__(data, **kwargs)
