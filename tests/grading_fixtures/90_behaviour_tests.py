"""Hidden tests for tests/grading_fixtures/90_behaviour.ipynb: the worked example of scenarios.

Each exercise's correctness is behaviour a plain call cannot see, so each test runs a
*scenario* (a plain function below, run in the student's process next to their objects) that
reports what happened as plain data; every expected value is computed here, in the grader.
See solutions/README.md, "Scenarios". CI grades this set's solution, stub and mutants
(tests/test_grading_scenarios.py) through the same command as the book's sets.
"""

import numpy as np
import torch

from utils.grading.expect import as_array, as_dict, as_list, expect_close, expect_equal, fail
from utils.grading.hidden import hidden_test
from utils.grading.rules import write_it_yourself

# A chapter declares its rules in its public module, so that check() enforces them too; this
# fixture has no public module, so its rule lives here, where the grader still applies it.
write_it_yourself("standardized", "torch.nn.functional.layer_norm")


def expect_flag(value, what):
    """A bool the scenario reported must be True."""
    if value is not True:
        fail(what)


# ---- exercise 1: SGDMomentum (3 points): an optimizer that updates tensors in place ------------------

def momentum_steps(student, start, grads, lr, momentum):
    """Build the student's optimizer over tensors we own, feed it gradients, return our tensors."""
    params = [torch.tensor(p, requires_grad=True) for p in start]
    optimizer = student.SGDMomentum(params, lr=lr, momentum=momentum)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        optimizer.step()
    after_steps = [p.detach().clone() for p in params]
    optimizer.zero_grad()
    return {"params": after_steps, "grads_cleared": [p.grad is None for p in params]}


def reference_momentum(start, grads, lr, momentum):
    params = [torch.tensor(p, requires_grad=True) for p in start]
    optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        optimizer.step()
    return [p.detach().numpy() for p in params]


def expect_momentum_run(student, start, grads, lr, momentum, what):
    got = as_dict(student.run(momentum_steps, start, grads, lr, momentum), what,
                  keys=["params", "grads_cleared"])
    params = as_list(got["params"], f"the parameters after {what}", length=len(start))
    for k, (p, want) in enumerate(zip(params, reference_momentum(start, grads, lr, momentum), strict=True)):
        expect_close(as_array(p, f"parameter {k}", shape=want.shape), want,
                     f"parameter {k} after {what} (the tensors given to SGDMomentum must change in place)")
    return got


@hidden_test("SGDMomentum", points=2)
def five_steps_update_the_given_tensors_in_place(student):
    """5 steps with given gradients change the given tensors as torch.optim.SGD(momentum=0.9) does"""
    rng = np.random.default_rng(901)
    start = [rng.normal(size=(3, 2)), rng.normal(size=4)]
    grads = [[rng.normal(size=p.shape) for p in start] for _ in range(5)]
    expect_momentum_run(student, start, grads, 0.1, 0.9, "5 steps")


@hidden_test("SGDMomentum", points=1)
def tensors_without_a_gradient_are_skipped_and_zero_grad_clears(student):
    """a tensor whose .grad is None is skipped; zero_grad() sets every .grad to None"""
    rng = np.random.default_rng(902)
    start = [rng.normal(size=3), rng.normal(size=2)]
    grads = [[rng.normal(size=3), None], [rng.normal(size=3), None], [rng.normal(size=3), rng.normal(size=2)]]
    got = expect_momentum_run(student, start, grads, 0.05, 0.5, "3 steps, one without a gradient twice")
    if as_list(got["grads_cleared"], "which gradients zero_grad() cleared", length=2) != [True, True]:
        fail("after zero_grad() every parameter's .grad should be None")


# ---- exercise 2: RunningNorm (3 points): buffers and the train/eval switch -----------------------------

def norm_train_then_eval(student, batches, eval_batch, momentum):
    """Train mode on a few batches, then eval mode on one: outputs and buffers after each phase."""
    norm = student.RunningNorm(len(eval_batch[0]), momentum=momentum).double()
    norm.train()
    train_outputs = [norm(torch.tensor(x)) for x in batches]
    after_train = {name: b.clone() for name, b in norm.named_buffers()}
    norm.eval()
    eval_output = norm(torch.tensor(eval_batch))
    return {"train_outputs": train_outputs, "after_train": after_train, "eval_output": eval_output,
            "after_eval": dict(norm.named_buffers())}


def norm_state(student, n_features):
    """What a fresh module exposes: its state_dict keys, and its buffers' dtype after .double()."""
    norm = student.RunningNorm(n_features).double()
    return {"keys": sorted(norm.state_dict()), "dtypes": [str(b.dtype) for b in norm.buffers()]}


