"""Hidden tests for exercises/01_perceptrons.ipynb (17 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Every expected value is computed here, from the definitions in the prompts or with PyTorch.
"""

import itertools

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
from utils.grading.hidden import hidden_test
from utils.grading.public.ch01 import GATE_INPUTS as GATES
from utils.grading.public.ch01 import step

# ---- exercise 1: perceptron_predict (2 points) ---------------------------------------------

def predict(student, X, w, b):
    return as_array(student.perceptron_predict(X, w, b), f"perceptron_predict on {len(X)} inputs",
                    shape=(len(X),), kind="int")


@hidden_test("perceptron_predict", points=1)
def predict_gates_and_random_data(student):
    """OR and NAND gates, and 40 random points in 5 dimensions"""
    expect_equal(predict(student, GATES, np.array([1.0, 1.0]), -0.5), np.array([0, 1, 1, 1]), "the OR gate")
    nand = predict(student, GATES, np.array([-2.0, -2.0]), 3.0)
    expect_equal(nand, np.array([1, 1, 1, 0]), "the NAND gate")
    rng = np.random.default_rng(101)
    X, w, b = rng.normal(size=(40, 5)), rng.normal(size=5), float(rng.normal())
    expect_equal(predict(student, X, w, b), step(X @ w + b), "the outputs on random points")


@hidden_test("perceptron_predict", points=1)
def predict_fires_on_the_boundary(student):
    """fires when w·x + b is exactly 0; works for a single input"""
    X = np.array([[2.0, 1.0, 0.0], [2.0, 1.0, 4.0], [1.0, 1.0, 1.0], [-1.0, 0.0, 0.0]])
    w, b = np.array([0.5, 1.0, 0.25]), -2.0
    expect_equal(predict(student, X, w, b), step(X @ w + b), "outputs where w·x + b is 0, 1, -0.25, -2.5")
    expect_equal(predict(student, np.array([[3.0, 1.0, 0.0]]), w, -2.5), np.array([1]),
                 "the output for one input with w·x + b = 0")


# ---- exercise 2: train_perceptron (3 points) -----------------------------------------------

def reference_training(X, y, lr, epochs):
    w, b, mistakes = np.zeros(X.shape[1]), 0.0, []
    for _ in range(epochs):
        errors = 0
        for x_i, y_i in zip(X, y, strict=True):
            error = y_i - (1 if x_i @ w + b >= 0 else 0)
            w, b, errors = w + lr * error * x_i, b + lr * error, errors + int(error != 0)
        mistakes.append(errors)
        if errors == 0:
            break
    return w, b, mistakes


def train(student, X, y, *, lr, epochs, what):
    result = as_list(student.train_perceptron(X, y, lr=lr, epochs=epochs), f"train_perceptron on {what}",
                     length=3)
    w = as_array(result[0], f"w trained on {what}", shape=(X.shape[1],), kind="float")
    b = as_float(result[1], f"b trained on {what}")
    mistakes = [as_int(m, f"the mistakes on {what}") for m in as_list(result[2], f"the mistakes on {what}")]
    return w, b, mistakes


def expect_same_run(student, X, y, *, lr, epochs, what):
    w, b, mistakes = train(student, X, y, lr=lr, epochs=epochs, what=what)
    ref_w, ref_b, ref_mistakes = reference_training(X, y, lr, epochs)
    if mistakes != ref_mistakes:
        fail(f"on {what}, the mistakes per epoch are not those of the rule as stated "
             f"(you ran {len(mistakes)} epochs, the rule runs {len(ref_mistakes)})")
    expect_close(w, ref_w, f"w trained on {what}")
    expect_close(np.array([b]), np.array([ref_b]), f"b trained on {what}")


@hidden_test("train_perceptron", points=1)
def training_on_and(student):
    """AND with lr = 1: the exact weights, bias and mistakes of the rule"""
    expect_same_run(student, GATES, np.array([0, 0, 0, 1]), lr=1.0, epochs=20, what="AND")


