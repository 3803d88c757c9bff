"""Hidden tests for exercises/03_losses.ipynb (30 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Every expected value is computed here, with PyTorch's own losses or from the definitions in
the prompts (in float64), never from the solution notebook.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from utils.grading.expect import as_array, as_dict, as_float, expect_close, expect_raises, fail
from utils.grading.hidden import hidden_test


def tensor(array, dtype=torch.float64):
    return torch.tensor(np.asarray(array), dtype=dtype)


def expect_tensor_of(value, dtype, shape, what):
    """``value`` is a torch tensor of exactly ``shape`` and ``dtype`` (a Python float is not a 0-d tensor)."""
    if not isinstance(value, torch.Tensor):
        fail(f"{what} should be a torch tensor, but it is a {type(value).__name__}"
             + (" (a 0-dimensional tensor keeps the graph for .backward(); .item() drops it)"
                if isinstance(value, float) else ""))
    if tuple(value.shape) != shape:
        fail(f"{what} should have shape {shape}, but it has shape {tuple(value.shape)}")
    if value.dtype != dtype:
        fail(f"{what} should have dtype {dtype} (the inputs'), but it has {value.dtype}")


def loss_and_gradient(student, name, first, rest):
    """Scenario: call the student's loss with a first argument that needs a gradient, then backward."""
    first.requires_grad_(True)
    loss = getattr(student, name)(first, *rest)
    has_graph = isinstance(loss, torch.Tensor) and loss.grad_fn is not None
    if has_graph:
        loss.sum().backward()
    return {"has_graph": has_graph, "gradient": first.grad}


def expect_gradient_flows(student, name, first, rest, reference, what):
    """The student's loss carries a graph back to ``first``, with autograd's gradient of ``reference``."""
    got = as_dict(student.run(loss_and_gradient, name, first, list(rest)), f"{what} with backward()",
                  keys=["has_graph", "gradient"])
    if got["has_graph"] is not True:
        fail(f"{what} carries no gradient (no grad_fn): .backward() cannot train through it; keep the result "
             "a tensor computed from the inputs (no .item(), .detach() or torch.tensor(...) around it)")
    x = first.clone().requires_grad_(True)
    reference(x).sum().backward()
    expect_close(as_array(got["gradient"], f"the gradient through {what}", shape=tuple(first.shape)),
                 x.grad.double().numpy(), f"the gradient through {what}", rtol=1e-5, atol=1e-7)


# ---- exercise 1: huber_loss (4 points) ---------------------------------------------------------

def huber(student, pred, target, delta, what):
    return as_float(student.huber_loss(pred, target, delta), what)


@hidden_test("huber_loss", points=1)
def huber_default_delta_on_several_shapes(student):
    """delta = 1 on errors of every size, for inputs of shape (60,), (4, 6) and (2, 3, 5)"""
    rng = np.random.default_rng(301)
    for shape in [(60,), (4, 6), (2, 3, 5)]:
        pred, target = tensor(rng.normal(0, 2.0, shape)), tensor(rng.normal(0, 1.0, shape))
        expect_close(huber(student, pred, target, 1.0, f"huber_loss for shape {shape}"),
                     F.huber_loss(pred, target, delta=1.0).item(), f"huber_loss for inputs of shape {shape}")


@hidden_test("huber_loss", points=1)
def huber_other_thresholds(student):
    """delta = 0.3, 2.5 and 10 (errors on both sides of each threshold)"""
    rng = np.random.default_rng(302)
    pred, target = tensor(rng.normal(0, 3.0, 200)), tensor(rng.normal(0, 1.0, 200))
    for delta in (0.3, 2.5, 10.0):
        expect_close(huber(student, pred, target, delta, f"huber_loss with delta={delta}"),
                     F.huber_loss(pred, target, delta=delta).item(), f"huber_loss with delta={delta}")


