"""Hidden tests for exercises/14_diffusion.ipynb (20 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values are computed here from the formulas in the prompts (DDPM: Ho et al., 2020;
DDIM: Song et al., 2021), in float64; the Fréchet distance against SciPy's general matrix
square root. Inputs that must not change are observed through scenarios.
"""

import math

import numpy as np
import scipy.linalg
import torch

from utils.grading.expect import (
    as_array,
    as_dict,
    as_float,
    as_list,
    as_tensor,
    expect_close,
    expect_raises,
    fail,
)
from utils.grading.hidden import hidden_test


def alpha_bar_of(betas):
    return torch.cumprod(1 - torch.as_tensor(betas, dtype=torch.float64), dim=0)


def cosine_betas(steps):
    grid = torch.arange(steps + 1, dtype=torch.float64) / steps
    f = torch.cos((grid + 0.008) / 1.008 * math.pi / 2) ** 2
    return (1 - f[1:] / f[:-1]).clamp(max=0.999)


def call_and_return_inputs(student, name, args):
    """The student's function `name` on tensors we own; the result and the arguments after the call."""
    tensors = [torch.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    result = getattr(student, name)(*tensors)
    return {"result": result, "args_after": tensors}  # inputs_changed compares them with the test's own


def inputs_changed(got, args):
    """Whether the call changed an array or tensor among ``args`` (the scenario reports, we compare)."""
    after = as_list(got["args_after"], "the arguments after the call", length=len(args))
    return any(
        isinstance(given, (np.ndarray, torch.Tensor))
        and not np.array_equal(
            as_array(value, "an argument after the call", shape=tuple(given.shape)), np.asarray(given)
        )
        for value, given in zip(after, args)
    )


# ---- exercise 1: noisy_sample (2 points) ---------------------------------------------------------------


@hidden_test("noisy_sample", points=1)
def matches_the_closed_form_on_batches_of_any_rank(student):
    """one alpha_bar per example, for [N, C, H, W], [N, D] and [N] inputs, float64 kept"""
    rng = np.random.default_rng(1)
    for shape in [(4, 1, 5, 5), (3, 7), (6,), (5, 2, 3, 5)]:  # the last one's N equals its last size
        x0 = torch.tensor(rng.normal(size=shape))
        noise = torch.tensor(rng.normal(size=shape))
        a = torch.tensor(rng.uniform(0.0, 1.0, size=shape[0]))
        a[0] = 0.0
        got = as_tensor(student.noisy_sample(x0, a, noise), f"noisy_sample for shape {shape}", shape=shape)
        if got.dtype != torch.float64:
            fail(f"noisy_sample should keep x0's dtype float64, but returned {got.dtype}")
        view = a.reshape(-1, *[1] * (len(shape) - 1))
        expect_close(got, view.sqrt() * x0 + (1 - view).sqrt() * noise, f"noisy_sample for shape {shape}")


@hidden_test("noisy_sample", points=1)
def float32_inputs_and_no_mutation(student):
    """float32 images stay float32 (a float64 alpha_bar_t too), and the given tensors are unchanged"""
    rng = np.random.default_rng(2)
    x0 = rng.normal(size=(3, 1, 4, 4)).astype(np.float32)
    noise = rng.normal(size=(3, 1, 4, 4)).astype(np.float32)
    a = np.array([0.9, 0.5, 0.01], dtype=np.float32)
    got = as_dict(student.run(call_and_return_inputs, "noisy_sample", [x0, a, noise]), "the scenario")
    result = as_tensor(got["result"], "noisy_sample(...)", shape=(3, 1, 4, 4))
    if result.dtype != torch.float32:
        fail(f"noisy_sample should keep x0's dtype float32, but returned {result.dtype}")
    if inputs_changed(got, [x0, a, noise]):
        fail("noisy_sample changed one of the tensors it was given")
    mixed = as_tensor(
        student.noisy_sample(torch.tensor(x0), torch.tensor(a, dtype=torch.float64), torch.tensor(noise)),
        "noisy_sample(...) with a float64 alpha_bar_t",
        shape=(3, 1, 4, 4),
    )
    if mixed.dtype != torch.float32:
        fail(
            f"with float32 images and a float64 alpha_bar_t, noisy_sample should return x0's dtype "
            f"float32, but returned {mixed.dtype}"
        )
    view = torch.tensor(a, dtype=torch.float64).reshape(-1, 1, 1, 1)
    expect_close(
        result,
        view.sqrt() * torch.tensor(x0, dtype=torch.float64)
        + (1 - view).sqrt() * torch.tensor(noise, dtype=torch.float64),
        "noisy_sample",
        rtol=1e-5,
        atol=1e-6,
    )


# ---- exercise 2: alpha_bar_from_betas (2 points) -------------------------------------------------------


@hidden_test("alpha_bar_from_betas", points=1)
def cumulative_products_of_real_schedules(student):
    """linear and cosine schedules of 1000 steps, a single step; float64 and float32 kept; betas unchanged"""
    for name, betas in [
        ("linear", torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)),
        ("cosine", cosine_betas(1000)),
        ("one step", torch.tensor([0.3], dtype=torch.float64)),
    ]:
        got = as_tensor(
            student.alpha_bar_from_betas(betas.clone()),
            f"alpha_bar for the {name} schedule",
            shape=(len(betas),),
        )
        if got.dtype != torch.float64:
            fail(f"alpha_bar_from_betas should keep the betas' dtype float64, but returned {got.dtype}")
        expect_close(got, alpha_bar_of(betas), f"alpha_bar for the {name} schedule", rtol=1e-9, atol=1e-300)
    betas32 = cosine_betas(50).float()
    got = as_tensor(student.alpha_bar_from_betas(betas32.clone()), "alpha_bar for float32 betas", shape=(50,))
    if got.dtype != torch.float32:
        fail(f"alpha_bar_from_betas should keep the betas' dtype float32, but returned {got.dtype}")
    expect_close(got, alpha_bar_of(betas32), "alpha_bar for float32 betas", rtol=1e-5)
    betas = cosine_betas(50).numpy()
    got = as_dict(student.run(call_and_return_inputs, "alpha_bar_from_betas", [betas]), "the scenario")
    if inputs_changed(got, [betas]):
        fail("alpha_bar_from_betas changed the betas it was given")
    expect_close(
        as_tensor(got["result"], "alpha_bar for a 50-step cosine schedule", shape=(50,)),
        alpha_bar_of(betas),
        "alpha_bar for a 50-step cosine schedule",
        rtol=1e-9,
    )


