"""Visible tests for chapter 14's exercises (exercises/14_diffusion.ipynb).

Expected values come from the formulas in the prompts, computed here in float64. The Fréchet
distance must be written by hand, so SciPy's matrix square root and the book's own
``utils.frechet`` are switched off while it is checked.
"""

import math

import numpy as np
import torch

from utils.grading.expect import as_dict, as_float, as_list, as_tensor, expect_close, expect_raises, fail
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

write_it_yourself("frechet_by_hand", "scipy.linalg.sqrtm", "utils.frechet.frechet_distance")


def _alpha_bar(betas):
    return torch.cumprod(1 - betas.double(), dim=0)


@visible_test(
    "noisy_sample", hint="x_t = sqrt(a) * x0 + sqrt(1 - a) * noise, with a reshaped to [N, 1, 1, ...]."
)
def two_images_two_noise_levels(student):
    """two 2x2 images, alpha_bar 1 (no noise) and 0.25"""
    x0 = torch.tensor([[[1.0, -1.0], [0.5, 0.0]], [[1.0, 1.0], [1.0, 1.0]]], dtype=torch.float64)
    noise = torch.full_like(x0, 2.0)
    a = torch.tensor([1.0, 0.25], dtype=torch.float64)
    got = as_tensor(student.noisy_sample(x0, a, noise), "noisy_sample(...)", shape=(2, 2, 2))
    want = torch.stack([x0[0], 0.5 * x0[1] + math.sqrt(0.75) * noise[1]])
    expect_close(got, want, "noisy_sample(x0, alpha_bar_t, noise)")
    got = as_tensor(student.noisy_sample(x0.float(), a, noise.float()), "noisy_sample(...)", shape=(2, 2, 2))
    if got.dtype != torch.float32:
        fail(f"float32 images with a float64 alpha_bar_t should give float32, not {got.dtype}")


@visible_test("alpha_bar_from_betas", hint="alpha_bar[t] is the product of (1 - beta) up to and including t.")
def three_betas(student):
    """betas 0.1, 0.2, 0.5"""
    betas = torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64)
    got = as_tensor(student.alpha_bar_from_betas(betas), "alpha_bar_from_betas(betas)", shape=(3,))
    expect_close(got, [0.9, 0.72, 0.36], "alpha_bar_from_betas([0.1, 0.2, 0.5])")
    got = as_tensor(student.alpha_bar_from_betas(betas.float()), "alpha_bar_from_betas(betas)", shape=(3,))
    if got.dtype != torch.float32:
        fail(f"float32 betas should give a float32 alpha_bar, not {got.dtype}")
    expect_raises(
        lambda: student.alpha_bar_from_betas(torch.tensor([0.1, 1.0])), "ValueError", "a beta equal to 1"
    )


@visible_test(
    "ddpm_step",
    hint="mean = (x_t - beta_t / sqrt(1 - abar_t) * eps) / sqrt(1 - beta_t); "
    "variance (1 - abar_{t-1}) / (1 - abar_t) * beta_t, and none at t = 0.",
)
def a_step_in_the_middle_and_the_last_one(student):
    """t = 1 and t = 0 of a 3-step schedule"""
    betas = torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64)
    x_t = torch.tensor([[1.0, -0.5]], dtype=torch.float64)
    eps = torch.tensor([[0.3, 0.1]], dtype=torch.float64)
    noise = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    ab = _alpha_bar(betas)
    for t in (1, 0):
        a_prev = ab[t - 1] if t > 0 else 1.0
        mean = (x_t - betas[t] / (1 - ab[t]).sqrt() * eps) / (1 - betas[t]).sqrt()
        std = math.sqrt((1 - a_prev) / (1 - ab[t]) * betas[t])
        got = as_tensor(student.ddpm_step(x_t, eps, t, betas, noise), f"ddpm_step at t = {t}", shape=(1, 2))
        expect_close(got, mean + std * noise, f"ddpm_step(x_t, eps, {t}, betas, noise)")


@visible_test(
    "ddim_step",
    hint="x0_hat = (x_t - sqrt(1 - a_t) eps) / sqrt(a_t); "
    "x_prev = sqrt(a_prev) x0_hat + sqrt(1 - a_prev) eps.",
)
def one_step_from_a_quarter_to_nine_tenths(student):
    """alpha_bar 0.25 -> 0.9"""
    x_t = torch.tensor([1.0, 0.0, -2.0], dtype=torch.float64)
    eps = torch.tensor([0.5, -1.0, 0.0], dtype=torch.float64)
    got = as_list(student.ddim_step(x_t, eps, 0.25, 0.9), "ddim_step(...)", length=2)
    x0 = (x_t - math.sqrt(0.75) * eps) / 0.5
    expect_close(as_tensor(got[1], "x0_hat", shape=(3,)), x0, "x0_hat")
    expect_close(
        as_tensor(got[0], "x_prev", shape=(3,)), math.sqrt(0.9) * x0 + math.sqrt(0.1) * eps, "x_prev"
    )


