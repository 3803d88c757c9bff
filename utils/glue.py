"""Quote a measured number in the prose.

In a code cell ``glue("name", value)``; in the text ``{glue:text}`name:.1f```.

In the book build MyST-NB stores the value with the page, so the sentence and the output cannot
drift apart. On Colab or in plain Jupyter MyST-NB is usually absent: the value is printed instead,
so the notebook still runs and the reader still sees the number.
"""

try:
    from myst_nb import glue as _myst_glue
except ImportError:
    _myst_glue = None


def glue(name, value, display=False):
    """Store ``value`` under ``name`` for the page's text (printed when MyST-NB is not installed).

    NumPy scalars and one-element tensors are stored as the Python number they hold: the text's
    format spec (``:.3f``) is applied to the stored ``repr``, which for ``np.float64(0.5)`` is not
    a number.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if _myst_glue is None:
        print(f"{name} = {value}")
    else:
        _myst_glue(name, value, display=display)
