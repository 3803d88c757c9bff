"""Visible tests for chapter 4's exercises (exercises/04_backprop.ipynb).

Each expected value comes from PyTorch's autograd on the same numbers (in float64), the
check a careful author of a backward pass runs anyway.
"""

import numpy as np
import torch

from utils.grading.expect import as_array, as_dict, as_float, as_list, expect_close, expect_raises, fail
from utils.grading.public import visible_test

# ---- linear_backward ------------------------------------------------------------------------------

SMALL_X = np.array([[1.0, 2.0], [0.0, -1.0]])
SMALL_W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
SMALL_G = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])


def _linear_reference(X, W, G):
    Xt, Wt = torch.tensor(X, requires_grad=True), torch.tensor(W, requires_grad=True)
    bt = torch.zeros(W.shape[0], dtype=torch.float64, requires_grad=True)
    ((Xt @ Wt.T + bt) * torch.tensor(G)).sum().backward()  # a loss whose dL/dZ is G
    return Xt.grad.numpy(), Wt.grad.numpy(), bt.grad.numpy()


@visible_test("linear_backward", hint="dX = G @ W, dW = G.T @ X, db = G summed over the batch (axis 0).")
def gradients_of_a_small_layer(student):
    """a batch of 2 through a 2 -> 3 layer, compared with autograd"""
    result = student.linear_backward(SMALL_X, SMALL_W, SMALL_G)
    dX, dW, db = as_list(result, "linear_backward(X, W, G)", length=3)
    want_dX, want_dW, want_db = _linear_reference(SMALL_X, SMALL_W, SMALL_G)
    expect_close(as_array(dX, "dX", shape=(2, 2)), want_dX, "dX")
    expect_close(as_array(dW, "dW", shape=(3, 2)), want_dW, "dW")
    expect_close(as_array(db, "db", shape=(3,)), want_db, "db")


@visible_test("linear_backward", hint="G must have shape (m, n_out) = (X.shape[0], W.shape[0]).")
def rejects_a_gradient_of_the_wrong_shape(student):
    """G of shape (2, 2) for a layer with 3 outputs raises ValueError"""
    expect_raises(lambda: student.linear_backward(SMALL_X, SMALL_W, np.ones((2, 2))), "ValueError",
                  "linear_backward with G of shape (2, 2)")


# ---- activation_grads ---------------------------------------------------------------------------

