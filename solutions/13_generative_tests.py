"""Hidden tests for exercises/13_generative.ipynb (16 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values come from torch.distributions, autograd and scikit-learn, computed here.
Gradients, optimiser steps and inputs that must not change are observed through scenarios
run in the student's process.
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

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


def _reference_kl(mu, log_var):
    q = torch.distributions.Normal(torch.as_tensor(mu), torch.as_tensor(log_var).mul(0.5).exp())
    p = torch.distributions.Normal(torch.zeros_like(q.loc), torch.ones_like(q.loc))
    return torch.distributions.kl_divergence(q, p).sum(-1)


# ---- exercise 1: gaussian_kl (2 points) ----------------------------------------------------------


def kl_gradient_scenario(student, mu, log_var):
    """The gradients of the summed KL reaching mu and log_var (None when it is not differentiable)."""
    mu, log_var = mu.clone().requires_grad_(), log_var.clone().requires_grad_()
    kl = student.gaussian_kl(mu, log_var)
    if not isinstance(kl, torch.Tensor) or not kl.requires_grad:
        return {"grad_mu": None, "grad_log_var": None}
    kl.sum().backward()
    return {"grad_mu": mu.grad, "grad_log_var": log_var.grad}


@hidden_test("gaussian_kl", points=1)
def kl_matches_torch_distributions(student):
    """agrees with torch.distributions.kl_divergence for shapes [7, 3], [2, 4, 5], [6], [1, 5], [3, 1, 4]"""
    rng = np.random.default_rng(131)
    for shape in [(7, 3), (2, 4, 5), (6,), (1, 5), (3, 1, 4)]:  # axes of size 1 must stay
        mu, log_var = rng.normal(size=shape) * 2, rng.normal(size=shape) * 1.5
        got = as_array(
            student.gaussian_kl(torch.tensor(mu), torch.tensor(log_var)),
            "gaussian_kl(mu, log_var)",
            shape=shape[:-1],
            kind="float",
        )
        expect_close(
            got, _reference_kl(mu, log_var).numpy(), f"the KL for inputs of shape {shape}", rtol=1e-9
        )


@hidden_test("gaussian_kl", points=1)
def kl_edges_and_dtype(student):
    """zero at the prior, extreme log-variances (float32 too), float32 kept, one latent axis, gradients"""
    zeros = torch.zeros(3, 4, dtype=torch.float64)
    expect_close(
        as_array(student.gaussian_kl(zeros, zeros), "gaussian_kl at the prior", shape=(3,)),
        np.zeros(3),
        "the KL of N(0, I) from itself",
        atol=1e-12,
    )
    mu = torch.tensor([[0.0, 0.0], [1.0, -2.0], [3.0, 0.5]], dtype=torch.float64)
    log_var = torch.tensor([[-8.0, 6.0], [0.0, -3.0], [2.0, 1.0]], dtype=torch.float64)
    expect_close(
        as_array(student.gaussian_kl(mu, log_var), "gaussian_kl", shape=(3,)),
        _reference_kl(mu, log_var).numpy(),
        "the KL with very small and very large variances",
        rtol=1e-9,
    )
    tiny = [[0.5, -1.0], [0.0, 2.0]], [[-120.0, 3.0], [-200.0, 0.0]]  # sigma^2 underflows to 0 in float32
    got = as_tensor(
        student.gaussian_kl(torch.tensor(tiny[0]), torch.tensor(tiny[1])),
        "gaussian_kl of float32 inputs with log_var = -120 and -200",
        shape=(2,),
    )
    expect_close(
        got.double().numpy(),
        _reference_kl(np.array(tiny[0]), np.array(tiny[1])).numpy(),
        "the KL of float32 inputs with log_var = -120 and -200 (use log_var itself, not log(sigma^2))",
        rtol=1e-6,
    )
    single = student.gaussian_kl(torch.tensor([[1.5], [-0.5]]), torch.tensor([[0.3], [-1.0]]))
    got = as_tensor(single, "gaussian_kl of float32 inputs [2, 1]", shape=(2,))
    if got.dtype != torch.float32:
        fail(f"gaussian_kl of float32 inputs returned {got.dtype}; keep the inputs' dtype")
    expect_close(
        got.numpy(),
        _reference_kl([[1.5], [-0.5]], [[0.3], [-1.0]]).numpy(),
        "the KL of one dimension",
        rtol=1e-6,
    )
    rng = np.random.default_rng(130)
    mu, log_var = torch.tensor(rng.normal(size=(3, 4))), torch.tensor(rng.normal(size=(3, 4)))
    grads = as_dict(student.run(kl_gradient_scenario, mu, log_var), "the scenario")
    if grads["grad_mu"] is None or grads["grad_log_var"] is None:
        fail(
            "no gradient reached mu or log_var: the VAE is trained through this KL, so compute it with "
            "torch operations on mu and log_var (no detach, no NumPy)"
        )
    expect_close(as_array(grads["grad_mu"], "d KL / d mu", shape=(3, 4)), mu.numpy(), "the gradient for mu")
    expect_close(
        as_array(grads["grad_log_var"], "d KL / d log_var", shape=(3, 4)),
        0.5 * (log_var.exp() - 1.0).numpy(),
        "the gradient for log_var",
    )


# ---- exercise 2: reparameterize (2 points) -------------------------------------------------------


def reparameterize_scenario(student, mu, log_var, eps, weights):
    """z from the student's function, then the gradients of sum(weights * z) reaching mu and log_var."""
    mu, log_var = mu.clone().requires_grad_(), log_var.clone().requires_grad_()
    z = student.reparameterize(mu, log_var, eps)
    inputs_after = [mu.detach(), log_var.detach(), eps]  # the test compares them with its own copies
    if not isinstance(z, torch.Tensor) or not z.requires_grad:
        return {
            "z": z.detach() if isinstance(z, torch.Tensor) else z,
            "grad_mu": None,
            "grad_log_var": None,
            "inputs_after": inputs_after,
        }
    (z * weights).sum().backward()
    return {"z": z.detach(), "grad_mu": mu.grad, "grad_log_var": log_var.grad, "inputs_after": inputs_after}