def reference_norm(batches, eval_batch, momentum):
    norm = torch.nn.BatchNorm1d(len(eval_batch[0]), affine=False, momentum=momentum).double()
    train_outputs = [norm(torch.tensor(x)).detach().numpy() for x in batches]
    stats = {"running_mean": norm.running_mean.numpy().copy(), "running_var": norm.running_var.numpy().copy()}
    norm.eval()
    return train_outputs, stats, norm(torch.tensor(eval_batch)).detach().numpy()


def norm_data(seed):
    rng = np.random.default_rng(seed)
    batches = [rng.normal(loc=3.0, scale=2.0, size=(8, 4)) for _ in range(3)]
    return batches, rng.normal(loc=3.0, scale=2.0, size=(5, 4))


def expect_buffers(got, want, what):
    got = as_dict(got, what, keys=["running_mean", "running_var"])
    for name, value in want.items():
        expect_close(as_array(got[name], f"{name} {what}", shape=value.shape), value, f"{name} {what}")


@hidden_test("RunningNorm", points=1)
def training_mode_normalises_with_batch_statistics_and_updates_the_buffers(student):
    """3 batches in train mode: outputs and running statistics as nn.BatchNorm1d(affine=False)"""
    batches, eval_batch = norm_data(903)
    got = as_dict(student.run(norm_train_then_eval, batches, eval_batch, 0.2), "the scenario")
    want_outputs, want_stats, _ = reference_norm(batches, eval_batch, 0.2)
    for k, want in enumerate(want_outputs):
        expect_close(got["train_outputs"][k], want, f"the output on training batch {k}")
    expect_buffers(got["after_train"], want_stats, "after 3 training batches")


@hidden_test("RunningNorm", points=1)
def eval_mode_uses_the_running_statistics_and_leaves_them_alone(student):
    """eval mode normalises with the running statistics and does not change them"""
    batches, eval_batch = norm_data(904)
    got = as_dict(student.run(norm_train_then_eval, batches, eval_batch, 0.1), "the scenario")
    _, want_stats, want_eval = reference_norm(batches, eval_batch, 0.1)
    expect_close(got["eval_output"], want_eval, "the output in eval mode")
    expect_buffers(got["after_eval"], want_stats, "after a batch in eval mode (eval must not update them)")


@hidden_test("RunningNorm", points=1)
def running_statistics_are_registered_buffers(student):
    """running_mean and running_var are buffers: in the state_dict, and converted by .double()"""
    got = as_dict(student.run(norm_state, 3), "the scenario", keys=["keys", "dtypes"])
    if got["keys"] != ["running_mean", "running_var"]:
        fail(f"the state_dict should hold exactly running_mean and running_var, but it holds {got['keys']}: "
             "register them with self.register_buffer(...)")
    if got["dtypes"] != ["torch.float64", "torch.float64"]:
        fail("after .double() both buffers should be float64: register them with self.register_buffer(...)")


# ---- exercise 3: TwoLayerNet (2 points): gradients through the student's module ------------------------

def net_forward_backward(student, state, x, y):
    """Load given weights, run forward and backward on a batch; the output and every .grad."""
    n_hidden, n_in = state["hidden.weight"].shape
    net = student.TwoLayerNet(n_in, n_hidden, len(state["out.bias"])).double()
    net.load_state_dict({name: torch.tensor(value) for name, value in state.items()})
    out = net(torch.tensor(x))
    ((out - torch.tensor(y)) ** 2).mean().backward()
    return {"output": out.detach(), "has_grad_fn": out.grad_fn is not None,
            "grads": {name: p.grad for name, p in net.named_parameters()}}


def net_data(seed):
    rng = np.random.default_rng(seed)
    state = {"hidden.weight": rng.normal(size=(5, 3)), "hidden.bias": rng.normal(size=5),
             "out.weight": rng.normal(size=(2, 5)), "out.bias": rng.normal(size=2)}
    return state, rng.normal(size=(6, 3)), rng.normal(size=(6, 2))


def reference_net(state, x, y):
    params = {name: torch.tensor(value, requires_grad=True) for name, value in state.items()}
    hidden = torch.tanh(torch.tensor(x) @ params["hidden.weight"].T + params["hidden.bias"])
    out = hidden @ params["out.weight"].T + params["out.bias"]
    ((out - torch.tensor(y)) ** 2).mean().backward()
    return out.detach().numpy(), {name: p.grad.numpy() for name, p in params.items()}


