"""utils.lora (LoRA by hand) and utils.finetune (the adaptation methods chapter 12 measures)."""

import pytest
import torch
from torch import nn

from utils.finetune import METHODS, Adapter, TransferTask, few_labels, method_of
from utils.lora import LoRALinear, add_lora, linear_names, lora_parameter_count, trainable_parameters
from utils.models.fashion_classifier import FashionClassifier


def test_lora_starts_at_the_base_and_only_b_gets_the_first_gradient():
    torch.manual_seed(0)
    base = nn.Linear(6, 4).double()
    layer = LoRALinear(base, r=3, alpha=6)
    x = torch.randn(5, 6, dtype=torch.float64)
    assert torch.equal(layer(x), base(x))
    assert layer.A.dtype == torch.float64 and layer.scale == 2.0
    layer(x).sum().backward()
    assert torch.count_nonzero(layer.A.grad) == 0 and torch.count_nonzero(layer.B.grad) > 0
    assert base.weight.grad is None and not base.weight.requires_grad
    with pytest.raises(ValueError):
        LoRALinear(nn.Linear(2, 2), r=0)


def test_merge_is_in_place_idempotent_and_unmerge_restores():
    torch.manual_seed(1)
    base = nn.Linear(5, 3)
    weight, original = base.weight, base.weight.detach().clone()
    layer = LoRALinear(base, r=2, alpha=4)
    nn.init.normal_(layer.B)
    x = torch.randn(7, 5)
    unmerged = layer(x)
    layer.merge().merge()
    assert base.weight is weight
    torch.testing.assert_close(base.weight, original + 2.0 * layer.B @ layer.A)
    torch.testing.assert_close(layer(x), unmerged)
    layer.unmerge().unmerge()
    torch.testing.assert_close(base.weight, original)


def test_add_lora_swaps_the_named_layers_and_freezes_the_rest():
    model = FashionClassifier((4, 4, 4), features=8)
    assert linear_names(model) == ["hidden.1", "head"]
    add_lora(model, ["hidden.1"], r=2)
    assert isinstance(model.hidden[1], LoRALinear)
    assert trainable_parameters(model) == lora_parameter_count(36, 8, 2) == 2 * (36 + 8)
    with pytest.raises(TypeError):
        add_lora(model, ["conv.0"])


def test_adapter_starts_as_the_identity():
    h = torch.randn(3, 8)
    assert torch.equal(Adapter(8, 2)(h), h)


@pytest.fixture(scope="module")
def task():
    """A tiny pretrained-looking backbone on random images: what the methods do, not how well."""
    torch.manual_seed(0)
    base = FashionClassifier((4, 4, 4), features=8)
    base.head = nn.Linear(8, 3)
    base.eval()
    x, y = torch.rand(60, 1, 28, 28), torch.arange(60) % 3
    old = (torch.rand(30, 1, 28, 28), torch.arange(30) % 3)
    return (
        TransferTask(base, lambda: FashionClassifier((4, 4, 4), features=8), (x, y), old, steps=3, batch=8),
        x,
        y,
    )


@pytest.mark.parametrize("key", ["scratch", "head", "full", "llrd", "adapter", "lora2"])
def test_every_method_runs_and_reports(task, key):
    task, x, y = task
    before = {k: v.clone() for k, v in task.base.state_dict().items()}
    method, r = method_of(key)
    run = task.adapt(method, *few_labels(x, y, 4), r=r)
    assert 0 <= run["acc"] <= 1 and len(run["losses"]) == 3 and run["seconds"] >= 0
    assert (run["old_acc"] is None) == (method == "scratch")
    assert all(torch.equal(v, before[k]) for k, v in task.base.state_dict().items())  # the base is copied
    if method in ("head", "adapter"):  # the backbone is untouched, so is the old task
        assert run["old_acc"] == task.old_accuracy(task.base)
    full = sum(p.numel() for p in run["model"].parameters())
    assert (run["trainable"] == full) == (method in ("scratch", "full", "llrd"))


def test_few_labels_draws_per_class_and_unknown_methods_fail(task):
    task, x, y = task
    xs, ys = few_labels(x, y, 5, seed=3)
    assert torch.bincount(ys).tolist() == [5, 5, 5] and len(xs) == 15
    assert torch.equal(few_labels(x, y, 5, seed=3)[1], ys)
    with pytest.raises(ValueError, match="unknown method"):
        task.adapt("prompt", x, y)
    assert set(METHODS) == {"scratch", "head", "full", "llrd", "adapter", "lora"}
