"""Visible tests for chapter 1's exercises (exercises/01_perceptrons.ipynb)."""

import numpy as np
import torch

from utils.grading.expect import (
    as_array,
    as_dict,
    as_float,
    as_int,
    as_list,
    as_tensor,
    expect_close,
    expect_equal,
    expect_raises,
    fail,
)
from utils.grading.public import visible_test

GATE_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)


def step(z):
    return (z >= 0).astype(int)


@visible_test("perceptron_predict",
              hint="compute z = X @ w + b for all rows at once, then compare with 0.")
def predicts_the_and_gate(student):
    """AND gate: w = [1, 1], b = -1.5"""
    got = as_array(student.perceptron_predict(GATE_INPUTS, np.array([1.0, 1.0]), -1.5),
                   "perceptron_predict(X, w, b)", shape=(4,), kind="int")
    expect_equal(got, np.array([0, 0, 0, 1]), "the AND gate's outputs")


@visible_test("perceptron_predict",
              hint="in this book a perceptron fires when w·x + b >= 0, boundary included.")
def fires_on_the_boundary(student):
    """a point exactly on the boundary gets 1"""
    X, w = np.array([[1.0, 0.5], [1.0, 0.25]]), np.array([1.0, -2.0])
    got = as_array(student.perceptron_predict(X, w, 0.0), "perceptron_predict(X, w, b)", shape=(2,),
                   kind="int")
    expect_equal(got, np.array([1, 1]), "the outputs for points with w·x + b = 0 and > 0")


def _check_training(student, y, name):
    w, b, mistakes = as_list(student.train_perceptron(GATE_INPUTS, y), "train_perceptron(X, y)", length=3)
    w = as_array(w, "the returned w", shape=(2,), kind="float")
    b = as_float(b, "the returned b")
    mistakes = [as_int(m, "each entry of mistakes") for m in as_list(mistakes, "the returned mistakes")]
    if not mistakes or mistakes[-1] != 0:
        fail(f"on {name} the last epoch should have no mistakes, but mistakes is {mistakes}")
    expect_equal(step(GATE_INPUTS @ w + b), y, f"the trained perceptron's outputs on {name}")


@visible_test("train_perceptron",
              hint="start from zeros; update after each mistake; stop after a clean epoch.")
def learns_and(student):
    """learns AND and stops after a clean epoch"""
    _check_training(student, np.array([0, 0, 0, 1]), "AND")


@visible_test("train_perceptron",
              hint="a perceptron's output is 1 when w·x + b >= 0.")
def learns_or(student):
    """learns OR"""
    _check_training(student, np.array([0, 1, 1, 1]), "OR")


@visible_test("train_perceptron",
              hint="multiply every update by lr: w += lr * (y - y_hat) * x and b += lr * (y - y_hat).")
def uses_the_learning_rate(student):
    """AND with lr = 0.5: w = [1, 0.5], b = -1.5 after 6 epochs"""
    result = as_list(student.train_perceptron(GATE_INPUTS, np.array([0, 0, 0, 1]), lr=0.5),
                     "train_perceptron(X, y, lr=0.5)", length=3)
    w = as_array(result[0], "the returned w", shape=(2,), kind="float")
    expect_close(w, np.array([1.0, 0.5]), "w trained with lr = 0.5")
    b = as_float(result[1], "the returned b")
    expect_close(np.array([b]), np.array([-1.5]), "b trained with lr = 0.5")
    mistakes = [as_int(m, "each entry of mistakes") for m in as_list(result[2], "the returned mistakes")]
    if mistakes != [2, 3, 3, 2, 1, 0]:
        fail(f"with lr = 0.5 on AND the mistakes per epoch should be [2, 3, 3, 2, 1, 0], not {mistakes}")


@visible_test("xor_weights",
              hint="hidden unit 1 = OR (fires if x1 + x2 >= 0.5), unit 2 = NAND, then AND.")