@hidden_test("alpha_bar_from_betas", points=1)
def rejects_betas_at_or_beyond_the_ends(student):
    """ValueError for betas of 0, 1, negative, above 1 or NaN, an empty or 2-D tensor; 0.999 is fine"""
    for bad, what in [
        ([0.1, 0.0, 0.2], "a beta of exactly 0"),
        ([0.1, 1.0], "a beta of exactly 1"),
        ([0.1, -0.1], "a negative beta"),
        ([1.5], "a beta above 1"),
        ([0.1, float("nan")], "a NaN beta"),
    ]:
        expect_raises(
            lambda bad=bad: student.alpha_bar_from_betas(torch.tensor(bad, dtype=torch.float64)),
            "ValueError",
            f"alpha_bar_from_betas with {what}",
        )
    expect_raises(
        lambda: student.alpha_bar_from_betas(torch.zeros(0, dtype=torch.float64)),
        "ValueError",
        "an empty tensor of betas",
    )
    expect_raises(
        lambda: student.alpha_bar_from_betas(torch.full((2, 2), 0.1, dtype=torch.float64)),
        "ValueError",
        "a 2-D tensor of betas",
    )
    got = as_tensor(
        student.alpha_bar_from_betas(torch.tensor([0.999, 0.5], dtype=torch.float64)),
        "alpha_bar for betas [0.999, 0.5]",
        shape=(2,),
    )
    expect_close(got, [0.001, 0.0005], "alpha_bar for betas [0.999, 0.5]", rtol=1e-9)


# ---- exercise 3: ddpm_step (3 points) ------------------------------------------------------------------


