"""Visible tests for chapter 3's exercises (exercises/03_losses.ipynb)."""

import math

import torch
import torch.nn.functional as F

from utils.grading.expect import as_array, as_float, expect_close, expect_raises, fail
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

# The PyTorch losses each exercise asks students to write themselves: switched off while it is checked.
write_it_yourself("huber_loss", "torch.nn.functional.huber_loss", "torch.nn.functional.smooth_l1_loss")
write_it_yourself("stable_bce_with_logits", "torch.nn.functional.binary_cross_entropy_with_logits",
                  "torch.binary_cross_entropy_with_logits", "torch.nn.functional.binary_cross_entropy",
                  "torch.nn.functional.softplus")
write_it_yourself("label_smoothed_cross_entropy", "torch.nn.functional.cross_entropy")
write_it_yourself("kl_categorical", "torch.nn.functional.kl_div", "torch.distributions.kl_divergence",
                  "torch.distributions.kl.kl_divergence")
write_it_yourself("binary_focal_loss", "torch.nn.functional.binary_cross_entropy_with_logits",
                  "torch.binary_cross_entropy_with_logits", "torch.nn.functional.binary_cross_entropy")
write_it_yourself("cross_entropy_ignoring", "torch.nn.functional.cross_entropy",
                  "torch.nn.functional.nll_loss")


@visible_test("huber_loss",
              hint="per element 0.5*e**2 where |e| <= delta, else delta*(|e| - 0.5*delta); then the mean.")
def huber_on_a_few_errors(student):
    """errors -3, -0.5, 0, 0.5, 3 with delta = 1"""
    pred = torch.tensor([-3.0, -0.5, 0.0, 0.5, 3.0])
    value = student.huber_loss(pred, torch.zeros(5), 1.0)
    if not isinstance(value, torch.Tensor) or value.shape != ():
        fail("huber_loss should return a 0-dimensional tensor (keep .mean()'s result; .item() would drop "
             "the graph that .backward() needs)")
    got = as_float(value, "huber_loss(pred, target, 1.0)")
    expect_close(got, (2.5 + 0.125 + 0.0 + 0.125 + 2.5) / 5, "huber_loss(pred, target, 1.0)")


@visible_test("huber_loss", hint="check `if delta <= 0: raise ValueError(...)` before computing anything.")
def huber_rejects_a_zero_delta(student):
    """delta = 0 raises ValueError"""
    expect_raises(lambda: student.huber_loss(torch.ones(3), torch.zeros(3), 0.0), "ValueError",
                  "huber_loss with delta=0")


@visible_test("stable_bce_with_logits",
              hint="softplus(z) - y*z, with softplus(z) = max(z, 0) + log1p(exp(-|z|)).")
def bce_on_moderate_logits(student):
    """logits -2, 0, 3 with labels 1, 1, 0"""
    z, y = torch.tensor([-2.0, 0.0, 3.0]), torch.tensor([1.0, 1.0, 0.0])
    got = as_array(student.stable_bce_with_logits(z, y), "stable_bce_with_logits(z, y)", shape=(3,))
    expect_close(got, F.binary_cross_entropy_with_logits(z, y, reduction="none").numpy(),
                 "stable_bce_with_logits(z, y)", rtol=1e-5, atol=1e-6)


@visible_test("stable_bce_with_logits",
              hint="never compute exp(z) for a large positive z: exp(-|z|) is always <= 1.")
def bce_on_extreme_logits(student):
    """logits -200 and 200 in float32 give losses 200 and 200"""
    z, y = torch.tensor([-200.0, 200.0]), torch.tensor([1.0, 0.0])
    got = as_array(student.stable_bce_with_logits(z, y), "stable_bce_with_logits(z, y)", shape=(2,))
    expect_close(got, [200.0, 200.0], "the losses of two confidently wrong logits", rtol=1e-5)


@visible_test("label_smoothed_cross_entropy",
              hint="target = eps/K everywhere, plus 1 - eps on the true class; "
                   "loss = -(target * log_softmax).sum(1).mean().")
def smoothed_ce_matches_torch(student):
    """3 examples, 4 classes, eps = 0.1"""
    logits = torch.tensor([[2.0, 0.5, -1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-1.0, 3.0, 0.5, 1.0]])
    labels = torch.tensor([0, 2, 1])
    got = as_float(student.label_smoothed_cross_entropy(logits, labels, 0.1),
                   "label_smoothed_cross_entropy(...)")
    expect_close(got, F.cross_entropy(logits, labels, label_smoothing=0.1).item(),
                 "label_smoothed_cross_entropy(...)")


@visible_test("kl_categorical",
              hint="sum over the last axis of p * (log p - log q), counting terms with p = 0 as 0.")