@hidden_test("huber_loss", points=1)
def huber_rejects_non_positive_delta(student):
    """delta = 0 and delta = -1 raise ValueError, while delta = 0.5 gives the right value"""
    pred, target = tensor([0.2, -1.5, 3.0]), tensor([0.0, 0.0, 0.0])
    expect_close(huber(student, pred, target, 0.5, "huber_loss with delta=0.5"),
                 F.huber_loss(pred, target, delta=0.5).item(), "huber_loss with delta=0.5")
    for delta in (0.0, -1.0):
        expect_raises(lambda: student.huber_loss(torch.ones(4), torch.zeros(4), delta),  # noqa: B023
                      "ValueError", f"huber_loss with delta={delta}")


@hidden_test("huber_loss", points=1)
def huber_is_a_zero_dimensional_tensor(student):
    """the loss is a 0-d tensor of the inputs' dtype (float64 and float32) that backward() goes through"""
    rng = np.random.default_rng(317)
    for dtype in (torch.float64, torch.float32):
        pred, target = tensor(rng.normal(0, 2, 10), dtype), tensor(rng.normal(0, 1, 10), dtype)
        got = student.huber_loss(pred, target, 1.0)
        expect_tensor_of(got, dtype, (), f"huber_loss for {dtype} inputs")
        expect_close(float(got), F.huber_loss(pred.double(), target.double()).item(),
                     f"huber_loss for {dtype}", rtol=1e-5)
    expect_gradient_flows(student, "huber_loss", pred, (target, 0.7),
                          lambda x: F.huber_loss(x, target, delta=0.7), "huber_loss")


# ---- exercise 2: stable_bce_with_logits (4 points) ---------------------------------------------

def bce(student, z, y, what):
    return as_array(student.stable_bce_with_logits(z, y), what, shape=tuple(z.shape))


@hidden_test("stable_bce_with_logits", points=1)
def bce_matches_torch_on_moderate_logits(student):
    """100 random logits in (-8, 8) with 0/1 labels"""
    rng = np.random.default_rng(303)
    z, y = tensor(rng.uniform(-8, 8, 100)), tensor(rng.integers(0, 2, 100))
    expect_close(bce(student, z, y, "stable_bce_with_logits(z, y)"),
                 F.binary_cross_entropy_with_logits(z, y, reduction="none").numpy(),
                 "stable_bce_with_logits on moderate logits")


@hidden_test("stable_bce_with_logits", points=1)
def bce_is_exact_for_extreme_float32_logits(student):
    """float32 logits of +-20, 50, 100, 500 and 1000 with both labels"""
    magnitudes = [20.0, 50.0, 100.0, 500.0, 1000.0]
    z = torch.tensor([s * m for m in magnitudes for s in (1, -1) for _ in (0, 1)], dtype=torch.float32)
    y = torch.tensor([label for _ in magnitudes for _ in (1, -1) for label in (0.0, 1.0)],
                     dtype=torch.float32)
    got = bce(student, z, y, "stable_bce_with_logits on extreme logits")
    want = F.binary_cross_entropy_with_logits(z.double(), y.double(), reduction="none").numpy()
    if not np.isfinite(got).all():
        fail(f"stable_bce_with_logits gives {int((~np.isfinite(got)).sum())} non-finite values for logits "
             "up to +-1000 in float32: rewrite softplus so that exp() only sees non-positive numbers")
    expect_close(got, want, "stable_bce_with_logits on extreme logits", rtol=1e-5, atol=1e-6)


@hidden_test("stable_bce_with_logits", points=1)
def bce_with_soft_labels_in_two_dimensions(student):
    """soft labels in [0, 1] and inputs of shape (5, 7)"""
    rng = np.random.default_rng(304)
    z, y = tensor(rng.normal(0, 4, (5, 7))), tensor(rng.uniform(0, 1, (5, 7)))
    expect_close(bce(student, z, y, "stable_bce_with_logits(z, y) of shape (5, 7)"),
                 F.binary_cross_entropy_with_logits(z, y, reduction="none").numpy(),
                 "stable_bce_with_logits with soft labels")


