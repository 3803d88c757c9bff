"""Hidden tests for exercises/10_rnns.ipynb (17 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values come from PyTorch's own layers (nn.RNN, nn.LSTM, nn.GRUCell, F.cross_entropy)
or from the definitions in the prompts, computed here. Modules, gradients and grad modes are
observed through scenarios run in the student's process.
"""

import math

import numpy as np
import torch

from utils.grading.expect import (
    as_array,
    as_dict,
    as_float,
    as_int,
    as_list,
    expect_close,
    expect_equal,
    expect_raises,
    fail,
)
from utils.grading.hidden import hidden_test
from utils.grading.public.ch10 import reference_state_gradients, tiny_lm_reference, tiny_lm_weights

# ---- exercise 1: rnn_forward (2 points) -----------------------------------------------------------------


def rnn_case(seed, T, N, D, H, dtype=torch.float64, scale=1.0):
    torch.manual_seed(seed)
    rnn = torch.nn.RNN(D, H).to(dtype)
    with torch.no_grad():
        for p in rnn.parameters():
            p.mul_(scale)
    x = torch.randn(T, N, D, dtype=dtype)
    h0 = torch.randn(N, H, dtype=dtype)
    with torch.no_grad():
        want, want_last = rnn(x, h0.unsqueeze(0))
    weights = [
        rnn.weight_ih_l0.detach(),
        rnn.weight_hh_l0.detach(),
        rnn.bias_ih_l0.detach(),
        rnn.bias_hh_l0.detach(),
    ]
    return x, h0, weights, want, want_last[0]


@hidden_test("rnn_forward", points=1)
def matches_nn_rnn_on_several_shapes(student):
    """outputs and last state equal nn.RNN's (float64 kept, non-zero h0, several shapes, T = 1 included)"""
    for seed, shape in enumerate([(6, 3, 4, 5), (1, 1, 2, 3), (9, 2, 1, 7)]):
        x, h0, weights, want, want_last = rnn_case(seed, *shape, scale=1.5)
        out, last = student.rnn_forward(x, h0, *weights)
        for name, value in (("outputs", out), ("h_T", last)):
            if not (isinstance(value, torch.Tensor) and value.dtype == torch.float64):
                kind = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
                fail(f"for float64 inputs, {name} must be a float64 tensor, not {kind}")
        expect_close(
            as_array(out, f"outputs for shape {shape}", shape=want.shape),
            want.numpy(),
            f"outputs for x of shape {shape[:3]}",
        )
        expect_close(
            as_array(last, f"h_T for shape {shape}", shape=want_last.shape),
            want_last.numpy(),
            f"h_T for x of shape {shape[:3]}",
        )


@hidden_test("rnn_forward", points=1)
def keeps_float32_and_the_right_values(student):
    """float32 in, float32 out, values as nn.RNN's, also with pre-activations in the hundreds"""
    for scale, what, atol in ((1.0, "float32", 1e-6), (100.0, "float32, tanh saturated", 1e-3)):
        x, h0, weights, want, want_last = rnn_case(7, 5, 4, 3, 6, dtype=torch.float32, scale=scale)
        out, last = student.rnn_forward(x, h0, *weights)
        if not (
            isinstance(out, torch.Tensor)
            and out.dtype == torch.float32
            and isinstance(last, torch.Tensor)
            and last.dtype == torch.float32
        ):
            fail("for float32 inputs, outputs and h_T must be float32 tensors")
        expect_close(
            as_array(out, "outputs", shape=(5, 4, 6)), want.numpy(), f"outputs ({what})", rtol=1e-4, atol=atol
        )
        expect_close(
            as_array(last, "h_T", shape=(4, 6)), want_last.numpy(), f"h_T ({what})", rtol=1e-4, atol=atol
        )


# ---- exercise 2: ScratchLSTM (3 points) -----------------------------------------------------------------


def lstm_scenario(student, weights, x, state, upstream):
    """The student's LSTM with the given weights; outputs, and gradients of sum(out * u0) + sum(h_n * u1) +
    sum(c_n * u2) with respect to x, the initial state and the parameters."""
    D, H = x.shape[2], weights["weight_hh_l0"].shape[1]
    lstm = student.ScratchLSTM(D, H).double()
    lstm.load_state_dict({k: torch.as_tensor(v, dtype=torch.float64) for k, v in weights.items()})
    x = x.double().requires_grad_()
    if state is not None:
        state = tuple(s.double().requires_grad_() for s in state)
    out, (h, c) = lstm(x, state)
    loss = (out * upstream[0]).sum() + (h * upstream[1]).sum() + (c * upstream[2]).sum()
    loss.backward()
    return {
        "out": out.detach(),
        "h": h.detach(),
        "c": c.detach(),
        "x_grad": x.grad,
        "state_grad": [s.grad for s in state] if state is not None else None,
        "param_grads": {k: p.grad for k, p in lstm.named_parameters()},
    }


