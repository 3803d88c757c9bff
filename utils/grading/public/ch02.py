"""Visible tests for chapter 2's exercises (exercises/02_activations.ipynb)."""

import math

import torch
import torch.nn.functional as F

from utils.grading.expect import (
    as_array,
    as_dict,
    as_float,
    as_list,
    as_tensor,
    expect_close,
    expect_equal,
    expect_raises,
    fail,
)
from utils.grading.public import visible_test
from utils.grading.rules import AUTOGRAD, write_it_yourself

# What the prompts ask students to write themselves: switched off while that exercise is checked.
write_it_yourself("gelu", "torch.nn.functional.gelu")
write_it_yourself("swish", "torch.nn.functional.silu")
write_it_yourself("stable_softmax", "torch.softmax", "torch.Tensor.softmax", "torch.nn.functional.softmax",
                  "torch.special.softmax", "torch.logsumexp", "torch.Tensor.logsumexp",
                  "torch.special.logsumexp", "torch.log_softmax", "torch.Tensor.log_softmax",
                  "torch.nn.functional.log_softmax", "torch.special.log_softmax")
write_it_yourself("smooth_grads", *AUTOGRAD)

FEW_POINTS = torch.tensor([-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=torch.float64)


def _same_dtype(got, x, what):
    if got.dtype != x.dtype:
        fail(f"{what} should keep the input's dtype {x.dtype}, but it is {got.dtype}")


# ---- gelu ---------------------------------------------------------------------------------------

@visible_test("gelu", hint="GELU(x) = 0.5 * x * (1 + erf(x / sqrt(2))); torch.erf works elementwise.")
def exact_gelu_at_a_few_points(student):
    """exact GELU at x = -3, -1, -0.5, 0, 0.5, 1, 3"""
    got = as_tensor(student.gelu(FEW_POINTS), "gelu(x)", shape=(7,))
    _same_dtype(got, FEW_POINTS, "gelu(x)")
    expect_close(got.numpy(), F.gelu(FEW_POINTS).numpy(), "gelu(x)", rtol=1e-7, atol=1e-10)


@visible_test("gelu", hint="the tanh form: 0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3))).")
def tanh_gelu_at_a_few_points(student):
    """tanh-approximate GELU at the same points"""
    got = as_tensor(student.gelu(FEW_POINTS, approximate="tanh"), "gelu(x, approximate='tanh')", shape=(7,))
    expect_close(got.numpy(), F.gelu(FEW_POINTS, approximate="tanh").numpy(), "gelu(x, approximate='tanh')",
                 rtol=1e-7, atol=1e-10)


@visible_test("gelu", hint="after handling 'none' and 'tanh', raise ValueError for anything else.")
def rejects_an_unknown_form(student):
    """approximate='erf' raises ValueError"""
    expect_raises(lambda: student.gelu(FEW_POINTS, approximate="erf"), "ValueError",
                  "gelu(x, approximate='erf')")


# ---- swish --------------------------------------------------------------------------------------

@visible_test("swish", hint="swish(x, beta) = x * sigmoid(beta * x); with beta = 1 it equals F.silu.")
def silu_and_swish_at_a_few_points(student):
    """beta = 1 (SiLU) and beta = 2 at a few points"""
    for beta in (1.0, 2.0):
        what = f"swish(x, beta={beta})"
        got = as_tensor(student.swish(FEW_POINTS, beta), what, shape=(7,))
        expect_close(got.numpy(), (FEW_POINTS * torch.sigmoid(beta * FEW_POINTS)).numpy(), what,
                     rtol=1e-7, atol=1e-10)


@visible_test("swish", hint="1 / (1 + exp(-u)) is safe: exp overflows to inf and 1 / inf is 0. "
                            "exp(u) / (1 + exp(u)) is not: inf / inf is nan.")
def swish_of_huge_float32_inputs(student):
    """float32 inputs of -1000 and 1000 give -0 and 1000"""
    x = torch.tensor([-1000.0, 1000.0])
    got = as_tensor(student.swish(x), "swish of [-1000, 1000]", shape=(2,))
    expect_close(got.numpy(), [0.0, 1000.0], "swish of [-1000, 1000]")


# ---- stable_softmax -----------------------------------------------------------------------------

@visible_test("stable_softmax", hint="exp(z / T) / sum over dim of exp(z / T), with keepdim=True in the sum.")
def softmax_of_three_logits(student):
    """z = [3, 1, 0.5] at T = 1 and T = 0.5"""
    z = torch.tensor([3.0, 1.0, 0.5])
    for temperature in (1.0, 0.5):
        what = f"stable_softmax(z, temperature={temperature})"
        got = as_tensor(student.stable_softmax(z, temperature), what, shape=(3,))
        expect_close(got.numpy(), torch.softmax(z / temperature, dim=0).numpy(), what, rtol=1e-5, atol=1e-7)


@visible_test("stable_softmax", hint="subtract the maximum along dim (keepdim=True) before exponentiating.")
def softmax_of_huge_logits(student):
    """z = [1000, 999, 998] gives finite probabilities"""
    z = torch.tensor([1000.0, 999.0, 998.0])
    got = as_tensor(student.stable_softmax(z), "stable_softmax([1000, 999, 998])", shape=(3,))
    expect_close(got.numpy(), torch.softmax(z.double(), dim=0).numpy(), "stable_softmax([1000, 999, 998])",
                 rtol=1e-5, atol=1e-7)


@visible_test("stable_softmax", hint="reduce along dim (max and sum) with keepdim=True, whatever dim is.")
def softmax_along_a_chosen_dimension(student):
    """a 2 x 3 batch along dim=1 and along dim=0"""
    z = torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    for dim in (1, 0):
        what = f"stable_softmax(z, dim={dim})"
        got = as_tensor(student.stable_softmax(z, dim=dim), what, shape=(2, 3))
        expect_close(got.numpy(), torch.softmax(z, dim=dim).numpy(), what, rtol=1e-5, atol=1e-7)


@visible_test("stable_softmax", hint="check the temperature first: raise ValueError unless temperature > 0.")
def rejects_zero_temperature(student):
    """temperature = 0 raises ValueError"""
    expect_raises(lambda: student.stable_softmax(torch.ones(3), 0.0), "ValueError",
                  "stable_softmax(z, temperature=0)")


# ---- smooth_grads -------------------------------------------------------------------------------

# What autograd gives for F.softplus, F.elu, F.gelu and F.silu at FEW_POINTS (float64), written down
# once: this module ships to students, so it must not hold code that computes the answer.
AUTOGRAD_DERIVATIVES = {
    "softplus": [0.04742587317756679, 0.2689414213699951, 0.37754066879814546, 0.5, 0.6224593312018546,
                 0.7310585786300049, 0.9525741268224333],
    "elu": [0.049787068367863944, 0.36787944117144233, 0.6065306597126334, 1.0, 1.0, 1.0, 1.0],
    "gelu": [-0.01194564720418392, -0.08331547058768635, 0.13250487534383712, 0.5, 0.8674951246561629,
             1.0833154705876864, 1.011945647204184],
    "silu": [-0.08810410601516962, 0.07232948812851325, 0.2600388126973482, 0.5, 0.7399611873026519,
             0.9276705118714869, 1.0881041060151693],
}


SMOOTH_HINTS = {
    "softplus": "d/dx log(1 + e^x) = e^x / (1 + e^x), a function you know.",
    "elu": "ELU' is 1 for x > 0 and e^x for x <= 0 (the derivative of e^x - 1).",
    "gelu": "product rule on x * Phi(x): Phi' is the normal density phi(x) = exp(-x**2 / 2) / sqrt(2 pi).",
    "silu": "product rule on x * s(x) with s = sigmoid and s' = s (1 - s).",
}


def _derivative_test(name):
    def test(student):
        got = as_dict(student.smooth_grads(FEW_POINTS), "smooth_grads(x)", keys=list(SMOOTH_HINTS))
        what = f"the {name} derivatives"
        want = AUTOGRAD_DERIVATIVES[name]
        expect_close(as_array(got[name], what, shape=(7,)), want, what, rtol=1e-7, atol=1e-10)

    test.__doc__ = f"{name}' at x = -3, -1, -0.5, 0, 0.5, 1, 3, compared with autograd"
    return visible_test("smooth_grads", hint=SMOOTH_HINTS[name])(test)


for _name in SMOOTH_HINTS:
    _derivative_test(_name)


# ---- swish_minimum ------------------------------------------------------------------------------

def _swish(x, beta):
    return x / (1 + math.exp(-beta * x))


@visible_test("swish_minimum", hint="a grid gets you close; then refine (ternary or golden-section search, "
                                    "or bisection on the derivative) until the bracket is tiny.")
def minimum_is_consistent_and_below_a_grid(student):
    """beta = 1: f_min = swish(x_min), and no point of a fine grid on [-6, 0] is lower"""
    x_min, f_min = as_list(student.swish_minimum(1.0), "swish_minimum(1.0)", length=2)
    x_min, f_min = as_float(x_min, "x_min"), as_float(f_min, "f_min")
    if not -6 < x_min < 0:
        fail(f"x_min = {x_min} is not in (-6, 0), where the minimum of SiLU lies")
    expect_close([f_min], [_swish(x_min, 1.0)], "f_min compared with swish at your x_min", rtol=0, atol=1e-12)
    grid_min = min(_swish(-6 + 6 * i / 60_000, 1.0) for i in range(60_001))
    if f_min > grid_min + 1e-9:
        fail(f"f_min = {f_min:.9f} is higher than swish at some points of a grid on [-6, 0]: keep refining")


@visible_test("swish_minimum", hint="the minimum moves with beta: substitute u = beta * x.")
def minimum_for_another_beta(student):
    """beta = 2 gives a different minimum, still consistent"""
    x_min, f_min = as_list(student.swish_minimum(2.0), "swish_minimum(2.0)", length=2)
    x_min, f_min = as_float(x_min, "x_min"), as_float(f_min, "f_min")
    expect_close([f_min], [_swish(x_min, 2.0)], "f_min compared with swish at your x_min", rtol=0, atol=1e-12)
    grid_min = min(_swish(-3 + 3 * i / 30_000, 2.0) for i in range(30_001))
    if f_min > grid_min + 1e-9:
        fail(f"for beta = 2, f_min = {f_min:.9f} is higher than swish at some grid points on [-3, 0]")


# ---- dead_unit_fraction -------------------------------------------------------------------------

@visible_test("dead_unit_fraction", hint="a unit is dead when its column of relu(h @ W.T + b) is all 0.")
def counts_a_small_network(student):
    """a 2-3-1 network where one hidden unit of three is dead"""
    weights = [torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]), torch.tensor([[1.0, 1.0, 1.0]])]
    biases = [torch.tensor([0.0, 0.0, -1.0]), torch.tensor([0.0])]
    X = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])  # unit 3 gets -2, -3, -5: never positive
    got = as_list(student.dead_unit_fraction(weights, biases, X), "dead_unit_fraction(...)", length=1)
    expect_close([as_float(got[0], "the fraction of layer 1")], [1 / 3], "the dead fraction of layer 1")