@hidden_test("stable_bce_with_logits", points=1)
def bce_keeps_the_dtype(student):
    """float32 logits give a float32 tensor, float64 give float64"""
    rng = np.random.default_rng(318)
    for dtype in (torch.float32, torch.float64):
        z, y = tensor(rng.normal(0, 3, (3, 4)), dtype), tensor(rng.integers(0, 2, (3, 4)), dtype)
        got = student.stable_bce_with_logits(z, y)
        expect_tensor_of(got, dtype, (3, 4), f"stable_bce_with_logits for {dtype} inputs")
        expect_close(got.double().numpy(), F.binary_cross_entropy_with_logits(z.double(), y.double(),
                     reduction="none").numpy(), f"stable_bce_with_logits for {dtype}", rtol=1e-5, atol=1e-6)


# ---- exercise 3: label_smoothed_cross_entropy (4 points) ---------------------------------------

def smoothed(student, logits, labels, eps, what):
    return as_float(student.label_smoothed_cross_entropy(logits, labels, eps), what)


@hidden_test("label_smoothed_cross_entropy", points=1)
def smoothed_ce_matches_torch(student):
    """eps = 0.1 on 32 examples of 10 classes"""
    rng = np.random.default_rng(305)
    logits, labels = tensor(rng.normal(0, 2, (32, 10))), torch.tensor(rng.integers(0, 10, 32))
    expect_close(smoothed(student, logits, labels, 0.1, "label_smoothed_cross_entropy(..., 0.1)"),
                 F.cross_entropy(logits, labels, label_smoothing=0.1).item(),
                 "label_smoothed_cross_entropy with eps=0.1")


@hidden_test("label_smoothed_cross_entropy", points=1)
def smoothed_ce_other_eps_and_class_counts(student):
    """eps = 0, 0.25 and 0.6 with 2, 3 and 7 classes"""
    rng = np.random.default_rng(306)
    for eps, k in [(0.0, 3), (0.25, 2), (0.6, 7)]:
        logits, labels = tensor(rng.normal(0, 1.5, (16, k))), torch.tensor(rng.integers(0, k, 16))
        expect_close(smoothed(student, logits, labels, eps, f"label_smoothed_cross_entropy with eps={eps}"),
                     F.cross_entropy(logits, labels, label_smoothing=eps).item(),
                     f"label_smoothed_cross_entropy with eps={eps} and {k} classes")


@hidden_test("label_smoothed_cross_entropy", points=1)
def smoothed_ce_is_stable_for_huge_logits(student):
    """float32 logits as large as 10,000"""
    rng = np.random.default_rng(307)
    logits = tensor(rng.normal(0, 1, (8, 5)) * 1e4, dtype=torch.float32)
    labels = torch.tensor(rng.integers(0, 5, 8))
    got = smoothed(student, logits, labels, 0.1, "label_smoothed_cross_entropy on huge logits")
    expect_close(got, F.cross_entropy(logits.double(), labels, label_smoothing=0.1).item(),
                 "label_smoothed_cross_entropy on logits of size 1e4", rtol=1e-4)


@hidden_test("label_smoothed_cross_entropy", points=1)
def smoothed_ce_is_a_zero_dimensional_tensor(student):
    """the loss is a 0-d tensor of the logits' dtype (float64 and float32) that backward() goes through"""
    rng = np.random.default_rng(319)
    labels = torch.tensor(rng.integers(0, 4, 6))
    for dtype in (torch.float64, torch.float32):
        logits = tensor(rng.normal(0, 2, (6, 4)), dtype)
        got = student.label_smoothed_cross_entropy(logits, labels, 0.2)
        expect_tensor_of(got, dtype, (), f"label_smoothed_cross_entropy for {dtype} logits")
        expect_close(float(got), F.cross_entropy(logits.double(), labels, label_smoothing=0.2).item(),
                     f"label_smoothed_cross_entropy for {dtype} logits", rtol=1e-5)
    expect_gradient_flows(student, "label_smoothed_cross_entropy", logits.double(), (labels, 0.2),
                          lambda x: F.cross_entropy(x, labels, label_smoothing=0.2),
                          "label_smoothed_cross_entropy")


# ---- exercise 4: kl_categorical (4 points) -----------------------------------------------------