@hidden_test("reparameterize", points=1)
def sample_has_the_right_values(student):
    """z = mu + exp(log_var / 2) * eps for [5, 3] and [2, 2, 4] inputs"""
    rng = np.random.default_rng(132)
    for shape, noise_scale in [((5, 3), 1.0), ((2, 2, 4), 1.0), ((3, 4), 4.0)]:
        mu, log_var = rng.normal(size=shape), rng.normal(size=shape)
        eps = rng.normal(size=shape) * noise_scale
        got = as_array(
            student.reparameterize(torch.tensor(mu), torch.tensor(log_var), torch.tensor(eps)),
            "reparameterize(mu, log_var, eps)",
            shape=shape,
        )
        expect_close(got, mu + np.exp(0.5 * log_var) * eps, f"z for inputs of shape {shape}", rtol=1e-9)


@hidden_test("reparameterize", points=1)
def gradients_reach_mu_and_log_var(student):
    """a loss computed from z sends the right gradients to mu and log_var, and no input changes"""
    rng = np.random.default_rng(133)
    mu, log_var, eps, weights = (torch.tensor(rng.normal(size=(4, 3))) for _ in range(4))
    got = as_dict(student.run(reparameterize_scenario, mu, log_var, eps, weights), "the scenario")
    if got["grad_mu"] is None or got["grad_log_var"] is None:
        fail("no gradient reached mu or log_var: z must be computed from them with differentiable operations")
    expect_close(
        as_array(got["grad_mu"], "d loss / d mu", shape=(4, 3)), weights.numpy(), "the gradient for mu"
    )
    want = (weights * eps * 0.5 * torch.exp(0.5 * log_var)).numpy()
    expect_close(
        as_array(got["grad_log_var"], "d loss / d log_var", shape=(4, 3)), want, "the gradient for log_var"
    )
    inputs_after = as_list(got["inputs_after"], "the inputs after the call", length=3)
    for name, after, given in zip(("mu", "log_var", "eps"), inputs_after, (mu, log_var, eps)):
        if not np.array_equal(as_array(after, f"{name} after the call", shape=(4, 3)), given.numpy()):
            fail("reparameterize changed one of its inputs; compute a new tensor")


# ---- exercise 3: vae_loss (2 points) -------------------------------------------------------------


