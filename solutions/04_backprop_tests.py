"""Hidden tests for exercises/04_backprop.ipynb (20 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Every expected value is computed here, with PyTorch's autograd in float64 or from the
definitions in the prompts.
"""

import numpy as np
import torch

from utils.grading.expect import (
    as_array,
    as_dict,
    as_float,
    as_list,
    expect_close,
    expect_equal,
    expect_raises,
    fail,
)
from utils.grading.hidden import hidden_test
from utils.grading.public.ch04 import activation_reference, regression_reference

# ---- exercise 1: linear_backward (3 points) --------------------------------------------------------


def linear_reference(X, W, G):
    """Autograd's (dX, dW, db) for a loss whose gradient with respect to Z = X W^T + b is G."""
    Xt, Wt = torch.tensor(X, requires_grad=True), torch.tensor(W, requires_grad=True)
    bt = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    ((Xt @ Wt.T + bt) * torch.tensor(G)).sum().backward()
    return Xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


def expect_linear_gradients(student, X, W, G, what):
    result = as_list(student.linear_backward(X, W, G), f"linear_backward for {what}", length=3)
    for got, want, name in zip(result, linear_reference(X, W, G), ("dX", "dW", "db"), strict=True):
        expect_close(as_array(got, f"{name} for {what}", shape=want.shape), want, f"{name} for {what}")


@hidden_test("linear_backward", points=1)
def linear_gradients_for_several_shapes(student):
    """dX, dW and db match autograd for batches of 4, 1 and 7 and layers of several widths"""
    rng = np.random.default_rng(401)
    for m, n_in, n_out in [(4, 3, 5), (1, 6, 2), (7, 2, 1)]:
        X, W, G = rng.normal(size=(m, n_in)), rng.normal(size=(n_out, n_in)), rng.normal(size=(m, n_out))
        expect_linear_gradients(student, X, W, G, f"X {X.shape}, W {W.shape}")


@hidden_test("linear_backward", points=1)
def linear_gradients_for_a_square_layer(student):
    """a square layer (n_in = n_out = m), where transposed formulas still have the right shapes"""
    rng = np.random.default_rng(402)
    X, W, G = rng.normal(size=(4, 4)), rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    expect_linear_gradients(student, X, W, G, "a 4 x 4 layer on a batch of 4")


@hidden_test("linear_backward", points=1)
def linear_backward_rejects_shapes_that_do_not_fit(student):
    """ValueError for G of the wrong shape (also 1-D), and for W that does not take X's features"""
    rng = np.random.default_rng(403)
    X, W = rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    expect_raises(lambda: student.linear_backward(X, W, np.ones((3, 3))), "ValueError",
                  "linear_backward with G of shape (3, 3) for a layer with 2 outputs")
    expect_raises(lambda: student.linear_backward(X, W, np.ones((2, 3))), "ValueError",
                  "linear_backward with G transposed, shape (2, 3) instead of (3, 2)")
    expect_raises(lambda: student.linear_backward(X, rng.normal(size=(2, 5)), np.ones((3, 2))), "ValueError",
                  "linear_backward with W of shape (2, 5) for X with 4 features")
    W3 = rng.normal(size=(3, 4))  # 3 outputs for a batch of 3: a 1-D G would slip through NumPy unnoticed
    expect_raises(lambda: student.linear_backward(X, W3, np.ones(3)), "ValueError",
                  "linear_backward with a 1-D G of shape (3,)")


# ---- exercise 2: activation_grads (2 points) -------------------------------------------------------


def expect_activation_grads(student, z, what):
    got = as_dict(student.activation_grads(z), f"activation_grads for {what}",
                  keys=["sigmoid", "tanh", "relu"])
    for name, want in activation_reference(z).items():
        expect_close(as_array(got[name], f"the {name} derivatives for {what}", shape=z.shape), want,
                     f"the {name} derivatives for {what}")


