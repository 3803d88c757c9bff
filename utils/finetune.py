"""Adapting a pretrained classifier to new classes: the methods chapter 12 measures.

``TransferTask`` holds a pretrained backbone (a model with ``conv``, ``hidden`` and ``head``
parts and a ``features(x)`` method, like the book model ``fashion_base``), the test images of the
new task and of the old one, and the training budget. ``task.adapt(method, x, y)`` adapts a copy
of the backbone with a handful of labelled images by one method and measures it:

- ``"scratch"``: the same architecture, freshly initialised, every parameter trained;
- ``"head"``: a new head on the frozen backbone's features (computed once, without gradients);
- ``"full"``: every parameter trained from the pretrained weights;
- ``"llrd"``: full fine-tuning with the learning rate multiplied by ``llrd_decay`` per layer, top down;
- ``"adapter"``: a bottleneck adapter on the frozen features, plus the new head;
- ``"lora"``: LoRA of rank ``r`` on the hidden linear layer (``utils.lora``), plus the new head.

The frozen methods keep the backbone in eval mode (BatchNorm keeps its statistics) and train on
the output of the frozen part, computed once: it would be the same at every step. Every method
gets the same number of AdamW steps; the ones whose trained parameters start from scratch or from
zero (head, adapter, LoRA) use ten times the learning rate.
"""

import copy
import time

import torch
import torch.nn.functional as F
from torch import nn

from utils.lora import add_lora, trainable_parameters

METHODS = ("scratch", "head", "full", "llrd", "adapter", "lora")


class Adapter(nn.Module):
    """A bottleneck adapter: ``h + up(relu(down(h)))``, with ``up`` zero so it starts as the identity."""

    def __init__(self, width, bottleneck):
        super().__init__()
        self.down, self.up = nn.Linear(width, bottleneck), nn.Linear(bottleneck, width)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h):
        return h + self.up(F.relu(self.down(h)))


class Adapted(nn.Module):
    """A backbone's features, optionally through an adapter, then a new head of ``classes`` outputs."""

    def __init__(self, backbone, classes, adapter=None):
        super().__init__()
        self.head = nn.Linear(backbone.head.in_features, classes)
        backbone.head = nn.Identity()  # the old head is not part of the new model
        self.backbone, self.adapter = backbone, adapter or nn.Identity()

    def features(self, x):
        return self.adapter(self.backbone.features(x))

    def forward(self, x):
        return self.head(self.features(x))


def few_labels(x, y, per_class, seed=0):
    """``per_class`` examples of every class in ``y``, drawn at random (the same for the same seed)."""
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in torch.unique(y).tolist():
        members = torch.nonzero(y == c).flatten()
        picks.append(members[torch.randperm(len(members), generator=g)[:per_class].to(members.device)])
    picks = torch.cat(picks)
    return x[picks], y[picks]


def fit(params, loss_of_batch, x, y, steps, lr, batch, seed=0):
    """AdamW (weight decay 0.01) over ``params`` for ``steps`` random mini-batches of (x, y); the losses."""
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(x), (min(batch, len(x)),), generator=g).to(x.device)
        loss = loss_of_batch(x[idx], y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@torch.no_grad()
def accuracy_of(logits_of, x, y, chunk=1000):
    """The share of ``x`` whose largest logit (``logits_of(part)``) is the label ``y``."""
    logits = torch.cat([logits_of(part) for part in x.split(chunk)])
    return (logits.argmax(1) == y).float().mean().item()


class TransferTask:
    """A pretrained backbone, the new and old test sets, and the budget every method gets."""

    def __init__(
        self,
        base,
        build_fresh,
        new_test,
        old_test,
        steps=80,
        lr=1e-3,
        batch=32,
        llrd_decay=0.5,
        adapter_width=16,
    ):
        self.base, self.build_fresh = base.eval(), build_fresh
        self.new_x, self.new_y = new_test
        self.old_x, self.old_y = old_test
        self.classes = int(self.new_y.max()) + 1
        self.old_head = copy.deepcopy(base.head)  # to measure what the old task kept
        self.steps, self.lr, self.batch = steps, lr, batch
        self.llrd_decay, self.adapter_width = llrd_decay, adapter_width
        with torch.no_grad():  # the convolutions of the frozen methods never change: run them once
            self.test_conv = {"new": base.conv(self.new_x), "old": base.conv(self.old_x)}

    def old_accuracy(self, backbone):
        """The old task's accuracy of ``backbone`` with the old head put back."""
        backbone.eval()
        return accuracy_of(lambda part: self.old_head(backbone.features(part)), self.old_x, self.old_y)

    def adapt(self, method, x, y, r=None):
        """Adapt by ``method`` with (x, y); a dict: model, acc, old_acc, trainable, seconds, losses."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; the methods are {METHODS}")
        torch.manual_seed(0)
        device = x.device
        backbone = self.build_fresh() if method == "scratch" else copy.deepcopy(self.base)
        model = Adapted(backbone, self.classes).to(device)
        start = time.perf_counter()
        if method in ("scratch", "full", "llrd"):
            model.train()
            params = list(model.parameters())
            if method == "llrd":
                b = model.backbone
                blocks = len(b.conv) // 4  # conv, BatchNorm, ReLU, pool per block
                layers = [model.head, b.hidden] + [b.conv[4 * k : 4 * k + 4] for k in reversed(range(blocks))]
                params = [
                    {"params": list(layer.parameters()), "lr": self.lr * self.llrd_decay**depth}
                    for depth, layer in enumerate(layers)
                ]
            losses = fit(
                params, lambda xb, yb: F.cross_entropy(model(xb), yb), x, y, self.steps, self.lr, self.batch
            )
            seconds = time.perf_counter() - start
            model.eval()
            return {
                "model": model,
                "acc": accuracy_of(model, self.new_x, self.new_y),
                "old_acc": None if method == "scratch" else self.old_accuracy(model.backbone),
                "trainable": trainable_parameters(model),
                "seconds": seconds,
                "losses": losses,
            }
        model.eval()  # the frozen backbone stays in eval mode: BatchNorm keeps its statistics
        model.backbone.requires_grad_(False)
        with torch.no_grad():
            frozen = model.backbone.conv(x) if method == "lora" else model.backbone.features(x)
        if method == "lora":
            add_lora(model.backbone, ["hidden.1"], r=r, alpha=r)

            def top(z):
                return model.head(model.backbone.hidden(z))
        elif method == "adapter":
            model.adapter = Adapter(model.head.in_features, self.adapter_width).to(device)

            def top(z):
                return model.head(model.adapter(z))
        else:
            top = model.head
        trained = [p for p in model.parameters() if p.requires_grad]
        losses = fit(
            trained,
            lambda zb, yb: F.cross_entropy(top(zb), yb),
            frozen,
            y,
            self.steps,
            10 * self.lr,
            self.batch,
        )
        seconds = time.perf_counter() - start
        model.eval()
        with torch.no_grad():
            new_logits = model.head(model.adapter(model.backbone.hidden(self.test_conv["new"])))
            old_logits = self.old_head(model.backbone.hidden(self.test_conv["old"]))
        return {
            "model": model,
            "acc": (new_logits.argmax(1) == self.new_y).float().mean().item(),
            "old_acc": (old_logits.argmax(1) == self.old_y).float().mean().item(),
            "trainable": trainable_parameters(model),
            "seconds": seconds,
            "losses": losses,
        }


def method_of(key):
    """A run's key to (method, rank): ``"lora4"`` -> ``("lora", 4)``, ``"full"`` -> ``("full", None)``."""
    return ("lora", int(key[4:])) if key.startswith("lora") else (key, None)