def _reference_vae_loss(logits, x, mu, log_var, beta):
    logits, x = torch.as_tensor(logits), torch.as_tensor(x)
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    return float(reconstruction + beta * _reference_kl(mu, log_var).mean())


def vae_loss_scenario(student, logits, x, mu, log_var, beta):
    """The loss and whether it can be back-propagated to the logits, mu and log_var."""
    logits, mu = logits.clone().requires_grad_(), mu.clone().requires_grad_()
    log_var = log_var.clone().requires_grad_()
    loss = student.vae_loss(logits, x, mu, log_var, beta=beta)
    shape = list(loss.shape) if isinstance(loss, torch.Tensor) else None
    if isinstance(loss, torch.Tensor) and loss.requires_grad:
        loss.backward()
    return {
        "loss": loss.detach() if isinstance(loss, torch.Tensor) else loss,
        "shape": shape,
        "grad_logits": logits.grad,
        "grad_mu": mu.grad,
        "grad_log_var": log_var.grad,
    }


@hidden_test("vae_loss", points=1)
def loss_of_image_batches(student):
    """image batches [6, 1, 5, 5] and flat [3, 10], beta 1, 0.25 and 4, logits up to +-100"""
    rng = np.random.default_rng(134)
    for shape, latent, beta in [((6, 1, 5, 5), 4, 1.0), ((3, 10), 2, 0.25), ((6, 1, 5, 5), 3, 4.0)]:
        logits, x = rng.normal(size=shape) * 3, rng.uniform(size=shape)
        mu, log_var = rng.normal(size=(shape[0], latent)), rng.normal(size=(shape[0], latent))
        got = as_float(
            student.vae_loss(
                torch.tensor(logits), torch.tensor(x), torch.tensor(mu), torch.tensor(log_var), beta=beta
            ),
            "vae_loss(...)",
        )
        expect_close(
            got,
            _reference_vae_loss(logits, x, mu, log_var, beta),
            f"the loss for images of shape {shape} with beta = {beta}",
            rtol=1e-9,
        )
    # a confident decoder: sigmoid(+-60) rounds to exactly 1 or 0, the loss must not
    big = torch.tensor([[60.0, -60.0, 60.0, 0.5], [-45.0, 80.0, -100.0, 2.0]], dtype=torch.float64)
    pixels = torch.tensor([[0.0, 1.0, 0.3, 1.0], [0.7, 0.0, 1.0, 0.0]], dtype=torch.float64)
    zeros = torch.zeros(2, 2, dtype=torch.float64)
    got = as_float(student.vae_loss(big, pixels, zeros, zeros), "vae_loss(...) with large logits")
    expect_close(
        got,
        _reference_vae_loss(big, pixels, zeros, zeros, 1.0),
        "the loss for logits up to +-100 (use the logits, not sigmoid probabilities)",
        rtol=1e-9,
    )
    # beta left out: its default is 1
    got = as_float(
        student.vae_loss(torch.tensor(logits), torch.tensor(x), torch.tensor(mu), torch.tensor(log_var)),
        "vae_loss(...) without beta",
    )
    expect_close(
        got, _reference_vae_loss(logits, x, mu, log_var, 1.0), "the loss with the default beta", rtol=1e-9
    )


@hidden_test("vae_loss", points=1)
def loss_is_a_differentiable_scalar(student):
    """a 0-d tensor whose gradients reach the logits, mu and log_var (checked against autograd)"""
    rng = np.random.default_rng(135)
    logits, x = torch.tensor(rng.normal(size=(4, 8))), torch.tensor(rng.uniform(size=(4, 8)).round())
    mu, log_var = torch.tensor(rng.normal(size=(4, 3))), torch.tensor(rng.normal(size=(4, 3)))
    got = as_dict(student.run(vae_loss_scenario, logits, x, mu, log_var, 2.0), "the scenario")
    if got["shape"] != []:
        fail(f"vae_loss should return a 0-d tensor, got shape {got['shape']}")
    if got["grad_logits"] is None or got["grad_mu"] is None or got["grad_log_var"] is None:
        fail("no gradient reached the logits, mu or log_var: keep the loss differentiable")
    reference_logits, reference_mu = logits.clone().requires_grad_(), mu.clone().requires_grad_()
    reference_log_var = log_var.clone().requires_grad_()
    loss = (
        F.binary_cross_entropy_with_logits(reference_logits, x, reduction="sum") / 4
        + 2.0 * _reference_kl(reference_mu, reference_log_var).mean()
    )
    loss.backward()
    expect_close(
        as_array(got["grad_logits"], "d loss / d logits"),
        reference_logits.grad.numpy(),
        "the gradient for the logits",
    )
    expect_close(as_array(got["grad_mu"], "d loss / d mu"), reference_mu.grad.numpy(), "the gradient for mu")
    expect_close(
        as_array(got["grad_log_var"], "d loss / d log_var"),
        reference_log_var.grad.numpy(),
        "the gradient for log_var",
    )


