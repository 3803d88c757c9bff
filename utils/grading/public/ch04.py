"""Visible tests for chapter 4's exercises (exercises/04_backprop.ipynb).

The expected values are numbers written down here, computed once with PyTorch's autograd in
float64 from the inputs below. This module ships with the book, so it holds no code that computes
a gradient: a reference implementation here would be an answer a student could simply call.
"""

import numpy as np

from utils.grading.expect import as_array, as_dict, as_float, as_list, expect_close, expect_raises, fail
from utils.grading.public import visible_test
from utils.grading.rules import AUTOGRAD, write_it_yourself

# Exercises 1-7 ask for hand-written gradients: autograd is switched off while they are checked.
for _exercise in ("linear_backward", "activation_grads", "numerical_gradient_logistic",
                  "mlp_regression_backward", "scalar_grads", "sigmoid_chain_grads"):
    write_it_yourself(_exercise, *AUTOGRAD)

# ---- linear_backward ------------------------------------------------------------------------------

SMALL_X = np.array([[1.0, 2.0], [0.0, -1.0]])
SMALL_W = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
SMALL_G = np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]])


@visible_test("linear_backward", hint="dX = G @ W, dW = G.T @ X, db = G summed over the batch (axis 0).")
def gradients_of_a_small_layer(student):
    """a batch of 2 through a 2 -> 3 layer"""
    result = student.linear_backward(SMALL_X, SMALL_W, SMALL_G)
    dX, dW, db = as_list(result, "linear_backward(X, W, G)", length=3)
    expect_close(as_array(dX, "dX", shape=(2, 2)), [[0.0, -1.0], [0.5, 2.0]], "dX")
    expect_close(as_array(dW, "dW", shape=(3, 2)), [[1.0, 1.5], [0.0, -2.0], [-1.0, -2.0]], "dW")
    expect_close(as_array(db, "db", shape=(3,)), [1.5, 2.0, -1.0], "db")


@visible_test("linear_backward", hint="G must have shape (m, n_out) = (X.shape[0], W.shape[0]).")
def rejects_a_gradient_of_the_wrong_shape(student):
    """G of shape (2, 2) for a layer with 3 outputs raises ValueError"""
    expect_raises(lambda: student.linear_backward(SMALL_X, SMALL_W, np.ones((2, 2))), "ValueError",
                  "linear_backward with G of shape (2, 2)")


# ---- activation_grads ---------------------------------------------------------------------------

ACTIVATION_Z = np.array([-1000.0, -2.0, -0.5, 0.0, 1.0, 3.0, 1000.0])
ACTIVATION_GRADS = {
    "sigmoid": [0.0, 0.1049935854035065, 0.2350037122015945, 0.25, 0.19661193324148185, 0.045176659730912,
                0.0],
    "tanh": [0.0, 0.07065082485316443, 0.7864477329659274, 1.0, 0.41997434161402614, 0.009866037165440166,
             0.0],
    "relu": [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
}


@visible_test("activation_grads",
              hint="sigmoid' = s (1 - s), tanh' = 1 - t**2, relu' = 1 where z > 0 (0 at z = 0); compute s "
                   "without exp of a large positive number (e.g. s = 0.5 * (1 + tanh(z / 2))).")
def derivatives_at_a_few_points(student):
    """derivatives at z = -1000, -2, -0.5, 0, 1, 3, 1000: finite, as float arrays"""
    got = as_dict(student.activation_grads(ACTIVATION_Z.copy()), "activation_grads(z)",
                  keys=["sigmoid", "tanh", "relu"])
    for name, want in ACTIVATION_GRADS.items():
        what = f"the {name} derivatives"
        values = as_array(got[name], what, shape=ACTIVATION_Z.shape)
        if values.dtype.kind != "f":
            fail(f"{what} should be a float array, but its dtype is {values.dtype}")
        expect_close(values, want, what)


# ---- numerical_gradient_logistic ----------------------------------------------------------------

LOGISTIC_X = np.array([[1.0, 0.5, -1.0], [0.0, 1.0, 2.0], [-1.0, 0.0, 0.5], [2.0, -1.0, 0.0],
                       [0.5, 0.5, 0.5]])
LOGISTIC_Y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
LOGISTIC_W = np.array([0.3, -0.2, 0.1])


@visible_test("numerical_gradient_logistic",
              hint="nudge one weight at a time by +eps and -eps, and divide the loss difference by 2 * eps.")
def close_to_the_true_gradient(student):
    """3 weights, 5 examples, default eps: close to the exact gradient"""
    got = as_array(student.numerical_gradient_logistic(LOGISTIC_W.copy(), LOGISTIC_X, LOGISTIC_Y),
                   "numerical_gradient_logistic(w, X, y)", shape=(3,))
    expect_close(got, [0.24591884887188656, -0.1329990587297345, 0.1912844311635262],
                 "the numerical gradient", rtol=1e-6, atol=1e-9)


@visible_test("numerical_gradient_logistic",
              hint="with eps = 0.5 the central difference differs from the exact gradient: compute "
                   "(L(w + eps e_j) - L(w - eps e_j)) / (2 eps), not the gradient's formula.")
def a_central_difference_with_a_large_step(student):
    """the same data with eps = 0.5: the central-difference formula itself"""
    got = as_array(student.numerical_gradient_logistic(LOGISTIC_W.copy(), LOGISTIC_X, LOGISTIC_Y, 0.5),
                   "numerical_gradient_logistic(w, X, y, eps=0.5)", shape=(3,))
    expect_close(got, [0.24053362661914335, -0.132360598821195, 0.19140452118463014],
                 "the central difference with eps = 0.5", rtol=1e-9, atol=1e-12)


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


@visible_test("relative_error", hint="if both norms are 0 the arrays agree: return 0.0 (a float) first.")
def relative_error_of_zeros(student):
    """two zero arrays give the float 0.0, not NaN"""
    value = student.relative_error(np.zeros((2, 2)), np.zeros((2, 2)))
    if type(value) is not float or value != 0.0:
        fail(f"relative_error of two zero arrays should be the float 0.0, but it is {value!r}")


# ---- mlp_regression_backward --------------------------------------------------------------------

REGRESSION_GRADS = {
    "W1": [[-0.224838004409, 0.053600575115, -0.579956312356],
           [0.529134971557, -1.317641926268, -0.004176952801],
           [0.162308689638, -1.146450068291, 1.12271655419],
           [-1.533509518741, -0.032796447024, 8.77714736159]],
    "b1": [0.360627233995, 0.802756243486, 1.358864075569, 5.393033350159],
    "W2": [[0.552342893166, -3.390111442552, -4.70275570081, -3.460499204606],
           [-0.180003256717, -0.657669339121, 2.199526409381, 4.559869292579]],
    "b2": [-2.363063508835, 1.339380594924],
}


@visible_test("mlp_regression_backward",
              hint="dL/dY_hat = 2 (Y_hat - Y) / (m * k); multiply by the ReLU mask (Z1 > 0) on the way back.")
def gradients_of_a_small_network(student):
    """a 3-4-2 network on 5 examples"""
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    params = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=4), "W2": rng.normal(size=(2, 4)),
              "b2": rng.normal(size=2)}
    got = as_dict(student.mlp_regression_backward(X, Y, params), "mlp_regression_backward(X, Y, params)",
                  keys=["loss", "W1", "b1", "W2", "b2"])
    expect_close(np.array([as_float(got["loss"], "the loss")]), np.array([12.202728793610019]), "the loss")
    for name, shape in (("W1", (4, 3)), ("b1", (4,)), ("W2", (2, 4)), ("b2", (2,))):
        expect_close(as_array(got[name], f"the gradient for {name}", shape=shape), REGRESSION_GRADS[name],
                     f"the gradient for {name}")


