"""Hidden tests for exercises/01_perceptrons.ipynb (28 points).

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


def expect_type(value, kind, what):
    """``value`` is exactly a Python ``kind`` (the transport turns NumPy scalars into Python ones)."""
    if type(value) is not kind:
        fail(f"{what} should be a Python {kind.__name__}, but it is a {type(value).__name__}")


def expect_dtype_kind(array, kinds, wanted, what):
    """``array``'s dtype is of one of the NumPy ``kinds`` ("f" float, "iu" integer...)."""
    if array.dtype.kind not in kinds:
        fail(f"{what} should hold {wanted}, but its dtype is {array.dtype}")

# ---- exercise 1: perceptron_predict (3 points) ---------------------------------------------

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


@hidden_test("perceptron_predict", points=1)
def predict_returns_an_integer_array(student):
    """the outputs are an integer array (not bool, not float), also for integer inputs"""
    for X, w, b in [(GATES, np.array([1.0, 1.0]), -1.5), (GATES.astype(int), np.array([2, 2]), -1)]:
        got = predict(student, X, w, b)
        expect_dtype_kind(got, "iu", "integers (0 or 1), not bools", "perceptron_predict's outputs")
        expect_equal(got, step(X @ w + b), "the outputs on the gate inputs")


# ---- exercise 2: train_perceptron (4 points) -----------------------------------------------

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
def training_returns_the_asked_types(student):
    """integer inputs and lr = 1: w is a float array, b a Python float, mistakes Python ints"""
    X, y = GATES.astype(np.int64), np.array([0, 1, 1, 1])
    result = as_list(student.train_perceptron(X, y, lr=1, epochs=20), "train_perceptron on integer inputs",
                     length=3)
    w = as_array(result[0], "w trained on integer inputs", shape=(2,))
    expect_dtype_kind(w, "f", "floats", "w trained on integer inputs")
    expect_type(result[1], float, "b")
    mistakes = as_list(result[2], "the mistakes")
    for m in mistakes:
        expect_type(m, int, "each entry of mistakes")
    ref_w, ref_b, ref_mistakes = reference_training(X.astype(float), y, 1.0, 20)
    expect_close(w, ref_w, "w trained on integer inputs")
    expect_close(np.array([result[1]]), np.array([ref_b]), "b trained on integer inputs")
    expect_equal(np.array(mistakes), np.array(ref_mistakes), "the mistakes per epoch on integer inputs")


@hidden_test("train_perceptron", points=1)
def training_on_xor_never_converges(student):
    """XOR: every one of the 7 epochs makes mistakes"""
    _, _, mistakes = train(student, GATES, np.array([0, 1, 1, 0]), lr=1.0, epochs=7, what="XOR")
    if len(mistakes) != 7 or min(mistakes) == 0:
        fail(f"on XOR with epochs=7 the rule runs 7 epochs, each with mistakes; you returned {mistakes}")


# ---- exercise 3: xor_weights (3 points) ----------------------------------------------------

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


@hidden_test("xor_weights", points=1)
def xor_weights_are_float_arrays(student):
    """W1, b1, W2 and b2 are float arrays (and compute XOR: the type earns nothing on its own)"""
    xor_network_truth_table(student)
    arrays = as_list(student.xor_weights(), "xor_weights()", length=4)
    for name, value in zip(("W1", "b1", "W2", "b2"), arrays, strict=True):
        if type(value) is not np.ndarray:
            fail(f"{name} should be a NumPy array, but it is a {type(value).__name__}")
        expect_dtype_kind(value, "f", "floats", name)


# ---- exercise 4: count_parameters (3 points) -----------------------------------------------

def count(student, sizes):
    """The student's count; integer-valued floats are accepted here (the type has its own test)."""
    value = student.count_parameters(sizes)
    if type(value) is float and value.is_integer():
        return int(value)
    return value


@hidden_test("count_parameters", points=1)
def counts_the_chapter_network(student):
    """784-512-256-10 has 535,818 parameters, and 784-100-10 (not in the book) 79,510"""
    for sizes, want in (([784, 512, 256, 10], 535_818), ([784, 100, 10], 79_510)):
        expect_equal(count(student, sizes), want, f"count_parameters({sizes})")  # not just the book's example


