"""Noising and denoising explorer: what a diffusion model sees at every step, and what it makes.

Three views of a trained class-conditional diffusion model (chapter 14), all precomputed in
Python, drawn and switched in ``diffusion_explorer.js`` so the demo works on the static site:

- **Noising.** A slider over ``t`` shows ``x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) noise``
  for a few test images under the linear and the cosine schedule. The JavaScript computes
  ``x_t`` itself for every ``t`` from the image and its noise (it rebuilds both schedules
  from their formulas), and shows beside it the model's estimate of ``x_0`` from that noisy
  image, precomputed at a grid of steps (the nearest one is shown).
- **Denoising.** The images along a DDPM and a DDIM reverse trajectory from the same noise.
- **Guidance.** Samples of every class at each guidance scale (from the same noise), with
  the measured Fréchet distance and class accuracy of each scale when given.

Images travel as base64 strings of uint8 grey levels (28 x 28 = 784 bytes each).
"""

import base64
import math
import pathlib

import torch

from utils import diffusion

from .base import BookWidget

NOISE_RANGE = 4.0  # noise values are stored clamped to [-4, 4]
PREDICTION_STEPS = (0, 50, 150, 300, 450, 600, 750, 900, 999)


def encode_images(images, low=-1.0, high=1.0):
    """Images [N, 1, H, W] (or [N, H, W]) -> one base64 string each of uint8 levels over [low, high]."""
    images = torch.as_tensor(images).detach().float().cpu().reshape(len(images), -1)
    levels = ((images - low) / (high - low) * 255).round().clamp(0, 255).to(torch.uint8)
    return [base64.b64encode(row.numpy().tobytes()).decode("ascii") for row in levels]


def decode_images(strings, low=-1.0, high=1.0, side=28):
    """The inverse of :func:`encode_images`: float images [N, 1, side, side]."""
    rows = [torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8) for s in strings]
    return (torch.stack(rows).float() / 255 * (high - low) + low).reshape(len(rows), 1, side, side)


def noisy_image(x0, noise, alpha_bar_t):
    """``x_t`` as the widget's JavaScript computes it, from the stored (quantised) image and noise."""
    return math.sqrt(alpha_bar_t) * x0 + math.sqrt(1 - alpha_bar_t) * noise


@torch.no_grad()
def predicted_x0(model, x_t, alpha_bar_t, model_alpha_bar, labels):
    """The model's estimate of ``x_0`` from ``x_t`` whose signal share is ``alpha_bar_t``.

    The network was trained with one schedule (``model_alpha_bar``); it is asked at the step
    of that schedule with the nearest ``alpha_bar``, since only the noise level matters to it.
    """
    step = int((model_alpha_bar - alpha_bar_t).abs().argmin())
    eps = model(x_t, torch.full((len(x_t),), step), labels)
    return ((x_t - math.sqrt(1 - alpha_bar_t) * eps) / math.sqrt(alpha_bar_t)).clamp(-1, 1)


def _rounded(values, digits=4):
    return [None if v is None or not math.isfinite(v) else round(float(v), digits) for v in values]


