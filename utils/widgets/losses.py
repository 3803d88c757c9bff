"""Loss explorer: regression losses against the prediction, and what each one fits to data with outliers.

Left panel: MSE, MAE, Huber and log-cosh drawn against the prediction for a target the
reader chooses (or their derivatives), with a slider for Huber's ``delta`` and a marker
whose loss values are printed. Right panel: a small 1-D regression set; the reader can
add a few outliers, raise them, and switch between fitting a constant and a line. The
fit that minimises each loss is recomputed in the browser (iteratively reweighted least
squares), so the reader sees the MSE fit chase the outliers while MAE and Huber stay put.

Python only builds the JSON payload; all drawing and fitting live in ``losses.js``, so
the demo keeps working on the static website.

    from utils.widgets.losses import LossExplorer
    LossExplorer()                      # the default data set
    LossExplorer(n_points=30, n_outliers=5, seed=3, delta=0.5, line=False)
"""

import pathlib

import numpy as np

from .base import BookWidget

MAX_POINTS = 200  # the payload is embedded in the page


def regression_points(n_points=24, n_outliers=4, seed=0, *, slope=0.5, intercept=0.5, noise=0.3):
    """A noisy line on ``[-3, 3]`` and outliers placed on the line at its right-hand end.

    Returns ``(x, y, outlier_x, outlier_y)`` as NumPy arrays; the widget lifts the
    outliers by the "outlier height" slider, so ``outlier_y`` is their height-zero position.
    """
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3.0, 3.0, n_points))
    y = slope * x + intercept + noise * rng.standard_normal(n_points)
    ox = np.linspace(1.5, 3.0, n_outliers)  # evenly spread, so no two outliers hide each other
    oy = slope * ox + intercept
    return x, y, ox, oy


def explorer_data(n_points=24, n_outliers=4, seed=0, *, delta=1.0, height=4.0, line=True,
                  target=0.0, prediction=1.5):
    """The JSON payload of :class:`LossExplorer` (see there for the arguments)."""
    if not 2 <= n_points + n_outliers <= MAX_POINTS or n_points < 2 or n_outliers < 0:
        raise ValueError(f"need at least 2 points and at most {MAX_POINTS} in all "
                         f"(got n_points={n_points}, n_outliers={n_outliers})")
    if not 0.1 <= delta <= 3.0:
        raise ValueError("delta must lie in [0.1, 3], the range of its slider")
    if not 0.0 <= height <= 8.0:
        raise ValueError("height must lie in [0, 8], the range of its slider")
    if not -2.0 <= target <= 2.0 or not -4.0 <= prediction <= 4.0:
        raise ValueError("target must lie in [-2, 2] and prediction in [-4, 4] (the sliders' ranges)")
    x, y, ox, oy = regression_points(n_points, n_outliers, seed)
    all_y = np.concatenate([y, oy])
    rounded = lambda a: [round(float(v), 4) for v in a]  # noqa: E731 (4 decimals keep the payload small)
    return {
        "points": {"x": rounded(x), "y": rounded(y)},
        "outliers": {"x": rounded(ox), "y": rounded(oy)},
        "defaults": {"target": float(target), "prediction": float(prediction), "delta": float(delta),
                     "height": float(height), "line": bool(line)},
        "ranges": {
            "target": [-2.0, 2.0],
            "prediction": [-4.0, 4.0],
            "delta": [0.1, 3.0],
            "height": [0.0, 8.0],
            "x": [-3.5, 3.5],
            "y": [float(np.floor(all_y.min() - 0.5)), float(np.ceil(all_y.max() + 0.5))],
        },
    }


class LossExplorer(BookWidget):
    """MSE, MAE, Huber and log-cosh: their curves, and the constant or line each one fits.

    ``n_points``, ``n_outliers``, ``seed``: the data set of the fit panel (a noisy line
    and outliers near its right-hand end). ``delta``: Huber's starting threshold.
    ``height``: how far the outliers sit above the line when switched on. ``line``:
    start by fitting a line (True) or a constant (False). ``target``, ``prediction``:
    where the loss panel's sliders start.
    """

    _esm = pathlib.Path(__file__).with_name("losses.js")

    def __init__(self, n_points=24, n_outliers=4, seed=0, *, delta=1.0, height=4.0, line=True,
                 target=0.0, prediction=1.5, **kwargs):
        data = explorer_data(n_points, n_outliers, seed, delta=delta, height=height, line=line,
                             target=target, prediction=prediction)
        super().__init__(data, **kwargs)
