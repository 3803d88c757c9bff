"""Perceptron playground: a single neuron's decision boundary under the reader's hands.

The reader moves the weights ``w1``, ``w2`` and the bias ``b`` with sliders; the
widget redraws the boundary line ``w1*x1 + w2*x2 + b = 0``, shades the two
half-planes, and counts how many points are classified correctly. A "Step"
button applies one update of the perceptron learning rule, so the reader can
watch it converge on AND or OR and cycle forever on XOR.

Python only builds the JSON payload; all drawing and interaction live in
``perceptron.js``, so the demo keeps working on the static website.

    from utils.widgets.perceptron import PerceptronPlayground
    PerceptronPlayground()                                  # AND, OR and XOR
    PerceptronPlayground(datasets={"mine": (X, y)}, w=(1, -1), b=0.5)
"""

import math
import pathlib

from .base import BookWidget

GATE_INPUTS = [[0, 0], [0, 1], [1, 0], [1, 1]]
GATE_OUTPUTS = {  # the truth tables, in the order of GATE_INPUTS
    "AND": [0, 0, 0, 1],
    "OR": [0, 1, 1, 1],
    "NAND": [1, 1, 1, 0],
    "XOR": [0, 1, 1, 0],
}
MAX_POINTS = 200  # per dataset; the payload is embedded in the page


def gate_dataset(name):
    """The four input pairs of a logic gate and its outputs: ``(points, labels)`` as lists."""
    if name not in GATE_OUTPUTS:
        raise ValueError(f"unknown gate {name!r}; choose one of {sorted(GATE_OUTPUTS)}")
    return [list(p) for p in GATE_INPUTS], list(GATE_OUTPUTS[name])


TIE = 1e-9  # |z| below this counts as z = 0 (see perceptron.js), so rounding cannot flip a tie


def predict(w, b, points):
    """What the playground's perceptron outputs: 1 where ``w . x + b >= 0``, else 0."""
    return [1 if w[0] * x[0] + w[1] * x[1] + b >= -TIE else 0 for x in points]


def _clean_dataset(name, points, labels):
    """Plain lists of floats and 0/1 ints, checked, so the payload is valid JSON."""
    points = [[float(v) for v in p] for p in (points.tolist() if hasattr(points, "tolist") else points)]
    labels = [int(v) for v in (labels.tolist() if hasattr(labels, "tolist") else labels)]
    if not points or len(points) != len(labels):
        raise ValueError(f"dataset {name!r}: need as many labels as points "
                         f"(got {len(points)} and {len(labels)})")
    if len(points) > MAX_POINTS:
        raise ValueError(f"dataset {name!r} has {len(points)} points; "
                         f"at most {MAX_POINTS} keep the page light")
    if any(len(p) != 2 or not all(math.isfinite(v) for v in p) for p in points):
        raise ValueError(f"dataset {name!r}: every point must be two finite numbers (x1, x2)")
    if any(v not in (0, 1) for v in labels):
        raise ValueError(f"dataset {name!r}: labels must be 0 or 1")
    return {"name": str(name), "points": points, "labels": labels}


def _view(datasets, margin=0.5):
    """A square window ``[xmin, xmax, ymin, ymax]`` that shows every point with room around it."""
    xs = [p[0] for d in datasets for p in d["points"]]
    ys = [p[1] for d in datasets for p in d["points"]]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half = max(max(xs) - min(xs), max(ys) - min(ys)) / 2 + margin
    return [cx - half, cx + half, cy - half, cy + half]


def playground_data(datasets=("AND", "OR", "XOR"), *, start=None, w=(0.0, 0.0), b=0.0, lr=0.5,
                    weight_range=3.0, slider_step=0.1):
    """The JSON payload of :class:`PerceptronPlayground` (see there for the arguments)."""
    if isinstance(datasets, dict):
        cleaned = [_clean_dataset(name, *pair) for name, pair in datasets.items()]
    else:
        cleaned = [_clean_dataset(name, *gate_dataset(name)) for name in datasets]
    names = [d["name"] for d in cleaned]
    if not cleaned or len(set(names)) != len(names):
        raise ValueError(f"need at least one dataset and distinct names, got {names}")
    start = names[0] if start is None else start
    if start not in names:
        raise ValueError(f"start={start!r} is not one of the datasets {names}")
    w = [float(w[0]), float(w[1])]
    if not 0 < lr <= 1:
        raise ValueError("lr must lie in (0, 1], the range of the step-size slider")
    return {
        "datasets": cleaned,
        "start": names.index(start),
        "w": w,
        "b": float(b),
        "lr": float(lr),
        "range": float(max(weight_range, abs(w[0]), abs(w[1]), abs(b))),
        "slider_step": float(slider_step),
        "view": _view(cleaned),
    }


class PerceptronPlayground(BookWidget):
    """Sliders for ``w1``, ``w2``, ``b`` over 2-D points with 0/1 labels, plus perceptron-rule steps.

    ``datasets``: gate names from ``GATE_OUTPUTS`` or a dict ``{name: (points, labels)}``
    with points of shape (n, 2) and labels in {0, 1} (lists, NumPy arrays or tensors).
    ``start``: the dataset shown first. ``w``, ``b``: the starting weights and bias
    (also where "Reset" returns to). ``lr``: the starting step size of the rule.
    ``weight_range``: the sliders run from ``-weight_range`` to ``+weight_range``.
    """

    _esm = pathlib.Path(__file__).with_name("perceptron.js")

    def __init__(self, datasets=("AND", "OR", "XOR"), *, start=None, w=(0.0, 0.0), b=0.0, lr=0.5,
                 weight_range=3.0, slider_step=0.1, **kwargs):
        data = playground_data(datasets, start=start, w=w, b=b, lr=lr, weight_range=weight_range,
                               slider_step=slider_step)
        super().__init__(data, **kwargs)