@hidden_test("activation_grads", points=1)
def activation_grads_on_arrays_of_several_shapes(student):
    """random inputs of shapes (6,), (3, 4) and (2, 3, 2), some exactly 0"""
    rng = np.random.default_rng(404)
    for shape in [(6,), (3, 4), (2, 3, 2)]:
        z = rng.normal(scale=2.0, size=shape)
        z.flat[::5] = 0.0
        expect_activation_grads(student, z, f"z of shape {shape}")


@hidden_test("activation_grads", points=1)
def activation_grads_for_large_inputs(student):
    """inputs from -1000 to 1000: finite derivatives that match autograd"""
    z = np.array([-1000.0, -50.0, -1e-3, 0.0, 1e-3, 50.0, 1000.0])
    expect_activation_grads(student, z, "z between -1000 and 1000")


# ---- exercise 3: numerical_gradient_logistic (3 points) --------------------------------------------


def logistic_loss(w, X, y):
    z = X @ w
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def central_reference(w, X, y, eps):
    grad = np.zeros(len(w))
    for j in range(len(w)):
        step = np.zeros(len(w))
        step[j] = eps
        grad[j] = (logistic_loss(w + step, X, y) - logistic_loss(w - step, X, y)) / (2 * eps)
    return grad


def logistic_data(seed, m, d):
    rng = np.random.default_rng(seed)
    return rng.normal(size=d), rng.normal(size=(m, d)), rng.integers(0, 2, m).astype(float)


def numerical(student, data, eps, what):
    w = data[0]
    args = data if eps is None else (*data, eps)
    return as_array(student.numerical_gradient_logistic(*args), f"numerical_gradient_logistic for {what}",
                    shape=w.shape, kind="float")


@hidden_test("numerical_gradient_logistic", points=1)
def numerical_gradient_matches_autograd(student):
    """with the default eps, 20 examples and 5 weights: close to autograd's exact gradient"""
    w, X, y = logistic_data(405, 20, 5)
    wt = torch.tensor(w, requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(X) @ wt, torch.tensor(y)).backward()
    expect_close(numerical(student, (w, X, y), None, "20 examples"), wt.grad.numpy(),
                 "the numerical gradient", rtol=1e-6, atol=1e-9)


@hidden_test("numerical_gradient_logistic", points=1)
def numerical_gradient_uses_central_differences(student):
    """with a large eps = 0.5 the result is exactly the central-difference formula"""
    w, X, y = logistic_data(406, 12, 4)
    expect_close(numerical(student, (w, X, y), 0.5, "eps = 0.5"), central_reference(w, X, y, 0.5),
                 "the central-difference estimate with eps = 0.5", rtol=1e-9, atol=1e-12)


@hidden_test("numerical_gradient_logistic", points=1)
def numerical_gradient_for_one_weight_and_one_example(student):
    """one weight, one example, eps = 1e-3; and 3 weights with eps = 0.1"""
    w, X, y = np.array([0.7]), np.array([[-1.5]]), np.array([1.0])
    expect_close(numerical(student, (w, X, y), 1e-3, "one weight and one example"),
                 central_reference(w, X, y, 1e-3), "the estimate for one weight and one example",
                 rtol=1e-8, atol=1e-12)
    w, X, y = logistic_data(407, 6, 3)
    expect_close(numerical(student, (w, X, y), 0.1, "eps = 0.1"), central_reference(w, X, y, 0.1),
                 "the central-difference estimate with eps = 0.1", rtol=1e-9, atol=1e-12)


# ---- exercise 4: relative_error (2 points) ---------------------------------------------------------


def relative(student, a, b, what):
    return as_float(student.relative_error(a, b), f"relative_error for {what}")