def lstm_reference(weights, x, state, upstream):
    lstm = torch.nn.LSTM(x.shape[2], weights["weight_hh_l0"].shape[1]).double()
    lstm.load_state_dict(weights)
    x = x.clone().requires_grad_()
    if state is not None:
        state = tuple(s.clone().requires_grad_() for s in state)
    out, (h, c) = lstm(x, state)
    ((out * upstream[0]).sum() + (h * upstream[1]).sum() + (c * upstream[2]).sum()).backward()
    return {
        "out": out.detach(),
        "h": h.detach(),
        "c": c.detach(),
        "x_grad": x.grad,
        "state_grad": [s.grad for s in state] if state is not None else None,
        "param_grads": {k: p.grad for k, p in lstm.named_parameters()},
    }


def lstm_case(seed, T, N, D, H, with_state):
    torch.manual_seed(seed)
    ref = torch.nn.LSTM(D, H).double()
    with torch.no_grad():
        for p in ref.parameters():
            p.mul_(2.0)  # larger weights: gates away from 0.5, so swapped gates show
    weights = {k: v.detach().clone() for k, v in ref.state_dict().items()}
    x = torch.randn(T, N, D, dtype=torch.float64)
    state = (
        (torch.randn(1, N, H, dtype=torch.float64), torch.randn(1, N, H, dtype=torch.float64))
        if with_state
        else None
    )
    upstream = [
        torch.randn(T, N, H, dtype=torch.float64),
        torch.randn(1, N, H, dtype=torch.float64),
        torch.randn(1, N, H, dtype=torch.float64),
    ]
    return weights, x, state, upstream


def _check_lstm_outputs(got, want, what):
    T, N, H = want["out"].shape
    expect_close(
        as_array(got["out"], f"output {what}", shape=(T, N, H)), want["out"].numpy(), f"output {what}"
    )
    expect_close(as_array(got["h"], f"h_n {what}", shape=(1, N, H)), want["h"].numpy(), f"h_n {what}")
    expect_close(as_array(got["c"], f"c_n {what}", shape=(1, N, H)), want["c"].numpy(), f"c_n {what}")


def lstm_twice_scenario(student, weights, x):
    """Two calls with state=None on the same module: each must start from zeros."""
    lstm = student.ScratchLSTM(x.shape[2], weights["weight_hh_l0"].shape[1]).double()
    lstm.load_state_dict({k: torch.as_tensor(v, dtype=torch.float64) for k, v in weights.items()})
    results = []
    for _ in range(2):
        out, (h, c) = lstm(x.double())
        results.append({"out": out.detach(), "h": h.detach(), "c": c.detach()})
    return results


@hidden_test("ScratchLSTM", points=1)
def matches_nn_lstm_from_a_zero_state(student):
    """with nn.LSTM's weights loaded: outputs, h_n and c_n equal nn.LSTM's (state=None), on every call"""
    for seed, shape in enumerate([(7, 2, 3, 5), (1, 3, 2, 4)]):
        args = lstm_case(seed, *shape, with_state=False)
        got = as_dict(student.run(lstm_scenario, *args), "the module")
        want = lstm_reference(*args)
        _check_lstm_outputs(got, want, f"for x of shape {shape[:3]}")
    weights, x = args[0], args[1]
    calls = as_list(student.run(lstm_twice_scenario, weights, x), "the two calls", length=2)
    for k, got in enumerate(calls):
        _check_lstm_outputs(
            as_dict(got, "a call"), want, f"on call {k + 1} of one module with state=None (zeros each time)"
        )


@hidden_test("ScratchLSTM", points=1)
def matches_nn_lstm_from_a_given_state(student):
    """outputs, h_n and c_n equal nn.LSTM's when (h0, c0) is given"""
    args = lstm_case(11, 6, 3, 4, 5, with_state=True)
    got = as_dict(student.run(lstm_scenario, *args), "the module")
    _check_lstm_outputs(got, lstm_reference(*args), "from a given (h0, c0)")


