"""Fine-tuning explorer: chapter 12's measured adaptation runs, method by labelled examples.

The chapter adapts its pretrained backbone (the book model ``fashion_base``) to five new
Fashion-MNIST classes by several methods (from scratch, head only, full fine-tuning,
layer-wise LR decay, an adapter, LoRA at several ranks) with a few labelled images per
class, and measures each run: accuracy on the new classes, trainable parameters, seconds,
and the old task's accuracy with the old head put back (forgetting). ``finetune_explorer.js``
lets the reader pick a method and a label count and compares it with all the others.

    from utils.widgets.finetune_explorer import FinetuneExplorer, finetune_explorer_data
    FinetuneExplorer(finetune_explorer_data(runs, METHODS, labels, base_old_acc))
"""

import pathlib

from .base import BookWidget


def _number(value, digits=4):
    return None if value is None else round(float(value), digits)


def finetune_explorer_data(runs, methods, labels, base_old_acc):
    """The widget's payload from the chapter's runs.

    ``runs[(key, per_class)]`` is a dict with ``acc``, ``trainable``, ``seconds`` and ``old_acc``
    (``None`` where the old task has no meaning, e.g. a model trained from scratch);
    ``methods`` maps each key to its display name, in display order; ``labels`` are the
    labelled images per class that were tried; ``base_old_acc`` is the old task's accuracy
    before any adaptation.
    """
    labels = [int(n) for n in labels]
    rows = []
    for key, name in methods.items():
        cells = [runs[key, n] for n in labels]
        rows.append({
            "key": key,
            "name": name,
            "trainable": int(cells[-1]["trainable"]),
            "acc": [_number(c["acc"]) for c in cells],
            "old": [_number(c["old_acc"]) for c in cells],
            "seconds": [_number(c["seconds"], 3) for c in cells],
        })
    return {"labels": labels, "methods": rows, "base_old": _number(base_old_acc)}


class FinetuneExplorer(BookWidget):
    """Pick a method and a number of labels per class; see accuracy, cost and forgetting."""

    _esm = pathlib.Path(__file__).with_name("finetune_explorer.js")
