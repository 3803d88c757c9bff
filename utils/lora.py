"""LoRA: low-rank adaptation of a frozen ``nn.Linear`` (Hu et al., 2021), written out by hand.

A wrapped layer computes ``base(x) + (alpha / r) * x A^T B^T``: ``A`` is ``[r, in]``, drawn at
random, and ``B`` is ``[out, r]``, zero, so the wrapped model starts exactly equal to the base
and only the product ``B A`` (rank <= r) is learnt; the base weight stays frozen. ``merge()``
adds the update into the base weight, so inference costs nothing extra; ``unmerge()`` takes it
back out. Chapter 12 builds it; its exercise set has the reader write it too.
"""

import math

import torch
from torch import nn


class LoRALinear(nn.Module):
    """``base`` (an ``nn.Linear``, frozen) plus a trainable rank-``r`` update scaled by ``alpha / r``."""

    def __init__(self, base, r=8, alpha=None):
        super().__init__()
        if r < 1:
            raise ValueError(f"the rank r must be at least 1, got {r}")
        self.base, self.r = base, r
        self.scale = (alpha if alpha is not None else r) / r
        for p in base.parameters():
            p.requires_grad_(False)
        # A like a Linear layer's weight (Kaiming-uniform); B zero, so B @ A starts at zero.
        like = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.A = nn.Parameter(torch.empty(r, base.in_features, **like))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = nn.Parameter(torch.zeros(base.out_features, r, **like))
        self.merged = False

    def delta_weight(self):
        """The learnt update of the weight, ``scale * B @ A``, shaped like ``base.weight``."""
        return self.scale * (self.B @ self.A)

    def forward(self, x):
        out = self.base(x)
        if not self.merged:
            out = out + self.scale * ((x @ self.A.T) @ self.B.T)  # two thin products, never B @ A
        return out

    @torch.no_grad()
    def merge(self):
        """Fold the update into the base weight (in place): one plain matrix product from now on."""
        if not self.merged:
            self.base.weight += self.delta_weight()
            self.merged = True
        return self

    @torch.no_grad()
    def unmerge(self):
        """Take the update back out of the base weight (in place)."""
        if self.merged:
            self.base.weight -= self.delta_weight()
            self.merged = False
        return self


def add_lora(model, names, r=8, alpha=None):
    """Swap the ``nn.Linear`` submodules called ``names`` (dotted paths) for ``LoRALinear``s.

    Every parameter of ``model`` is frozen first, so afterwards only the LoRA factors train
    (unfreeze a new head yourself). Returns ``model``, changed in place.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        layer = getattr(parent, child)
        if not isinstance(layer, nn.Linear):
            raise TypeError(f"{name} is a {type(layer).__name__}, not an nn.Linear")
        setattr(parent, child, LoRALinear(layer, r=r, alpha=alpha))
    return model


def linear_names(model):
    """The dotted names of every ``nn.Linear`` in ``model`` (candidates for ``add_lora``)."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]


def trainable_parameters(model):
    """How many parameters of ``model`` will be trained (``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def lora_parameter_count(d_in, d_out, r):
    """Parameters a rank-``r`` LoRA adds to one ``d_out x d_in`` weight: ``r * (d_in + d_out)``."""
    return r * (d_in + d_out)