@hidden_test("ScratchLSTM", points=1)
def gradients_match_nn_lstm(student):
    """gradients with respect to x, h0, c0 and all four parameters equal nn.LSTM's"""
    args = lstm_case(12, 5, 2, 3, 4, with_state=True)
    got = as_dict(student.run(lstm_scenario, *args), "the module")
    want = lstm_reference(*args)
    _check_lstm_outputs(got, want, "")
    if got["x_grad"] is None or got["state_grad"] is None or any(g is None for g in got["state_grad"]):
        fail("no gradient reached the input or the initial state")
    expect_close(as_array(got["x_grad"], "the gradient of x"), want["x_grad"].numpy(), "the gradient of x")
    for name, g, w in zip(("h0", "c0"), got["state_grad"], want["state_grad"]):
        expect_close(as_array(g, f"the gradient of {name}"), w.numpy(), f"the gradient of {name}")
    grads = as_dict(got["param_grads"], "the parameters' gradients", keys=list(want["param_grads"]))
    for name, w in want["param_grads"].items():
        if grads[name] is None:
            fail(f"{name} received no gradient")
        expect_close(as_array(grads[name], f"the gradient of {name}"), w.numpy(), f"the gradient of {name}")


# ---- exercise 3: gru_step (2 points) --------------------------------------------------------------------


def gru_case(seed, N, D, H, dtype=torch.float64, scale=2.0):
    torch.manual_seed(seed)
    cell = torch.nn.GRUCell(D, H).to(dtype)
    with torch.no_grad():
        for p in cell.parameters():
            p.mul_(scale)
    x, h = torch.randn(N, D, dtype=dtype), torch.randn(N, H, dtype=dtype)
    with torch.no_grad():
        want = cell(x, h)
    return (
        x,
        h,
        cell.weight_ih.detach(),
        cell.weight_hh.detach(),
        cell.bias_ih.detach(),
        cell.bias_hh.detach(),
    ), want


@hidden_test("gru_step", points=1)
def matches_gru_cell(student):
    """equals nn.GRUCell on several shapes (float64)"""
    for seed, shape in enumerate([(3, 4, 5), (1, 2, 3), (6, 1, 8)]):
        args, want = gru_case(seed, *shape)
        expect_close(
            as_array(student.gru_step(*args), f"h' for shape {shape}", shape=want.shape),
            want.numpy(),
            f"h' for N, D, H = {shape}",
        )


@hidden_test("gru_step", points=1)
def gru_keeps_float32_and_the_right_values(student):
    """float32 in, float32 out, values as nn.GRUCell's, also with pre-activations in the hundreds"""
    for scale, what, atol in ((2.0, "float32", 1e-6), (200.0, "float32, saturated gates", 1e-3)):
        args, want = gru_case(9, 4, 3, 6, dtype=torch.float32, scale=scale)
        got = student.gru_step(*args)
        if not (isinstance(got, torch.Tensor) and got.dtype == torch.float32):
            fail("for float32 inputs, h' must be a float32 tensor")
        expect_close(as_array(got, "h'", shape=(4, 6)), want.numpy(), f"h' ({what})", rtol=1e-4, atol=atol)


# ---- exercise 4: rnn_parameter_count (2 points) --------------------------------------------------------


def _torch_count(kind, *args, **kwargs):
    return sum(p.numel() for p in getattr(torch.nn, kind)(*args, **kwargs).parameters())


def count_type_scenario(student, args):
    """The type of the count itself (a NumPy integer arrives as an int after the call)."""
    return type(student.rnn_parameter_count(*args)).__name__


@hidden_test("rnn_parameter_count", points=1)
def counts_stacked_layers(student):
    """one-directional layers, 1 to 3 deep, every kind, equal PyTorch's counts (a Python int)"""
    for kind in ("RNN", "GRU", "LSTM"):
        for args in ((7, 13), (1, 1), (32, 128, 2), (5, 3, 3)):
            want = _torch_count(kind, *args)
            got = as_int(student.rnn_parameter_count(kind, *args), f"rnn_parameter_count({kind!r}, {args})")
            expect_equal(got, want, f"rnn_parameter_count({kind!r}, {', '.join(map(str, args))})")
    kind = student.run(count_type_scenario, ("LSTM", 32, 128, 2))
    if kind != "int":
        fail(f"rnn_parameter_count returned a {kind}; return a Python int")