@hidden_test("count_parameters", points=1)
def counts_other_networks(student):
    """random widths, one layer, and no layer at all"""
    rng = np.random.default_rng(303)
    cases = [[int(n) for n in rng.integers(1, 300, size=length)] for length in (2, 3, 5, 7)] + [[9]]
    for sizes in cases:
        expected = sum(a * b + b for a, b in itertools.pairwise(sizes))
        expect_equal(count(student, sizes), expected, f"count_parameters for {len(sizes)} widths")


@hidden_test("count_parameters", points=1)
def count_is_a_python_int(student):
    """the count is a Python int (not a float), also for a single width"""
    for sizes in ([3, 4, 2], [7]):
        value = student.count_parameters(sizes)
        expect_type(value, int, f"count_parameters({sizes})")
        want = sum(a * b + b for a, b in itertools.pairwise(sizes))
        expect_equal(value, want, f"count_parameters({sizes})")


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
    """ValueError for a 1-D x, a W of the wrong width, a b of shape (1,) or (2, 1); and right outputs"""
    rng = np.random.default_rng(507)
    params = random_params(rng, [3, 4, 2])
    x = rng.normal(size=(2, 3))  # the error cases count only if the function works on valid input
    expect_close(student.mlp_forward(x, params), torch_forward(x, params), "mlp_forward on a 3-4-2 network")
    expect_raises(lambda: student.mlp_forward(rng.normal(size=3), params), "ValueError", "x of shape (3,)")
    expect_raises(lambda: student.mlp_forward(rng.normal(size=(2, 5)), params), "ValueError",
                  "x with 5 features for a network that takes 3")
    bad_bias = [params[0], (params[1][0], np.zeros(1))]  # shape (1,) would broadcast silently
    expect_raises(lambda: student.mlp_forward(rng.normal(size=(2, 3)), bad_bias), "ValueError",
                  "a last layer with 2 outputs but b of shape (1,)")
    column_bias = [params[0], (params[1][0], params[1][1][:, None])]  # (2, 1): a batch of 2 broadcasts
    expect_raises(lambda: student.mlp_forward(rng.normal(size=(2, 3)), column_bias), "ValueError",
                  "a last layer with 2 outputs but b of shape (2, 1)")


# ---- exercise 7: MLP (4 points) ------------------------------------------------------------

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


def load_random_weights(model, sizes, rng):
    """Give ``model`` random weights chosen here (so its own initialisation cannot make the test pass)."""
    keys = list(as_dict(model.state_dict(), f"MLP({sizes}).state_dict()"))
    layers_of(model, sizes)
    values = [torch.tensor(rng.normal(size=shape), dtype=torch.float32)
              for d_in, d_out in itertools.pairwise(sizes) for shape in ((d_out, d_in), (d_out,))]
    model.load_state_dict(dict(zip(keys, values, strict=True)))


def expect_model_output(student, sizes, batch, seed):
    model = student.new("MLP", sizes)
    rng = np.random.default_rng(seed)
    load_random_weights(model, sizes, rng)
    layers = layers_of(model, sizes)
    x = torch.from_numpy(rng.normal(size=(batch, sizes[0])).astype(np.float32))
    got = as_tensor(model(x), f"MLP({sizes}) on a batch of {batch}", shape=(batch, sizes[-1]))
    h = x
    for i, (weight, bias) in enumerate(layers):
        h = torch.nn.functional.linear(h, weight.float(), bias.float())
        h = torch.relu(h) if i < len(layers) - 1 else h
    expect_close(got.double().numpy(), h.double().numpy(), f"MLP({sizes})'s outputs", rtol=1e-4, atol=1e-5)


@hidden_test("MLP", points=1)
def module_has_the_chapter_parameters(student):
    """MLP([784, 512, 256, 10]) holds 535,818 parameters in three layers; MLP([20, 30, 5]) 785 in two"""
    for sizes, want in (([784, 512, 256, 10], 535_818), ([20, 30, 5], 785)):
        layers = layers_of(student.new("MLP", sizes), sizes)
        total = sum(w.numel() + b.numel() for w, b in layers)
        expect_equal(total, want, f"the number of parameters of MLP({sizes})")