def computes_xor(student):
    """the network's truth table is XOR"""
    W1, b1, W2, b2 = as_list(student.xor_weights(), "xor_weights()", length=4)
    W1 = as_array(W1, "W1", shape=(2, 2))
    b1 = as_array(b1, "b1", shape=(2,))
    W2 = as_array(W2, "W2", shape=(1, 2))
    b2 = as_array(b2, "b2", shape=(1,))
    output = step(step(GATE_INPUTS @ W1.T + b1) @ W2.T + b2)[:, 0]
    expect_equal(output, np.array([0, 1, 1, 0]), "the network's outputs for (0,0), (0,1), (1,0), (1,1)")


@visible_test("count_parameters",
              hint="a layer from d_in to d_out units: d_in * d_out weights, d_out biases.")
def counts_a_small_network(student):
    """[4, 5, 4, 3] has 64 parameters"""
    expect_equal(student.count_parameters([4, 5, 4, 3]), 64, "count_parameters([4, 5, 4, 3])")


@visible_test("count_parameters",
              hint="one layer: 2 * 1 weights plus 1 bias.")
def counts_one_layer(student):
    """[2, 1] has 3 parameters"""
    expect_equal(student.count_parameters([2, 1]), 3, "count_parameters([2, 1])")


@visible_test("linear_collapse",
              hint="substitute h into y: y = (x W1^T + b1) W2^T + b2, then collect terms.")
def collapses_two_layers(student):
    """the single layer gives the same outputs as the two layers"""
    W1 = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]])
    b1 = np.array([0.5, -1.0])
    W2 = np.array([[2.0, 1.0]])
    b2 = np.array([3.0])
    W, b = as_list(student.linear_collapse(W1, b1, W2, b2), "linear_collapse(...)", length=2)
    W = as_array(W, "W", shape=(1, 3))
    b = as_array(b, "b", shape=(1,))
    x = np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 1.0]])
    expect_close(x @ W.T + b, (x @ W1.T + b1) @ W2.T + b2, "x @ W.T + b")


SMALL_PARAMS = [(np.array([[1.0, -1.0], [2.0, 0.0], [0.0, 1.0]]), np.array([0.0, -1.0, 0.5])),
                (np.array([[1.0, 1.0, -1.0]]), np.array([-0.5]))]


@visible_test("mlp_forward",
              hint="h = h @ W.T + b per layer; np.maximum(h, 0) between layers, not after the last.")
def forward_on_a_small_network(student):
    """a 2-3-1 network on two inputs"""
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    hidden = np.maximum(x @ SMALL_PARAMS[0][0].T + SMALL_PARAMS[0][1], 0.0)
    expected = hidden @ SMALL_PARAMS[1][0].T + SMALL_PARAMS[1][1]
    expect_close(student.mlp_forward(x, SMALL_PARAMS), expected, "mlp_forward(x, params)")


@visible_test("mlp_forward",
              hint="compare x.shape[1] with the first W's number of columns, before multiplying.")
def rejects_inputs_of_the_wrong_width(student):
    """x with 3 features for a network that takes 2 raises ValueError"""
    expect_raises(lambda: student.mlp_forward(np.ones((4, 3)), SMALL_PARAMS), "ValueError",
                  "mlp_forward with x of shape (4, 3)")


@visible_test("MLP",
              hint="nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)) for sizes [4, 8, 3].")
def builds_a_small_mlp(student):
    """MLP([4, 8, 3]): 67 parameters, output of shape (2, 3)"""
    model = student.new("MLP", [4, 8, 3])
    state = as_dict(model.state_dict(), "model.state_dict()")
    tensors = [as_tensor(t, "a state_dict() entry") for t in state.values()]
    expect_equal(sum(t.numel() for t in tensors), 67, "the number of parameters in state_dict()")
    as_tensor(model(torch.ones(2, 4)), "model(x) for x of shape (2, 4)", shape=(2, 3))