@hidden_test("rnn_parameter_count", points=1)
def counts_bidirectional_stacks_and_rejects_bad_input(student):
    """bidirectional stacks equal PyTorch's counts; unknown kinds and bad sizes raise ValueError"""
    for kind in ("RNN", "GRU", "LSTM"):
        for args in ((128, 256, 2), (3, 5, 1), (4, 6, 3)):
            want = _torch_count(kind, *args, bidirectional=True)
            got = as_int(
                student.rnn_parameter_count(kind, *args, bidirectional=True),
                f"rnn_parameter_count({kind!r}, {args}, bidirectional=True)",
            )
            expect_equal(
                got, want, f"rnn_parameter_count({kind!r}, {', '.join(map(str, args))}, bidirectional=True)"
            )
    for args, what in [
        (("Transformer", 4, 4), "an unknown kind"),
        (("LSTM", 0, 4), "input_size = 0"),
        (("GRU", 4, -1), "a negative hidden_size"),
        (("RNN", 4, 4, 0), "num_layers = 0"),
        (("RNN", 4, 2.5), "a fractional hidden_size"),
        (("LSTM", 4.0, 4), "a float input_size (4.0)"),
    ]:
        expect_raises(
            lambda args=args: student.rnn_parameter_count(*args),
            "ValueError",
            f"rnn_parameter_count with {what}",
        )


# ---- exercise 5: bpe_merge_step (2 points) -------------------------------------------------------------


def bpe_reference(ids, new_id):
    counts = {}
    for k in range(len(ids) - 1):
        pair = (ids[k], ids[k + 1])
        counts[pair] = counts.get(pair, 0) + 1
    top = max(counts.values())
    best = min(pair for pair, c in counts.items() if c == top)
    merged, k = [], 0
    while k < len(ids):
        if k + 1 < len(ids) and (ids[k], ids[k + 1]) == best:
            merged.append(new_id)
            k += 2
        else:
            merged.append(ids[k])
            k += 1
    return merged, best


def _check_bpe(student, ids, new_id, what):
    got = student.bpe_merge_step(list(ids), new_id)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        fail(f"bpe_merge_step must return (merged, pair); got {type(got).__name__} {what}")
    merged, pair = got
    want_merged, want_pair = bpe_reference(ids, new_id)
    expect_equal(
        tuple(int(v) for v in as_list(pair, f"the pair {what}", length=2)),
        want_pair,
        f"the chosen pair {what}",
    )
    expect_equal(
        [int(v) for v in as_list(merged, f"the merged list {what}")], want_merged, f"the merged list {what}"
    )


@hidden_test("bpe_merge_step", points=1)
def merges_random_token_lists(student):
    """random lists over small alphabets (ties included) agree with the definition"""
    rng = np.random.default_rng(3)
    for n, alphabet in ((30, 4), (12, 6), (50, 3), (2, 5), (7, 7)):
        ids = [int(v) for v in rng.integers(0, alphabet, size=n)]
        _check_bpe(student, ids, 100, f"for a random list of {n} tokens")


def bpe_input_scenario(student, ids, new_id):
    given = list(ids)
    student.bpe_merge_step(given, new_id)
    return given


@hidden_test("bpe_merge_step", points=1)
def runs_ties_and_the_given_list(student):
    """overlapping runs count every position and merge from the left; ties go to the smallest pair
    (as tuples of ints);
    the given list is unchanged; fewer than 2 tokens raise ValueError"""
    cases = [
        ([5, 5, 5, 5, 5], "a run of five 5s"),
        ([5, 5, 5, 1, 2, 1, 2], "a run of three 5s against (1, 2) twice"),
        ([3, 4, 1, 2], "four different pairs"),
        ([9, 1, 9, 1, 2, 0, 2, 0], "(9, 1) and (2, 0) tied"),
        ([2, 2, 2, 7, 7, 7, 7], "(2, 2) twice and (7, 7) three times"),
        ([10, 2, 9, 1, 10, 2, 9, 1], "(9, 1) and (10, 2) tied (compared as numbers)"),
        ([4, 7, 4, 3, 4, 7, 4, 3], "(4, 7), (7, 4) and (4, 3) tied (the second token decides)"),
        ([11, 2, 1, 2, 1, 2, 3], "(1, 2) twice, and 11 followed by 2 (tokens are numbers, not digits)"),
        ([1, 23, 12, 3, 12, 3], "(12, 3) twice, and 1 then 23 (tokens are numbers, not digits)"),
    ]
    for ids, what in cases:
        _check_bpe(student, ids, 50, f"for {what}")
    merged, pair = student.bpe_merge_step([3, 1, 3, 1], 7)
    if not isinstance(merged, list) or not isinstance(pair, tuple):
        fail(
            f"bpe_merge_step returned a {type(merged).__name__} and a {type(pair).__name__}; "
            "return (a list, a tuple of two ints)"
        )
    ids = [4, 1, 4, 1, 4]
    after = as_list(student.run(bpe_input_scenario, ids, 10), "the given list after the call")
    expect_equal([int(v) for v in after], ids, "the list passed to bpe_merge_step (it must not change)")
    expect_raises(lambda: student.bpe_merge_step([3], 9), "ValueError", "bpe_merge_step on a single token")


