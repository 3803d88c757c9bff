"""RNN memory explorer (chapter 10): how far back each trained recurrent model looks.

For a text and a trained character-level model, the *saliency* of character s for the
prediction at position t is the size of the gradient of that prediction's log-probability
(of the character that really comes next) with respect to the embedding of character s:

    S[t, s] = || d log p(x_{t+1} | x_1..x_t) / d e_s ||,   s <= t.

Python computes the full matrix for each model once (one backward pass per text: the text is
copied T times into a batch and copy t back-propagates only its own prediction), and sends
log10 of each row relative to its largest entry, as small integers. ``rnn_memory.js`` draws
the matrices side by side, the text with each character shaded by its saliency for the
position the reader points at, and the average saliency against the distance t - s, so the
demo also works on the static website. Anchor: Madsen (2019), "Visualizing memorization in
RNNs", Distill.

A model must offer ``model.embed(ids)`` (ids [N, T] -> embeddings [N, T, E]) and
``model.read(embedded)`` returning ``(logits [N, T, V], state)``.

    data = rnn_memory_data(["some text ..."], {"RNN": rnn, "LSTM": lstm}, encode=..., )
    RNNMemoryExplorer(data)
"""

import pathlib

import torch

from .base import BookWidget

FLOOR = -4.0  # decades below a row's largest saliency that the widget still shows
SCALE = 100  # log10 values are sent as integers in hundredths of a decade


def saliency_matrix(model, ids):
    """``S`` [T, T] (float64, zero above the diagonal): the saliency of each input character s
    for the prediction made at each position t, for ``ids`` of length T + 1 (the last id is
    only a target)."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError(f"ids must be one sequence of at least 2 ids, got shape {tuple(ids.shape)}")
    inputs, targets = ids[:-1], ids[1:]
    length = len(inputs)
    was_training = model.training
    model.eval()
    try:
        embedded = model.embed(inputs.expand(length, length)).detach().requires_grad_()
        logits, _ = model.read(embedded)  # copy t of the batch is the same text; it answers for position t
        log_probs = torch.log_softmax(logits.double(), dim=-1)
        rows = torch.arange(length)
        log_probs[rows, rows, targets].sum().backward()
    finally:
        model.train(was_training)
    return embedded.grad.double().norm(dim=-1).tril()  # copy t, position s; exactly 0 for s > t


def relative_log_rows(matrix):
    """Each row as log10 of its entries over the row's largest one, clipped at FLOOR, in
    hundredths (ints in [FLOOR * SCALE, 0]); entries above the diagonal become None."""
    out = []
    for t, row in enumerate(matrix):
        top = row[: t + 1].max().clamp_min(1e-300)
        logs = torch.log10((row[: t + 1] / top).clamp_min(10.0**FLOOR))
        out.append([round(float(v) * SCALE) for v in logs])
    return out


def rnn_memory_data(texts, models, encode, title=""):
    """The JSON payload: for every text (a string of at least 2 characters; the last one is only a
    target) and every model (a dict name -> model), the saliency rows, plus each model's mean
    saliency at each distance (log10 of the mean over positions of the row-relative values)."""
    if not texts or not models:
        raise ValueError("give at least one text and one model")
    items = []
    for text in texts:
        if len(text) < 2:
            raise ValueError(f"a text needs at least 2 characters, got {text!r}")
        ids = torch.as_tensor(encode(text), dtype=torch.long)
        maps, profiles = {}, {}
        for name, model in models.items():
            matrix = saliency_matrix(model, ids)
            maps[name] = relative_log_rows(matrix)
            rel = matrix / matrix.max(dim=1, keepdim=True).values.clamp_min(1e-300)
            profiles[name] = [
                round(float(torch.log10(torch.diagonal(rel, -d).mean().clamp_min(10.0**FLOOR))) * SCALE)
                for d in range(len(ids) - 1)
            ]
        items.append({"text": text, "maps": maps, "profiles": profiles})
    return {"models": list(models), "items": items, "floor": FLOOR, "scale": SCALE, "title": str(title)}


class RNNMemoryExplorer(BookWidget):
    """Saliency heatmaps of several trained character models side by side, for a few texts."""

    _esm = pathlib.Path(__file__).with_name("rnn_memory.js")

    def __init__(self, data):
        missing = {"models", "items", "floor", "scale"} - set(data)
        if missing:
            raise ValueError(
                f"RNNMemoryExplorer data is missing {sorted(missing)}: build it with rnn_memory_data"
            )
        super().__init__(data)
