"""Visible tests for chapter 13's exercises (exercises/13_generative.ipynb).

Expected values come from torch.distributions, from autograd on the prompts' formulas, or
from small cases worked out by hand. The KL divergence and the ROC AUC must be written by
hand, so the library functions are switched off while those two are checked.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from utils.grading.expect import as_array, as_dict, as_float, expect_close, expect_raises, fail
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

write_it_yourself("gaussian_kl", "torch.distributions.kl_divergence", "torch.distributions.kl.kl_divergence")
write_it_yourself("roc_auc", "sklearn.metrics.roc_auc_score")


@visible_test("gaussian_kl", hint="0.5 * sum(mu^2 + exp(log_var) - 1 - log_var) over the last axis.")
def kl_of_two_rows(student):
    """two rows of a 2-D latent, against the formula worked out by hand"""
    mu = torch.tensor([[0.0, 0.0], [1.0, -1.0]], dtype=torch.float64)
    log_var = torch.tensor([[0.0, 0.0], [0.0, math.log(4.0)]], dtype=torch.float64)
    got = as_array(student.gaussian_kl(mu, log_var), "gaussian_kl(mu, log_var)", shape=(2,))
    want = [0.0, 0.5 * (1.0 + 0.0) + 0.5 * (1.0 + 4.0 - 1.0 - math.log(4.0))]
    expect_close(got, np.array(want), "the KL of each row")
    tiny = student.gaussian_kl(torch.zeros(1, 1), torch.tensor([[-120.0]]))  # float32: sigma^2 rounds to 0
    expect_close(
        as_array(tiny, "gaussian_kl with log_var = -120", shape=(1,)),
        np.array([59.5]),
        "the KL with log_var = -120 in float32 (0.5 * (0 + 0 - 1 + 120))",
        rtol=1e-6,
    )


def _kl_grads(student, mu, log_var):
    mu, log_var = mu.clone().requires_grad_(), log_var.clone().requires_grad_()
    kl = student.gaussian_kl(mu, log_var)
    if not isinstance(kl, torch.Tensor) or not kl.requires_grad:
        return None
    kl.sum().backward()
    return {"grad_mu": mu.grad, "grad_log_var": log_var.grad}


@visible_test("gaussian_kl", hint="compute it with torch operations on mu and log_var (no NumPy, no detach).")
def kl_is_differentiable(student):
    """the gradient of the KL reaches mu and log_var (a VAE is trained through it)"""
    mu = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    log_var = torch.tensor([[0.0, math.log(3.0)]], dtype=torch.float64)
    got = student.run(_kl_grads, mu, log_var)
    if got is None or got["grad_mu"] is None or got["grad_log_var"] is None:
        fail("no gradient reached mu or log_var: build the KL from them with torch operations")
    expect_close(as_array(got["grad_mu"], "d KL / d mu"), mu.numpy(), "the gradient for mu (it is mu)")
    expect_close(
        as_array(got["grad_log_var"], "d KL / d log_var"),
        np.array([[0.0, 1.0]]),
        "the gradient for log_var (0.5 * (sigma^2 - 1))",
    )


def _reparameterize_grads(student, mu, log_var, eps):
    mu, log_var = mu.clone().requires_grad_(), log_var.clone().requires_grad_()
    z = student.reparameterize(mu, log_var, eps)
    if not z.requires_grad:
        return {"z": z.detach(), "grad_mu": None, "grad_log_var": None}
    z.sum().backward()
    return {"z": z.detach(), "grad_mu": mu.grad, "grad_log_var": log_var.grad}


@visible_test(
    "reparameterize", hint="z = mu + exp(0.5 * log_var) * eps, built from mu and log_var (no detach)."
)
def sample_and_its_gradients(student):
    """z for three numbers, and the gradients of sum(z) reaching mu and log_var"""
    mu = torch.tensor([0.0, 1.0, -2.0], dtype=torch.float64)
    log_var = torch.tensor([0.0, math.log(4.0), math.log(0.25)], dtype=torch.float64)
    eps = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    got = as_dict(student.run(_reparameterize_grads, mu, log_var, eps), "the result")
    expect_close(as_array(got["z"], "z", shape=(3,)), np.array([1.0, 0.0, -1.0]), "z")
    if got["grad_mu"] is None or got["grad_log_var"] is None:
        fail("no gradient reached mu or log_var: compute z from them, without detach() or torch.no_grad()")
    expect_close(as_array(got["grad_mu"], "d sum(z) / d mu"), np.ones(3), "the gradient for mu")
    expect_close(
        as_array(got["grad_log_var"], "d sum(z) / d log_var"),
        0.5 * np.array([1.0, -1.0, 1.0]),
        "the gradient for log_var (0.5 * sigma * eps)",
    )


@visible_test(
    "vae_loss", hint="BCE with logits summed over each image, plus beta * KL; then the mean over the batch."
)
def loss_of_two_tiny_images(student):
    """two 'images' of 3 pixels and a 1-D latent, beta = 1 and 2"""
    logits = torch.tensor([[0.0, 2.0, -1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    x = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.5, 1.0]], dtype=torch.float64)
    mu = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    log_var = torch.zeros(2, 1, dtype=torch.float64)
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="sum").item() / 2
    for beta in (1.0, 2.0):
        got = as_float(student.vae_loss(logits, x, mu, log_var, beta=beta), f"vae_loss(..., beta={beta})")
        expect_close(got, reconstruction + beta * 0.25, f"the loss with beta = {beta}")
    confident = torch.tensor([[60.0, -60.0]], dtype=torch.float64)  # sigmoid rounds to 1 and 0
    got = as_float(
        student.vae_loss(confident, torch.tensor([[0.0, 1.0]], dtype=torch.float64), mu[:1] * 0, log_var[:1]),
        "vae_loss(...) with logits +-60",
    )
    expect_close(got, 120.0, "the loss of logits (60, -60) for pixels (0, 1): 60 each", rtol=1e-9)


@visible_test(
    "roc_auc", hint="count pairs (anomaly, normal) with anomaly > normal, ties as 0.5, divide by all pairs."
)
def auc_of_a_small_example(student):
    """3 normal and 2 anomalous scores with one tie: 5.5 of 6 pairs"""
    got = as_float(student.roc_auc(np.array([0.1, 0.4, 0.35]), np.array([0.8, 0.4])), "roc_auc(...)")
    expect_close(got, 5.5 / 6, "the AUC")
    expect_raises(
        lambda: student.roc_auc(np.array([]), np.array([1.0])), "ValueError", "roc_auc with no normal score"
    )


def _penalty_of_a_linear_critic(student, weight):
    critic = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[3.0, 4.0]], dtype=torch.float64))  # gradient norm 5 everywhere
        critic.bias.zero_()
    real = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    fake = torch.zeros(2, 2, dtype=torch.float64)
    penalty = student.gradient_penalty(
        critic, real, fake, torch.tensor([0.3, 0.9], dtype=torch.float64), weight=weight
    )
    grad = None
    if isinstance(penalty, torch.Tensor) and penalty.requires_grad:
        penalty.backward()
        grad = critic.weight.grad
    return {"penalty": penalty.detach() if isinstance(penalty, torch.Tensor) else penalty, "grad": grad}


@visible_test(
    "gradient_penalty",
    hint="autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True); "
    "the norm per example; weight * mean((norm - 1)^2).",
)
def penalty_of_a_linear_critic(student):
    """a linear critic with weights (3, 4): every gradient has norm 5, so the penalty is weight * 16"""
    got = as_dict(student.run(_penalty_of_a_linear_critic, 10.0), "the result")
    expect_close(as_float(got["penalty"], "the penalty"), 160.0, "the penalty with weight 10")
    if got["grad"] is None:
        fail("backward() on the penalty gave the critic no gradient: use create_graph=True")
    # d/dw of 10 * (|w| - 1)^2 = 20 * (|w| - 1) * w / |w| = 20 * 4 * (3, 4) / 5
    expect_close(
        as_array(got["grad"], "the critic's weight gradient"),
        np.array([[48.0, 64.0]]),
        "the gradient of the critic's weight",
    )


def _one_gan_step(student):
    torch.manual_seed(0)
    generator = torch.nn.Linear(2, 2).double()
    discriminator = torch.nn.Linear(2, 1).double()
    g_before = generator.weight.detach().clone()
    d_before = discriminator.weight.detach().clone()
    opt_g = torch.optim.SGD(generator.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(discriminator.parameters(), lr=0.1)
    real = torch.ones(4, 2, dtype=torch.float64)
    noise = torch.randn(4, 2, dtype=torch.float64)
    losses = student.gan_step(generator, discriminator, opt_g, opt_d, real, noise)
    return {
        "losses": losses,
        "g_moved": not torch.equal(generator.weight, g_before),
        "d_moved": not torch.equal(discriminator.weight, d_before),
    }


@visible_test(
    "gan_step", hint="detach the fakes for D's loss, not for G's; zero each optimiser before its backward."
)
def both_players_learn(student):
    """one step changes both networks and returns two floats"""
    got = as_dict(student.run(_one_gan_step), "the result")
    if not got["d_moved"]:
        fail("the discriminator did not change")
    if not got["g_moved"]:
        fail("the generator did not change: no gradient reaches it")
    losses = got["losses"]
    if not (
        isinstance(losses, (list, tuple)) and len(losses) == 2 and all(isinstance(v, float) for v in losses)
    ):
        fail("gan_step should return (d_loss, g_loss) as two Python floats")


@visible_test(
    "moons_autoencoder_error", hint="seed, build the network in the given order, train, then measure."
)
def untrained_and_trained_errors(student):
    """on four points: the untrained error (0 steps) and that training 50 steps lowers it"""
    points = torch.tensor([[0.0, 1.0], [1.0, 0.0], [-1.0, 0.5], [0.5, -0.5]])
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 1),
        torch.nn.Linear(1, 8),
        torch.nn.Tanh(),
        torch.nn.Linear(8, 2),
    )
    with torch.no_grad():
        want = float((model(points) - points).square().sum(dim=1).mean())
    before = student.moons_autoencoder_error(points, 1, 0)
    if not isinstance(before, float):
        fail(f"moons_autoencoder_error should return a Python float, got {type(before).__name__}")
    expect_close(before, want, "the error of the untrained network (0 steps)", rtol=1e-5)
    after = as_float(student.moons_autoencoder_error(points, 1, 50), "the error after 50 steps")
    if not after < before:
        fail(f"50 steps of training did not lower the error ({before:.4f} -> {after:.4f})")