@hidden_test("MLP", points=1)
def module_output_matches_its_weights(student):
    """5-7-6-3 module with weights loaded by the test: outputs equal linear + ReLU"""
    expect_model_output(student, [5, 7, 6, 3], batch=4, seed=606)


@hidden_test("MLP", points=1)
def module_other_depths(student):
    """a 2-16-1 and a 3-4-4-4-2 module, and a batch of one"""
    expect_model_output(student, [2, 16, 1], batch=8, seed=607)
    expect_model_output(student, [3, 4, 4, 4, 2], batch=1, seed=608)


def gradients_reach_every_parameter(student, sizes, x, y):
    """Scenario: one backward pass of a squared error through a fresh MLP; every parameter's gradient."""
    model = student.MLP(sizes)
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    return {name: p.grad for name, p in model.named_parameters()}  # the test looks for missing ones


@hidden_test("MLP", points=1)
def module_starts_trainable(student):
    """as built: random weights with distinct rows, outputs that depend on x, gradients everywhere"""
    sizes = [6, 10, 8, 3]
    model = student.new("MLP", sizes)
    for i, (stored, _) in enumerate(layers_of(model, sizes)):
        weight = stored.double()
        fan_in = weight.shape[1]
        spread = float(weight.std())
        if not 0.2 / np.sqrt(fan_in) < spread < 5 / np.sqrt(fan_in):
            fail(f"layer {i}'s weights start with standard deviation {spread:.3g}: keep nn.Linear's own "
                 "random initialisation (zero or constant weights give every unit the same gradient)")
        if len(torch.unique(weight, dim=0)) < weight.shape[0]:
            fail(f"layer {i} starts with identical rows of weights: its units would all learn the same thing")
    x = torch.from_numpy(np.random.default_rng(609).normal(size=(4, 6)).astype(np.float32))
    out = as_tensor(model(x), "MLP([6, 10, 8, 3]) on a batch of 4", shape=(4, 3))
    if float((out - out[0]).abs().max()) == 0.0:
        fail("the freshly built MLP gives the same output for every input: it cannot learn from its inputs")
    rng = np.random.default_rng(610)
    x, y = rng.normal(size=(16, 6)).astype(np.float32), rng.normal(size=(16, 3)).astype(np.float32)
    grads = student.run(gradients_reach_every_parameter, sizes, torch.from_numpy(x), torch.from_numpy(y))
    grads = as_dict(grads, "the parameters' gradients")
    stuck = [name for name, grad in grads.items() if grad is None or not as_array(grad, f"{name}.grad").any()]
    if stuck:
        fail(f"after one backward pass through a fresh MLP, {len(stuck)} parameter tensor(s) got no gradient "
             "at all: with such an initialisation they can never learn")


# ---- exercise 8: fit_line (3 points) -------------------------------------------------------

def line_data(seed, n, slope, intercept):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    y = slope * x + intercept + rng.normal(0, 0.3, n)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)


def expect_least_squares(student, x, y, what):
    result = as_list(student.fit_line(x, y), f"fit_line on {what}", length=2)
    got = np.array([as_float(result[0], f"w for {what}"), as_float(result[1], f"b for {what}")])
    want = np.polyfit(x.double().numpy(), y.double().numpy(), 1)
    expect_close(got, want, f"the fitted (w, b) for {what}", rtol=0, atol=1e-3)
    return result


@hidden_test("fit_line", points=1)
def fits_a_rising_line(student):
    """60 noisy points on y = 2.5 x - 1: the least-squares line"""
    expect_least_squares(student, *line_data(801, 60, 2.5, -1.0), "points on a rising line")


@hidden_test("fit_line", points=1)
def fits_falling_and_offset_lines(student):
    """points on y = -1.7 x + 4 and on y = 0.3 x - 2.5, 25 and 90 of them"""
    expect_least_squares(student, *line_data(802, 25, -1.7, 4.0), "points on a falling line")
    expect_least_squares(student, *line_data(803, 90, 0.3, -2.5), "points on a flat, offset line")


