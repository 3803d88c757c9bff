"""Hidden tests for exercises/04_backprop.ipynb (28 points).

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


def expect_type(value, kind, what):
    """``value`` is exactly a Python ``kind`` (the transport turns NumPy scalars into Python ones)."""
    if type(value) is not kind:
        fail(f"{what} should be a Python {kind.__name__}, but it is a {type(value).__name__}")


def expect_float_array(value, what):
    array = as_array(value, what)
    if array.dtype.kind != "f":
        fail(f"{what} should be a float array, but its dtype is {array.dtype}")

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
    # the error cases count only if the function also computes the gradients for shapes that fit
    expect_linear_gradients(student, X, W, rng.normal(size=(3, 2)), "X (3, 4), W (2, 4)")
    expect_raises(lambda: student.linear_backward(X, W, np.ones((3, 3))), "ValueError",
                  "linear_backward with G of shape (3, 3) for a layer with 2 outputs")
    expect_raises(lambda: student.linear_backward(X, W, np.ones((2, 3))), "ValueError",
                  "linear_backward with G transposed, shape (2, 3) instead of (3, 2)")
    expect_raises(lambda: student.linear_backward(X, rng.normal(size=(2, 5)), np.ones((3, 2))), "ValueError",
                  "linear_backward with W of shape (2, 5) for X with 4 features")
    W3 = rng.normal(size=(3, 4))  # 3 outputs for a batch of 3: a 1-D G would slip through NumPy unnoticed
    expect_raises(lambda: student.linear_backward(X, W3, np.ones(3)), "ValueError",
                  "linear_backward with a 1-D G of shape (3,)")
    expect_raises(lambda: student.linear_backward(X, W3, np.ones((3, 1))), "ValueError",
                  "linear_backward with G of shape (3, 1) for a layer with 3 outputs")


# ---- exercise 2: activation_grads (3 points) -------------------------------------------------------


def activation_reference(z):
    """The derivatives of sigmoid, tanh and ReLU at ``z``, by autograd."""
    result = {}
    for name, function in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu)):
        zt = torch.tensor(z, requires_grad=True)
        function(zt).sum().backward()
        result[name] = zt.grad.numpy()
    return result


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
    z = np.array([[-5000.0, -710.0], [710.0, 5000.0]])
    expect_activation_grads(student, z, "z of +-710 and +-5000")


@hidden_test("activation_grads", points=1)
def activation_grads_are_float_arrays(student):
    """every derivative (ReLU's too) is a float array"""
    z = np.array([-1.5, 0.0, 2.0])
    got = as_dict(student.activation_grads(z), "activation_grads(z)", keys=["sigmoid", "tanh", "relu"])
    for name in ("sigmoid", "tanh", "relu"):
        expect_float_array(got[name], f"the {name} derivatives")
    expect_activation_grads(student, z, "z = -1.5, 0, 2")


# ---- exercise 3: numerical_gradient_logistic (4 points) --------------------------------------------


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


def numerical_gradient_and_w_after(student, w, X, y, eps):
    """Scenario: call the student's function on an array we keep, and report that array afterwards."""
    given = np.array(w)
    gradient = student.numerical_gradient_logistic(given, X, y, eps)
    return {"gradient": gradient, "w_after": given}


@hidden_test("numerical_gradient_logistic", points=1)
def numerical_gradient_leaves_w_unchanged(student):
    """the caller's w is exactly the same array of values after the call (eps = 0.1 and 1e-5)"""
    for seed, eps in [(422, 0.1), (423, 1e-5)]:
        w, X, y = logistic_data(seed, 9, 4)
        got = as_dict(student.run(numerical_gradient_and_w_after, w, X, y, eps), "the call",
                      keys=["gradient", "w_after"])
        expect_close(as_array(got["gradient"], "the gradient", shape=w.shape),
                     central_reference(w, X, y, eps), f"the estimate with eps = {eps}", rtol=1e-6, atol=1e-9)
        after = as_array(got["w_after"], "w after the call", shape=w.shape)
        if not np.array_equal(after, w):
            fail(f"numerical_gradient_logistic changed the caller's w ({int((after != w).sum())} of {w.size} "
                 "entries differ afterwards): nudge a copy, not w itself")


# ---- exercise 4: relative_error (3 points) ---------------------------------------------------------


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
    # the error case counts only if the function also works on arrays of the same shape
    value = relative(student, np.array([3.0, 0.0]), np.array([0.0, 4.0]), "[3, 0] and [0, 4]")
    expect_close(np.array([value]), np.array([5.0 / 7.0]), "relative_error of [3, 0] and [0, 4]")
    expect_raises(lambda: student.relative_error(np.ones(3), np.ones(4)), "ValueError",
                  "relative_error of arrays of shapes (3,) and (4,)")


@hidden_test("relative_error", points=1)
def relative_error_returns_python_floats(student):
    """a Python float, for two zero arrays (0.0) as well as for random ones"""
    rng = np.random.default_rng(418)
    for a, b, what in [(np.zeros(4), np.zeros(4), "two zero arrays"),
                       (rng.normal(size=(2, 3)), rng.normal(size=(2, 3)), "two random arrays")]:
        value = student.relative_error(a, b)
        expect_type(value, float, f"relative_error of {what}")
        want = 0.0 if not a.any() else np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))
        expect_close(np.array([value]), np.array([want]), f"relative_error of {what}", rtol=1e-9, atol=0)


# ---- exercise 5: mlp_regression_backward (5 points) ------------------------------------------------


