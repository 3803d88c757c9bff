"""Hidden tests for exercises/02_activations.ipynb (25 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Every expected value is computed here, with PyTorch's own functions and autograd or from the
definitions in the prompts (in float64), never from the solution notebook.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

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

STRICT = {"rtol": 1e-7, "atol": 1e-10}  # float64 against float64: far tighter than any real mistake
FLOAT32 = {"rtol": 2e-5, "atol": 1e-6}


def random_tensor(rng, shape, scale=3.0, dtype=torch.float64):
    return torch.tensor(rng.normal(0.0, scale, size=shape), dtype=dtype)


def expect_tensor_close(got, want, what, tolerance):
    """``got`` is a tensor of ``want``'s shape whose values match it (dtypes have their own tests)."""
    got = as_tensor(got, what, shape=tuple(want.shape))
    expect_close(got.double().numpy(), want.double().numpy(), what, **tolerance)


def expect_same_dtype(got, want, what):
    """``got`` is a tensor of ``want``'s dtype and shape, with the right values."""
    tensor = as_tensor(got, what, shape=tuple(want.shape))
    if tensor.dtype != want.dtype:
        fail(f"{what} should have dtype {want.dtype} (the input's), but it has {tensor.dtype}")
    expect_tensor_close(tensor, want, what, FLOAT32 if want.dtype == torch.float32 else STRICT)


def expect_python_float(value, what):
    if type(value) is not float:
        fail(f"{what} should be a Python float, but it is a {type(value).__name__}")


# ---- exercise 1: gelu (4 points) -----------------------------------------------------------------

@hidden_test("gelu", points=1)
def exact_gelu_matches_torch(student):
    """exact form on random float64 inputs of shape (50,), (4, 7) and (2, 3, 5), and on float32"""
    rng = np.random.default_rng(201)
    for shape in [(50,), (4, 7), (2, 3, 5)]:
        x = random_tensor(rng, shape)
        expect_tensor_close(student.gelu(x), F.gelu(x), f"gelu(x) for x of shape {shape}", STRICT)
    x32 = random_tensor(rng, (64,), dtype=torch.float32)
    expect_tensor_close(student.gelu(x32), F.gelu(x32), "gelu(x) for a float32 x", FLOAT32)


@hidden_test("gelu", points=1)
def tanh_gelu_matches_torch(student):
    """tanh form on random float64 inputs (where it differs from the exact form) and on float32"""
    rng = np.random.default_rng(202)
    x = torch.cat([random_tensor(rng, (60,)), torch.linspace(-4, 4, 41, dtype=torch.float64)])
    expect_tensor_close(student.gelu(x, approximate="tanh"), F.gelu(x, approximate="tanh"),
                        "gelu(x, approximate='tanh')", STRICT)
    x32 = random_tensor(rng, (3, 16), dtype=torch.float32)
    expect_tensor_close(student.gelu(x32, approximate="tanh"), F.gelu(x32, approximate="tanh"),
                        "gelu(x, approximate='tanh') for a float32 x", FLOAT32)


@hidden_test("gelu", points=1)
def gelu_rejects_unknown_forms_and_keeps_extremes_finite(student):
    """both forms finite and right for inputs up to +-1000; approximate='fast' and 'Tanh' raise ValueError"""
    x = torch.tensor([-1000.0, -50.0, -10.0, 10.0, 50.0, 1000.0], dtype=torch.float64)
    expect_tensor_close(student.gelu(x), F.gelu(x), "gelu of [-1000, -50, -10, 10, 50, 1000]", STRICT)
    for dtype, tolerance in ((torch.float64, STRICT), (torch.float32, FLOAT32)):
        big = x.to(dtype)
        expect_tensor_close(student.gelu(big, approximate="tanh"), F.gelu(big, approximate="tanh"),
                            f"gelu(x, approximate='tanh') of {dtype} values up to +-1000", tolerance)
    for form in ("fast", "Tanh"):
        expect_raises(lambda: student.gelu(torch.ones(3, dtype=torch.float64), approximate=form),  # noqa: B023
                      "ValueError", f"gelu(x, approximate={form!r})")


