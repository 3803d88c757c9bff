"""The pretrained backbone of chapter 12: a small CNN trained on half of Fashion-MNIST only.

Transfer learning needs a model that has learnt one task and a second task it has not
seen. ``fashion_base`` is trained on the first five classes (T-shirt/top, trouser,
pullover, dress, coat: ``OLD_CLASSES``) and never sees the other five (sandal, shirt,
sneaker, bag, ankle boot: ``NEW_CLASSES``), which chapter 12 adapts it to with few labels.

The architecture is the book's Fashion-MNIST classifier (``utils.models.fashion_classifier``)
at a smaller width with a five-way head; the recipe is the same (AdamW, one-cycle, random
flips and shifts), on the 30,000 training images of the old classes.
"""

import torch
import torch.nn.functional as F
from torch import nn

from utils.data import TensorBatches, load_fashion_mnist
from utils.env import seed_everything
from utils.models.fashion_classifier import FashionClassifier
from utils.models.short_runs import FirstBatches
from utils.train import Trainer, accuracy

NAME = "fashion_base"
OLD_CLASSES = (0, 1, 2, 3, 4)  # what the backbone was pretrained on
NEW_CLASSES = (5, 6, 7, 8, 9)  # what chapter 12 adapts it to

BOOK = {
    "seed": 0,
    "widths": [16, 32, 64],
    "features": 128,
    "dropout": 0.2,
    "epochs": 6,
    "batch_size": 128,
    "max_lr": 3e-3,
    "weight_decay": 0.05,
    "crop_padding": 2,
}
LIVE = {**BOOK, "epochs": 1}

METRIC = "test_accuracy"  # on the test images of the five old classes
TOLERANCE = 0.002


def class_subset(x, y, classes):
    """The images of ``classes`` only, relabelled 0..len(classes)-1 in the order given."""
    classes = torch.as_tensor(classes)
    keep = torch.isin(y, classes)
    relabel = torch.full((int(y.max()) + 1,), -1, dtype=torch.long)
    relabel[classes] = torch.arange(len(classes))
    return x[keep], relabel[y[keep]]


def build_model(settings):
    """The book classifier's architecture with a head of ``len(OLD_CLASSES)`` outputs."""
    model = FashionClassifier(settings["widths"], settings["features"], settings["dropout"])
    model.head = nn.Linear(settings["features"], len(OLD_CLASSES))
    return model


def train(settings, max_steps=None, progress=True, data=None):
    """Train on the old classes by the recipe; return ``(model, losses)``, the loss of every step."""
    seed_everything(settings["seed"])
    data = data if data is not None else load_fashion_mnist()
    model = build_model(settings)
    x, y = class_subset(data.train_x, data.train_y, OLD_CLASSES)
    batches = TensorBatches(x, y, settings["batch_size"], augment=True,
                            crop_padding=settings["crop_padding"], seed=settings["seed"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["max_lr"],
                                  weight_decay=settings["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings["max_lr"],
                                                   total_steps=settings["epochs"] * len(batches))
    losses = []

    def loss_fn(logits, target):
        loss = F.cross_entropy(logits, target)
        if model.training:
            losses.append(loss.item())
        return loss

    trainer = Trainer(model, optimizer, loss_fn, device="cpu", scheduler=schedule,
                      metrics={"acc": accuracy}, progress=progress)
    if max_steps is None:
        trainer.fit(batches, epochs=settings["epochs"])
    else:
        trainer.fit(FirstBatches(batches, max_steps), epochs=1)
    return model.eval(), losses


@torch.no_grad()
def evaluate(model, data=None):
    """Accuracy and loss on the test images of the old classes."""
    data = data if data is not None else load_fashion_mnist()
    model.eval()
    x, y = class_subset(data.test_x, data.test_y, OLD_CLASSES)
    device = next(model.parameters()).device
    logits = torch.cat([model(part.to(device)).cpu() for part in x.split(1000)])
    return {"test_accuracy": accuracy(logits, y), "test_loss": F.cross_entropy(logits, y).item()}