def distributions(rng, shape, zeros=False):
    weights = rng.gamma(1.0, 1.0, shape)
    if zeros:
        weights[rng.uniform(size=shape) < 0.3] = 0.0
        weights[..., 0] += 0.5  # every slice keeps some mass
    return tensor(weights / weights.sum(-1, keepdims=True))


def reference_kl(p, q):
    return F.kl_div(q.log(), p, reduction="none").sum(-1).numpy()  # kl_div counts p = 0 terms as 0


@hidden_test("kl_categorical", points=1)
def kl_of_random_batches(student):
    """a batch of 20 pairs of distributions over 6 outcomes"""
    rng = np.random.default_rng(308)
    p, q = distributions(rng, (20, 6)), distributions(rng, (20, 6))
    got = as_array(student.kl_categorical(p, q), "kl_categorical(p, q)", shape=(20,))
    expect_close(got, reference_kl(p, q), "kl_categorical on a batch of shape (20, 6)")


@hidden_test("kl_categorical", points=1)
def kl_with_zeros_in_three_dimensions(student):
    """p with zero entries, inputs of shape (3, 4, 5)"""
    rng = np.random.default_rng(309)
    p, q = distributions(rng, (3, 4, 5), zeros=True), distributions(rng, (3, 4, 5))
    got = as_array(student.kl_categorical(p, q), "kl_categorical(p, q)", shape=(3, 4))
    if not np.isfinite(got).all():
        fail("kl_categorical gives NaN or infinity where p has zeros: count those terms as 0")
    expect_close(got, reference_kl(p, q), "kl_categorical with zeros in p, shape (3, 4, 5)")


@hidden_test("kl_categorical", points=1)
def kl_single_vectors_and_asymmetry(student):
    """one pair of vectors (shape (K,)), both directions, and KL(p || p) = 0"""
    p, q = tensor([0.7, 0.2, 0.1]), tensor([0.1, 0.3, 0.6])
    for a, b, what in [(p, q, "KL(p || q)"), (q, p, "KL(q || p)"), (p, p, "KL(p || p)")]:
        got = as_array(student.kl_categorical(a, b), f"kl_categorical for {what}")
        if got.shape != ():
            fail(f"kl_categorical for {what} with vectors of shape (3,) should have shape (), "
                 f"but it has shape {got.shape}")
        want = float((a * (a / b).log()).sum())
        expect_close(got.reshape(()), want, f"kl_categorical for {what} with vectors of shape (3,)")


@hidden_test("kl_categorical", points=1)
def kl_with_tiny_probabilities_and_float32(student):
    """probabilities of 1e-12 in p and q are exact (no epsilon inside the log); float32 stays float32"""
    p = tensor([[1e-12, 0.5 - 1e-12, 0.5], [0.3, 0.7 - 1e-12, 1e-12]])
    q = tensor([[1e-12, 0.25, 0.75 - 1e-12], [1e-12, 0.5, 0.5 - 1e-12]])
    got = as_array(student.kl_categorical(p, q), "kl_categorical with tiny probabilities", shape=(2,))
    expect_close(got, reference_kl(p, q), "kl_categorical with probabilities of 1e-12", rtol=1e-9, atol=0)
    rng = np.random.default_rng(320)
    p32, q32 = distributions(rng, (4, 5)).float(), distributions(rng, (4, 5)).float()
    got = student.kl_categorical(p32, q32)
    expect_tensor_of(got, torch.float32, (4,), "kl_categorical of float32 distributions")
    expect_close(got.double().numpy(), reference_kl(p32.double(), q32.double()), "kl_categorical in float32",
                 rtol=1e-4, atol=1e-6)


# ---- exercise 5: binary_focal_loss (4 points) --------------------------------------------------

def reference_focal(z, y, gamma, alpha):
    z, y = z.double(), y.double()
    log_pt = -F.binary_cross_entropy_with_logits(z, y, reduction="none")
    loss = -((1 - log_pt.exp()) ** gamma) * log_pt
    if alpha is not None:
        loss = loss * (alpha * y + (1 - alpha) * (1 - y))
    return loss.numpy()


