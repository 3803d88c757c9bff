"""GAN training playback: small GANs on a ring of 2-D Gaussians, recorded frame by frame.

A 2-D toy is where a GAN's failures can be watched: the real data are eight tight
Gaussians on a circle, so a glance shows which modes the generator covers. Python trains
the real thing (chapter 13 calls :func:`train_toy_gan` for each loss, several seeds at once,
and measures the modes covered); with ``frames`` it also records, every few steps, the first
seed's generator samples for one fixed batch of noise and its discriminator's output on a
grid of the plane. ``gan_playback.js`` plays those frames back, so the demo also works on the
static website.

    from utils.widgets.gan_playback import GanPlayback, train_toy_gan, gan_playback_data
    run = train_toy_gan("non-saturating", seeds=(0, 1, 2), frames=24)
    GanPlayback(gan_playback_data({"non-saturating": run}))

The losses (``LOSSES``), for discriminator logits ``l`` (real data should score high):

- ``"minimax"``: the original game. D minimises the binary cross-entropy; G minimises
  ``log(1 - sigmoid(l_fake))``, which *saturates*: its gradient vanishes when D wins.
- ``"non-saturating"``: G minimises ``-log sigmoid(l_fake)`` instead (same fixed point).
- ``"wgan-gp"``: a critic with unbounded scores; it minimises ``mean(l_fake) - mean(l_real)``
  plus ``GP_WEIGHT`` times the gradient penalty, G minimises ``-mean(l_fake)``.
- ``"spectral-norm"``: the non-saturating loss with spectral normalisation on D's layers.
"""

import math
import pathlib

import torch
import torch.nn.functional as F
from torch import nn

from .base import BookWidget

LOSSES = ("minimax", "non-saturating", "wgan-gp", "spectral-norm")
LABELS = {
    "minimax": "standard (minimax)",
    "non-saturating": "non-saturating",
    "wgan-gp": "WGAN-GP",
    "spectral-norm": "spectral norm",
}
MODES, RADIUS, MODE_STD = 8, 2.0, 0.05
NOISE_DIM, HIDDEN = 8, 32
GP_WEIGHT = 0.1  # the WGAN-GP paper's value for its 2-D toys (10 for images)
CRITIC_STEPS = 5  # the WGAN-GP paper trains its critic 5 steps per generator step
EXTENT = 3.0  # the plane drawn by the widget: [-EXTENT, EXTENT]^2
GRID = 20  # discriminator surface: GRID x GRID points


def ring_centres(modes=MODES, radius=RADIUS):
    """The ``modes`` centres [modes, 2], evenly spaced on a circle of ``radius``."""
    angles = torch.arange(modes, dtype=torch.float32) * (2 * math.pi / modes)
    return radius * torch.stack([angles.cos(), angles.sin()], dim=1)


def sample_ring(n, generator, modes=MODES, radius=RADIUS, std=MODE_STD):
    """``n`` real points [n, 2]: a uniformly chosen centre plus N(0, std^2) noise."""
    centres = ring_centres(modes, radius)
    which = torch.randint(0, modes, (n,), generator=generator)
    return centres[which] + std * torch.randn(n, 2, generator=generator)


def modes_covered(samples, centres=None, std=MODE_STD, min_share=0.25):
    """How a sample covers the ring: ``(covered, quality)``.

    A sample point belongs to a mode when it lies within 3 std of the centre. A mode is
    *covered* when it holds at least ``min_share`` of the points it would hold under the
    real distribution (``1 / modes`` of the sample), so a mode that gets a few stray points
    does not count. ``quality`` is the share of points that belong to any mode.
    """
    centres = ring_centres() if centres is None else torch.as_tensor(centres, dtype=torch.float32)
    samples = torch.as_tensor(samples, dtype=torch.float32)
    distances = torch.cdist(samples, centres)  # [n, modes]
    nearest, which = distances.min(dim=1)
    inside = nearest <= 3 * std
    counts = torch.bincount(which[inside], minlength=len(centres))
    expected = len(samples) / len(centres)
    return int((counts >= min_share * expected).sum()), float(inside.float().mean())


def _mlp(sizes):
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


def toy_models(seed=0):
    """A fresh generator (noise [n, NOISE_DIM] -> points [n, 2]) and discriminator (points -> logits).

    Plain layers for every loss: :func:`train_toy_gan` adds spectral normalisation where asked.
    """
    torch.manual_seed(seed)
    generator = _mlp([NOISE_DIM, HIDDEN, HIDDEN, 2])
    discriminator = _mlp([2, HIDDEN, HIDDEN, 1])
    return generator, discriminator