@hidden_test("TwoLayerNet", points=1)
def output_for_given_weights_stays_in_the_graph(student):
    """the output for given weights matches linear-tanh-linear and carries a grad_fn"""
    state, x, y = net_data(905)
    got = as_dict(student.run(net_forward_backward, state, x, y), "the scenario")
    expect_close(got["output"], reference_net(state, x, y)[0], "the output for given weights")
    expect_flag(got["has_grad_fn"], "the output should be part of the autograd graph (it has no grad_fn)")


@hidden_test("TwoLayerNet", points=1)
def gradients_reach_every_parameter(student):
    """after backward on a mean squared error, every parameter's .grad matches autograd's"""
    state, x, y = net_data(906)
    got = as_dict(student.run(net_forward_backward, state, x, y), "the scenario")
    grads = as_dict(got["grads"], "the parameters' gradients", keys=list(state))
    for name, want in reference_net(state, x, y)[1].items():
        if grads[name] is None:
            fail(f"{name}.grad is None after backward: no gradient reached it (a detach?)")
        expect_close(as_array(grads[name], f"{name}.grad", shape=want.shape), want, f"{name}.grad")


# ---- exercise 4: clip_rows_ (2 points): an update that must happen in place ----------------------------

def clip_in_place(student, x, max_norm):
    """Call clip_rows_ on a tensor we keep; report that tensor afterwards and what came back."""
    tensor = torch.tensor(x)
    returned = student.clip_rows_(tensor, max_norm)
    return {"x_after": tensor, "returned_x_itself": returned is tensor}


def clip_reference(x, max_norm):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x * np.minimum(1.0, max_norm / np.maximum(norms, 1e-300))


def clip_data():
    rng = np.random.default_rng(907)
    x = rng.normal(scale=3.0, size=(6, 4))
    x[1] = 0.0                                    # a zero row stays zero
    x[2] *= 2.0 / np.linalg.norm(x[2])            # a row exactly at max_norm stays as it is
    x[3] *= 0.5 / np.linalg.norm(x[3])            # a short row stays as it is
    return x


@hidden_test("clip_rows_", points=1)
def long_rows_are_scaled_down_in_the_given_tensor(student):
    """rows longer than max_norm = 2 are scaled to norm 2 in the given tensor; others stay"""
    x = clip_data()
    got = as_dict(student.run(clip_in_place, x, 2.0), "the scenario", keys=["x_after", "returned_x_itself"])
    expect_close(got["x_after"], clip_reference(x, 2.0), "the tensor given to clip_rows_ (updated in place?)")


@hidden_test("clip_rows_", points=1)
def returns_the_tensor_it_was_given(student):
    """clip_rows_ returns x itself, not a copy"""
    got = as_dict(student.run(clip_in_place, clip_data(), 1.0), "the scenario",
                  keys=["x_after", "returned_x_itself"])
    expect_flag(got["returned_x_itself"], "clip_rows_(x, max_norm) should return x itself")


# ---- exercise 5: standardized (2 points): an input that must not change, a result in the graph ---------

def standardize_plain(student, x):
    """standardized on a tensor we keep: the result, and that tensor afterwards."""
    tensor = torch.tensor(x)
    return {"output": student.standardized(tensor), "x_after": tensor}


def standardize_in_graph(student, x):
    """standardized on a leaf tensor that requires grad: is the result in the autograd graph?"""
    out = student.standardized(torch.tensor(x, requires_grad=True))
    return {"output": out.detach(), "has_grad_fn": out.grad_fn is not None}


def standardize_reference(x):
    centred = x - x.mean(axis=-1, keepdims=True)
    return centred / np.sqrt((centred ** 2).mean(axis=-1, keepdims=True))


@hidden_test("standardized", points=1)
def standardizes_without_changing_its_input(student):
    """(x - mean) / std along the last axis of a (3, 5) tensor, and x is unchanged afterwards"""
    x = np.random.default_rng(908).normal(loc=2.0, scale=3.0, size=(3, 5))
    got = as_dict(student.run(standardize_plain, x), "the scenario", keys=["output", "x_after"])
    expect_close(got["output"], standardize_reference(x), "standardized(x)")
    expect_equal(as_array(got["x_after"], "x after the call", shape=x.shape), x,
                 "x after standardized(x) (it must not change)")


@hidden_test("standardized", points=1)
def result_is_part_of_the_autograd_graph(student):
    """with an input that requires grad, the result has the right values and a grad_fn"""
    x = np.random.default_rng(909).normal(size=(2, 6))
    got = as_dict(student.run(standardize_in_graph, x), "the scenario", keys=["output", "has_grad_fn"])
    expect_close(got["output"], standardize_reference(x), "standardized(x) for x with requires_grad")
    expect_flag(got["has_grad_fn"], "standardized(x) for x with requires_grad should carry a grad_fn "
                                    "(computed from x with torch operations, not detached)")