@hidden_test("gelu", points=1)
def gelu_keeps_the_dtype(student):
    """float32 in, float32 out; float64 in, float64 out (both forms)"""
    rng = np.random.default_rng(212)
    for dtype in (torch.float32, torch.float64):
        x = random_tensor(rng, (3, 5), dtype=dtype)
        expect_same_dtype(student.gelu(x), F.gelu(x), f"gelu of a {dtype} tensor")
        expect_same_dtype(student.gelu(x, approximate="tanh"), F.gelu(x, approximate="tanh"),
                          f"gelu(x, approximate='tanh') of a {dtype} tensor")


# ---- exercise 2: swish (3 points) ----------------------------------------------------------------

def swish_reference(x, beta):
    return x * torch.sigmoid(beta * x)


@hidden_test("swish", points=1)
def swish_with_beta_one_is_silu(student):
    """beta = 1 matches F.silu on random inputs of two shapes, and on float32 values of +-1000"""
    rng = np.random.default_rng(203)
    for shape in [(40,), (5, 6)]:
        x = random_tensor(rng, shape)
        expect_tensor_close(student.swish(x), F.silu(x), f"swish(x) for x of shape {shape}", STRICT)
    x = torch.tensor([-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0])
    expect_tensor_close(student.swish(x, 1.0), F.silu(x), "swish of float32 values up to +-1000", FLOAT32)


@hidden_test("swish", points=1)
def swish_with_other_slopes(student):
    """beta = -3, -1, 0, 0.5, 2 and 10 on random inputs; beta = 10 and -10 on float32 values of +-1000"""
    rng = np.random.default_rng(204)
    x = random_tensor(rng, (3, 20))
    for beta in (-3.0, -1.0, 0.0, 0.5, 2.0, 10.0):
        expect_tensor_close(student.swish(x, beta), swish_reference(x, beta), f"swish(x, beta={beta})",
                            STRICT)
    big = torch.tensor([-1000.0, -5.0, 5.0, 1000.0])
    for beta in (10.0, -10.0):
        expect_tensor_close(student.swish(big, beta), swish_reference(big, beta),
                            f"swish(x, beta={beta}) of float32 values up to +-1000", FLOAT32)


@hidden_test("swish", points=1)
def swish_keeps_the_dtype(student):
    """float32 in, float32 out; float64 in, float64 out"""
    rng = np.random.default_rng(213)
    for dtype in (torch.float32, torch.float64):
        x = random_tensor(rng, (4, 4), dtype=dtype)
        expect_same_dtype(student.swish(x, 1.5), swish_reference(x, 1.5), f"swish of a {dtype} tensor")


# ---- exercise 3: stable_softmax (4 points) -------------------------------------------------------

def softmax_reference(z, temperature, dim):
    return torch.softmax(z.double() / temperature, dim=dim).to(z.dtype)


@hidden_test("stable_softmax", points=1)
def softmax_along_every_dimension(student):
    """T = 1 on random tensors of shape (7,), (5, 6) and (3, 4, 5), along every dimension"""
    rng = np.random.default_rng(205)
    for shape in [(7,), (5, 6), (3, 4, 5)]:
        z = random_tensor(rng, shape)
        for dim in list(range(len(shape))) + [-1]:
            expect_tensor_close(student.stable_softmax(z, 1.0, dim), softmax_reference(z, 1.0, dim),
                                f"stable_softmax for z of shape {shape}, dim={dim}", STRICT)


@hidden_test("stable_softmax", points=1)
def softmax_with_temperatures_and_huge_logits(student):
    """T = 0.05, 0.7, 3 and 100, and float32 rows of logits near +1e4 beside rows near -1e4"""
    rng = np.random.default_rng(206)
    z = random_tensor(rng, (4, 9))
    for temperature in (0.05, 0.7, 3.0, 100.0):
        expect_tensor_close(student.stable_softmax(z, temperature, 1), softmax_reference(z, temperature, 1),
                            f"stable_softmax(z, temperature={temperature}, dim=1)", STRICT)
    offsets = torch.tensor([[1e4], [-1e4], [0.0], [5e3]])
    huge = (offsets + torch.tensor(rng.normal(0.0, 5.0, size=(4, 6)))).float()
    for dim in (1, 0):
        expect_tensor_close(student.stable_softmax(huge, 1.0, dim), softmax_reference(huge, 1.0, dim),
                            f"stable_softmax of float32 logits up to +-1e4 along dim={dim}", FLOAT32)
    expect_tensor_close(student.stable_softmax(huge, 0.5, -1), softmax_reference(huge, 0.5, -1),
                        "stable_softmax of huge float32 logits at temperature 0.5", FLOAT32)