class StackedLinear(nn.Module):
    """Copies of a linear layer, one per seed, applied at once by a batched matrix product.

    A toy GAN's layers are so small that a step costs mostly Python and dispatch overhead, so
    training several seeds as one model costs little more than training one. ``weight``
    [copies, n_in, n_out] and ``bias`` [copies, 1, n_out] start from the given ``nn.Linear``
    layers; an input [copies, n, n_in] gives [copies, n, n_out], and copy i only ever sees its
    own slice, so the copies train independently. With ``spectral``, each copy's weight is
    divided by its largest singular value, estimated by one step of power iteration per call
    in training mode, as ``torch.nn.utils.parametrizations.spectral_norm`` does for one layer.
    """

    def __init__(self, linears, spectral=False):
        super().__init__()
        self.weight = nn.Parameter(torch.stack([layer.weight.detach().T for layer in linears]))
        self.bias = nn.Parameter(torch.stack([layer.bias.detach() for layer in linears]).unsqueeze(1))
        self.spectral = spectral
        if spectral:
            copies, n_in, n_out = self.weight.shape
            self.register_buffer("u", F.normalize(torch.randn(copies, n_out), dim=1))
            self.register_buffer("v", torch.zeros(copies, n_in))
            for _ in range(15):  # start from a converged estimate, as torch does
                self._power_step()

    @torch.no_grad()
    def _power_step(self):
        """Singular vectors v [copies, n_in], u [copies, n_out] of each copy's weight, one step closer."""
        self.v = F.normalize((self.weight @ self.u.unsqueeze(2)).squeeze(2), dim=1)
        self.u = F.normalize((self.v.unsqueeze(1) @ self.weight).squeeze(1), dim=1)

    def forward(self, x):
        weight = self.weight
        if self.spectral:
            if self.training:
                self._power_step()
            sigma = self.v.unsqueeze(1) @ weight @ self.u.unsqueeze(2)  # [copies, 1, 1]; grad flows
            weight = weight / sigma
        return torch.baddbmm(self.bias, x, weight)


def stack_mlps(mlps, spectral=False):
    """One network that runs the ``mlps`` (same shape, e.g. one per seed) side by side:
    input [len(mlps), n, n_in] -> output [len(mlps), n, n_out]."""
    return nn.Sequential(
        *[
            StackedLinear(layers, spectral) if isinstance(layers[0], nn.Linear) else layers[0]
            for layers in zip(*mlps)
        ]
    )


def gradient_penalty(critic, real, fake):
    """``mean((|grad_x critic(x_hat)| - 1)^2)`` at random points x_hat between real and fake (WGAN-GP)."""
    alpha = torch.rand(len(real), *[1] * (real.dim() - 1))
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(
        critic(mixed).sum(), mixed, create_graph=True
    )  # keep the graph: D learns from it
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


def discriminator_loss(loss, d_real, d_fake):
    """D's loss from its logits on a real and a fake batch (the penalty of WGAN-GP is added apart)."""
    if loss == "wgan-gp":
        return d_fake.mean() - d_real.mean()
    return F.binary_cross_entropy_with_logits(
        d_real, torch.ones_like(d_real)
    ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))


def generator_loss(loss, d_fake):
    """G's loss from D's logits on the fakes."""
    if loss == "minimax":
        return -F.softplus(d_fake).mean()  # = mean(log(1 - sigmoid(l))): minimised, it saturates
    if loss == "wgan-gp":
        return -d_fake.mean()
    return F.softplus(-d_fake).mean()  # = mean(-log sigmoid(l)): the non-saturating loss


def surface_grid(n=GRID, extent=EXTENT):
    """The grid points [n*n, 2] the discriminator surface is measured on, row by row from the top."""
    ticks = torch.linspace(-extent, extent, n)
    y, x = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], dim=1)