# ---- exercise 4: roc_auc (2 points) --------------------------------------------------------------


def _reference_auc(normal, anomaly):
    labels = np.r_[np.zeros(len(normal)), np.ones(len(anomaly))]
    return float(roc_auc_score(labels, np.r_[normal, anomaly]))


@hidden_test("roc_auc", points=1)
def auc_matches_scikit_learn(student):
    """agrees with sklearn.metrics.roc_auc_score on random scores of unequal group sizes, both directions"""
    rng = np.random.default_rng(136)
    for n_normal, n_anomaly, shift in [(50, 7, 1.0), (9, 40, -0.5), (1, 3, 0.3)]:
        normal, anomaly = rng.normal(size=n_normal), rng.normal(size=n_anomaly) + shift
        got = as_float(student.roc_auc(normal, anomaly), "roc_auc(...)")
        expect_close(
            got,
            _reference_auc(normal, anomaly),
            f"the AUC with {n_normal} normal and {n_anomaly} anomalous scores",
            rtol=1e-12,
        )


@hidden_test("roc_auc", points=1)
def auc_ties_extremes_and_errors(student):
    """ties count one half, infinite scores, perfect and reversed separation, empty inputs raise ValueError"""
    rng = np.random.default_rng(137)
    normal = rng.integers(0, 4, size=30).astype(float)  # many ties
    anomaly = rng.integers(1, 5, size=11).astype(float)
    expect_close(
        as_float(student.roc_auc(normal, anomaly), "roc_auc"),
        _reference_auc(normal, anomaly),
        "the AUC of scores with many ties",
        rtol=1e-12,
    )
    expect_close(
        as_float(student.roc_auc(np.full(4, 2.0), np.full(3, 2.0)), "roc_auc"),
        0.5,
        "the AUC when every score is equal",
        rtol=1e-12,
    )
    expect_close(
        as_float(student.roc_auc(np.array([0.1, 0.2]), np.array([0.3, 0.9, 0.25])), "roc_auc"),
        1.0,
        "the AUC of a perfect separation",
        rtol=1e-12,
    )
    expect_close(
        as_float(student.roc_auc(np.array([1.0, 0.5]), np.array([1.0 + 1e-12, 1.0])), "roc_auc"),
        0.875,
        "the AUC of scores 1e-12 apart (not a tie: keep float64)",
        rtol=1e-12,
    )
    expect_close(
        as_float(student.roc_auc(np.array([5.0, 6.0]), np.array([1.0])), "roc_auc"),
        0.0,
        "the AUC when every anomaly scores lower",
        atol=1e-12,
    )
    expect_close(
        as_float(student.roc_auc(np.array([1.0, np.inf, -np.inf]), np.array([np.inf, 2.0])), "roc_auc"),
        (2.5 + 2.0) / 6,
        "the AUC with infinite scores (inf against inf is a tie)",
        rtol=1e-12,
    )
    expect_raises(
        lambda: student.roc_auc(np.array([]), np.array([1.0])), "ValueError", "roc_auc with no normal score"
    )
    expect_raises(
        lambda: student.roc_auc(np.array([1.0]), np.array([])), "ValueError", "roc_auc with no anomaly"
    )


# ---- exercise 5: gradient_penalty (3 points) -----------------------------------------------------


def _critic(kind, state=None):
    if kind == "points":
        critic = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    else:
        critic = torch.nn.Sequential(
            torch.nn.Conv2d(2, 3, 3), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 3, 1)
        )
    critic = critic.double()
    if state is not None:
        critic.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    return critic


