"""The chapter 13 GAN: a small DCGAN on Fashion-MNIST, trained live by the chapter and as a book model.

The architecture follows Radford, Metz and Chintala (2015), at a small width. The generator
maps a noise vector to a 7x7 map and doubles the resolution twice with transposed
convolutions (7 -> 14 -> 28), with batch norm and ReLU, and a sigmoid for pixels in [0, 1].
The discriminator halves it twice with strided convolutions and leaky ReLU, batch norm on
every layer but the first (normalising the raw input would hide its statistics from D), and
gives one logit. Both train with Adam (learning rate 2e-4, beta1 0.5) on the non-saturating
loss, one discriminator step then one generator step on the same fakes.

Its metric is chapter 14's: the Fréchet distance, in the book classifier's features, between
``EVAL["samples"]`` generated images (noise fixed by a seed) and the same random test images
that ``utils.models.ddpm`` compares its samples with. Lower is better; the classifier's
manifest entry records the real-vs-real floor at that size.
"""

import time

import torch
from torch import nn

from utils.data import load_fashion_mnist
from utils.env import seed_everything
from utils.frechet import frechet_distance
from utils.models import ddpm
from utils.models.fashion_classifier import image_features
from utils.widgets.gan_playback import discriminator_loss, generator_loss

BOOK = {
    "seed": 0,
    "noise": 64,
    "width": 32,  # channels at 14 pixels; twice as many at 7
    "steps": 14000,
    "batch_size": 64,
    "lr": 2e-4,
    "betas": [0.5, 0.999],
}
LIVE = {**BOOK, "steps": 150}

EVAL = {"samples": ddpm.EVAL["samples"], "seed": ddpm.EVAL["seed"]}  # chapter 14's protocol
METRIC = "frechet_256"
TOLERANCE = 0.5  # samples and test images are fixed by seeds; only float rounding moves it


class DCGAN(nn.Module):
    """A generator and its discriminator; ``forward(z)`` [N, noise] -> images [N, 1, 28, 28] in [0, 1]."""

    def __init__(self, noise=64, width=32):
        super().__init__()
        self.noise = noise
        self.generator = nn.Sequential(
            nn.Linear(noise, 2 * width * 7 * 7, bias=False),
            nn.Unflatten(1, (2 * width, 7, 7)),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False),  # 7 -> 14
            nn.BatchNorm2d(width),
            nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),  # 14 -> 28
            nn.Sigmoid(),
        )
        self.discriminator = nn.Sequential(
            nn.Conv2d(1, width, 4, stride=2, padding=1),  # 28 -> 14, no batch norm on the input
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False),  # 14 -> 7
            nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, 1),
        )

    def forward(self, z):
        return self.generator(z)


def build_model(settings):
    """A freshly initialised DCGAN of the size ``settings`` asks for."""
    return DCGAN(settings["noise"], settings["width"])


def train_with_history(settings, max_steps=None, progress=True, data=None):
    """Train by the recipe; return ``(model, {"d": [...], "g": [...]})``, both losses of every step.

    Batches are drawn at random from the training images, on the device they are on; the
    noise and the batches come from one generator seeded by the recipe.
    """
    seed_everything(settings["seed"])
    data = data if data is not None else load_fashion_mnist()
    images = data.train_x
    model = build_model(settings).to(images.device)
    optimizer_g = torch.optim.Adam(model.generator.parameters(), lr=settings["lr"], betas=settings["betas"])
    optimizer_d = torch.optim.Adam(model.discriminator.parameters(), lr=settings["lr"],
                                   betas=settings["betas"])
    generator = torch.Generator().manual_seed(settings["seed"])
    steps = settings["steps"] if max_steps is None else min(max_steps, settings["steps"])
    history, started = {"d": [], "g": []}, time.perf_counter()
    model.train()
    for step in range(steps):
        real = images[torch.randint(len(images), (settings["batch_size"],), generator=generator)]
        noise = torch.randn(settings["batch_size"], settings["noise"], generator=generator)
        fake = model.generator(noise.to(images.device))
        d_loss = discriminator_loss("non-saturating", model.discriminator(real),
                                    model.discriminator(fake.detach()))
        optimizer_d.zero_grad(set_to_none=True)
        d_loss.backward()
        optimizer_d.step()
        g_loss = generator_loss("non-saturating", model.discriminator(fake))
        optimizer_g.zero_grad(set_to_none=True)
        g_loss.backward()
        optimizer_g.step()
        history["d"].append(d_loss.item())
        history["g"].append(g_loss.item())
        if progress and ((step + 1) % 200 == 0 or step + 1 == steps):
            recent = slice(-200, None)
            print(f"step {step + 1}/{steps}  D {sum(history['d'][recent]) / len(history['d'][recent]):.3f}  "
                  f"G {sum(history['g'][recent]) / len(history['g'][recent]):.3f}  "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    return model.eval(), history


def train(settings, max_steps=None, progress=True, data=None):
    """Train by the recipe; return ``(model, losses)``, the generator's loss of every step."""
    model, history = train_with_history(settings, max_steps=max_steps, progress=progress, data=data)
    return model, history["g"]


@torch.no_grad()
def generate(model, count, seed=EVAL["seed"]):
    """``count`` images [count, 1, 28, 28] in [0, 1], from noise fixed by ``seed``."""
    noise = torch.randn(count, model.noise, generator=torch.Generator().manual_seed(seed))
    device = next(model.parameters()).device
    return model.eval()(noise.to(device))


@torch.no_grad()
def evaluate(model, data=None):
    """The metric: Fréchet distance of ``EVAL["samples"]`` samples to as many test images (``ddpm``'s)."""
    from utils.models.store import load_book_model  # here: the store imports the recipes, this one too

    data = data if data is not None else load_fashion_mnist()
    model = model.to("cpu").eval()
    classifier = load_book_model("fashion_classifier", device="cpu")
    reference = image_features(classifier, ddpm.reference_images(data, EVAL["samples"], EVAL["seed"]))
    samples = image_features(classifier, generate(model, EVAL["samples"]))
    return {METRIC: frechet_distance(samples, reference)}