def train_toy_gan(
    loss,
    steps=1000,
    batch=256,
    lr=1e-2,
    seeds=(0,),
    frames=0,
    frame_points=150,
    gp_weight=GP_WEIGHT,
    critic_steps=None,
):
    """Train a toy GAN with ``loss`` (one of ``LOSSES``) once per seed in ``seeds``; returns a dict.

    The seeds train side by side as one stacked model (:func:`stack_mlps`), each from the
    weights :func:`toy_models` gives for its seed and on its own batches; the batches come from
    one random stream, so a seed's run also depends on the seeds trained beside it. Both players use
    Adam (betas 0.5, 0.9) with a learning rate that decays linearly from ``lr`` to 0, so the
    samples can settle on the modes at the end; per iteration the discriminator takes
    ``critic_steps`` steps (default: ``CRITIC_STEPS`` for WGAN-GP, else 1), the generator one.
    The result holds ``generators``: the trained generator of each seed (plain MLPs, as
    :func:`toy_models` builds them), and, when ``frames`` > 0, ``frames`` snapshots of the
    first seed (step, generator points for a fixed noise batch, D's output on
    :func:`surface_grid`).
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose from {LOSSES}")
    if critic_steps is None:
        critic_steps = CRITIC_STEPS if loss == "wgan-gp" else 1
    pairs = [toy_models(seed) for seed in seeds]
    generator = stack_mlps([g for g, _ in pairs])
    discriminator = stack_mlps([d for _, d in pairs], spectral=(loss == "spectral-norm"))
    copies = len(seeds)

    def critic(points):  # D on points [copies * n, 2], as gradient_penalty calls it
        return discriminator(points.unflatten(0, (copies, -1))).flatten(0, 1)

    rng = torch.Generator().manual_seed(seeds[0] + 1)
    fixed_noise = torch.randn(frame_points, NOISE_DIM, generator=rng)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.9))
    decays = [torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1 - i / steps) for opt in (opt_g, opt_d)]
    record_at = {round(i * steps / max(1, frames - 1)) for i in range(frames)}  # empty when frames is 0
    snapshots = []
    for step in range(steps + 1):
        if step in record_at:
            snapshots.append(_snapshot(step, generator, discriminator, fixed_noise))
        if step == steps:
            break
        # The losses average over all copies' samples; times ``copies``, each copy gets exactly
        # the gradient it would get if it trained alone.
        for _ in range(critic_steps):
            real = sample_ring(copies * batch, rng).unflatten(0, (copies, batch))
            fake = generator(torch.randn(copies, batch, NOISE_DIM, generator=rng))
            # discriminator step: the fakes are detached, so this step cannot change G
            d_loss = discriminator_loss(loss, discriminator(real), discriminator(fake.detach()))
            if loss == "wgan-gp":
                d_loss = d_loss + gp_weight * gradient_penalty(
                    critic, real.flatten(0, 1), fake.detach().flatten(0, 1)
                )
            opt_d.zero_grad()
            (copies * d_loss).backward()
            opt_d.step()
        # generator step: its gradient flows back through the (just updated) discriminator
        g_loss = generator_loss(loss, discriminator(fake))
        opt_g.zero_grad()
        (copies * g_loss).backward()
        opt_g.step()
        for decay in decays:
            decay.step()
    generators = [g for g, _ in pairs]
    with torch.no_grad():  # copy each seed's trained weights back into its plain generator
        for i, g in enumerate(generators):
            for layer, stacked in zip(g, generator):
                if isinstance(layer, nn.Linear):
                    layer.weight.copy_(stacked.weight[i].T)
                    layer.bias.copy_(stacked.bias[i, 0])
    return {
        "loss": loss,
        "seeds": tuple(seeds),
        "generators": [g.eval() for g in generators],
        "frames": snapshots,
        "steps": steps,
    }


@torch.no_grad()
def _snapshot(step, generator, discriminator, noise):
    """The first copy's samples for ``noise`` and its D's scores on the grid."""
    copies = generator[0].weight.shape[0]
    points = generator(noise.expand(copies, -1, -1))[0]
    scores = discriminator(surface_grid().expand(copies, -1, -1))[0].squeeze(1)
    return {"step": step, "points": points, "scores": scores, "covered": modes_covered(points)[0]}


@torch.no_grad()
def sample_toy(generator, n, seed=0):
    """``n`` generator samples [n, 2] from seeded noise."""
    return generator(torch.randn(n, NOISE_DIM, generator=torch.Generator().manual_seed(seed)))


def _surface_levels(scores, loss):
    """D's outputs as a string of two-digit levels 00..99: sigmoid probabilities in %, or a critic's
    scores min-max scaled (a string keeps the payload small)."""
    values = scores if loss == "wgan-gp" else torch.sigmoid(scores)
    if loss == "wgan-gp":
        low, high = values.min(), values.max()
        values = (values - low) / (high - low).clamp(min=1e-12)
    return "".join(f"{int(v):02d}" for v in (values * 99).round().clamp(0, 99))


def _hundredths(points):
    """Points [n, 2] as one flat list of integers, x1, y1, x2, y2, ... in hundredths."""
    return [int(v) for v in (torch.as_tensor(points) * 100).round().flatten()]


def gan_playback_data(runs, real_points=200, seed=0):
    """The JSON payload of :class:`GanPlayback` from runs of :func:`train_toy_gan` with frames.

    ``runs`` maps a loss name to its run; frames store points as integers in hundredths
    (a flat list x1, y1, x2, ...) and the surface as a string of two-digit levels 00..99 per
    grid point (probability of "real" in %, or the critic's scaled score).
    """
    variants = []
    for name, run in runs.items():
        if not run["frames"]:
            raise ValueError(f"the run {name!r} recorded no frames: train it with frames > 0")
        variants.append(
            {
                "name": name,
                "label": LABELS.get(name, name),
                "frames": [
                    {
                        "step": f["step"],
                        "covered": f["covered"],
                        "points": _hundredths(f["points"]),
                        "surface": _surface_levels(f["scores"], run["loss"]),
                    }
                    for f in run["frames"]
                ],
            }
        )
    real = sample_ring(real_points, torch.Generator().manual_seed(seed))
    return {
        "variants": variants,
        "real": _hundredths(real),
        "centres": ring_centres().tolist(),
        "grid": GRID,
        "extent": EXTENT,
        "modes": MODES,
        "steps": max(run["steps"] for run in runs.values()),
    }


class GanPlayback(BookWidget):
    """Frames of toy GAN training: generator samples over the discriminator's surface, per loss;
    ``data`` comes from :func:`gan_playback_data`."""

    _esm = pathlib.Path(__file__).with_name("gan_playback.js")

    def __init__(self, data, **kwargs):
        missing = {"variants", "real", "centres", "grid", "extent"} - set(data)
        if missing:
            raise ValueError(f"not a gan_playback_data payload: missing {sorted(missing)}")
        super().__init__(data, **kwargs)