def focal(student, z, y, settings, what):
    gamma, alpha = settings
    return as_array(student.binary_focal_loss(z, y, gamma, alpha), what, shape=tuple(z.shape))


@hidden_test("binary_focal_loss", points=1)
def focal_reduces_to_bce(student):
    """gamma = 0 and alpha = None give binary cross-entropy"""
    rng = np.random.default_rng(310)
    z, y = tensor(rng.normal(0, 3, 50)), tensor(rng.integers(0, 2, 50))
    expect_close(focal(student, z, y, (0.0, None), "binary_focal_loss(z, y, 0.0, None)"),
                 F.binary_cross_entropy_with_logits(z, y, reduction="none").numpy(),
                 "binary_focal_loss with gamma=0 and no alpha")


@hidden_test("binary_focal_loss", points=1)
def focal_with_gamma_and_alpha(student):
    """gamma = 2 with alpha = 0.25, and gamma = 0.5 with alpha = 0.9, shape (6, 8)"""
    rng = np.random.default_rng(311)
    z, y = tensor(rng.normal(0, 3, (6, 8))), tensor(rng.integers(0, 2, (6, 8)))
    for gamma, alpha in [(2.0, 0.25), (0.5, 0.9)]:
        got = focal(student, z, y, (gamma, alpha), f"binary_focal_loss(z, y, {gamma}, {alpha})")
        expect_close(got, reference_focal(z, y, gamma, alpha),
                     f"binary_focal_loss with gamma={gamma}, alpha={alpha}")


@hidden_test("binary_focal_loss", points=1)
def focal_on_extreme_float32_logits_without_alpha(student):
    """float32 logits of +-30, 60 and 100, gamma = 2, alpha = None"""
    z = torch.tensor([30.0, -30.0, 60.0, -60.0, 100.0, -100.0] * 2, dtype=torch.float32)
    y = torch.tensor([0.0] * 6 + [1.0] * 6, dtype=torch.float32)
    got = focal(student, z, y, (2.0, None), "binary_focal_loss on extreme logits")
    if not np.isfinite(got).all():
        fail("binary_focal_loss gives NaN or infinity for logits of size 100: "
             "compute log p_t from the logits")
    expect_close(got, reference_focal(z, y, 2.0, None), "binary_focal_loss on extreme logits",
                 rtol=1e-5, atol=1e-6)


@hidden_test("binary_focal_loss", points=1)
def focal_with_alpha_at_the_ends_and_float32(student):
    """alpha = 0 (only negatives count) and alpha = 1 (only positives); float32 stays float32"""
    rng = np.random.default_rng(321)
    z, y = tensor(rng.normal(0, 3, 20)), tensor(rng.integers(0, 2, 20))
    for alpha in (0.0, 1.0):
        expect_close(focal(student, z, y, (2.0, alpha), f"binary_focal_loss(z, y, 2.0, {alpha})"),
                     reference_focal(z, y, 2.0, alpha), f"binary_focal_loss with alpha={alpha}")
    z32, y32 = z.float(), y.float()
    got = student.binary_focal_loss(z32, y32, 1.5, 0.25)
    expect_tensor_of(got, torch.float32, (20,), "binary_focal_loss of float32 logits")
    expect_close(got.double().numpy(), reference_focal(z32, y32, 1.5, 0.25), "binary_focal_loss in float32",
                 rtol=1e-5, atol=1e-6)


# ---- exercise 6: pinball_loss (3 points) -------------------------------------------------------

@hidden_test("pinball_loss", points=1)
def pinball_values_at_three_levels(student):
    """q = 0.1, 0.5 and 0.9 on 80 random predictions"""
    rng = np.random.default_rng(312)
    pred, target = tensor(rng.normal(0, 1, (8, 10))), tensor(rng.normal(0, 2, (8, 10)))
    residual = (target - pred).numpy()
    for q in (0.1, 0.5, 0.9):
        got = as_float(student.pinball_loss(pred, target, q), f"pinball_loss(pred, target, {q})")
        want = float(np.maximum(q * residual, (q - 1) * residual).mean())
        expect_close(got, want, f"pinball_loss with q={q}")


