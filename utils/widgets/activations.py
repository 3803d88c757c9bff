"""Activation explorer: activation functions and their derivatives, side by side.

The reader ticks the functions to compare, toggles their derivatives (dashed), moves
the parameters (leaky-ReLU slope, ELU alpha, Swish beta) and points at the plot to
read f(x) and f'(x). A table gives each function's range and, for the ones that dip
below zero (GELU, SiLU/Swish, Mish), where the minimum lies.

The formulas live in ``activations.js`` and run in the browser; Python only sends
which functions to show and the plot window, so the demo works on the static website.

    from utils.widgets.activations import ActivationExplorer
    ActivationExplorer()                                   # ReLU, GELU and SiLU
    ActivationExplorer(show=["sigmoid", "tanh"], derivatives=True)
"""

import math
import pathlib

from .base import BookWidget

# name -> label, in the order of the widget's check boxes (activations.js has the formulas)
FUNCTIONS = {
    "sigmoid": "sigmoid",
    "tanh": "tanh",
    "relu": "ReLU",
    "leaky_relu": "leaky ReLU",
    "elu": "ELU",
    "gelu": "GELU (erf)",
    "gelu_tanh": "GELU (tanh approx.)",
    "silu": "SiLU / Swish",
    "mish": "Mish",
    "softplus": "softplus",
}
# parameter -> (slider min, max, step, PyTorch's default)
PARAMETERS = {
    "negative_slope": (0.0, 0.5, 0.01, 0.01),  # nn.LeakyReLU(negative_slope)
    "alpha": (0.1, 2.0, 0.1, 1.0),             # nn.ELU(alpha)
    "beta": (0.1, 5.0, 0.1, 1.0),              # Swish x * sigmoid(beta x); beta = 1 is nn.SiLU
}


def activation_data(show=("relu", "gelu", "silu"), derivatives=False, x_range=(-5.0, 5.0), x=-1.0, **params):
    """The JSON payload of :class:`ActivationExplorer` (see there for the arguments)."""
    unknown = [name for name in show if name not in FUNCTIONS]
    if unknown or not show:
        raise ValueError(f"unknown activation(s) {unknown}; choose from {list(FUNCTIONS)}")
    lo, hi = (float(v) for v in x_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"x_range must be two finite numbers, low < high; got {x_range}")
    if not lo <= x <= hi:
        raise ValueError(f"the cursor x={x} must lie inside x_range {x_range}")
    sliders = {}
    for name, (low, high, step, default) in PARAMETERS.items():
        value = float(params.pop(name, default))
        if not low <= value <= high:
            raise ValueError(f"{name}={value} is outside its slider range [{low}, {high}]")
        sliders[name] = [low, high, step, value]
    if params:
        raise ValueError(f"unknown parameter(s) {sorted(params)}; the sliders are {list(PARAMETERS)}")
    return {
        "functions": [[name, label] for name, label in FUNCTIONS.items()],
        "show": list(show),
        "derivatives": bool(derivatives),
        "x_range": [lo, hi],
        "x": float(x),
        "params": sliders,
    }


class ActivationExplorer(BookWidget):
    """Curves, derivatives and readouts of common activation functions.

    ``show``: names from ``FUNCTIONS`` ticked at the start. ``derivatives``: start with
    the derivatives drawn. ``x_range``: the plotted interval; ``x``: where the cursor
    readout starts. ``negative_slope``, ``alpha``, ``beta``: starting slider values
    (PyTorch's defaults unless given).
    """

    _esm = pathlib.Path(__file__).with_name("activations.js")

    def __init__(self, show=("relu", "gelu", "silu"), derivatives=False, x_range=(-5.0, 5.0), x=-1.0,
                 **params):
        super().__init__(activation_data(show, derivatives, x_range, x, **params))