def kl_of_two_small_distributions(student):
    """KL between (0.5, 0.5, 0) and (0.25, 0.25, 0.5)"""
    p, q = torch.tensor([[0.5, 0.5, 0.0]]), torch.tensor([[0.25, 0.25, 0.5]])
    got = as_array(student.kl_categorical(p, q), "kl_categorical(p, q)", shape=(1,))
    if not torch.isfinite(torch.from_numpy(got)).all():
        fail("kl_categorical gives NaN or infinity when p has a zero: count 0 * log 0 as 0")
    expect_close(got, [math.log(2)], "kl_categorical(p, q)")


@visible_test("binary_focal_loss",
              hint="log p_t = -BCE(z, y); loss = -alpha_t * (1 - p_t)**gamma * log p_t.")
def focal_with_gamma_zero_is_bce(student):
    """gamma = 0 and alpha = None give BCE"""
    z, y = torch.tensor([-1.0, 0.5, 2.0]), torch.tensor([1.0, 0.0, 1.0])
    got = as_array(student.binary_focal_loss(z, y, 0.0, None), "binary_focal_loss(z, y, 0.0, None)",
                   shape=(3,))
    expect_close(got, F.binary_cross_entropy_with_logits(z, y, reduction="none").numpy(),
                 "binary_focal_loss with gamma=0, alpha=None", rtol=1e-5, atol=1e-6)


@visible_test("binary_focal_loss", hint="alpha_t is alpha for y = 1 and 1 - alpha for y = 0.")
def focal_on_a_positive_and_a_negative(student):
    """logit 0 for a positive and a negative, gamma = 2, alpha = 0.25"""
    got = as_array(student.binary_focal_loss(torch.zeros(2), torch.tensor([1.0, 0.0]), 2.0, 0.25),
                   "binary_focal_loss(z, y, 2.0, 0.25)", shape=(2,))
    base = 0.25 * math.log(2)  # (1 - 0.5)**2 * log 2
    expect_close(got, [0.25 * base, 0.75 * base], "binary_focal_loss(z, y, 2.0, 0.25)")


@visible_test("pinball_loss", hint="r = target - pred; per element max(q*r, (q-1)*r); then the mean.")
def pinball_is_asymmetric(student):
    """q = 0.9: under-predicting by 1 costs 0.9, over-predicting by 1 costs 0.1"""
    under = as_float(student.pinball_loss(torch.tensor([0.0]), torch.tensor([1.0]), 0.9),
                     "pinball_loss(0, 1, 0.9)")
    over = as_float(student.pinball_loss(torch.tensor([1.0]), torch.tensor([0.0]), 0.9),
                    "pinball_loss(1, 0, 0.9)")
    expect_close([under, over], [0.9, 0.1], "the cost of under- and over-predicting by 1 at q = 0.9")


@visible_test("best_constant",
              hint="MSE: the mean; MAE: a median; Huber: iterate c = weighted mean with weights "
                   "min(1, delta/|y - c|).")
def best_constants_of_a_small_sample(student):
    """the sample 0, 0.5, 1, 4, 20"""
    y = torch.tensor([0.0, 0.5, 1.0, 4.0, 20.0])
    for loss, want in (("mse", 5.1), ("mae", 1.0)):
        got = as_float(student.best_constant(y, loss), f"best_constant(y, {loss!r})")
        expect_close(got, want, f"best_constant(y, {loss!r})", atol=1e-4)
    # Huber, delta = 1, at c = 1.25: the residuals -1.25, 4 - c and 20 - c pull with force 1 each
    # (capped), -0.75 and -0.25 with their size; -1 - 0.75 - 0.25 + 1 + 1 = 0, so c = 1.25 is the minimum.
    got = as_float(student.best_constant(y, "huber", 1.0), "best_constant(y, 'huber', 1.0)")
    expect_close(got, 1.25, "best_constant(y, 'huber', 1.0)", atol=1e-4)


@visible_test("cross_entropy_ignoring",
              hint="average over the examples that count: divide the sum by the number of kept labels, "
                   "not by N.")
def masked_ce_with_two_padded_examples(student):
    """4 examples of 3 classes, the last two padding (-100)"""
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 1.5, 0.0], [3.0, -2.0, 1.0], [0.0, 0.0, 4.0]])
    labels = torch.tensor([0, 2, -100, -100])
    got = as_float(student.cross_entropy_ignoring(logits, labels, -100), "cross_entropy_ignoring(...)")
    want = F.cross_entropy(logits, labels, ignore_index=-100).item()
    expect_close(got, want, "cross_entropy_ignoring(...)", rtol=1e-5)