@hidden_test("stable_softmax", points=1)
def softmax_rejects_non_positive_temperatures(student):
    """temperature = 0, -1, -0.5 and nan raise ValueError, while temperature = 2 works"""
    z = torch.tensor([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]], dtype=torch.float64)
    expect_tensor_close(student.stable_softmax(z, 2.0), softmax_reference(z, 2.0, -1),
                        "stable_softmax(z, temperature=2)", STRICT)
    for temperature in (0.0, -1.0, -0.5, float("nan")):
        expect_raises(lambda: student.stable_softmax(torch.ones(2, 3), temperature),  # noqa: B023
                      "ValueError", f"stable_softmax(z, temperature={temperature})")


@hidden_test("stable_softmax", points=1)
def softmax_keeps_the_dtype(student):
    """float32 in, float32 out; float64 in, float64 out"""
    rng = np.random.default_rng(214)
    for dtype in (torch.float32, torch.float64):
        z = random_tensor(rng, (3, 6), dtype=dtype)
        expect_same_dtype(student.stable_softmax(z, 0.5, 1), softmax_reference(z, 0.5, 1),
                          f"stable_softmax of a {dtype} tensor")


# ---- exercise 4: smooth_grads (4 points) ---------------------------------------------------------

GRAD_TOLERANCE = {"rtol": 1e-7, "atol": 1e-10}
FUNCTIONS = {"softplus": F.softplus, "elu": F.elu, "gelu": F.gelu, "silu": F.silu}


def autograd_derivative(function, x):
    xt = x.clone().requires_grad_(True)
    function(xt).sum().backward()
    return xt.grad


def grads(student, x):
    return as_dict(student.smooth_grads(x), f"smooth_grads(x) for {len(x)} points", keys=list(FUNCTIONS))


def test_points(seed):
    rng = np.random.default_rng(seed)
    special = [0.0, -1e-3, 1e-3, -8.0, 8.0, -25.0, 25.0, -1000.0, 1000.0]
    return torch.tensor(np.concatenate([rng.normal(0.0, 2.5, size=60), special]), dtype=torch.float64)


def expect_derivative(student, names, seed):
    x = test_points(seed)
    got = grads(student, x)
    for name in names:
        what = f"the {name} derivatives"
        want = autograd_derivative(FUNCTIONS[name], x).numpy()
        expect_close(as_array(got[name], what, shape=tuple(x.shape)), want, what, **GRAD_TOLERANCE)


@hidden_test("smooth_grads", points=1)
def softplus_and_elu_derivatives(student):
    """softplus' and ELU' on 69 points, 0, +-25 and +-1000 included"""
    expect_derivative(student, ["softplus", "elu"], 207)


@hidden_test("smooth_grads", points=1)
def gelu_derivative(student):
    """GELU' on 69 points, 0, +-25 and +-1000 included"""
    expect_derivative(student, ["gelu"], 208)


@hidden_test("smooth_grads", points=1)
def silu_derivative(student):
    """SiLU' on 69 points, 0, +-25 and +-1000 included"""
    expect_derivative(student, ["silu"], 209)


@hidden_test("smooth_grads", points=1)
def smooth_grads_are_float64_tensors(student):
    """every derivative is a float64 tensor of x's shape"""
    x = test_points(215)
    got = grads(student, x)
    for name, function in FUNCTIONS.items():
        value = got[name]
        if not isinstance(value, torch.Tensor):
            fail(f"the {name} derivatives should be a float64 tensor, but they are a {type(value).__name__}")
        if value.dtype != torch.float64:
            fail(f"the {name} derivatives should be a float64 tensor, but their dtype is {value.dtype}")
        expect_close(as_array(value, f"the {name} derivatives", shape=tuple(x.shape)),
                     autograd_derivative(function, x).numpy(), f"the {name} derivatives", **GRAD_TOLERANCE)


# ---- exercise 5: swish_minimum (3 points) --------------------------------------------------------

