"""The chapter 13 variational autoencoder on Fashion-MNIST: book models with a 2-D and a 16-D latent.

Encoder and decoder are small MLPs. The encoder maps an image to the mean ``mu`` and the
log-variance of a Gaussian over the latent ``z``; a sample ``z = mu + sigma * eps`` with
``eps ~ N(0, I)`` (the reparameterisation trick) goes through the decoder, which gives one
logit per pixel. The loss is the negative ELBO in nats per image: the Bernoulli
reconstruction cross-entropy summed over the 784 grey levels, plus the KL divergence of the
encoder's Gaussian from the prior N(0, I). A 2-D latent can be drawn as a map of the
dataset; 16 dimensions reconstruct and sample much better.
"""

import torch
import torch.nn.functional as F
from torch import nn

from utils.data import TensorBatches, load_fashion_mnist
from utils.env import seed_everything
from utils.models.short_runs import FirstBatches
from utils.train import Trainer

BOOK_2D = {
    "seed": 0,
    "latent": 2,
    "hidden": [512, 256],
    "epochs": 20,
    "batch_size": 128,
    "max_lr": 2e-3,
}
BOOK_16D = {**BOOK_2D, "latent": 16}
LIVE = {**BOOK_2D, "epochs": 3}

METRIC = "test_negative_elbo"  # nats per image, lower is better
TOLERANCE = 0.5  # nats; evaluation draws its noise from a fixed seed, so only rounding moves it
EVAL_SEED = 0


class VAE(nn.Module):
    """``forward(x)`` -> ``(logits, mu, log_var)`` for images x [N, 1, 28, 28] in [0, 1]."""

    def __init__(self, latent=2, hidden=(512, 256)):
        super().__init__()
        self.latent = latent
        sizes = [28 * 28, *hidden]
        self.encoder = nn.Sequential(nn.Flatten(), *_mlp(sizes))
        self.to_mu_and_log_var = nn.Linear(sizes[-1], 2 * latent)
        self.decoder = nn.Sequential(*_mlp([latent, *reversed(sizes[1:])]), nn.Linear(sizes[1], 28 * 28),
                                     nn.Unflatten(1, (1, 28, 28)))

    def encode(self, x):
        """The mean and log-variance [N, latent] of the latent Gaussian of each image."""
        return self.to_mu_and_log_var(self.encoder(x)).chunk(2, dim=1)

    def decode(self, z):
        """Pixel logits [N, 1, 28, 28] for latents z [N, latent]; ``sigmoid`` gives the image."""
        return self.decoder(z)

    def forward(self, x):
        mu, log_var = self.encode(x)
        z = mu + torch.exp(0.5 * log_var) * torch.randn_like(mu)  # differentiable in mu and log_var
        return self.decode(z), mu, log_var


def _mlp(sizes):
    layers = []
    for inputs, outputs in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(inputs, outputs), nn.ReLU()]
    return layers


def negative_elbo(outputs, x):
    """The loss: mean over the batch of reconstruction cross-entropy + KL, in nats per image."""
    logits, mu, log_var = outputs
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = 0.5 * (mu.square() + log_var.exp() - 1 - log_var).sum()
    return (reconstruction + kl) / len(x)


def build_model(settings):
    """A freshly initialised VAE of the size ``settings`` asks for."""
    return VAE(settings["latent"], settings["hidden"])


def train(settings, max_steps=None, progress=True, data=None):
    """Train a VAE by the recipe; return ``(model, losses)``, the loss of every step."""
    seed_everything(settings["seed"])
    data = data if data is not None else load_fashion_mnist()
    model = build_model(settings)
    batches = TensorBatches(data.train_x, data.train_x, settings["batch_size"], seed=settings["seed"])
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["max_lr"], weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings["max_lr"],
                                                   total_steps=settings["epochs"] * len(batches))
    losses = []

    def loss_fn(outputs, x):
        loss = negative_elbo(outputs, x)
        if model.training:
            losses.append(loss.item())
        return loss

    trainer = Trainer(model, optimizer, loss_fn, device="cpu", scheduler=schedule, progress=progress)
    if max_steps is None:
        trainer.fit(batches, epochs=settings["epochs"])
    else:
        trainer.fit(FirstBatches(batches, max_steps), epochs=1)
    return model.eval(), losses


@torch.no_grad()
def evaluate(model, data=None):
    """The negative ELBO on the test split, with the sampling noise drawn from ``EVAL_SEED``."""
    data = data if data is not None else load_fashion_mnist()
    model.eval()
    device = next(model.parameters()).device
    total = 0.0
    with torch.random.fork_rng(devices=[]):  # fixed noise, and the caller's RNG left untouched
        torch.manual_seed(EVAL_SEED)
        for batch in data.test_x.split(1000):
            x = batch.to(device)
            total += negative_elbo(model(x), x).item() * len(x)
    return {"test_negative_elbo": total / len(data.test_x)}