# ---- exercise 6: lm_metrics (2 points) -----------------------------------------------------------------


def metrics_reference(logits, targets):
    keep = targets != -1
    nats = torch.nn.functional.cross_entropy(logits[keep].double(), targets[keep]).item()
    return nats, nats / math.log(2), math.exp(nats)


def _check_metrics(student, logits, targets, what, rtol=1e-6):
    got = as_dict(
        student.lm_metrics(logits, targets), f"lm_metrics {what}", keys=["nats", "bits", "perplexity"]
    )
    for key in ("nats", "bits", "perplexity"):
        if not isinstance(got[key], float):
            fail(f"{key} must be a Python float (use .item()), got {type(got[key]).__name__} {what}")
    for key, want in zip(("nats", "bits", "perplexity"), metrics_reference(logits, targets)):
        expect_close(as_float(got[key], f"{key} {what}"), want, f"{key} {what}", rtol=rtol)


def metrics_inputs_scenario(student, logits, targets):
    """The given tensors after the call (they must not change)."""
    given_logits, given_targets = logits.clone(), targets.clone()
    student.lm_metrics(given_logits, given_targets)
    return {"logits": given_logits, "targets": given_targets}


@hidden_test("lm_metrics", points=1)
def padded_batches_of_unequal_lengths(student):
    """padded batches, rows of different lengths: every real position weighs the same; inputs unchanged"""
    gen = torch.Generator().manual_seed(6)
    for N, T, V, lengths in ((3, 8, 11, [8, 2, 5]), (2, 5, 4, [1, 5]), (1, 6, 30, [6])):
        logits = torch.randn(N, T, V, generator=gen, dtype=torch.float64) * 2
        targets = torch.randint(0, V, (N, T), generator=gen)
        for row, length in enumerate(lengths):
            targets[row, length:] = -1
        _check_metrics(student, logits, targets, f"for lengths {lengths}")
        after = as_dict(
            student.run(metrics_inputs_scenario, logits, targets), "the scenario", keys=["logits", "targets"]
        )
        expect_equal(
            as_array(after["targets"], "targets after the call"), targets.numpy(), "targets after the call"
        )
        expect_close(
            as_array(after["logits"], "logits after the call"), logits.numpy(), "logits after it", rtol=0
        )


@hidden_test("lm_metrics", points=1)
def large_float32_logits_and_all_padding(student):
    """float32 logits in the hundreds give finite, correct values; all padding raises ValueError"""
    gen = torch.Generator().manual_seed(8)
    logits = (torch.randn(4, 7, 9, generator=gen) * 300).float()
    targets = torch.randint(0, 9, (4, 7), generator=gen)
    targets[0, 3:] = -1
    targets[2, 1:] = -1
    _check_metrics(student, logits, targets, "for float32 logits of size ~300", rtol=1e-4)
    expect_raises(
        lambda: student.lm_metrics(torch.zeros(2, 3, 4), torch.full((2, 3), -1)),
        "ValueError",
        "lm_metrics when every position is padding",
    )


# ---- exercise 7: evaluate_documents (2 points) -------------------------------------------------------


def evaluate_scenario(student, weights, documents):
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(6, 4)
            self.rnn = torch.nn.GRU(4, 5, batch_first=True)
            self.head = torch.nn.Linear(5, 6)
            self.grad_modes = []

        def forward(self, ids, state=None):
            self.grad_modes.append(torch.is_grad_enabled())
            out, state = self.rnn(self.embed(ids), state)
            return self.head(out), state

    model = Tiny().double()
    model.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    value = student.evaluate_documents(model, [torch.as_tensor(d, dtype=torch.long) for d in documents])
    return {
        "value": float(value),
        "is_float": isinstance(value, float),
        "grad_modes": model.grad_modes,
        "grad_after": torch.is_grad_enabled(),
    }