@visible_test("dead_unit_fraction", hint="one fraction per hidden layer: the output layer is not counted.")
def one_fraction_per_hidden_layer(student):
    """a 2-2-2-1 network gives two fractions"""
    weights = [torch.eye(2), torch.tensor([[1.0, 1.0], [-1.0, -1.0]]), torch.tensor([[1.0, 1.0]])]
    biases = [torch.zeros(2), torch.zeros(2), torch.zeros(1)]
    X = torch.tensor([[1.0, 1.0], [2.0, 0.5]])
    got = as_list(student.dead_unit_fraction(weights, biases, X), "dead_unit_fraction(...)", length=2)
    fractions = [as_float(value, "a fraction") for value in got]
    expect_equal(int(round(fractions[0] * 2)), 0, "dead units in layer 1 (of 2)")
    expect_equal(int(round(fractions[1] * 2)), 1, "dead units in layer 2 (of 2)")


# ---- class_probabilities ------------------------------------------------------------------------

@visible_test("class_probabilities",
              hint="no ReLU on the last layer (logits may be negative), and softmax over dim=1, the classes "
                   "of each example.")
def probabilities_of_a_small_network(student):
    """a 2-2-3 network on 2 examples: each row sums to 1, matching the logits' softmax"""
    weights = [torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, -1.0], [-1.0, 0.0], [0.0, 0.5]])]
    biases = [torch.zeros(2), torch.tensor([0.0, -1.0, 0.0])]
    X = torch.tensor([[2.0, 1.0], [0.5, 3.0]])
    got = as_tensor(student.class_probabilities(X, weights, biases), "class_probabilities(X, weights, b)",
                    shape=(2, 3))
    # hidden h = [[2, 1], [0.5, 3]]; logits = [[1, -3, 0.5], [-2.5, -1.5, 1.5]]
    logits = torch.tensor([[1.0, -3.0, 0.5], [-2.5, -1.5, 1.5]])
    want = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    expect_close(got.double().numpy(), want.double().numpy(), "the probabilities", rtol=1e-5, atol=1e-7)