def swish_minimum_reference(beta):
    """Bisection on the derivative of u * sigmoid(u), 1 + u (1 - sigmoid(u)) = 0, then x = u / beta."""
    def slope(u):
        return 1 + u * (1 - 1 / (1 + math.exp(-u)))

    low, high = -5.0, 0.0  # slope(-5) < 0 < slope(0)
    for _ in range(200):
        middle = (low + high) / 2
        if slope(middle) < 0:
            low = middle
        else:
            high = middle
    u = (low + high) / 2
    return u / beta, u / (1 + math.exp(-u)) / beta


def expect_minimum(student, beta):
    result = as_list(student.swish_minimum(beta), f"swish_minimum({beta})", length=2)
    x_min, f_min = as_float(result[0], "x_min"), as_float(result[1], "f_min")
    want_x, want_f = swish_minimum_reference(beta)
    expect_close([x_min], [want_x], f"x_min for beta = {beta}", rtol=0, atol=1e-6)
    expect_close([f_min], [want_f], f"f_min for beta = {beta}", rtol=0, atol=1e-6)


@hidden_test("swish_minimum", points=1)
def silu_minimum(student):
    """beta = 1 (SiLU): location and value to 1e-6"""
    expect_minimum(student, 1.0)


@hidden_test("swish_minimum", points=1)
def swish_minimum_returns_python_floats(student):
    """x_min and f_min are Python floats (beta = 2)"""
    result = as_list(student.swish_minimum(2.0), "swish_minimum(2.0)", length=2)
    expect_python_float(result[0], "x_min")
    expect_python_float(result[1], "f_min")
    expect_minimum(student, 2.0)


@hidden_test("swish_minimum", points=1)
def swish_minimum_for_other_slopes(student):
    """beta = 0.1, 0.5, 3.7 and 20: location and value to 1e-6"""
    for beta in (0.1, 0.5, 3.7, 20.0):
        expect_minimum(student, beta)


# ---- exercise 6: dead_unit_fraction (4 points) ---------------------------------------------------

def dead_reference(weights, biases, X):
    fractions, h = [], X
    for W, b in zip(weights[:-1], biases[:-1]):
        z = h @ W.T + b
        fractions.append((z <= 0).all(dim=0).double().mean().item())
        h = torch.relu(z)
    return fractions


def expect_fractions(student, weights, biases, X, what):
    got = as_list(student.dead_unit_fraction(weights, biases, X), what, length=len(weights) - 1)
    got = [as_float(value, f"a fraction returned for {what}") for value in got]
    expect_close(got, dead_reference(weights, biases, X), f"the dead fractions of {what}", rtol=0, atol=1e-6)


def random_network(rng, sizes, bias_shift):
    weights = [torch.tensor(rng.normal(0, 1 / math.sqrt(d_in), size=(d_out, d_in)), dtype=torch.float32)
               for d_in, d_out in zip(sizes[:-1], sizes[1:])]
    biases = [torch.tensor(rng.normal(bias_shift, 0.5, size=d_out), dtype=torch.float32)
              for d_out in sizes[1:]]
    return weights, biases


@hidden_test("dead_unit_fraction", points=1)
def dead_units_with_exact_zeros(student):
    """integer weights where some pre-activations are exactly 0, or positive for one example only"""
    weights = [torch.tensor([[1.0, -1.0], [0.0, 0.0], [-1.0, 0.0], [2.0, 1.0], [0.0, -1.0]]),
               torch.tensor([[1.0, 1.0, 1.0, -1.0, 0.0], [0.0, 0.0, 0.0, 1.0, 0.0]]),
               torch.tensor([[1.0, 1.0]])]
    biases = [torch.tensor([0.0, 0.0, 0.0, -5.0, 1.0]), torch.tensor([0.0, -2.0]), torch.tensor([0.0])]
    X = torch.tensor([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0], [2.0, 2.0]])
    # layer 1 pre-activations: unit 1 is 0, 2, -3, 0 (alive once); unit 2 is always exactly 0 (dead);
    # unit 3 is <= 0 (dead); unit 4 is -2, -1, -2, 1 (alive for one example only); unit 5 is 0, 1, -2, -1.
    expect_fractions(student, weights, biases, X, "a 2-5-2-1 network with exact zeros")


