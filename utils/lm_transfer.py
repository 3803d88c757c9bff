"""Adapting the byte-level GPT of chapter 11 to a new text: the corpus and the loop chapter 12 uses.

The new text is Python source code from the standard library, so it is on every machine with
Python, offline: a fixed list of pure-Python modules, read from their files in that order and cut
to ``max_bytes``. Like the book's corpus (the Language Reference, also shipped with Python), it
changes a little between Python versions.
"""

import importlib

import torch

from utils.models.char_gpt import RandomWindows, next_byte_loss

STDLIB_MODULES = (
    "textwrap", "shlex", "fnmatch", "glob", "bisect", "heapq", "colorsys", "string",
    "fractions", "statistics", "calendar", "difflib", "queue", "shutil", "ipaddress",
)


def stdlib_source(max_bytes=200_000, modules=STDLIB_MODULES):
    """The source files of ``modules``, joined in that order: a uint8 tensor of at most ``max_bytes``."""
    parts = []
    for name in modules:
        with open(importlib.import_module(name).__file__, "rb") as f:
            parts.append(f.read())
    data = b"\n".join(parts)[:max_bytes]
    return torch.frombuffer(bytearray(data), dtype=torch.uint8)


@torch.no_grad()
def held_out_loss(model, data, windows=64):
    """Mean next-byte cross-entropy (nats) over the first ``windows`` consecutive windows of ``data``."""
    model.eval()
    device = next(model.parameters()).device
    context = model.context
    count = min(windows, (len(data) - 1) // context)
    inputs = data[: count * context].long().view(count, context).to(device)
    targets = data[1 : count * context + 1].long().view(count, context).to(device)
    return next_byte_loss(model(inputs), targets).item()


def train_on_bytes(model, data, steps, batch, lr, seed=0):
    """Train ``model`` in place: AdamW (weight decay 0.01) on its trainable parameters, next-byte
    loss on ``steps`` batches of random windows of ``data``. Returns the loss of every step."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    device = next(model.parameters()).device
    losses = []
    model.train()
    for x, y in RandomWindows(data, model.context, batch, steps, seed):
        loss = next_byte_loss(model(x.to(device)), y.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return losses