def ddpm_reference(x_t, eps, t, betas, noise):
    betas = torch.as_tensor(betas, dtype=torch.float64)
    ab = alpha_bar_of(betas)
    a_prev = ab[t - 1] if t > 0 else torch.tensor(1.0, dtype=torch.float64)
    mean = (x_t - betas[t] / (1 - ab[t]).sqrt() * eps) / (1 - betas[t]).sqrt()
    return mean + ((1 - a_prev) / (1 - ab[t]) * betas[t]).sqrt() * noise


@hidden_test("ddpm_step", points=1)
def steps_in_the_middle_of_the_cosine_schedule(student):
    """t = 1, 10, 500 and 998 of the cosine schedule on image batches"""
    rng = np.random.default_rng(3)
    betas = cosine_betas(1000)
    for t in (1, 10, 500, 998):
        x_t, eps, noise = (torch.tensor(rng.normal(size=(3, 1, 4, 4))) for _ in range(3))
        got = as_tensor(
            student.ddpm_step(x_t, eps, t, betas.clone(), noise), f"ddpm_step at t = {t}", shape=(3, 1, 4, 4)
        )
        expect_close(got, ddpm_reference(x_t, eps, t, betas, noise), f"ddpm_step at t = {t}", rtol=1e-6)


@hidden_test("ddpm_step", points=1)
def the_last_step_adds_no_noise(student):
    """t = 0: the mean alone, whatever the noise; the given tensors unchanged"""
    rng = np.random.default_rng(4)
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    x_t, eps = torch.tensor(rng.normal(size=(2, 3))), torch.tensor(rng.normal(size=(2, 3)))
    noise = torch.tensor(rng.normal(size=(2, 3))) * 10
    got = as_tensor(student.ddpm_step(x_t, eps, 0, betas, noise), "ddpm_step at t = 0", shape=(2, 3))
    expect_close(got, ddpm_reference(x_t, eps, 0, betas, torch.zeros(2, 3)), "ddpm_step at t = 0", rtol=1e-7)
    args = [x_t.numpy(), eps.numpy(), 3, betas.numpy(), noise.numpy()]
    got = as_dict(student.run(call_and_return_inputs, "ddpm_step", args), "the scenario")
    if inputs_changed(got, args):
        fail("ddpm_step changed one of the tensors it was given")
    expect_close(
        as_tensor(got["result"], "ddpm_step at t = 3", shape=(2, 3)),
        ddpm_reference(x_t, eps, 3, betas, noise),
        "ddpm_step at t = 3",
        rtol=1e-7,
    )


@hidden_test("ddpm_step", points=1)
def the_posterior_variance_and_a_short_schedule(student):
    """beta-tilde, not beta, is the variance; float32 kept; a float64 schedule near t = 0, from any betas"""
    betas = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64)
    x_t = torch.zeros(1, 5, dtype=torch.float32)
    eps = torch.zeros(1, 5, dtype=torch.float32)
    noise = torch.linspace(-2, 2, 5, dtype=torch.float32).reshape(1, 5)
    for t in (1, 2, 3):
        got = as_tensor(student.ddpm_step(x_t, eps, t, betas, noise), f"ddpm_step at t = {t}", shape=(1, 5))
        if got.dtype != torch.float32:
            fail(f"ddpm_step should keep x_t's dtype float32, but returned {got.dtype}")
        expect_close(
            got,
            ddpm_reference(x_t.double(), eps.double(), t, betas, noise.double()),
            f"ddpm_step of zeros at t = {t} (only the noise term is left)",
            rtol=1e-5,
            atol=1e-6,
        )
    rng = np.random.default_rng(18)
    for betas, kind in [(cosine_betas(1000), "float64"), (cosine_betas(1000).float(), "float32")]:
        for t in (1, 2):  # 1 - alpha_bar is about 1e-4 here: a float32 schedule keeps few of its digits
            x_t = torch.zeros(2, 8, dtype=torch.float32)  # the result is small: its relative error shows
            eps, noise = (torch.tensor(rng.normal(size=(2, 8)), dtype=torch.float32) for _ in range(2))
            got = as_tensor(
                student.ddpm_step(x_t, eps, t, betas.clone(), noise), f"ddpm_step at t = {t}", shape=(2, 8)
            )
            expect_close(
                got,
                ddpm_reference(x_t.double(), eps.double(), t, betas.double(), noise.double()),
                f"ddpm_step of float32 zeros at t = {t} of a {kind} cosine schedule",
                rtol=1e-5,
                atol=1e-8,
            )