def activation_reference(z):
    """The derivatives of sigmoid, tanh and ReLU at ``z``, by autograd (hidden tests use it too)."""
    result = {}
    for name, function in (("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu)):
        zt = torch.tensor(z, requires_grad=True)
        function(zt).sum().backward()
        result[name] = zt.grad.numpy()
    return result


@visible_test("activation_grads",
              hint="sigmoid' = s (1 - s), tanh' = 1 - t**2, relu' = 1 where z > 0 (0 at z = 0).")
def derivatives_at_a_few_points(student):
    """derivatives at z = -2, -0.5, 0, 1, 3"""
    z = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    got = as_dict(student.activation_grads(z), "activation_grads(z)", keys=["sigmoid", "tanh", "relu"])
    for name, want in activation_reference(z).items():
        what = f"the {name} derivatives"
        expect_close(as_array(got[name], what, shape=z.shape), want, what)


# ---- numerical_gradient_logistic ----------------------------------------------------------------

def _logistic_gradient(w, X, y):
    wt = torch.tensor(w, requires_grad=True)
    torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(X) @ wt, torch.tensor(y)).backward()
    return wt.grad.numpy()


@visible_test("numerical_gradient_logistic",
              hint="nudge one weight at a time by +eps and -eps, and divide the loss difference by 2 * eps.")
def close_to_the_true_gradient(student):
    """3 weights, 5 examples: close to autograd's gradient"""
    X = np.array([[1.0, 0.5, -1.0], [0.0, 1.0, 2.0], [-1.0, 0.0, 0.5], [2.0, -1.0, 0.0], [0.5, 0.5, 0.5]])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    w = np.array([0.3, -0.2, 0.1])
    got = as_array(student.numerical_gradient_logistic(w, X, y), "numerical_gradient_logistic(w, X, y)",
                   shape=(3,))
    expect_close(got, _logistic_gradient(w, X, y), "the numerical gradient", rtol=1e-6, atol=1e-9)


# ---- relative_error -----------------------------------------------------------------------------

@visible_test("relative_error", hint="np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)).")
def relative_error_of_simple_vectors(student):
    """equal vectors give 0; [1, 0] and [0, 1] give sqrt(2) / 2"""
    a = np.array([3.0, 4.0])
    same = as_float(student.relative_error(a, a.copy()), "relative_error(a, a)")
    expect_close(np.array([same]), np.array([0.0]), "relative_error(a, a)")
    apart = as_float(student.relative_error(np.array([1.0, 0.0]), np.array([0.0, 1.0])),
                     "relative_error([1, 0], [0, 1])")
    expect_close(np.array([apart]), np.array([np.sqrt(2) / 2]), "relative_error([1, 0], [0, 1])")


@visible_test("relative_error", hint="if both norms are 0 the arrays agree: return 0.0 before dividing.")
def relative_error_of_zeros(student):
    """two zero arrays give 0.0, not NaN"""
    value = as_float(student.relative_error(np.zeros((2, 2)), np.zeros((2, 2))),
                     "relative_error(zeros, zeros)")
    if value != 0.0:
        fail(f"relative_error of two zero arrays should be 0.0, but it is {value}")


# ---- mlp_regression_backward --------------------------------------------------------------------

def regression_reference(X, Y, params):
    """Loss and gradients of the ReLU regression network, by autograd (hidden tests use it too)."""
    params = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    hidden = torch.relu(torch.tensor(X) @ params["W1"].T + params["b1"])
    loss = torch.nn.functional.mse_loss(hidden @ params["W2"].T + params["b2"], torch.tensor(Y))
    loss.backward()
    return loss.item(), {k: v.grad.numpy() for k, v in params.items()}


@visible_test("mlp_regression_backward",
              hint="dL/dY_hat = 2 (Y_hat - Y) / (m * k); multiply by the ReLU mask (Z1 > 0) on the way back.")
def gradients_of_a_small_network(student):
    """a 3-4-2 network on 5 examples, compared with autograd"""
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    params = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=4), "W2": rng.normal(size=(2, 4)),
              "b2": rng.normal(size=2)}
    got = as_dict(student.mlp_regression_backward(X, Y, params), "mlp_regression_backward(X, Y, params)",
                  keys=["loss", "W1", "b1", "W2", "b2"])
    want_loss, want = regression_reference(X, Y, params)
    expect_close(np.array([as_float(got["loss"], "the loss")]), np.array([want_loss]), "the loss")
    for name, shape in (("W1", (4, 3)), ("b1", (4,)), ("W2", (2, 4)), ("b2", (2,))):
        expect_close(as_array(got[name], f"the gradient for {name}", shape=shape), want[name],
                     f"the gradient for {name}")


# ---- scalar_grads -------------------------------------------------------------------------------

def _scalar_reference(x, y, k):
    a, b = (torch.tensor(float(v), dtype=torch.float64, requires_grad=True) for v in (x, y))
    f = b * torch.sigmoid(a) + b * a ** k
    f.backward()
    return [f.item(), a.grad.item(), b.grad.item()]


@visible_test("scalar_grads",
              hint="each _backward must ADD local derivative * out.grad into self.grad; (a^k)' = k a^(k-1).")
def scalar_engine_matches_autograd(student):
    """f = y sigmoid(x) + y x^k at x = 0.5, y = -1.0, k = 2"""
    got = as_list(student.scalar_grads(0.5, -1.0, 2), "scalar_grads(0.5, -1.0, 2)", length=3)
    got = np.array([as_float(v, "each entry of scalar_grads(...)") for v in got])
    expect_close(got, np.array(_scalar_reference(0.5, -1.0, 2)), "[f, df/dx, df/dy]")


# ---- sigmoid_chain_grads ------------------------------------------------------------------------

def _chain_reference(x, weights):
    hs = [torch.tensor(float(x), dtype=torch.float64, requires_grad=True)]
    for w in weights:
        hs.append(torch.sigmoid(w * hs[-1]))
    grads = torch.autograd.grad(hs[-1], hs[:-1])
    return np.array([g.item() for g in grads] + [1.0])


@visible_test("sigmoid_chain_grads",
              hint="back through unit k: multiply by w_k * h_k * (1 - h_k); g[K] = 1, g[0] comes last.")
def chain_of_two_units(student):
    """x = 0.3, weights [2.0, -1.0]: g has 3 entries, compared with autograd"""
    got = as_array(student.sigmoid_chain_grads(0.3, [2.0, -1.0]), "sigmoid_chain_grads(0.3, [2.0, -1.0])",
                   shape=(3,))
    expect_close(got, _chain_reference(0.3, [2.0, -1.0]), "the gradients g")
