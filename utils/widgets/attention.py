"""Attention viewer: which tokens each token attends to, in every layer and head of a model.

The reader sees every head of every layer at once as small maps, picks one to see it large
(rows: the attending token, the query; columns: the attended token, the key), and points at
a token to see what it attends to, with the weights. In a causal model the squares above
the diagonal are hatched: the mask hides them, which is not the same as a learned weight 0.

Python checks the weights and sends them as integers in thousandths (only the visible
triangle for a causal model), so the payload stays small; drawing and hovering live in
``attention.js``, so the demo works on the static website.

    from utils.widgets.attention import AttentionViewer
    AttentionViewer(tokens, weights)               # weights: [layers, heads, T, T], rows sum to 1
    AttentionViewer.from_model(model, "text")      # a GPT of the chapter 11 recipe, on that text
"""

import math
import pathlib

import numpy as np
import torch

from .base import BookWidget

SCALE = 1000  # weights travel as integers in thousandths: enough to read a heatmap, and short
DECIMALS = 3  # the resolution that gives
SHOWN = {" ": "␣", "\n": "↵", "\t": "⇥"}  # characters that would be invisible as labels


def attention_data(tokens, attention, title="", layer=0, head=0, causal=None):
    """The JSON payload of :class:`AttentionViewer` (see there for the arguments)."""
    tokens = [str(t) for t in tokens]
    if hasattr(attention, "detach"):  # a torch tensor, maybe on a GPU or needing grad
        attention = attention.detach().float().cpu().numpy()
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
    future = np.triu(np.ones((n, n), dtype=bool), k=1)
    if causal is None:  # a causal model: nothing at all above the diagonal
        causal = bool(n > 1 and np.all(weights[..., future] == 0))
    elif causal and np.any(weights[..., future] > 0):
        raise ValueError("causal=True but some weights above the diagonal (later tokens) are not 0")
    thousandths = np.rint(weights * SCALE).astype(int).tolist()
    if causal:  # row i keeps only keys 0..i; the rest is the mask
        thousandths = [[[row[:i + 1] for i, row in enumerate(head_map)] for head_map in layer_maps]
                       for layer_maps in thousandths]
    return {"tokens": tokens, "weights": thousandths, "scale": SCALE, "causal": causal, "title": str(title),
            "layer": int(layer), "head": int(head)}


def decode_weights(data):
    """The ``[layers, heads, T, T]`` float array a payload stands for (what the JavaScript draws)."""
    n = len(data["tokens"])
    maps = np.zeros((len(data["weights"]), len(data["weights"][0]), n, n))
    for layer, layer_maps in enumerate(data["weights"]):
        for head, rows in enumerate(layer_maps):
            for i, row in enumerate(rows):
                maps[layer, head, i, :len(row)] = row
    return maps / data["scale"]


def attention_maps(model, ids):
    """Every layer's and head's attention weights for the token ids ``ids`` ([T] or [1, T]).

    For a model built like the book's GPT (``utils.models.char_gpt``): its attention modules
    have a fused ``qkv`` linear layer and a ``heads`` count, and attend causally with
    ``softmax(q k^T / sqrt(d))``. The model computes attention with PyTorch's fused kernel,
    which does not return the weights, so a hook catches each attention module's input and
    recomputes them from it. Returns a tensor ``[layers, heads, T, T]``.
    """
    ids = torch.as_tensor(ids).reshape(1, -1)
    modules = [m for m in model.modules() if hasattr(m, "qkv") and hasattr(m, "heads")]
    if not modules:
        raise ValueError("the model has no attention module with a fused `qkv` layer and a `heads` count")
    maps = []

    def catch(module, inputs):
        x = inputs[0]
        batch, length, width = x.shape
        per_head = module.qkv(x).view(batch, length, 3, module.heads, width // module.heads)
        q, k, _ = per_head.transpose(1, 3).unbind(2)  # each [batch, heads, length, width / heads]
        scores = q @ k.transpose(-2, -1) / math.sqrt(width // module.heads)
        future = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)
        maps.append(scores.masked_fill(future, float("-inf")).softmax(-1)[0])

    hooks = [m.register_forward_pre_hook(catch) for m in modules]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(ids.to(next(model.parameters()).device))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return torch.stack(maps).cpu()


def byte_tokens(text):
    """The characters of ``text`` as labels, one per byte, with spaces and newlines made visible."""
    labels = []
    for ch in text:
        label = SHOWN.get(ch, ch)
        labels += [label] + [""] * (len(ch.encode("utf-8")) - 1)  # a multi-byte character: its first byte
    return labels


class AttentionViewer(BookWidget):
    """Heatmaps of attention weights: every layer and head at once, one enlarged, hover readouts.

    ``tokens``: the T tokens (any values; shown as text). ``attention``: weights of shape
    [layers, heads, T, T] (a tensor, an array or nested lists) whose rows are softmax
    outputs, row i being what token i attends to. ``title``: a line shown above the maps.
    ``layer``, ``head``: the map shown enlarged first (counted from 0). ``causal``: whether a
    causal mask hid the later tokens (hatched in the map); by default, whenever every weight
    above the diagonal is 0.
    """

    _esm = pathlib.Path(__file__).with_name("attention.js")

    def __init__(self, tokens, attention, title="", layer=0, head=0, causal=None):
        super().__init__(attention_data(tokens, attention, title, layer, head, causal))

    @classmethod
    def from_model(cls, model, text, title="", layer=0, head=0):
        """The viewer for a byte-level GPT (``utils.models.char_gpt``) reading ``text``."""
        ids = list(text.encode("utf-8"))
        if len(ids) > model.context:
            raise ValueError(f"the text has {len(ids)} bytes; the model reads at most {model.context}")
        return cls(byte_tokens(text), attention_maps(model, ids), title=title, layer=layer, head=head,
                   causal=True)