# ---- exercise 4: ddim_step (2 points) ------------------------------------------------------------------


def ddim_reference(x_t, eps, a_t, a_prev):
    x0 = (x_t - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
    return math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps, x0


@hidden_test("ddim_step", points=1)
def steps_of_several_sizes(student):
    """jumps between noise levels, small and large, on image batches, alpha_bar_t = 1 included"""
    rng = np.random.default_rng(5)
    for a_t, a_prev in [(0.01, 0.02), (0.3, 0.95), (0.5, 0.5), (0.999, 1.0), (1.0, 1.0)]:
        x_t, eps = torch.tensor(rng.normal(size=(2, 1, 3, 3))), torch.tensor(rng.normal(size=(2, 1, 3, 3)))
        got = as_list(student.ddim_step(x_t, eps, a_t, a_prev), f"ddim_step({a_t}, {a_prev})", length=2)
        want_prev, want_x0 = ddim_reference(x_t, eps, a_t, a_prev)
        expect_close(
            as_tensor(got[1], "x0_hat", shape=(2, 1, 3, 3)), want_x0, f"x0_hat for alpha_bar_t = {a_t}"
        )
        expect_close(
            as_tensor(got[0], "x_prev", shape=(2, 1, 3, 3)), want_prev, f"x_prev from {a_t} to {a_prev}"
        )


@hidden_test("ddim_step", points=1)
def a_consistent_pair_is_undone_exactly(student):
    """x_t made in closed form: x0_hat is x0, x_prev is x0 re-noised; float32 kept, inputs unchanged"""
    rng = np.random.default_rng(6)
    x0, eps = torch.tensor(rng.normal(size=(4, 6))), torch.tensor(rng.normal(size=(4, 6)))
    a_t, a_prev = 0.2, 0.7
    x_t = math.sqrt(a_t) * x0 + math.sqrt(1 - a_t) * eps
    got = as_list(student.ddim_step(x_t, eps, a_t, a_prev), "ddim_step(...)", length=2)
    expect_close(as_tensor(got[1], "x0_hat", shape=(4, 6)), x0, "x0_hat", rtol=1e-7, atol=1e-9)
    expect_close(
        as_tensor(got[0], "x_prev", shape=(4, 6)),
        math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps,
        "x_prev",
        rtol=1e-7,
        atol=1e-9,
    )
    x_t32, eps32 = x_t.float().numpy(), eps.float().numpy()
    args = [x_t32, eps32, a_t, a_prev]
    got = as_dict(student.run(call_and_return_inputs, "ddim_step", args), "the scenario")
    if inputs_changed(got, args):
        fail("ddim_step changed one of the tensors it was given")
    pair = as_list(got["result"], "ddim_step(...) on float32 tensors", length=2)
    for value, name in zip(pair, ["x_prev", "x0_hat"]):
        if as_tensor(value, name, shape=(4, 6)).dtype != torch.float32:
            fail(f"{name} should keep x_t's dtype float32, but is {as_tensor(value, name).dtype}")
    expect_close(pair[1], x0, "x0_hat from float32 tensors", rtol=1e-4, atol=1e-5)


# ---- exercise 5: guided_eps (2 points) -----------------------------------------------------------------


@hidden_test("guided_eps", points=1)
def one_scale_for_all(student):
    """w = 0, 0.5, 1, 3 and 7.5 on image batches; the given tensors unchanged"""
    rng = np.random.default_rng(7)
    cond, uncond = torch.tensor(rng.normal(size=(3, 1, 4, 4))), torch.tensor(rng.normal(size=(3, 1, 4, 4)))
    for w in (0.0, 0.5, 1.0, 7.5):
        got = as_tensor(student.guided_eps(cond, uncond, w), f"guided_eps with w = {w}", shape=(3, 1, 4, 4))
        expect_close(got, (1 + w) * cond - w * uncond, f"guided_eps with w = {w}")
    args = [cond.numpy(), uncond.numpy(), 3.0]
    got = as_dict(student.run(call_and_return_inputs, "guided_eps", args), "the scenario")
    if inputs_changed(got, args):
        fail("guided_eps changed one of the tensors it was given")
    result = as_tensor(got["result"], "guided_eps with w = 3", shape=(3, 1, 4, 4))
    expect_close(result, 4 * cond - 3 * uncond, "guided_eps with w = 3")


@hidden_test("guided_eps", points=1)
def one_scale_per_example(student):
    """a tensor w [N] scales each example of 4-D, 3-D and 2-D batches; float32 kept, inputs kept"""
    rng = np.random.default_rng(8)
    for shape in [(28, 1, 28, 28), (4, 6, 3), (5, 3)]:  # a [28] w would broadcast over a 28-wide last axis
        cond, uncond = torch.tensor(rng.normal(size=shape)), torch.tensor(rng.normal(size=shape))
        w = torch.tensor(rng.uniform(0, 4, size=shape[0]))
        got = as_tensor(
            student.guided_eps(cond, uncond, w), f"guided_eps with w per example, shape {shape}", shape=shape
        )
        view = w.reshape(-1, *[1] * (len(shape) - 1))
        expect_close(got, (1 + view) * cond - view * uncond, f"guided_eps with w per example, shape {shape}")
    args = [cond.numpy(), uncond.numpy(), w.numpy()]
    got = as_dict(student.run(call_and_return_inputs, "guided_eps", args), "the scenario")
    if inputs_changed(got, args):
        fail("guided_eps with a w per example changed one of the tensors it was given")
    expect_close(
        as_tensor(got["result"], "guided_eps with w per example", shape=shape),
        (1 + view) * cond - view * uncond,
        "guided_eps with w per example (scenario)",
    )
    got = as_tensor(student.guided_eps(cond.float(), uncond.float(), w), "guided_eps on float32", shape=shape)
    if got.dtype != torch.float32:
        fail(f"guided_eps should keep eps_cond's dtype float32 (w is float64 here), but returned {got.dtype}")
    expect_close(got, (1 + view) * cond - view * uncond, "guided_eps on float32", rtol=1e-5, atol=1e-5)


# ---- exercise 6: frechet_by_hand (3 points) ------------------------------------------------------------


def frechet_reference(a, b):
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


@hidden_test("frechet_by_hand", points=1)
def correlated_features_of_different_counts(student):
    """correlated 8-D features, 300 against 120 samples, both orders"""
    rng = np.random.default_rng(9)
    a = rng.normal(size=(300, 8)) @ rng.normal(size=(8, 8))
    b = rng.normal(size=(120, 8)) @ rng.normal(size=(8, 8)) + 0.3
    want = frechet_reference(a, b)
    expect_close(
        as_float(student.frechet_by_hand(a, b), "frechet_by_hand(a, b)"),
        want,
        "frechet_by_hand(a, b)",
        rtol=1e-6,
    )
    expect_close(
        as_float(student.frechet_by_hand(b, a), "frechet_by_hand(b, a)"),
        want,
        "frechet_by_hand(b, a)",
        rtol=1e-6,
    )


@hidden_test("frechet_by_hand", points=1)
def small_samples_need_the_unbiased_covariance(student):
    """10 samples of 3 features against 6 samples: N - 1 matters"""
    rng = np.random.default_rng(10)
    a, b = rng.normal(size=(10, 3)) * [1.0, 2.0, 0.5], rng.normal(size=(6, 3)) + [0.0, 1.0, 0.0]
    expect_close(
        as_float(student.frechet_by_hand(a, b), "frechet_by_hand"),
        frechet_reference(a, b),
        "frechet_by_hand on 10 and 6 samples",
        rtol=1e-6,
    )


@hidden_test("frechet_by_hand", points=1)
def rank_deficient_covariances_and_identical_sets(student):
    """features that lie on a line (singular covariances), and a set against itself"""
    rng = np.random.default_rng(11)
    direction = rng.normal(size=(1, 5))
    a = rng.normal(size=(40, 1)) @ direction
    b = rng.normal(size=(60, 1)) @ direction * 2.0 + 1.0
    expect_close(
        as_float(student.frechet_by_hand(a, b), "frechet_by_hand on singular covariances"),
        frechet_reference(a, b),
        "frechet_by_hand on singular covariances",
        rtol=1e-5,
        atol=1e-6,
    )
    c = rng.normal(size=(50, 4))
    got = as_float(student.frechet_by_hand(c, c), "frechet_by_hand(c, c)")
    if abs(got) > 1e-8:
        fail(f"the distance between a set and itself should be 0, got {got:.3g}")


# ---- exercise 7: fixed_noisy_pair (3 points) -----------------------------------------------------------


@hidden_test("fixed_noisy_pair", points=1)
def the_first_step_uses_alpha_bar_zero(student):
    """t = 0 for every image: alpha_bar[0] = 1 - betas[0], not the last entry"""
    betas = torch.linspace(0.1, 0.9, 5, dtype=torch.float64)
    rng = np.random.default_rng(12)
    x0, noise = torch.tensor(rng.normal(size=(3, 1, 2, 2))), torch.tensor(rng.normal(size=(3, 1, 2, 2)))
    got = as_list(
        student.fixed_noisy_pair(x0, torch.zeros(3, dtype=torch.long), betas, noise), "the pair", length=2
    )
    a = 1 - betas[0]
    expect_close(
        as_tensor(got[0], "x_t", shape=(3, 1, 2, 2)), a.sqrt() * x0 + (1 - a).sqrt() * noise, "x_t at t = 0"
    )
    expect_close(as_tensor(got[1], "the target", shape=(3, 1, 2, 2)), noise, "the target (the noise)")


@hidden_test("fixed_noisy_pair", points=1)
def the_marginal_variance_is_one_minus_alpha_bar(student):
    """x0 = 0: x_t has variance 1 - alpha_bar[t] at every step of the linear schedule"""
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    ab = alpha_bar_of(betas)
    t = torch.tensor([0, 1, 10, 250, 500, 999])
    x0 = torch.zeros(6, 1, 8, 8, dtype=torch.float64)
    noise = torch.tensor(np.random.default_rng(13).normal(size=(6, 1, 8, 8)))
    got = as_list(student.fixed_noisy_pair(x0, t, betas, noise), "the pair", length=2)
    expect_close(
        as_tensor(got[0], "x_t", shape=(6, 1, 8, 8)),
        (1 - ab[t]).sqrt().reshape(-1, 1, 1, 1) * noise,
        "x_t for x0 = 0 (the noise's scale at each step)",
    )


@hidden_test("fixed_noisy_pair", points=1)
def mixed_steps_float32_and_inputs_unchanged(student):
    """random steps per image, float32 images kept float32, and the given tensors unchanged"""
    rng = np.random.default_rng(14)
    betas = cosine_betas(200).numpy()
    x0 = rng.uniform(-1, 1, size=(8, 1, 3, 3)).astype(np.float32)
    noise = rng.normal(size=(8, 1, 3, 3)).astype(np.float32)
    t = np.array([199, 0, 5, 100, 37, 1, 150, 64])
    got = as_dict(
        student.run(call_and_return_inputs, "fixed_noisy_pair", [x0, t, betas, noise]), "the scenario"
    )
    if inputs_changed(got, [x0, t, betas, noise]):
        fail("fixed_noisy_pair changed one of the tensors it was given")
    pair = as_list(got["result"], "the pair", length=2)
    x_t = as_tensor(pair[0], "x_t", shape=(8, 1, 3, 3))
    if x_t.dtype != torch.float32:
        fail(f"x_t should have x0's dtype float32, not {x_t.dtype}")
    a = alpha_bar_of(betas)[torch.tensor(t)].reshape(-1, 1, 1, 1)
    expect_close(
        x_t,
        a.sqrt() * torch.tensor(x0, dtype=torch.float64)
        + (1 - a).sqrt() * torch.tensor(noise, dtype=torch.float64),
        "x_t",
        rtol=1e-5,
        atol=1e-6,
    )


# ---- exercise 8: ddim_gaussian_experiment (3 points) ---------------------------------------------------


def experiment_reference(x_T, m, s, alpha_bar, steps_list):
    T = len(alpha_bar)
    result = {"mean": [], "std": []}
    for k in steps_list:
        visited = torch.linspace(T - 1, 0, k, dtype=torch.float64).round().long().tolist()
        x = x_T.clone()
        for i, t in enumerate(visited):
            a_t = float(alpha_bar[t])
            a_s = float(alpha_bar[visited[i + 1]]) if i + 1 < len(visited) else 1.0
            eps = math.sqrt(1 - a_t) * (x - math.sqrt(a_t) * m) / (a_t * s**2 + 1 - a_t)
            x0 = (x - math.sqrt(1 - a_t) * eps) / math.sqrt(a_t)
            x = math.sqrt(a_s) * x0 + math.sqrt(1 - a_s) * eps
        result["mean"].append(float(x.mean()))
        result["std"].append(float(x.std()))
    return result


def checked_experiment(student, x_T, m, s, alpha_bar, steps_list):
    got = as_dict(
        student.ddim_gaussian_experiment(x_T.clone(), m, s, alpha_bar.clone(), list(steps_list)),
        "the result",
        keys=["steps", "mean", "std"],
    )
    if [int(k) for k in as_list(got["steps"], "steps", length=len(steps_list))] != list(steps_list):
        fail("result['steps'] should be the steps_list you were given, in order")
    for key in ("mean", "std"):
        for value in as_list(got[key], key, length=len(steps_list)):
            if not isinstance(value, float):
                fail(f"result['{key}'] should hold Python floats, but holds a {type(value).__name__}")
    return (
        as_array(as_list(got["mean"], "mean", length=len(steps_list)), "mean", kind="float"),
        as_array(as_list(got["std"], "std", length=len(steps_list)), "std", kind="float"),
    )


@hidden_test("ddim_gaussian_experiment", points=1)
def cosine_schedule_from_few_to_all_steps(student):
    """m = -0.3, s = 0.4, cosine schedule of 1000 steps, 1 to 1000 DDIM steps"""
    ab = alpha_bar_of(cosine_betas(1000))
    x_T = torch.tensor(np.random.default_rng(15).normal(size=3000))
    steps_list = [1, 3, 10, 50, 1000]
    means, stds = checked_experiment(student, x_T, -0.3, 0.4, ab, steps_list)
    want = experiment_reference(x_T, -0.3, 0.4, ab, steps_list)
    expect_close(means, want["mean"], "the sample means", rtol=1e-6, atol=1e-9)
    expect_close(stds, want["std"], "the sample standard deviations", rtol=1e-6)


@hidden_test("ddim_gaussian_experiment", points=1)
def linear_schedule_and_an_unsorted_list(student):
    """m = 2, s = 0.1, linear schedule of 300 steps, counts given out of order (131: float64 linspace)"""
    ab = alpha_bar_of(torch.linspace(1e-4, 0.05, 300, dtype=torch.float64))
    x_T = torch.tensor(np.random.default_rng(16).normal(size=500))
    steps_list = [300, 2, 17, 131, 300, 5]  # a float32 linspace rounds two of 131's steps the other way
    means, stds = checked_experiment(student, x_T, 2.0, 0.1, ab, steps_list)
    want = experiment_reference(x_T, 2.0, 0.1, ab, steps_list)
    expect_close(means, want["mean"], "the sample means", rtol=1e-6, atol=1e-9)
    expect_close(stds, want["std"], "the sample standard deviations (unbiased)", rtol=1e-6)


@hidden_test("ddim_gaussian_experiment", points=1)
def many_steps_recover_the_data_distribution(student):
    """with every step, the samples' mean and std are the data's to within sampling error"""
    ab = alpha_bar_of(cosine_betas(500))
    x_T = torch.tensor(np.random.default_rng(17).normal(size=20_000))
    means, stds = checked_experiment(student, x_T, 0.7, 0.25, ab, [500])
    want = experiment_reference(x_T, 0.7, 0.25, ab, [500])
    expect_close(means, want["mean"], "the sample mean with all 500 steps", rtol=1e-6)
    if not (abs(stds[0] - 0.25) < 0.01 and abs(means[0] - 0.7) < 0.01):
        fail(
            f"with all 500 steps the samples should have about the data's mean 0.7 and std 0.25, "
            f"got {means[0]:.3f} and {stds[0]:.3f}"
        )