@hidden_test("train_perceptron", points=1)
def training_on_or_and_separable_data(student):
    """OR with lr = 0.5, and 30 separable points in 3-D with lr = 0.1"""
    expect_same_run(student, GATES, np.array([0, 1, 1, 1]), lr=0.5, epochs=20, what="OR")
    rng = np.random.default_rng(202)
    X = rng.normal(size=(30, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + 0.3 >= 0).astype(int)
    expect_same_run(student, X, y, lr=0.1, epochs=200, what="separable random data")


@hidden_test("train_perceptron", points=1)
def training_on_xor_never_converges(student):
    """XOR: every one of the 7 epochs makes mistakes"""
    _, _, mistakes = train(student, GATES, np.array([0, 1, 1, 0]), lr=1.0, epochs=7, what="XOR")
    if len(mistakes) != 7 or min(mistakes) == 0:
        fail(f"on XOR with epochs=7 the rule runs 7 epochs, each with mistakes; you returned {mistakes}")


# ---- exercise 3: xor_weights (2 points) ----------------------------------------------------

@hidden_test("xor_weights", points=2)
def xor_network_truth_table(student):
    """the 2-2-1 step network computes XOR"""
    W1, b1, W2, b2 = as_list(student.xor_weights(), "xor_weights()", length=4)
    W1, b1 = as_array(W1, "W1", shape=(2, 2)), as_array(b1, "b1", shape=(2,))
    W2, b2 = as_array(W2, "W2", shape=(1, 2)), as_array(b2, "b2", shape=(1,))
    for name, value in [("W1", W1), ("b1", b1), ("W2", W2), ("b2", b2)]:
        if not np.isfinite(value).all():
            fail(f"{name} holds NaN or infinite values")
    order = [3, 1, 0, 2]  # inputs in another order than the prompt's table
    hidden = step(GATES[order] @ W1.T + b1)
    expect_equal(step(hidden @ W2.T + b2)[:, 0], np.array([0, 1, 1, 0])[order], "the network's outputs")


# ---- exercise 4: count_parameters (2 points) -----------------------------------------------

@hidden_test("count_parameters", points=1)
def counts_the_chapter_network(student):
    """784-512-256-10 has 535,818 parameters"""
    sizes = [784, 512, 256, 10]
    expect_equal(student.count_parameters(sizes), 535_818, f"count_parameters({sizes})")


@hidden_test("count_parameters", points=1)
def counts_other_networks(student):
    """random widths, one layer, and no layer at all"""
    rng = np.random.default_rng(303)
    cases = [[int(n) for n in rng.integers(1, 300, size=length)] for length in (2, 3, 5, 7)] + [[9]]
    for sizes in cases:
        expected = sum(a * b + b for a, b in itertools.pairwise(sizes))
        expect_equal(student.count_parameters(sizes), expected, f"count_parameters for {len(sizes)} widths")


# ---- exercise 5: linear_collapse (2 points) ------------------------------------------------

def collapse(student, shapes, seed):
    rng = np.random.default_rng(seed)
    n_in, n_hidden, n_out = shapes
    W1, b1 = rng.normal(size=(n_hidden, n_in)), rng.normal(size=n_hidden)
    W2, b2 = rng.normal(size=(n_out, n_hidden)), rng.normal(size=n_out)
    W, b = as_list(student.linear_collapse(W1, b1, W2, b2), "linear_collapse(...)", length=2)
    W = as_array(W, f"W for layers {n_in}-{n_hidden}-{n_out}", shape=(n_out, n_in))
    b = as_array(b, f"b for layers {n_in}-{n_hidden}-{n_out}", shape=(n_out,))
    x = rng.normal(size=(6, n_in))
    expect_close(x @ W.T + b, (x @ W1.T + b1) @ W2.T + b2,
                 f"the collapsed layer's outputs ({n_in}-{n_hidden}-{n_out})")


@hidden_test("linear_collapse", points=1)
def collapse_rectangular_layers(student):
    """layers 3-5-2"""
    collapse(student, (3, 5, 2), seed=404)


@hidden_test("linear_collapse", points=1)
def collapse_square_layers(student):
    """layers 4-4-4, where a transposed product has the right shape but wrong values"""
    collapse(student, (4, 4, 4), seed=405)


# ---- exercise 6: mlp_forward (3 points) ----------------------------------------------------

def random_params(rng, sizes):
    return [(rng.normal(size=(d_out, d_in)), rng.normal(size=d_out))
            for d_in, d_out in itertools.pairwise(sizes)]


def torch_forward(x, params):
    h = torch.from_numpy(x)
    for i, (W, b) in enumerate(params):
        h = torch.nn.functional.linear(h, torch.from_numpy(W), torch.from_numpy(b))
        h = torch.relu(h) if i < len(params) - 1 else h
    return h.numpy()


@hidden_test("mlp_forward", points=1)
def forward_matches_torch(student):
    """6-8-5-3 network on a batch of 4, against torch.nn.functional.linear + relu"""
    rng = np.random.default_rng(505)
    x, params = rng.normal(size=(4, 6)), random_params(rng, [6, 8, 5, 3])
    expect_close(student.mlp_forward(x, params), torch_forward(x, params), "mlp_forward on a 6-8-5-3 network")


@hidden_test("mlp_forward", points=1)
def forward_square_and_single_layers(student):
    """square 4-4-4 layers, and a single layer whose outputs go negative"""
    rng = np.random.default_rng(506)
    x, params = rng.normal(size=(5, 4)), random_params(rng, [4, 4, 4])
    expect_close(student.mlp_forward(x, params), torch_forward(x, params), "mlp_forward on a 4-4-4 network")
    x, params = rng.normal(size=(3, 2)), [(np.array([[-1.0, -2.0]]), np.array([-5.0]))]
    expect_close(student.mlp_forward(x, params), torch_forward(x, params), "mlp_forward on a single layer")


@hidden_test("mlp_forward", points=1)
def forward_rejects_shapes_that_do_not_fit(student):
    """ValueError for a 1-D x, a W of the wrong width, and a b of the wrong shape"""
    rng = np.random.default_rng(507)
    params = random_params(rng, [3, 4, 2])
    expect_raises(lambda: student.mlp_forward(rng.normal(size=3), params), "ValueError", "x of shape (3,)")
    expect_raises(lambda: student.mlp_forward(rng.normal(size=(2, 5)), params), "ValueError",
                  "x with 5 features for a network that takes 3")
    bad_bias = [params[0], (params[1][0], np.zeros(1))]  # shape (1,) would broadcast silently
    expect_raises(lambda: student.mlp_forward(rng.normal(size=(2, 3)), bad_bias), "ValueError",
                  "a last layer with 2 outputs but b of shape (1,)")


# ---- exercise 7: MLP (3 points) ------------------------------------------------------------

def layers_of(model, sizes):
    """The (weight, bias) pairs in the model's state_dict, checked against ``sizes``."""
    state = as_dict(model.state_dict(), f"MLP({sizes}).state_dict()")
    tensors = [as_tensor(t, "a state_dict() entry") for t in state.values()]
    shapes = [tuple(t.shape) for t in tensors]
    expected = [s for d_in, d_out in itertools.pairwise(sizes) for s in ((d_out, d_in), (d_out,))]
    if shapes != expected:
        fail(f"MLP({sizes}).state_dict() should hold weights and biases of shapes {expected} in order, "
             f"but holds {shapes}")
    return list(zip(tensors[0::2], tensors[1::2], strict=True))


def expect_model_output(student, sizes, batch, seed):
    model = student.new("MLP", sizes)
    layers = layers_of(model, sizes)
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(batch, sizes[0])).astype(np.float32))
    got = as_tensor(model(x), f"MLP({sizes}) on a batch of {batch}", shape=(batch, sizes[-1]))
    h = x
    for i, (weight, bias) in enumerate(layers):
        h = torch.nn.functional.linear(h, weight.float(), bias.float())
        h = torch.relu(h) if i < len(layers) - 1 else h
    expect_close(got.double().numpy(), h.double().numpy(), f"MLP({sizes})'s outputs", rtol=1e-4, atol=1e-5)


@hidden_test("MLP", points=1)
def module_has_the_chapter_parameters(student):
    """MLP([784, 512, 256, 10]) holds 535,818 parameters in three layers"""
    layers = layers_of(student.new("MLP", [784, 512, 256, 10]), [784, 512, 256, 10])
    expect_equal(sum(w.numel() + b.numel() for w, b in layers), 535_818, "the number of parameters")


@hidden_test("MLP", points=1)
def module_output_matches_its_weights(student):
    """5-7-6-3 module: outputs equal linear + ReLU computed from its own state_dict"""
    expect_model_output(student, [5, 7, 6, 3], batch=4, seed=606)


@hidden_test("MLP", points=1)
def module_other_depths(student):
    """a 2-16-1 and a 3-4-4-4-2 module, and a batch of one"""
    expect_model_output(student, [2, 16, 1], batch=8, seed=607)
    expect_model_output(student, [3, 4, 4, 4, 2], batch=1, seed=608)
