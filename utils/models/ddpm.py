"""The chapter 14 diffusion model: a class-conditional DDPM on Fashion-MNIST, with guidance.

A small U-Net (``utils.unet``) learns to predict the noise that was added to an image at a
random step ``t`` of the noise schedule (``utils.diffusion``), the objective of Ho, Jain and
Abbeel (2020). It is told the image's class, except for a random ``label_dropout`` share of
the images, which it sees as "no class": one network then gives both the conditional and
the unconditional prediction that classifier-free guidance combines (Ho and Salimans, 2022).

Its metric is a Fréchet distance on the features of the book's Fashion-MNIST classifier
(itself a book model): ``EVAL["samples"]`` generated images, the classes in turn, drawn with
DDIM in ``EVAL["steps"]`` steps and no guidance, against as many test images; lower is better,
and two real samples of that size are themselves some distance apart (``extra_measurements``
records that floor). Retraining the classifier moves this metric, so retrain both together.
"""

import time

import torch
import torch.nn.functional as F

from utils.data import load_fashion_mnist
from utils.diffusion import add_noise, alpha_bars, make_betas, sample, to_unit_range
from utils.env import seed_everything
from utils.frechet import frechet_distance
from utils.models.fashion_classifier import image_features
from utils.unet import UNet

NUM_CLASSES = 10

BOOK = {
    "seed": 0,
    "widths": [16, 32, 64],  # channels at 28, 14 and 7 pixels
    "cond_dim": 128,
    "schedule": "cosine",
    "timesteps": 1000,
    "label_dropout": 0.1,
    "steps": 1500,
    "batch_size": 128,
    "max_lr": 2e-3,
    "weight_decay": 0.0,
}
LIVE = {**BOOK, "widths": [8, 16, 32], "cond_dim": 64, "steps": 300, "batch_size": 64}

EVAL = {"samples": 256, "steps": 25, "guidance": 0.0, "seed": 1234}
STEP_SWEEP = (10, 25, 50, 100, 250)  # DDIM steps in the extra measurements
# DDPM's ancestral sampler (eta = 1): on every 10th step, to compare with DDIM at equal cost, and on
# all 1,000 steps as trained (about 15 minutes of one CPU thread for the 256 samples)
ANCESTRAL_SWEEP = (100, 1000)
GUIDANCE_SWEEP = (0.0, 1.0, 2.0, 4.0, 8.0)
FLOOR_DRAWS = 8

METRIC = "frechet_256_ddim25"
TOLERANCE = 0.5  # samples are fixed by seeds; float rounding on another CPU moves it a little


def build_model(settings):
    """A freshly initialised U-Net of the size ``settings`` asks for."""
    return UNet(1, settings["widths"], settings["cond_dim"], num_classes=NUM_CLASSES)


def schedule(settings):
    """``alpha_bar`` [T] (float64) of the recipe's noise schedule."""
    return alpha_bars(make_betas(settings["schedule"], settings["timesteps"]))