@visible_test(
    "guided_eps", hint="(1 + w) * eps_cond - w * eps_uncond; a tensor w holds one scale per example."
)
def one_scale_and_one_per_example(student):
    """w = 2 for all, then w = [0, 1] per example"""
    cond = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    uncond = torch.tensor([[0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    expect_close(
        as_tensor(student.guided_eps(cond, uncond, 2.0), "guided_eps(..., 2.0)", shape=(2, 2)),
        3 * cond - 2 * uncond,
        "guided_eps(eps_cond, eps_uncond, 2.0)",
    )
    w = torch.tensor([0.0, 1.0], dtype=torch.float64)
    expect_close(
        as_tensor(student.guided_eps(cond, uncond, w), "guided_eps(..., w per example)", shape=(2, 2)),
        torch.stack([cond[0], 2 * cond[1] - uncond[1]]),
        "guided_eps with w = [0, 1]",
    )


@visible_test(
    "frechet_by_hand",
    hint="unbiased covariances; the trace of sqrt(S_a S_b) is the sum of the square "
    "roots of the eigenvalues of S_a^(1/2) S_b S_a^(1/2).",
)
def a_shift_and_a_scale(student):
    """a set against itself shifted by (1, 2), and against itself scaled by 2"""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(50, 2))
    expect_close(
        as_float(student.frechet_by_hand(a, a + [1.0, 2.0]), "frechet_by_hand(a, a + shift)"),
        5.0,
        "the distance between a set and its shift by (1, 2)",
        rtol=1e-6,
    )
    # Scaling by 2 multiplies the covariance by 4: tr(S + 4S - 2 * 2S) = tr(S), plus the mean's shift.
    want = np.trace(np.cov(a, rowvar=False)) + float((a.mean(0) ** 2).sum())
    expect_close(
        as_float(student.frechet_by_hand(a, 2 * a), "frechet_by_hand(a, 2 a)"),
        want,
        "the distance between a set and its double",
        rtol=1e-6,
    )


@visible_test(
    "fixed_noisy_pair",
    hint="Two bugs: which alpha_bar belongs to step index t, and the noise's "
    "coefficient is a standard deviation.",
)
def noise_only_at_the_first_and_last_step(student):
    """x0 = 0, so x_t is the noise scaled by sqrt(1 - alpha_bar[t])"""
    betas = torch.tensor([0.1, 0.2, 0.5], dtype=torch.float64)
    x0 = torch.zeros(2, 1, 1, 2, dtype=torch.float64)
    noise = torch.ones(2, 1, 1, 2, dtype=torch.float64)
    t = torch.tensor([0, 2])
    got = as_list(student.fixed_noisy_pair(x0, t, betas, noise), "fixed_noisy_pair(...)", length=2)
    scale = (1 - _alpha_bar(betas)[t]).sqrt().reshape(-1, 1, 1, 1)
    expect_close(as_tensor(got[0], "x_t", shape=(2, 1, 1, 2)), scale * noise, "x_t for x0 = 0")


@visible_test(
    "ddim_gaussian_experiment",
    hint="start each run from x_T itself; after the last visited step use alpha_bar = 1.",
)
def one_step_and_many_on_a_short_schedule(student):
    """T = 10 linear schedule, 1 and 10 steps"""
    betas = torch.linspace(0.05, 0.5, 10, dtype=torch.float64)
    ab = _alpha_bar(betas)
    x_T = torch.tensor([-1.0, 0.0, 0.5, 2.0], dtype=torch.float64)
    got = as_dict(
        student.ddim_gaussian_experiment(x_T, 1.0, 0.5, ab, [1, 10]),
        "the result",
        keys=["steps", "mean", "std"],
    )
    # One step from T - 1 straight to x0_hat: x0_hat = m + s^2 sqrt(a) (x - sqrt(a) m) / v.
    a = float(ab[-1])
    v = a * 0.25 + 1 - a
    x0 = 1.0 + 0.25 * math.sqrt(a) * (x_T - math.sqrt(a)) / v
    means, stds = as_list(got["mean"], "mean", length=2), as_list(got["std"], "std", length=2)
    if not all(isinstance(v, float) for v in means + stds):
        fail("the means and standard deviations should be Python floats (float(...)), not tensors")
    expect_close(as_float(means[0], "the mean after 1 step"), float(x0.mean()), "the mean after 1 step")
    expect_close(as_float(stds[0], "the std after 1 step"), float(x0.std()), "the std after 1 step")
    if not abs(as_float(stds[1], "the std after 10 steps") - float(x0.std())) > 1e-6:
        fail("10 steps gave the same samples as 1 step: does each run use its own visited steps?")
