"""The Fashion-MNIST classifier: a book model, and the feature extractor for Fréchet distances.

A small convolutional network: three blocks of convolution, batch norm, ReLU and 2x2 max
pooling (28 -> 14 -> 7 -> 3 pixels), then a 128-unit hidden layer whose activations are
the image's *features*, then the 10 class logits. Chapter 14 measures generated images by
the Fréchet distance between their features and those of real images (``utils.frechet``).

The recipe trains it with AdamW and a one-cycle learning rate, on images randomly
flipped left-right and shifted by up to two pixels (``TensorBatches(augment=True)``).
``BOOK`` is the book model's size and budget; ``LIVE`` is the same recipe cut to the
couple of minutes a chapter can spend training it live.
"""

import torch
import torch.nn.functional as F
from torch import nn

from utils.data import TensorBatches, load_fashion_mnist
from utils.env import seed_everything
from utils.frechet import frechet_floor
from utils.models.short_runs import FirstBatches
from utils.train import Trainer, accuracy

NAME = "fashion_classifier"

BOOK = {
    "seed": 0,
    "widths": [32, 64, 128],  # channels of the three convolution blocks
    "features": 128,  # size of the hidden layer, the features used for Fréchet distances
    "dropout": 0.2,
    "epochs": 20,
    "batch_size": 128,
    "max_lr": 3e-3,
    "weight_decay": 0.05,
    "crop_padding": 2,
}
LIVE = {**BOOK, "epochs": 2}

FRECHET_SIZES = (256, 1000, 2048)  # sample sizes the real-vs-real Fréchet floor is measured at
FRECHET_DRAWS = 8  # disjoint draws per size, fewer where the test split has too few images
FRECHET_TRAIN_IMAGES = 10_000  # the first training images, as many as the test split has

METRIC = "test_accuracy"  # the number the manifest records and CI re-measures
TOLERANCE = 0.002  # re-measured on the same test images, only float rounding may move it


class FashionClassifier(nn.Module):
    """Images [N, 1, 28, 28] in [0, 1] -> logits [N, 10]; ``features(x)`` gives the hidden layer."""

    def __init__(self, widths=(32, 64, 128), features=128, dropout=0.2):
        super().__init__()
        blocks, channels = [], 1
        for width in widths:
            blocks += [nn.Conv2d(channels, width, 3, padding=1, bias=False),  # BN supplies the bias
                       nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2)]
            channels = width
        self.conv = nn.Sequential(*blocks)
        side = 28 // 2 ** len(widths)
        self.hidden = nn.Sequential(nn.Flatten(), nn.Linear(channels * side * side, features, bias=False),
                                    nn.BatchNorm1d(features), nn.ReLU())
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(features, 10)

    def features(self, x):
        """The hidden layer's activations [N, features]: what the classifier 'sees' in each image."""
        return self.hidden(self.conv(x))

    def forward(self, x):
        return self.head(self.dropout(self.features(x)))


def build_model(settings):
    """A freshly initialised model of the size ``settings`` asks for."""
    return FashionClassifier(settings["widths"], settings["features"], settings["dropout"])


def train(settings, max_steps=None, progress=True, data=None):
    """Train a model by the recipe; return ``(model, losses)``, the training loss of every step.

    ``max_steps`` stops early (the tests run a few steps of the recipe); ``data`` may pass
    an already loaded ``FashionMNIST`` to save reloading it.
    """
    seed_everything(settings["seed"])
    data = data if data is not None else load_fashion_mnist()
    model = build_model(settings)
    batches = TensorBatches(data.train_x, data.train_y, settings["batch_size"], augment=True,
                            crop_padding=settings["crop_padding"], seed=settings["seed"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["max_lr"],
                                  weight_decay=settings["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings["max_lr"],
                                                   total_steps=settings["epochs"] * len(batches))
    losses = []

    def loss_fn(logits, y):
        loss = F.cross_entropy(logits, y)
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
    """The metrics on the test split: ``{"test_accuracy": ..., "test_loss": ...}``."""
    data = data if data is not None else load_fashion_mnist()
    model.eval()
    device = next(model.parameters()).device
    logits = torch.cat([model(x.to(device)).cpu() for x in data.test_x.split(1000)])
    return {"test_accuracy": accuracy(logits, data.test_y),
            "test_loss": F.cross_entropy(logits, data.test_y).item()}


@torch.no_grad()
def image_features(model, images, batch_size=1000):
    """The classifier's features [N, features] of images [N, 1, 28, 28], in eval mode."""
    model.eval()
    device = next(model.parameters()).device
    return torch.cat([model.features(x.to(device)).cpu() for x in images.split(batch_size)])


def extra_measurements(model, data=None):
    """The real-vs-real Fréchet floor: test images against the first training images, disjoint draws.

    Returns ``{"frechet_floor": {"256": {"mean", "std", "draws"}, ...}}`` for the manifest.
    """
    data = data if data is not None else load_fashion_mnist()
    test_x, train_x = data.test_x, data.train_x[:FRECHET_TRAIN_IMAGES]
    floor = frechet_floor(image_features(model, test_x), image_features(model, train_x),
                          FRECHET_SIZES, FRECHET_DRAWS)
    by_size = {str(size): {"mean": mean, "std": std, "draws": draws}
               for size, (mean, std, draws) in floor.items()}
    between = (f"disjoint draws of n test images vs n of the first {len(train_x):,} training images, "
               "hidden-layer features")
    return {"frechet_floor": {"between": between, **by_size}}
