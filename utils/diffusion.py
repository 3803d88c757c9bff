"""Diffusion models' arithmetic: noise schedules, noising in closed form, DDPM/DDIM sampling, guidance.

Conventions (Ho, Jain and Abbeel, 2020; Song, Meng and Ermon, 2021): time steps are
``t = 0 .. T-1``; step ``t`` multiplies the signal by ``sqrt(1 - beta_t)`` and adds noise of
variance ``beta_t``; ``alpha_bar[t]`` is the product of ``1 - beta_s`` for ``s <= t``, so

    x_t = sqrt(alpha_bar[t]) * x_0 + sqrt(1 - alpha_bar[t]) * noise.

Images live in [-1, 1]. The network ``model(x_t, t, labels)`` predicts the noise.
"""

import math

import torch


def linear_betas(steps=1000, start=1e-4, end=0.02):
    """DDPM's schedule: ``beta_t`` rising linearly from ``start`` to ``end`` (float64 [steps])."""
    return torch.linspace(start, end, steps, dtype=torch.float64)


def cosine_betas(steps=1000, offset=0.008, max_beta=0.999):
    """Nichol and Dhariwal's (2021) schedule: ``alpha_bar`` follows a squared cosine from 1 to 0.

    ``alpha_bar(t) = f(t) / f(0)`` with ``f(t) = cos((t / T + offset) / (1 + offset) * pi / 2) ** 2``,
    read at ``t = 1 .. T``; the betas are ``1 - alpha_bar[t] / alpha_bar[t - 1]``, capped at
    ``max_beta`` because the last one would otherwise be 1 (all signal destroyed in one step).
    """
    t = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((t + offset) / (1 + offset) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    return (1 - alpha_bar[1:] / alpha_bar[:-1]).clamp(max=max_beta)


def make_betas(name, steps=1000):
    """The schedule called ``name`` ("linear" or "cosine")."""
    schedules = {"linear": linear_betas, "cosine": cosine_betas}
    if name not in schedules:
        raise ValueError(f"unknown schedule {name!r}; choose from {sorted(schedules)}")
    return schedules[name](steps)


def alpha_bars(betas):
    """``alpha_bar[t] = prod_{s <= t} (1 - beta_s)``: the share of the signal's variance left at step t."""
    return torch.cumprod(1 - betas, dim=0)


def add_noise(x0, t, noise, alpha_bar):
    """Draw from q(x_t | x_0) in one go: ``sqrt(alpha_bar[t]) x0 + sqrt(1 - alpha_bar[t]) noise``.

    ``x0`` and ``noise`` are [N, ...]; ``t`` holds one step per image [N].
    """
    a = alpha_bar.to(x0.device)[t].to(x0.dtype).view(-1, *[1] * (x0.dim() - 1))
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def guided_noise(model, x, t, labels, guidance):
    """Classifier-free guidance (Ho and Salimans, 2022): ``(1 + w) eps(x, c) - w eps(x, no class)``.

    ``guidance`` (w) 0 is the plain conditional model; larger w pushes the samples further
    towards what distinguishes class ``c``. Both predictions come from one batched call.
    ``t`` is one int for the whole batch.
    """
    steps = torch.full((len(x),), t, device=x.device, dtype=torch.long)
    if guidance == 0:
        return model(x, steps, labels)
    no_class = torch.full_like(labels, model.num_classes)
    both = model(torch.cat([x, x]), torch.cat([steps, steps]), torch.cat([labels, no_class]))
    conditional, unconditional = both.chunk(2)
    return (1 + guidance) * conditional - guidance * unconditional


def sampling_steps(total, steps):
    """``steps`` time steps from ``total - 1`` down to 0, evenly spaced (all of them when equal)."""
    if not 1 <= steps <= total:
        raise ValueError(f"steps must be between 1 and {total}, not {steps}")
    return torch.linspace(total - 1, 0, steps, dtype=torch.float64).round().long().tolist()


@torch.no_grad()
def sample(model, labels, alpha_bar, steps, eta=0.0, guidance=0.0, generator=None, shape=(1, 28, 28),
           clip=True, frames=None):
    """Generate images [N, *shape] in [-1, 1] for the class ``labels`` [N] (``model.num_classes``: none).

    One update covers DDIM and DDPM (Song et al., 2021, eq. 12): from step ``t`` to the
    previous visited step ``s``, predict ``x_0`` from the noise estimate, then

        x_s = sqrt(alpha_bar[s]) x0_hat + sqrt(1 - alpha_bar[s] - sigma^2) eps_hat + sigma z,
        sigma = eta * sqrt((1 - alpha_bar[s]) / (1 - alpha_bar[t])) * sqrt(1 - alpha_bar[t] / alpha_bar[s]).

    ``eta=0`` is DDIM (deterministic given the starting noise); ``eta=1`` with all ``T`` steps
    is DDPM's ancestral sampler, whose sigma^2 is its posterior variance beta-tilde. ``clip``
    keeps ``x0_hat`` inside the data's range [-1, 1] (Ho et al.'s samplers do too) and
    recomputes ``eps_hat`` from it, so that both formulas stay the same update. Pass a list
    as ``frames`` to collect the image after every update (on the CPU): the reverse trajectory.
    """
    device = next(model.parameters()).device
    labels = labels.to(device)
    x = torch.randn(len(labels), *shape, generator=generator).to(device)
    visited = sampling_steps(len(alpha_bar), steps)
    alpha_bar = alpha_bar.to(torch.float64)
    for i, t in enumerate(visited):
        a_t = float(alpha_bar[t])
        a_s = float(alpha_bar[visited[i + 1]]) if i + 1 < len(visited) else 1.0
        eps = guided_noise(model, x, t, labels, guidance)
        x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
        if clip:
            x0 = x0.clamp(-1, 1)
            eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
        sigma = eta * math.sqrt((1 - a_s) / (1 - a_t) * (1 - a_t / a_s))
        x = math.sqrt(a_s) * x0 + math.sqrt(max(1 - a_s - sigma ** 2, 0.0)) * eps
        if sigma > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator).to(device)
        if frames is not None:
            frames.append(x.detach().cpu().clone())
    return x


def to_unit_range(x):
    """Images from the model's [-1, 1] to [0, 1], clamped."""
    return ((x + 1) / 2).clamp(0, 1)