@hidden_test("pinball_loss", points=1)
def pinball_minimiser_is_the_quantile_and_bad_levels_raise(student):
    """the empirical 0.8-quantile beats its neighbours; q = 0, 1 and 1.5 raise ValueError"""
    rng = np.random.default_rng(313)
    target = tensor(rng.exponential(1.0, 101))
    best = float(np.quantile(target.numpy(), 0.8, method="inverted_cdf"))

    def loss_at(c):
        return as_float(student.pinball_loss(torch.full_like(target, c), target, 0.8),
                        "pinball_loss(c, target, 0.8)")

    at_best = loss_at(best)
    if not (at_best < loss_at(best + 0.05) and at_best < loss_at(best - 0.05)):
        fail("pinball_loss at q = 0.8 is not smallest at the 0.8-quantile of the targets: "
             "check which way round the residual goes (target - pred)")
    for q in (0.0, 1.0, 1.5, -0.2, float("nan")):
        expect_raises(lambda: student.pinball_loss(torch.zeros(3), torch.ones(3), q),  # noqa: B023
                      "ValueError", f"pinball_loss with q={q}")


@hidden_test("pinball_loss", points=1)
def pinball_is_a_zero_dimensional_tensor(student):
    """the loss is a 0-d tensor of the inputs' dtype (float64 and float32) that backward() goes through"""
    rng = np.random.default_rng(322)
    for dtype in (torch.float64, torch.float32):
        pred, target = tensor(rng.normal(0, 1, 12), dtype), tensor(rng.normal(0, 1, 12), dtype)
        got = student.pinball_loss(pred, target, 0.3)
        expect_tensor_of(got, dtype, (), f"pinball_loss for {dtype} inputs")
        residual = (target - pred).double().numpy()
        expect_close(float(got), float(np.maximum(0.3 * residual, -0.7 * residual).mean()),
                     f"pinball_loss for {dtype} inputs", rtol=1e-5)
    target = target.double()
    expect_gradient_flows(student, "pinball_loss", pred.double(), (target, 0.3),
                          lambda x: torch.maximum(0.3 * (target - x), -0.7 * (target - x)).mean(),
                          "pinball_loss")


# ---- exercise 7: best_constant (4 points) -----------------------------------------------------