# ---- scalar_grads -------------------------------------------------------------------------------

@visible_test("scalar_grads",
              hint="each _backward must ADD local derivative * out.grad into self.grad; (a^k)' = k a^(k-1).")
def scalar_engine_matches_autograd(student):
    """f = y sigmoid(x) + y x^k + sigmoid(x) x^k at x = 0.5, y = -1.0, k = 2"""
    got = as_list(student.scalar_grads(0.5, -1.0, 2), "scalar_grads(0.5, -1.0, 2)", length=3)
    got = np.array([as_float(v, "each entry of scalar_grads(...)") for v in got])
    expect_close(got, [-0.716844498401391, -0.5537934529493413, 0.8724593312018546], "[f, df/dx, df/dy]")


# ---- sigmoid_chain_grads ------------------------------------------------------------------------

@visible_test("sigmoid_chain_grads",
              hint="back through unit k: multiply by w_k * h_k * (1 - h_k); g[K] = 1, g[0] comes last.")
def chain_of_two_units(student):
    """x = 0.3, weights [2.0, -1.0]: g has 3 entries"""
    got = as_array(student.sigmoid_chain_grads(0.3, [2.0, -1.0]), "sigmoid_chain_grads(0.3, [2.0, -1.0])",
                   shape=(3,))
    expect_close(got, [-0.10325231410042496, -0.2256543411695044, 1.0], "the gradients g")


# ---- logistic_gd --------------------------------------------------------------------------------

@visible_test("logistic_gd",
              hint="loss.backward() adds into w.grad: set w.grad = None (or w.grad.zero_()) before each "
                   "backward, as optimizer.zero_grad() does.")
def five_steps_of_gradient_descent(student):
    """4 examples, 2 weights, lr = 0.5, 5 steps: the weights and losses of plain gradient descent"""
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.5, -1.5], [2.0, 1.0]])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    w, losses = as_list(student.logistic_gd(X, y, np.array([0.5, -0.5]), 0.5, 5),
                        "logistic_gd(X, y, w0, 0.5, 5)", length=2)
    expect_close(as_array(w, "w", shape=(2,)), [0.980426546121791, 0.5019651111935362], "w after 5 steps")
    losses = [as_float(v, "each loss") for v in as_list(losses, "losses", length=5)]
    expect_close(losses, [0.7870716654983341, 0.5626404522245347, 0.44193920710590373, 0.37117222906426733,
                          0.3254714859518654], "the 5 losses")