def penalty_scenario(student, kind, state, real, fake, alpha, weight):
    """The student's penalty on our critic, and the gradients its backward() leaves in the critic."""
    if kind == "points":
        critic = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    else:
        critic = torch.nn.Sequential(
            torch.nn.Conv2d(2, 3, 3), torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 3, 1)
        )
    critic = critic.double()
    critic.load_state_dict(state)
    penalty = student.gradient_penalty(critic, real, fake, alpha, weight=weight)
    result = {
        "penalty": penalty.detach() if isinstance(penalty, torch.Tensor) else penalty,
        "shape": list(penalty.shape) if isinstance(penalty, torch.Tensor) else None,
        "inputs_after": [real, fake],  # the test compares them with its own copies
        "grads": None,
    }
    if isinstance(penalty, torch.Tensor) and penalty.requires_grad:
        penalty.backward()
        result["grads"] = {name: p.grad for name, p in critic.named_parameters()}
    return result


def _reference_penalty(kind, state, real, fake, alpha, weight):
    critic = _critic(kind, state)
    shape = (-1,) + (1,) * (real.dim() - 1)
    mixed = (alpha.reshape(shape) * real + (1 - alpha.reshape(shape)) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    penalty = weight * (grad.flatten(1).norm(dim=1) - 1).square().mean()
    penalty.backward()
    # the last bias does not change the critic's gradient, so it gets no gradient (None): count it as 0
    return penalty.item(), {
        name: np.zeros(tuple(p.shape)) if p.grad is None else p.grad.numpy()
        for name, p in critic.named_parameters()
    }


def _penalty_case(kind, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    critic = _critic(kind)
    with torch.no_grad():
        for p in critic.parameters():
            p.copy_(torch.tensor(rng.normal(size=tuple(p.shape))))
    state = {k: v.clone() for k, v in critic.state_dict().items()}
    shape = (6, 2) if kind == "points" else (4, 2, 5, 5)
    real, fake = torch.tensor(rng.normal(size=shape)), torch.tensor(rng.normal(size=shape))
    alpha = torch.tensor(rng.uniform(size=shape[0]))
    return state, real, fake, alpha


@hidden_test("gradient_penalty", points=1)
def penalty_value_for_points(student):
    """the penalty for a batch of 2-D points, weights 10 and 0.5"""
    for weight, seed in ((10.0, 1381), (0.5, 1382)):
        state, real, fake, alpha = _penalty_case("points", seed)
        got = as_dict(
            student.run(penalty_scenario, "points", state, real, fake, alpha, weight), "the scenario"
        )
        if got["shape"] != []:
            fail(f"gradient_penalty should return a 0-d tensor, got shape {got['shape']}")
        want, _ = _reference_penalty("points", state, real, fake, alpha, weight)
        expect_close(
            as_float(got["penalty"], "the penalty"), want, f"the penalty with weight {weight}", rtol=1e-9
        )


@hidden_test("gradient_penalty", points=1)
def penalty_value_for_images(student):
    """the penalty for a batch of images [4, 2, 5, 5]: alpha per image, the norm over all its values"""
    state, real, fake, alpha = _penalty_case("images", 1383)
    got = as_dict(student.run(penalty_scenario, "images", state, real, fake, alpha, 10.0), "the scenario")
    want, _ = _reference_penalty("images", state, real, fake, alpha, 10.0)
    expect_close(
        as_float(got["penalty"], "the penalty"), want, "the penalty for a batch of images", rtol=1e-9
    )
    inputs_after = as_list(got["inputs_after"], "real and fake after the call", length=2)
    for name, value, given in zip(("real", "fake"), inputs_after, (real, fake)):
        after = as_array(value, f"{name} after the call", shape=tuple(given.shape))
        if not np.array_equal(after, given.numpy()):
            fail("gradient_penalty changed real or fake")


@hidden_test("gradient_penalty", points=1)
def penalty_trains_the_critic(student):
    """backward() on the penalty gives the critic's parameters the right gradients (create_graph)"""
    state, real, fake, alpha = _penalty_case("points", 1384)
    got = as_dict(student.run(penalty_scenario, "points", state, real, fake, alpha, 10.0), "the scenario")
    if got["grads"] is None:
        fail(
            "the penalty does not depend on the critic's parameters: the gradient must be computed with "
            "create_graph=True so that the critic can be trained through it"
        )
    _, want = _reference_penalty("points", state, real, fake, alpha, 10.0)
    grads = as_dict(got["grads"], "the critic's gradients", keys=list(want))
    if all(grads[name] is None for name in want):
        fail("backward() on the penalty gave the critic's parameters no gradient at all")
    for name, value in want.items():
        mine = np.zeros(value.shape) if grads[name] is None else as_array(grads[name], name)
        expect_close(mine, value, f"the gradient of the critic's {name}", rtol=1e-7, atol=1e-12)


# ---- exercise 6: gan_step (3 points) -------------------------------------------------------------


def gan_step_scenario(student, g_state, d_state, reals, noises, lr, norm):
    """The student's step, run len(reals) times on our small G and D with SGD; what it returns and changes.

    With norm, the generator holds a batch norm: each forward pass in training mode updates its statistics.
    """
    middle = [torch.nn.BatchNorm1d(8)] if norm else []
    generator = torch.nn.Sequential(torch.nn.Linear(3, 8), *middle, torch.nn.Tanh(), torch.nn.Linear(8, 2))
    generator = generator.double()
    discriminator = torch.nn.Sequential(
        torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    ).double()
    generator.load_state_dict(g_state)
    discriminator.load_state_dict(d_state)
    opt_g = torch.optim.SGD(generator.parameters(), lr=lr)
    opt_d = torch.optim.SGD(discriminator.parameters(), lr=lr)
    losses = []
    for real, noise in zip(reals, noises):
        losses.append(student.gan_step(generator, discriminator, opt_g, opt_d, real, noise))
    return {"losses": losses, "g_state": generator.state_dict(), "d_state": discriminator.state_dict()}


def _gan_models(seed, norm=False):
    rng = np.random.default_rng(seed)
    middle = [torch.nn.BatchNorm1d(8)] if norm else []
    generator = torch.nn.Sequential(torch.nn.Linear(3, 8), *middle, torch.nn.Tanh(), torch.nn.Linear(8, 2))
    generator = generator.double()
    discriminator = torch.nn.Sequential(
        torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)
    ).double()
    with torch.no_grad():
        for p in [*generator.parameters(), *discriminator.parameters()]:
            p.copy_(torch.tensor(rng.normal(size=tuple(p.shape)) * 0.7))
    reals = [torch.tensor(rng.normal(size=(10, 2)) + 1.0) for _ in range(3)]
    noises = [torch.tensor(rng.normal(size=(10, 3))) for _ in range(3)]
    return generator, discriminator, reals, noises


def _reference_gan(generator, discriminator, reals, noises, lr):
    opt_g = torch.optim.SGD(generator.parameters(), lr=lr)
    opt_d = torch.optim.SGD(discriminator.parameters(), lr=lr)
    losses = []
    for real, noise in zip(reals, noises):
        fake = generator(noise)
        d_real, d_fake = discriminator(real), discriminator(fake.detach())
        d_loss = F.binary_cross_entropy_with_logits(
            d_real, torch.ones_like(d_real)
        ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        d_out = discriminator(fake)
        g_loss = F.binary_cross_entropy_with_logits(d_out, torch.ones_like(d_out))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        losses.append([d_loss.item(), g_loss.item()])
    return losses, generator.state_dict(), discriminator.state_dict()


def _run_gan_case(student, seed, steps, norm=False):
    generator, discriminator, reals, noises = _gan_models(seed, norm)
    g_state = {k: v.clone() for k, v in generator.state_dict().items()}
    d_state = {k: v.clone() for k, v in discriminator.state_dict().items()}
    got = as_dict(
        student.run(gan_step_scenario, g_state, d_state, reals[:steps], noises[:steps], 0.5, norm),
        "the scenario",
    )
    want = _reference_gan(generator, discriminator, reals[:steps], noises[:steps], 0.5)
    return got, want, g_state


@hidden_test("gan_step", points=1)
def one_step_updates_the_generator(student):
    """after one step the generator moved as the non-saturating loss through the updated D says"""
    got, (_, g_want, _), g_start = _run_gan_case(student, 1391, 1)
    g_got = as_dict(got["g_state"], "the generator's state", keys=list(g_want))
    if all(np.array_equal(as_array(g_got[k], k), g_start[k].numpy()) for k in g_want):
        fail("the generator did not change at all: no gradient reaches it (look for a detach)")
    for name, value in g_want.items():
        expect_close(
            as_array(g_got[name], name), value.numpy(), f"the generator's {name} after one step", rtol=1e-9
        )


@hidden_test("gan_step", points=1)
def one_step_updates_the_discriminator_and_returns_the_losses(student):
    """the discriminator moved by its own loss only, and the two losses are returned as floats"""
    got, (losses_want, _, d_want), _ = _run_gan_case(student, 1392, 1)
    d_got = as_dict(got["d_state"], "the discriminator's state", keys=list(d_want))
    for name, value in d_want.items():
        expect_close(
            as_array(d_got[name], name),
            value.numpy(),
            f"the discriminator's {name} after one step",
            rtol=1e-9,
        )
    returned = as_list(
        as_list(got["losses"], "the returned losses", length=1)[0], "(d_loss, g_loss)", length=2
    )
    for value, want, name in zip(returned, losses_want[0], ("d_loss", "g_loss")):
        if not isinstance(value, float):
            fail(f"{name} should be a Python float, got {type(value).__name__}")
        expect_close(value, want, name, rtol=1e-9)


@hidden_test("gan_step", points=1)
def three_steps_in_a_row(student):
    """three steps in a row end where the reference does (no gradients left over); G has a batch norm"""
    got, (losses_want, g_want, d_want), _ = _run_gan_case(student, 1393, 3, norm=True)
    for label, returned, want in (
        ("generator", got["g_state"], g_want),
        ("discriminator", got["d_state"], d_want),
    ):
        state = as_dict(returned, f"the {label}'s state", keys=list(want))
        for name, value in want.items():
            expect_close(
                as_array(state[name], name),
                value.numpy(),
                f"the {label}'s {name} after three steps (one generator forward pass per step)",
                rtol=1e-9,
            )
    expect_close(
        as_array(got["losses"], "the losses of the three steps", shape=(3, 2)),
        np.array(losses_want),
        "the losses of the three steps",
        rtol=1e-9,
    )


# ---- exercise 7: moons_autoencoder_error (2 points) ----------------------------------------------


def _reference_moons(points, latent, steps, lr, seed):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, latent),
        torch.nn.Linear(latent, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 2),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.mse_loss(model(points), points)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        return float((model(points) - points).square().sum(dim=1).mean())


def _moons(seed, n=200):
    from sklearn.datasets import make_moons

    x, _ = make_moons(n_samples=n, noise=0.05, random_state=seed)
    return torch.tensor(x, dtype=torch.float32)


@hidden_test("moons_autoencoder_error", points=1)
def the_measured_error_is_reproduced(student):
    """the error after 0, 40 and 150 steps with latent 1 and 2, lr 0.01 and 0.03, as the recipe gives"""
    points = _moons(7)
    for latent, steps, lr, seed in [(1, 0, 0.01, 3), (1, 40, 0.03, 1), (2, 150, 0.01, 2)]:
        value = student.moons_autoencoder_error(points, latent, steps, lr=lr, seed=seed)
        if not isinstance(value, float):
            fail(f"moons_autoencoder_error should return a Python float, got {type(value).__name__}")
        got = as_float(value, "moons_autoencoder_error(...)")
        expect_close(
            got,
            _reference_moons(points, latent, steps, lr, seed),
            f"the error with latent {latent} after {steps} steps at lr {lr}",
            rtol=2e-4,
            atol=1e-7,
        )


@hidden_test("moons_autoencoder_error", points=1)
def a_second_code_number_helps(student):
    """the errors after 200 steps with a 1-number and a 2-number code, on other moons"""
    points = _moons(8)
    one = as_float(student.moons_autoencoder_error(points, 1, 200, seed=0), "the error with latent 1")
    two = as_float(student.moons_autoencoder_error(points, 2, 200, seed=0), "the error with latent 2")
    expect_close(
        one, _reference_moons(points, 1, 200, 0.01, 0), "the error with latent 1", rtol=2e-4, atol=1e-7
    )
    expect_close(
        two, _reference_moons(points, 2, 200, 0.01, 0), "the error with latent 2", rtol=2e-4, atol=1e-7
    )