@torch.no_grad()
def diffusion_explorer_data(
    model,
    images,
    labels,
    alpha_bars,
    class_names,
    *,
    model_schedule="cosine",
    trajectory_labels=(7, 0),
    trajectory_steps=50,
    frame_count=10,
    guided=None,
    guidance_quality=None,
    seed=0,
):
    """The payload of :class:`DiffusionExplorer`.

    ``model``: a noise predictor ``model(x_t, t, labels)`` with ``num_classes`` (a book DDPM);
    ``images`` [K, 1, 28, 28] in [-1, 1] and their ``labels`` [K]: the test images to noise;
    ``alpha_bars``: ``{"linear": alpha_bar, "cosine": alpha_bar}`` for T steps (the widget
    rebuilds these two schedules in JavaScript, so only these names are allowed);
    ``trajectory_labels``: the classes of the DDPM/DDIM trajectories, ``trajectory_steps``
    steps each, ``frame_count`` frames kept; ``guided``: ``{w: images [10, 1, 28, 28]}``,
    samples of each class at guidance scale w, with ``guidance_quality`` ``{w: {"frechet",
    "class_accuracy"}}`` (measured elsewhere) when there is one.
    """
    if set(alpha_bars) != {"linear", "cosine"}:
        raise ValueError(
            f"alpha_bars must hold the 'linear' and 'cosine' schedules, got {sorted(alpha_bars)}"
        )
    total = len(alpha_bars[model_schedule])
    if any(len(ab) != total for ab in alpha_bars.values()):
        raise ValueError("both schedules must have the same number of steps")
    model.eval()
    images = torch.as_tensor(images).float()
    labels = torch.as_tensor(labels).long()
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(images.shape, generator=generator)
    # What the page will hold, so the predictions are made from exactly the images it shows.
    stored_x0 = decode_images(encode_images(images))
    stored_noise = decode_images(encode_images(noise, -NOISE_RANGE, NOISE_RANGE), -NOISE_RANGE, NOISE_RANGE)
    steps = [t for t in PREDICTION_STEPS if t < total]
    predictions = {}
    for name, schedule in alpha_bars.items():
        ab = schedule.double()
        per_step = [
            encode_images(
                predicted_x0(
                    model,
                    noisy_image(stored_x0, stored_noise, float(ab[t])),
                    float(ab[t]),
                    alpha_bars[model_schedule].double(),
                    labels,
                )
            )
            for t in steps
        ]
        predictions[name] = [[per_step[j][i] for j in range(len(steps))] for i in range(len(images))]

    trajectory_labels = torch.tensor(trajectory_labels)
    samplers = {}
    for name, eta in (("ddpm", 1.0), ("ddim", 0.0)):
        frames = []
        diffusion.sample(
            model,
            trajectory_labels,
            alpha_bars[model_schedule],
            trajectory_steps,
            eta=eta,
            generator=torch.Generator().manual_seed(seed + 1),
            frames=frames,
        )
        keep = sorted({round(i * (len(frames) - 1) / (frame_count - 1)) for i in range(frame_count)})
        samplers[name] = [
            [encode_images(frames[k][i : i + 1])[0] for k in keep] for i in range(len(trajectory_labels))
        ]
    visited = diffusion.sampling_steps(total, trajectory_steps)
    after = [visited[k + 1] if k + 1 < len(visited) else -1 for k in keep]  # the step each frame is at

    payload = {
        "T": total,
        "side": int(images.shape[-1]),
        "noise_range": NOISE_RANGE,
        "model_schedule": model_schedule,
        "examples": [
            {"label": class_names[int(y)], "x0": x, "noise": n}
            for y, x, n in zip(labels, encode_images(images), encode_images(noise, -NOISE_RANGE, NOISE_RANGE))
        ],
        "prediction_steps": steps,
        "predictions": predictions,
        "trajectory": {
            "labels": [class_names[int(y)] for y in trajectory_labels],
            "steps": trajectory_steps,
            "frame_steps": after,
            **samplers,
        },
    }
    if guided:
        scales = sorted(guided)
        payload["guidance"] = {
            "scales": [float(w) for w in scales],
            "classes": list(class_names),
            "samples": [encode_images(guided[w]) for w in scales],
            "frechet": _rounded([guidance_quality[w]["frechet"] for w in scales])
            if guidance_quality
            else None,
            "accuracy": _rounded([guidance_quality[w]["class_accuracy"] for w in scales])
            if guidance_quality
            else None,
        }
    return payload


class DiffusionExplorer(BookWidget):
    """Noising under two schedules with the model's x_0 estimate, DDPM vs DDIM frames, and guidance."""

    _esm = pathlib.Path(__file__).with_name("diffusion_explorer.js")

    def __init__(self, data, **kwargs):
        missing = {"T", "side", "examples", "prediction_steps", "predictions", "trajectory"} - set(data)
        if missing:
            raise ValueError(f"not a diffusion_explorer_data payload: missing {sorted(missing)}")
        super().__init__(data, **kwargs)