def minimise_1d(mean_loss, low, high):
    """Golden-section search for the minimum of a convex function of one variable."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    for _ in range(200):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if mean_loss(c) <= mean_loss(d):
            b = d
        else:
            a = c
    return (a + b) / 2


def sample_with_outliers(seed, n):
    rng = np.random.default_rng(seed)
    y = rng.normal(1.0, 1.0, n)
    y[: n // 8] += rng.uniform(8, 15, n // 8)  # one-sided outliers
    return y


@hidden_test("best_constant", points=1)
def best_constant_mean_median_and_bad_name(student):
    """MSE gives the mean and MAE a median (odd and even counts); an unknown loss raises ValueError"""
    for n in (41, 40):
        y = sample_with_outliers(314 + n, n)
        mse = as_float(student.best_constant(tensor(y), "mse"), f"best_constant(y, 'mse') for {n} targets")
        expect_close(mse, float(y.mean()), f"best_constant(y, 'mse') for {n} targets", atol=1e-4)
        mae = as_float(student.best_constant(tensor(y), "mae"), f"best_constant(y, 'mae') for {n} targets")
        best = np.abs(y - np.median(y)).mean()
        if np.abs(y - mae).mean() > best + 1e-6:
            fail(f"best_constant(y, 'mae') for {n} targets does not minimise the mean absolute error")
    expect_raises(lambda: student.best_constant(tensor([1.0, 2.0]), "hinge"), "ValueError",
                  "best_constant with loss='hinge'")


def expect_huber_minimiser(student, y, delta):
    def mean_huber(c):
        e = np.abs(c - y)
        return float(np.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta)).mean())

    want = minimise_1d(mean_huber, float(y.min()), float(y.max()))
    got = as_float(student.best_constant(tensor(y), "huber", delta), f"best_constant(y, 'huber', {delta})")
    expect_close(got, want, f"best_constant(y, 'huber', {delta})", atol=1e-4, rtol=0)


@hidden_test("best_constant", points=1)
def best_constant_huber_default_delta(student):
    """Huber with delta = 1 on 120 targets with outliers"""
    expect_huber_minimiser(student, sample_with_outliers(315, 120), 1.0)


@hidden_test("best_constant", points=1)
def best_constant_huber_other_deltas(student):
    """Huber with delta = 0.4 and delta = 3 on 75 targets with outliers"""
    y = sample_with_outliers(316, 75)
    for delta in (0.4, 3.0):
        expect_huber_minimiser(student, y, delta)


@hidden_test("best_constant", points=1)
def best_constant_returns_python_floats(student):
    """a Python float (not a tensor) for each of the three losses"""
    y = tensor(sample_with_outliers(323, 30))
    for loss in ("mse", "mae", "huber"):
        value = student.best_constant(y, loss)
        if type(value) is not float:
            fail(f"best_constant(y, {loss!r}) should be a Python float, but it is a {type(value).__name__}")
    expect_close(student.best_constant(y, "mse"), float(y.mean()), "best_constant(y, 'mse')", atol=1e-4)


# ---- exercise 8: cross_entropy_ignoring (3 points) --------------------------------------------

def masked_case(seed, n, k, ignore_index, ignored):
    rng = np.random.default_rng(seed)
    logits = tensor(rng.normal(0, 2, (n, k)))
    labels = torch.tensor(rng.integers(0, k, n))
    labels[torch.tensor(rng.permutation(n)[:ignored])] = ignore_index
    return logits, labels


def expect_masked(student, logits, labels, ignore_index, what):
    got = as_float(student.cross_entropy_ignoring(logits, labels, ignore_index),
                   f"cross_entropy_ignoring on {what}")
    want = F.cross_entropy(logits.double(), labels, ignore_index=ignore_index).item()
    expect_close(got, want, f"cross_entropy_ignoring on {what}", rtol=1e-6)


@hidden_test("cross_entropy_ignoring", points=1)
def masked_ce_with_padding(student):
    """16 examples of 5 classes, 7 of them padding (-100), and a batch without padding"""
    expect_masked(student, *masked_case(324, 16, 5, -100, 7), -100, "a batch with 7 of 16 labels ignored")
    expect_masked(student, *masked_case(325, 9, 3, -100, 0), -100, "a batch without padding")


@hidden_test("cross_entropy_ignoring", points=1)
def masked_ce_with_other_ignore_indices(student):
    """ignore_index = 2 (a real class number) and -1; a single example that counts"""
    expect_masked(student, *masked_case(326, 12, 4, 2, 3), 2, "ignore_index = 2")
    expect_masked(student, *masked_case(327, 10, 6, -1, 5), -1, "ignore_index = -1")
    expect_masked(student, *masked_case(328, 6, 3, -100, 5), -100, "a batch where one label counts")


@hidden_test("cross_entropy_ignoring", points=1)
def masked_ce_is_a_tensor_and_refuses_an_empty_batch(student):
    """a 0-d tensor of the logits' dtype that backward() goes through; ValueError if every label is ignored"""
    logits, labels = masked_case(329, 8, 4, -100, 3)
    got = student.cross_entropy_ignoring(logits.float(), labels, -100)
    expect_tensor_of(got, torch.float32, (), "cross_entropy_ignoring of float32 logits")
    expect_close(float(got), F.cross_entropy(logits, labels).item(), "cross_entropy_ignoring in float32",
                 rtol=1e-5)
    expect_gradient_flows(student, "cross_entropy_ignoring", logits, (labels, -100),
                          lambda x: F.cross_entropy(x, labels), "cross_entropy_ignoring")
    expect_raises(lambda: student.cross_entropy_ignoring(logits, torch.full((8,), -100), -100), "ValueError",
                  "cross_entropy_ignoring when every label is ignore_index")