@hidden_test("relative_error", points=1)
def relative_error_matches_the_formula(student):
    """random matrices, a 3-D array, opposite vectors (1.0) and a small perturbation"""
    rng = np.random.default_rng(408)
    cases = [(rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), "two random 3 x 4 matrices"),
             (rng.normal(size=(2, 2, 3)), rng.normal(size=(2, 2, 3)), "two random 2 x 2 x 3 arrays"),
             (np.array([1.0, -2.0, 2.0]), np.array([-1.0, 2.0, -2.0]), "opposite vectors")]
    a = rng.normal(size=7)
    cases.append((a, a + 1e-6 * rng.normal(size=7), "a vector and a slightly perturbed copy"))
    cases.append((np.zeros(3), np.array([0.0, 3.0, 4.0]), "a zero vector and a non-zero one"))
    for a, b, what in cases:
        want = np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
        expect_close(np.array([relative(student, a, b, what)]), np.array([want]),
                     f"relative_error for {what}", rtol=1e-9, atol=1e-15)


@hidden_test("relative_error", points=1)
def relative_error_edge_cases(student):
    """two zero arrays give exactly 0.0; arrays of different shapes raise ValueError"""
    value = relative(student, np.zeros((3, 2)), np.zeros((3, 2)), "two zero arrays")
    if value != 0.0:
        fail(f"relative_error of two zero arrays should be 0.0, but it is {value}")
    expect_raises(lambda: student.relative_error(np.ones(3), np.ones(4)), "ValueError",
                  "relative_error of arrays of shapes (3,) and (4,)")


# ---- exercise 5: mlp_regression_backward (4 points) ------------------------------------------------


def regression_case(seed, m, d, h, k):
    """(X, Y, params) of a random d-h-k network and batch of m."""
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(m, d)), rng.normal(size=(m, k))
    params = {"W1": rng.normal(size=(h, d)), "b1": rng.normal(size=h), "W2": rng.normal(size=(k, h)),
              "b2": rng.normal(size=k)}
    return X, Y, params


def regression_result(student, case, what):
    return as_dict(student.mlp_regression_backward(*case), f"mlp_regression_backward for {what}",
                   keys=["loss", "W1", "b1", "W2", "b2"])


def expect_regression(student, case, names, what):
    got = regression_result(student, case, what)
    want_loss, want = regression_reference(*case)
    if "loss" in names:
        expect_close(np.array([as_float(got["loss"], f"the loss for {what}")]), np.array([want_loss]),
                     f"the loss for {what}")
    for name in names:
        if name != "loss":
            expect_close(as_array(got[name], f"the gradient for {name} ({what})", shape=want[name].shape),
                         want[name], f"the gradient for {name} ({what})")


@hidden_test("mlp_regression_backward", points=1)
def regression_loss_value(student):
    """the loss of a 4-6-3 network on 8 examples (a mean over all m * k entries)"""
    expect_regression(student, regression_case(409, 8, 4, 6, 3), ["loss"], "a 4-6-3 network")


@hidden_test("mlp_regression_backward", points=1)
def regression_output_layer_gradients(student):
    """the gradients for W2 and b2 of a 4-6-3 network"""
    expect_regression(student, regression_case(410, 8, 4, 6, 3), ["W2", "b2"], "a 4-6-3 network")


@hidden_test("mlp_regression_backward", points=1)
def regression_hidden_layer_gradients(student):
    """the gradients for W1 and b1 of a 4-6-3 network"""
    expect_regression(student, regression_case(411, 8, 4, 6, 3), ["W1", "b1"], "a 4-6-3 network")


@hidden_test("mlp_regression_backward", points=1)
def regression_small_and_dead_units(student):
    """one example with one output; and a network whose first two hidden units are off for every input"""
    expect_regression(student, regression_case(412, 1, 3, 4, 1), ["loss", "W1", "b1", "W2", "b2"],
                      "one example and one output")
    X, Y, params = regression_case(413, 6, 3, 5, 2)
    params["b1"][:2] = -100.0  # these units output 0 for every example, so they get no gradient
    expect_regression(student, (X, Y, params), ["loss", "W1", "b1", "W2", "b2"],
                      "a network with two inactive hidden units")


