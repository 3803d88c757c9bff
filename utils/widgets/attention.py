"""Attention heatmap viewer: which tokens each token attends to, per layer and head.

The reader picks a layer and a head and sees that head's attention matrix (rows:
the attending token, the query; columns: the attended token, the key). Pointing at a
token or a row highlights what it attends to and prints the weights.

Python checks the tensor and sends it rounded to 3 decimals; drawing and hovering
live in ``attention.js``, so the demo works on the static website.

    from utils.widgets.attention import AttentionViewer
    AttentionViewer(tokens, weights)        # weights: [layers, heads, T, T], rows sum to 1
"""

import pathlib

import numpy as np

from .base import BookWidget

DECIMALS = 3  # enough to read a heatmap; keeps the embedded page small


def attention_data(tokens, attention, title="", layer=0, head=0):
    """The JSON payload of :class:`AttentionViewer` (see there for the arguments)."""
    tokens = [str(t) for t in tokens]
    if hasattr(attention, "detach"):  # a torch tensor, maybe on a GPU or needing grad
        attention = attention.detach().cpu().numpy()
    try:
        weights = np.asarray(attention, dtype=np.float64)
    except ValueError as error:  # NumPy's complaint about nested lists of unequal lengths
        raise ValueError("attention is ragged: every layer must have as many heads, every head as "
                         "many rows, and every row as many weights as the others") from error
    if weights.ndim != 4:
        raise ValueError(f"attention must have 4 dimensions [layers, heads, T, T]; got shape {weights.shape} "
                         "(for one map use weights[None, None])")
    n = len(tokens)
    if weights.shape[2:] != (n, n) or min(weights.shape) == 0:
        raise ValueError(f"attention has shape {weights.shape} but there are {n} tokens: the last two "
                         f"dimensions must both be {n} (T queries x T keys)")
    if not np.all(np.isfinite(weights)) or weights.min() < 0:
        raise ValueError("attention weights must be finite and non-negative "
                         "(pass softmax outputs, not scores)")
    sums = weights.sum(axis=-1)
    if not np.allclose(sums, 1, atol=1e-3):
        worst = np.unravel_index(np.abs(sums - 1).argmax(), sums.shape)
        raise ValueError(f"every row must sum to 1 (softmax over keys); layer {worst[0]}, head {worst[1]}, "
                         f"row {worst[2]} sums to {sums[worst]:.4f}")
    layers, heads = weights.shape[:2]
    if not (0 <= layer < layers and 0 <= head < heads):
        raise ValueError(f"layer={layer}, head={head}: there are {layers} layers and {heads} heads "
                         "(counted from 0)")
    return {"tokens": tokens, "attention": np.round(weights, DECIMALS).tolist(), "title": str(title),
            "layer": int(layer), "head": int(head)}


class AttentionViewer(BookWidget):
    """Heatmaps of attention weights with a layer and a head selector and hover readouts.

    ``tokens``: the T tokens (any values; shown as text). ``attention``: weights of shape
    [layers, heads, T, T] (a tensor, an array or nested lists) whose rows are softmax
    outputs, row i being what token i attends to. ``title``: a line shown above the map.
    ``layer``, ``head``: the map shown first (counted from 0).
    """

    _esm = pathlib.Path(__file__).with_name("attention.js")

    def __init__(self, tokens, attention, title="", layer=0, head=0):
        super().__init__(attention_data(tokens, attention, title, layer, head))