@hidden_test("fit_line", points=1)
def fit_line_returns_python_floats(student):
    """w and b are Python floats, and right"""
    result = expect_least_squares(student, *line_data(804, 40, 1.2, 0.5), "40 points")
    expect_type(result[0], float, "w")
    expect_type(result[1], float, "b")


# ---- exercise 9: perceptron_mistake_bound (3 points) --------------------------------------

def separable_data(seed, n, d, margin):
    """n points in d dimensions, labelled by a random (w*, b*) with every point at least ``margin`` away."""
    rng = np.random.default_rng(seed)
    w_star, b_star = rng.normal(size=d), float(rng.normal(scale=0.5))
    norm = np.linalg.norm(np.append(w_star, b_star))
    X = []
    while len(X) < n:
        x = rng.uniform(-2, 2, d)
        if abs(x @ w_star + b_star) / norm >= margin:
            X.append(x)
    X = np.array(X)
    return X, (X @ w_star + b_star >= 0).astype(int), w_star, b_star


def bound_reference(X, y, w_star, b_star):
    signs = 2 * y - 1
    gamma = np.min(signs * (X @ w_star + b_star)) / np.linalg.norm(np.append(w_star, b_star))
    radius_squared = np.max(np.sum(X**2, axis=1) + 1.0)
    _, _, mistakes = reference_training(X, y, 1.0, 10_000)
    return sum(mistakes), radius_squared / gamma**2


def mistake_bound(student, data, what):
    result = as_list(student.perceptron_mistake_bound(*data), f"perceptron_mistake_bound on {what}", length=2)
    return result


@hidden_test("perceptron_mistake_bound", points=1)
def measured_updates_for_shrinking_margins(student):
    """the updates the rule makes on data with margins 0.4, 0.15 and 0.05"""
    for seed, margin in [(901, 0.4), (902, 0.15), (903, 0.05)]:
        data = separable_data(seed, 40, 2, margin)
        updates = as_int(mistake_bound(student, data, f"margin {margin}")[0], f"updates for margin {margin}")
        expect_equal(updates, int(bound_reference(*data)[0]), f"the updates for data with margin {margin}")


@hidden_test("perceptron_mistake_bound", points=1)
def bound_matches_the_theorem(student):
    """(R / gamma)^2 with the bias folded in, above the measured updates; Python int and float"""
    for seed, n, d, margin in [(904, 30, 3, 0.2), (905, 50, 2, 0.1)]:
        data = separable_data(seed, n, d, margin)
        updates, bound = mistake_bound(student, data, f"{n} points in {d}-D")
        expect_type(updates, int, "updates")
        expect_type(bound, float, "bound")
        _, want_bound = bound_reference(*data)
        expect_close(np.array([bound]), np.array([want_bound]), f"the bound for {n} points in {d}-D",
                     rtol=1e-9)
        if not updates <= bound:
            fail(f"{updates} updates exceed the bound {bound:.1f}: the theorem says that cannot happen")


@hidden_test("perceptron_mistake_bound", points=1)
def non_separating_weights_raise(student):
    """a right answer on separable data; ValueError for a (w*, b*) with a point on or beyond its line"""
    data = separable_data(906, 20, 2, 0.3)
    updates = as_int(mistake_bound(student, data, "20 points")[0], "updates")
    expect_equal(updates, int(bound_reference(*data)[0]), "the updates for 20 points")
    X, y, w_star, b_star = data
    flipped = y.copy()
    flipped[0] = 1 - flipped[0]
    expect_raises(lambda: student.perceptron_mistake_bound(X, flipped, w_star, b_star), "ValueError",
                  "perceptron_mistake_bound when one label disagrees with (w*, b*)")
    expect_raises(lambda: student.perceptron_mistake_bound(X, y, -w_star, -b_star), "ValueError",
                  "perceptron_mistake_bound with (w*, b*) pointing the wrong way")