@hidden_test("dead_unit_fraction", points=1)
def dead_units_in_random_deep_networks(student):
    """random networks of depth 2 to 5 with negative biases, on 40 to 200 examples"""
    rng = np.random.default_rng(210)
    cases = [([6, 9, 3], -0.3, 40), ([10, 16, 12, 8, 4], -0.8, 120), ([5, 30, 20, 20, 10, 2], -0.5, 200),
             ([7, 25, 25, 3], 0.0, 60)]
    for sizes, shift, n in cases:
        weights, biases = random_network(rng, sizes, shift)
        X = torch.tensor(rng.normal(0, 1, size=(n, sizes[0])), dtype=torch.float32)
        name = "-".join(map(str, sizes))
        expect_fractions(student, weights, biases, X, f"a {name} network on {n} examples")


@hidden_test("dead_unit_fraction", points=1)
def dead_units_on_a_single_example_and_in_wide_layers(student):
    """one example (a unit is dead unless it fires for it), and layers wider and narrower than the data"""
    rng = np.random.default_rng(211)
    weights, biases = random_network(rng, [4, 12, 6, 1], -0.2)
    X = torch.tensor(rng.normal(0, 1, size=(1, 4)), dtype=torch.float32)
    expect_fractions(student, weights, biases, X, "a 4-12-6-1 network on one example")
    weights, biases = random_network(rng, [3, 50, 2, 5], -0.4)
    X = torch.tensor(rng.normal(0, 1, size=(7, 3)), dtype=torch.float32)
    expect_fractions(student, weights, biases, X, "a 3-50-2-5 network on 7 examples")


@hidden_test("dead_unit_fraction", points=1)
def dead_fractions_are_python_floats(student):
    """a list of Python floats, one per hidden layer"""
    rng = np.random.default_rng(216)
    weights, biases = random_network(rng, [4, 8, 6, 2], -0.3)
    X = torch.tensor(rng.normal(0, 1, size=(10, 4)), dtype=torch.float32)
    got = as_list(student.dead_unit_fraction(weights, biases, X), "dead_unit_fraction(...)", length=2)
    for value in got:
        expect_python_float(value, "each fraction")
    expect_fractions(student, weights, biases, X, "a 4-8-6-2 network on 10 examples")


# ---- exercise 7: class_probabilities (3 points) --------------------------------------------------

def probabilities_reference(X, weights, biases):
    h = X.double()
    for W, b in zip(weights[:-1], biases[:-1]):
        h = torch.relu(h @ W.double().T + b.double())
    return torch.softmax(h @ weights[-1].double().T + biases[-1].double(), dim=1)


def expect_probabilities(student, sizes, n, seed, what, dtype=torch.float64):
    rng = np.random.default_rng(seed)
    weights, biases = random_network(rng, sizes, 0.0)
    weights, biases = [w.to(dtype) for w in weights], [b.to(dtype) for b in biases]
    biases[-1] = biases[-1] - 3.0  # logits that are mostly negative
    X = torch.tensor(rng.normal(0, 1, size=(n, sizes[0])), dtype=dtype)
    got = student.class_probabilities(X, weights, biases)
    want = probabilities_reference(X, weights, biases)
    tolerance = STRICT if dtype == torch.float64 else FLOAT32
    expect_tensor_close(got, want, f"class_probabilities for {what}", tolerance)
    return got


@hidden_test("class_probabilities", points=1)
def probabilities_with_negative_logits(student):
    """a 5-8-4 network whose logits are mostly negative, on 7 examples"""
    expect_probabilities(student, [5, 8, 4], 7, 217, "a 5-8-4 network with negative logits")


@hidden_test("class_probabilities", points=1)
def probabilities_of_square_and_deep_batches(student):
    """rows sum to 1 for 3 examples of 3 classes (the wrong dim keeps the shape there); a deeper net"""
    got = expect_probabilities(student, [4, 6, 3], 3, 218, "a batch of 3 examples with 3 classes")
    expect_close(as_array(got, "the probabilities").sum(axis=1), np.ones(3), "each example's sum")
    expect_probabilities(student, [3, 10, 10, 5, 6], 12, 219, "a 3-10-10-5-6 network on 12 examples")


@hidden_test("class_probabilities", points=1)
def probabilities_keep_the_dtype(student):
    """float32 in, float32 out, of shape (n, K)"""
    got = expect_probabilities(student, [2, 5, 3], 4, 220, "float32 inputs", dtype=torch.float32)
    if got.dtype != torch.float32:
        fail(f"class_probabilities of float32 inputs should be float32, but it is {got.dtype}")