# ---- exercise 6: scalar_grads (3 points) -----------------------------------------------------------


def scalar_reference(x, y, k):
    a, b = (torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in (x, y))
    f = b * torch.sigmoid(a) + b * a ** k
    f.backward()
    return np.array([f.item(), a.grad.item(), b.grad.item()])


def expect_scalar_grads(student, cases):
    for x, y, k in cases:
        what = f"scalar_grads({x}, {y}, {k})"
        got = as_list(student.scalar_grads(x, y, k), what, length=3)
        got = np.array([as_float(v, f"each entry of {what}") for v in got])
        expect_close(got, scalar_reference(x, y, k), f"[f, df/dx, df/dy] from {what}", rtol=1e-8, atol=1e-12)


@hidden_test("scalar_grads", points=1)
def scalar_engine_with_squares(student):
    """f = y sigmoid(x) + y x^2 at several points"""
    expect_scalar_grads(student, [(0.8, 1.3, 2), (-1.2, 0.4, 2), (2.0, -0.7, 2), (0.1, 0.0, 2),
                                  (0.0, 1.5, 2)])


@hidden_test("scalar_grads", points=1)
def scalar_engine_power_rule(student):
    """the power rule for k = 3, 1, 0, -1 and 0.5"""
    expect_scalar_grads(student, [(1.5, -0.5, 3), (-0.9, 0.6, 1), (1.7, 0.3, 0), (0.6, 1.1, -1),
                                  (2.5, -0.2, 0.5)])


@hidden_test("scalar_grads", points=1)
def scalar_engine_saturated_sigmoid(student):
    """large |x| (up to 30), where the sigmoid saturates"""
    expect_scalar_grads(student, [(25.0, 0.5, 2), (-30.0, 1.5, 2), (-12.0, -2.0, 3)])


# ---- exercise 7: sigmoid_chain_grads (3 points) ----------------------------------------------------


def chain_reference(x, weights):
    hs = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True)]
    for w in weights:
        hs.append(torch.sigmoid(w * hs[-1]))
    grads = torch.autograd.grad(hs[-1], hs[:-1])
    return np.array([g.item() for g in grads] + [1.0])


def expect_chain(student, x, weights, what, rtol=1e-7):
    want = chain_reference(x, weights)
    got = as_array(student.sigmoid_chain_grads(x, list(weights)), f"sigmoid_chain_grads for {what}",
                   shape=want.shape, kind="float")
    expect_close(got, want, f"g for {what}", rtol=rtol, atol=1e-300)
    return got


@hidden_test("sigmoid_chain_grads", points=1)
def chain_gradients_for_random_chains(student):
    """random chains of 2 to 6 units"""
    rng = np.random.default_rng(414)
    for length in range(2, 7):
        expect_chain(student, float(rng.normal()), rng.normal(scale=2.0, size=length).tolist(),
                     f"a random chain of {length} units")


@hidden_test("sigmoid_chain_grads", points=1)
def chain_of_one_unit_and_of_ten_unit_weights(student):
    """one unit; and ten units with weight 1 from x = 0, where g[0] stays below 0.25 ** 10"""
    expect_chain(student, -0.4, [1.5], "one unit")
    got = expect_chain(student, 0.0, [1.0] * 10, "ten units with weight 1")
    if not got[0] < 0.25 ** 10:
        fail("g[0] for ten units with weight 1 should be below 0.25 ** 10")
    expect_equal(int(np.argmax(got)), 10, "the index of the largest entry of g (the output end)")


@hidden_test("sigmoid_chain_grads", points=1)
def chain_with_large_and_negative_weights(student):
    """15 units with weights of both signs, some large"""
    rng = np.random.default_rng(415)
    weights = rng.normal(scale=3.0, size=15)
    weights[::4] *= -1
    expect_chain(student, 0.5, weights.tolist(), "15 units with large weights of both signs", rtol=1e-6)