def _documents(seed, lengths):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 6, size=n) for n in lengths]


@hidden_test("evaluate_documents", points=1)
def values_on_independent_documents(student):
    """the mean nats per predicted character over documents of very different lengths, two models
    (a Python float)"""
    for seed, lengths in ((20, [2, 15, 4]), (21, [30, 3, 3, 9])):
        weights, documents = tiny_lm_weights(seed), _documents(seed, lengths)
        got = as_dict(student.run(evaluate_scenario, weights, documents), "evaluate_documents")
        if not got["is_float"]:
            fail("evaluate_documents must return a Python float (use .item() or float())")
        expect_close(
            as_float(got["value"], "the mean nats"),
            tiny_lm_reference(weights, documents),
            f"the mean nats for documents of lengths {lengths}",
        )


@hidden_test("evaluate_documents", points=1)
def runs_without_gradients(student):
    """the model is only called under torch.no_grad() (and the value is right; grad mode is restored)"""
    weights, documents = tiny_lm_weights(22), _documents(22, [6, 11])
    got = as_dict(student.run(evaluate_scenario, weights, documents), "evaluate_documents")
    expect_close(
        as_float(got["value"], "the mean nats"), tiny_lm_reference(weights, documents), "the mean nats"
    )
    if not got["grad_modes"] or any(got["grad_modes"]):
        fail("the model was called with gradients switched on: wrap the evaluation in torch.no_grad()")
    if not got["grad_after"]:
        fail(
            "gradients are still switched off after the call: use `with torch.no_grad():`, "
            "which restores them"
        )


# ---- exercise 8: state_gradient_norms (2 points) ------------------------------------------------------


def gradient_scenario(student, kind, weights, x):
    rnn = getattr(torch.nn, kind)(x.shape[2], weights["weight_hh_l0"].shape[1]).double()
    rnn.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    return [float(v) for v in student.state_gradient_norms(rnn, x.double())]


def _gradient_case(kind, seed, T, N, D, H, scale=1.0):
    torch.manual_seed(seed)
    rnn = getattr(torch.nn, kind)(D, H).double()
    with torch.no_grad():
        for p in rnn.parameters():
            p.mul_(scale)
    weights = {k: v.detach().clone() for k, v in rnn.state_dict().items()}
    return weights, torch.randn(T, N, D, dtype=torch.float64)


def gradient_types_scenario(student, weights, x):
    """The types of what state_gradient_norms returns (the list and its items)."""
    rnn = torch.nn.RNN(x.shape[2], weights["weight_hh_l0"].shape[1]).double()
    rnn.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    norms = student.state_gradient_norms(rnn, x.double())
    return [type(norms).__name__] + [type(v).__name__ for v in norms]


@hidden_test("state_gradient_norms", points=1)
def rnn_and_gru_norms(student):
    """the T norms for a vanilla RNN and a GRU, oldest step first, as a list of Python floats"""
    for kind, seed, shape in (
        ("RNN", 30, (7, 3, 2, 5)),
        ("GRU", 31, (6, 2, 3, 4)),
        ("RNN", 32, (3, 1, 1, 2)),
    ):
        weights, x = _gradient_case(kind, seed, *shape, scale=1.5)
        got = as_array(
            student.run(gradient_scenario, kind, weights, x), f"the norms for {kind}", shape=(shape[0],)
        )
        expect_close(
            got, reference_state_gradients(kind, weights, x), f"the gradient norms of a {kind}", rtol=1e-6
        )
    types = as_list(student.run(gradient_types_scenario, weights, x), "the types")
    if types[0] != "list" or any(t != "float" for t in types[1:]):
        fail(f"state_gradient_norms gave a {types[0]} of {sorted(set(types[1:]))}; return a list of floats")


@hidden_test("state_gradient_norms", points=1)
def lstm_norms_through_the_cell(student):
    """the T norms for an LSTM (the cell state must be passed on with h)"""
    for seed, shape in ((33, (8, 2, 3, 4)), (34, (5, 3, 2, 6))):
        weights, x = _gradient_case("LSTM", seed, *shape, scale=2.0)
        got = as_array(
            student.run(gradient_scenario, "LSTM", weights, x), "the norms for an LSTM", shape=(shape[0],)
        )
        expect_close(
            got, reference_state_gradients("LSTM", weights, x), "the gradient norms of an LSTM", rtol=1e-6
        )