@visible_test("MLP", hint="a ReLU between the layers (none after the last): without it, negative hidden "
                          "values pass through and the layers collapse into one linear map.")
def applies_relu_between_layers(student):
    """MLP([2, 3, 1]) with given weights: outputs 2, 4.5, 4.5"""
    model = student.new("MLP", [2, 3, 1])
    keys = list(as_dict(model.state_dict(), "model.state_dict()"))
    if len(keys) != 4:
        fail(f"MLP([2, 3, 1]).state_dict() should hold 4 tensors (two weights, two biases), not {len(keys)}")
    weights = [torch.tensor([[1.0, -1.0], [-2.0, 1.0], [0.5, 0.5]]), torch.tensor([0.0, 1.0, -1.0]),
               torch.tensor([[1.0, 2.0, -1.0]]), torch.tensor([0.5])]
    model.load_state_dict(dict(zip(keys, weights, strict=True)))
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0], [-1.0, -1.0]])
    got = as_tensor(model(x), "model(x) for x of shape (3, 2)", shape=(3, 1))
    expect_close(got.numpy(), [[2.0], [4.5], [4.5]], "the outputs with the given weights")


@visible_test("MLP", hint="keep nn.Linear's random initialisation: equal weights make all units learn alike.")
def starts_from_random_weights(student):
    """a fresh MLP([3, 5, 2]) has random, non-zero first-layer weights"""
    state = as_dict(student.new("MLP", [3, 5, 2]).state_dict(), "model.state_dict()")
    first = as_tensor(next(iter(state.values())), "the first weight", shape=(5, 3))
    if float(first.abs().max()) == 0.0 or len(torch.unique(first, dim=0)) < 5:
        fail("the first layer starts with zero or identical rows of weights: such a network cannot learn")


def _line_points():
    x = torch.linspace(-2.0, 2.0, 9)
    return x, 3.0 * x - 2.0 + 0.1 * torch.tensor([1.0, -1.0, 0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 0.0])


@visible_test("fit_line", hint="model(x[:, None]) has shape (n, 1) and y has shape (n,): their difference "
                               "broadcasts to (n, n). Squeeze the prediction (or reshape y) first.")
def fits_a_steep_line(student):
    """9 points near y = 3x - 2: the least-squares line (w, b) to 1e-3"""
    x, y = _line_points()
    w, b = as_list(student.fit_line(x, y), "fit_line(x, y)", length=2)
    want = np.polyfit(x.double().numpy(), y.double().numpy(), 1)
    expect_close(np.array([as_float(w, "w"), as_float(b, "b")]), want, "the fitted (w, b)", rtol=0, atol=1e-3)


_BOUND_X = np.array([[2.0, 1.0], [1.0, 2.0], [-1.0, -1.0], [-2.0, 0.0], [0.0, -2.0]])
_BOUND_Y = np.array([1, 1, 0, 0, 0])


@visible_test("perceptron_mistake_bound",
              hint="updates = sum of the mistakes list; R and gamma use the inputs with a 1 appended.")
def bound_on_five_points(student):
    """5 points separated by w* = [1, 1], b* = 0: 1 update, bound 3"""
    updates, bound = as_list(student.perceptron_mistake_bound(_BOUND_X, _BOUND_Y, np.array([1.0, 1.0]), 0.0),
                             "perceptron_mistake_bound(X, y, w_star, b_star)", length=2)
    expect_equal(updates, 1, "updates")
    expect_close(np.array([as_float(bound, "bound")]), np.array([3.0]), "bound")


@visible_test("perceptron_mistake_bound", hint="if the smallest signed margin is <= 0, raise ValueError.")
def bound_refuses_a_non_separating_line(student):
    """w* = [1, -1], b* = 0 does not separate the five points: ValueError"""
    expect_raises(lambda: student.perceptron_mistake_bound(_BOUND_X, _BOUND_Y, np.array([1.0, -1.0]), 0.0),
                  "ValueError", "perceptron_mistake_bound with a line that does not separate the data")