def diffusion_loss(model, x0, labels, alpha_bar, label_dropout, generator):
    """The noise-prediction loss on images ``x0`` in [-1, 1]: mean squared error of the predicted noise.

    Each image gets its own random step ``t`` and noise; a ``label_dropout`` share of the
    labels is replaced by the "no class" index.
    """
    n = len(x0)
    t = torch.randint(len(alpha_bar), (n,), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    dropped = torch.rand(n, generator=generator) < label_dropout
    labels = torch.where(dropped, torch.full_like(labels, NUM_CLASSES), labels)
    x_t = add_noise(x0, t, noise, alpha_bar)
    return F.mse_loss(model(x_t, t, labels), noise)


def train(settings, max_steps=None, progress=True, data=None):
    """Train by the recipe; return ``(model, losses)``, the loss of every optimizer step.

    AdamW with a one-cycle learning rate; batches drawn at random from the training images
    scaled to [-1, 1]; ``max_steps`` stops early (the tests run a few steps).
    """
    seed_everything(settings["seed"])
    data = data if data is not None else load_fashion_mnist()
    images, labels = data.train_x * 2 - 1, data.train_y
    model = build_model(settings)
    alpha_bar = schedule(settings)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings["max_lr"],
                                  weight_decay=settings["weight_decay"])
    lr_schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings["max_lr"],
                                                      total_steps=settings["steps"])
    generator = torch.Generator().manual_seed(settings["seed"])
    steps = settings["steps"] if max_steps is None else min(max_steps, settings["steps"])
    losses, started = [], time.perf_counter()
    model.train()
    for step in range(steps):
        batch = torch.randint(len(images), (settings["batch_size"],), generator=generator)
        loss = diffusion_loss(model, images[batch], labels[batch], alpha_bar, settings["label_dropout"],
                              generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        lr_schedule.step()
        losses.append(loss.item())
        if progress and ((step + 1) % 100 == 0 or step + 1 == steps):
            recent = sum(losses[-100:]) / len(losses[-100:])
            print(f"step {step + 1}/{steps}  loss {recent:.4f}  {time.perf_counter() - started:.0f} s",
                  flush=True)
    return model.eval(), losses


def generate(model, labels, steps, guidance=0.0, eta=0.0, seed=0, alpha_bar=None, batch_size=256):
    """Images [N, 1, 28, 28] in [0, 1] of the classes ``labels`` [N], sampled with ``steps`` steps.

    ``eta=0`` is DDIM, ``eta=1`` with 1000 steps is DDPM; the seed fixes the starting noise.
    """
    alpha_bar = alpha_bar if alpha_bar is not None else schedule(BOOK)
    generator = torch.Generator().manual_seed(seed)
    chunks = [sample(model, chunk, alpha_bar, steps, eta=eta, guidance=guidance, generator=generator)
              for chunk in labels.split(batch_size)]
    return to_unit_range(torch.cat(chunks).cpu())


def balanced_labels(count):
    """``count`` class labels, the ten classes in turn."""
    return torch.arange(count) % NUM_CLASSES


def reference_images(data, count, seed):
    """``count`` test images drawn at random (fixed by ``seed``): what samples are compared with."""
    order = torch.randperm(len(data.test_x), generator=torch.Generator().manual_seed(seed))
    return data.test_x[order[:count]]


def sample_quality(model, classifier, reference_features, steps, guidance=0.0, eta=0.0,
                   count=EVAL["samples"], seed=EVAL["seed"]):
    """Fréchet distance, class accuracy and CPU seconds per sample of ``count`` generated images.

    Class accuracy is the share of samples the classifier assigns the class they were asked for.
    """
    labels = balanced_labels(count)
    started = time.process_time()  # CPU time: on a shared machine the wall clock measures the neighbours
    images = generate(model, labels, steps, guidance=guidance, eta=eta, seed=seed)
    seconds = (time.process_time() - started) / count
    features = image_features(classifier, images)
    with torch.no_grad():
        predicted = classifier.head(features).argmax(1)
    return {"frechet": frechet_distance(features, reference_features),
            "class_accuracy": float((predicted == labels).float().mean()),
            "predicted_class_counts": torch.bincount(predicted, minlength=NUM_CLASSES).tolist(),
            "seconds_per_sample": seconds}


def _classifier_and_reference(data):
    """The shipped classifier, and its features of the reference test images."""
    from utils.models.store import load_book_model  # here: the store imports the recipes, this one too

    classifier = load_book_model("fashion_classifier", device="cpu")
    reference = image_features(classifier, reference_images(data, EVAL["samples"], EVAL["seed"]))
    return classifier, reference


@torch.no_grad()
def evaluate(model, data=None):
    """The metric: Fréchet distance of DDIM samples (``EVAL``) to test images, and their class accuracy."""
    data = data if data is not None else load_fashion_mnist()
    model = model.to("cpu").eval()
    classifier, reference = _classifier_and_reference(data)
    quality = sample_quality(model, classifier, reference, EVAL["steps"], EVAL["guidance"])
    return {METRIC: quality["frechet"], "class_accuracy_256_ddim25": quality["class_accuracy"]}


@torch.no_grad()
def extra_measurements(model, data=None):
    """For the chapter's tables: the floor, Fréchet vs sampling steps, and vs guidance scale.

    All at ``EVAL["samples"]`` samples against the same test images as the metric. The floor
    is that distance for disjoint draws of as many *training* images. Seconds per sample are
    CPU time of the training machine's one thread.
    """
    data = data if data is not None else load_fashion_mnist()
    model = model.to("cpu").eval()
    classifier, reference = _classifier_and_reference(data)
    count = EVAL["samples"]
    order = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(EVAL["seed"]))
    floor = [frechet_distance(image_features(classifier, data.train_x[order[i * count:(i + 1) * count]]),
                              reference) for i in range(FLOOR_DRAWS)]
    floor_mean = sum(floor) / len(floor)
    floor_std = (sum((d - floor_mean) ** 2 for d in floor) / (len(floor) - 1)) ** 0.5
    by_steps = {f"ddim_{steps}": sample_quality(model, classifier, reference, steps) for steps in STEP_SWEEP}
    for steps in ANCESTRAL_SWEEP:
        by_steps[f"ddpm_{steps}"] = sample_quality(model, classifier, reference, steps, eta=1.0)
    by_guidance = {str(w): by_steps[f"ddim_{EVAL['steps']}"] if w == 0 else  # that one is measured
                   sample_quality(model, classifier, reference, EVAL["steps"], guidance=w)
                   for w in GUIDANCE_SWEEP}
    return {"sample_quality": {
        "samples": count,
        "reference": f"{count} random test images (seed {EVAL['seed']}), fashion_classifier features",
        "floor": {"mean": floor_mean, "std": floor_std, "draws": FLOOR_DRAWS,
                  "between": f"disjoint draws of {count} training images vs the same test images"},
        "by_steps": by_steps,
        "by_guidance": {"steps": EVAL["steps"], "sampler": "ddim", **by_guidance},
    }}