def regression_reference(X, Y, params):
    """Loss and gradients of the ReLU regression network, by autograd."""
    params = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    hidden = torch.relu(torch.tensor(X) @ params["W1"].T + params["b1"])
    loss = torch.nn.functional.mse_loss(hidden @ params["W2"].T + params["b2"], torch.tensor(Y))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in params.items()}


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
    # integer data: several pre-activations are exactly 0, where relu'(0) = 0 passes no gradient
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])
    params = {"W1": np.array([[1.0, -1.0], [0.0, 1.0], [1.0, 1.0]]), "b1": np.array([0.0, -1.0, -1.0]),
              "W2": np.array([[1.0, -2.0, 0.5]]), "b2": np.array([0.5])}
    Y = np.array([[1.0], [-1.0], [2.0], [0.0]])
    expect_regression(student, (X, Y, params), ["loss", "W1", "b1", "W2", "b2"],
                      "a network with pre-activations of exactly 0")


@hidden_test("mlp_regression_backward", points=1)
def regression_returns_a_float_loss_and_float_arrays(student):
    """the loss is a Python float and every gradient a float array"""
    got = regression_result(student, regression_case(416, 3, 2, 3, 2), "a 2-3-2 network")
    expect_type(got["loss"], float, "the loss")
    for name in ("W1", "b1", "W2", "b2"):
        expect_float_array(got[name], f"the gradient for {name}")


# ---- exercise 6: scalar_grads (3 points) -----------------------------------------------------------


def scalar_reference(x, y, k):
    a, b = (torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in (x, y))
    f = b * torch.sigmoid(a) + b * a ** k + torch.sigmoid(a) * a ** k
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
    """f = y sigmoid(x) + y x^2 + sigmoid(x) x^2 (each operation used twice on x) at several points"""
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



# ---- exercise 8: logistic_gd (4 points) ------------------------------------------------------------


def gradient_descent_reference(X, y, w0, lr, steps):
    """Plain gradient descent on the mean BCE, with the gradient X^T (sigmoid(Xw) - y) / m."""
    w, losses = w0.copy(), []
    for _ in range(steps):
        z = X @ w
        losses.append(float(np.mean(np.logaddexp(0.0, z) - y * z)))
        w = w - lr * X.T @ (1 / (1 + np.exp(-z)) - y) / len(y)
    return w, losses


def expect_descent(student, seed, m, d, lr, steps):
    rng = np.random.default_rng(seed)
    X, y, w0 = rng.normal(size=(m, d)), rng.integers(0, 2, m).astype(float), rng.normal(size=d)
    what = f"{steps} steps with lr = {lr} on {m} examples"
    w, raw_losses = as_list(student.logistic_gd(X, y, w0, lr, steps), f"logistic_gd for {what}", length=2)
    want_w, want_losses = gradient_descent_reference(X, y, w0, lr, steps)
    raw_losses = as_list(raw_losses, f"the losses for {what}", length=steps)
    losses = [as_float(v, f"a loss for {what}") for v in raw_losses]
    expect_close(losses, want_losses, f"the losses for {what}", rtol=1e-7, atol=1e-10)
    expect_close(as_array(w, f"w after {what}", shape=(d,)), want_w, f"w after {what}", rtol=1e-7, atol=1e-10)
    return w, raw_losses


@hidden_test("logistic_gd", points=1)
def descent_with_the_default_settings(student):
    """50 steps with lr = 0.5 on 30 examples with 3 weights: the weights and losses of plain descent"""
    expect_descent(student, 417, 30, 3, 0.5, 50)


@hidden_test("logistic_gd", points=1)
def descent_with_other_rates_and_lengths(student):
    """lr = 0.1 for 120 steps, lr = 2 for 10 steps, and a single step"""
    expect_descent(student, 418, 25, 4, 0.1, 120)
    expect_descent(student, 419, 12, 2, 2.0, 10)
    expect_descent(student, 420, 8, 5, 0.3, 1)


@hidden_test("logistic_gd", points=1)
def descent_returns_a_float64_array_and_python_floats(student):
    """w is a float64 array and every loss a Python float"""
    w, losses = expect_descent(student, 421, 10, 3, 0.5, 4)
    if type(w) is not np.ndarray or w.dtype != np.float64:
        fail(f"w should be a float64 NumPy array, but it is a {type(w).__name__} "
             f"of dtype {getattr(w, 'dtype', '-')}")
    for value in losses:
        expect_type(value, float, "each loss")


def descent_and_w0_after(student, X, y, w0, lr, steps):
    """Scenario: run the student's descent from an array we keep, and report that array afterwards."""
    given = np.array(w0)
    w, _ = student.logistic_gd(X, y, given, lr, steps)
    return {"w": w, "w0_after": given}


@hidden_test("logistic_gd", points=1)
def descent_leaves_w0_unchanged(student):
    """the caller's w0 holds the same values after 20 steps"""
    rng = np.random.default_rng(424)
    X, y, w0 = rng.normal(size=(15, 3)), rng.integers(0, 2, 15).astype(float), rng.normal(size=3)
    got = as_dict(student.run(descent_and_w0_after, X, y, w0, 0.5, 20), "the run", keys=["w", "w0_after"])
    expect_close(as_array(got["w"], "w", shape=(3,)), gradient_descent_reference(X, y, w0, 0.5, 20)[0],
                 "w after 20 steps", rtol=1e-7, atol=1e-10)
    if not np.array_equal(as_array(got["w0_after"], "w0 after the run", shape=(3,)), w0):
        fail("logistic_gd changed the caller's w0: torch.from_numpy shares its memory, torch.tensor copies")
