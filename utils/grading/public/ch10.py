"""Visible tests for chapter 10's exercises (exercises/10_rnns.ipynb).

Expected values come from PyTorch's own recurrent layers on the same numbers, or from the
definitions in the prompts. The cells of exercises 1-3 must be written by hand, so PyTorch's
fused RNN, LSTM and GRU kernels are switched off while they are checked.
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
    fail,
)
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

write_it_yourself(
    "rnn_forward", "torch.rnn_tanh", "torch.rnn_tanh_cell", "torch._VF.rnn_tanh", "torch._VF.rnn_tanh_cell"
)
write_it_yourself("ScratchLSTM", "torch.lstm", "torch.lstm_cell", "torch._VF.lstm", "torch._VF.lstm_cell")
write_it_yourself("gru_step", "torch.gru_cell", "torch.gru", "torch._VF.gru_cell", "torch._VF.gru")


@visible_test(
    "rnn_forward", hint="h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), one step per row of x."
)
def three_steps_like_nn_rnn(student):
    """3 steps of a batch of 2, compared with nn.RNN"""
    torch.manual_seed(0)
    rnn = torch.nn.RNN(3, 4).double()
    x = torch.randn(3, 2, 3, dtype=torch.float64)
    h0 = torch.randn(2, 4, dtype=torch.float64)
    with torch.no_grad():
        want, want_last = rnn(x, h0.unsqueeze(0))
        out, last = student.rnn_forward(
            x, h0, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
        )
    for name, value in (("outputs", out), ("h_T", last)):
        if not (isinstance(value, torch.Tensor) and value.dtype == torch.float64):
            kind = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            fail(f"for float64 inputs, {name} should be a float64 tensor, not {kind}")
    expect_close(
        as_array(out.detach() if hasattr(out, "detach") else out, "outputs", shape=(3, 2, 4)),
        want.numpy(),
        "outputs",
    )
    expect_close(
        as_array(last.detach() if hasattr(last, "detach") else last, "h_T", shape=(2, 4)),
        want_last[0].numpy(),
        "h_T",
    )


def _lstm_scenario(student, weights, x):
    lstm = student.ScratchLSTM(x.shape[2], weights["weight_hh_l0"].shape[1]).double()
    lstm.load_state_dict({k: torch.as_tensor(v, dtype=torch.float64) for k, v in weights.items()})
    out, (h, c) = lstm(x.double())
    again, _ = lstm(x.double())  # state=None again: zeros again
    return {"out": out.detach(), "h": h.detach(), "c": c.detach(), "again": again.detach()}


@visible_test(
    "ScratchLSTM",
    hint="gates = x W_ih^T + b_ih + h W_hh^T + b_hh, split into i, f, g, o in that order; "
    "c = f*c + i*g; h = o*tanh(c); h_n and c_n have shape (1, N, H).",
)
def loads_nn_lstm_weights_and_matches(student):
    """nn.LSTM(3, 4)'s weights loaded into ScratchLSTM(3, 4): same outputs and final state"""
    torch.manual_seed(1)
    ref = torch.nn.LSTM(3, 4).double()
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    with torch.no_grad():
        want, (want_h, want_c) = ref(x)
    weights = {k: v.detach() for k, v in ref.state_dict().items()}
    got = as_dict(student.run(_lstm_scenario, weights, x), "the module", keys=["out", "h", "c", "again"])
    expect_close(as_array(got["out"], "output", shape=(5, 2, 4)), want.numpy(), "output")
    expect_close(
        as_array(got["again"], "output", shape=(5, 2, 4)),
        want.numpy(),
        "the output of a second call with state=None (it starts from zeros again)",
    )
    expect_close(as_array(got["h"], "h_n", shape=(1, 2, 4)), want_h.numpy(), "h_n")
    expect_close(as_array(got["c"], "c_n", shape=(1, 2, 4)), want_c.numpy(), "c_n")


@visible_test(
    "gru_step", hint="order r, z, n; r multiplies (h W_hn^T + b_hn), bias included; h' = (1-z)*n + z*h."
)
def one_step_like_gru_cell(student):
    """one step of a batch of 2, compared with nn.GRUCell"""
    torch.manual_seed(2)
    cell = torch.nn.GRUCell(3, 4).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    with torch.no_grad():
        want = cell(x, h)
        got = student.gru_step(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    expect_close(
        as_array(got.detach() if hasattr(got, "detach") else got, "h'", shape=(2, 4)), want.numpy(), "h'"
    )


def _count_type_scenario(student, args):
    """The type of the count as returned (a NumPy integer would arrive as an int after a call)."""
    return type(student.rnn_parameter_count(*args)).__name__


@visible_test(
    "rnn_parameter_count",
    hint="k (H*D_in + H*H + 2H) per layer and direction, k = 1, 3, 4; "
    "layers after the first take H * directions inputs.",
)
def counts_of_three_layers(student):
    """nn.RNN(10, 20), nn.LSTM(10, 20) and a 2-layer GRU"""
    for kind, args in (("RNN", (10, 20)), ("LSTM", (10, 20)), ("GRU", (10, 20, 2))):
        module = getattr(torch.nn, kind)(*args)
        want = sum(p.numel() for p in module.parameters())
        got = as_int(student.rnn_parameter_count(kind, *args), f"rnn_parameter_count({kind!r}, {args})")
        expect_equal(got, want, f"rnn_parameter_count({kind!r}, {', '.join(map(str, args))})")
    kind = student.run(_count_type_scenario, ("RNN", 10, 20))
    if kind != "int":
        fail(f"rnn_parameter_count returned a {kind}; return a Python int")


@visible_test(
    "bpe_merge_step",
    hint="count pairs at every position; most frequent, ties to the smallest pair; merge left to right.",
)
def merges_a_small_list(student):
    """one merge of [1, 2, 3, 1, 2, 4]"""
    merged, pair = student.bpe_merge_step([1, 2, 3, 1, 2, 4], 9)
    if not isinstance(merged, list) or not isinstance(pair, tuple):
        fail(f"return a list and a tuple, not a {type(merged).__name__} and a {type(pair).__name__}")
    expect_equal(tuple(as_list(pair, "pair", length=2)), (1, 2), "the chosen pair")
    expect_equal(as_list(merged, "merged"), [9, 3, 9, 4], "the merged list")


@visible_test(
    "lm_metrics", hint="mean cross-entropy over the positions whose target is not -1; bits = nats / ln 2."
)
def a_padded_batch(student):
    """a batch of 2 sequences, one of them padded"""
    torch.manual_seed(3)
    logits = torch.randn(2, 3, 5, dtype=torch.float64)
    targets = torch.tensor([[1, 4, 0], [2, -1, -1]])
    got = as_dict(student.lm_metrics(logits, targets), "lm_metrics", keys=["nats", "bits", "perplexity"])
    keep = targets != -1
    nats = torch.nn.functional.cross_entropy(logits[keep], targets[keep]).item()
    expect_close(as_float(got["nats"], "nats"), nats, "nats")
    expect_close(as_float(got["bits"], "bits"), nats / math.log(2), "bits")
    expect_close(as_float(got["perplexity"], "perplexity"), math.exp(nats), "perplexity")


def _evaluate_scenario(student, weights, documents):
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
    return {"value": float(value), "grad_modes": model.grad_modes}


def tiny_lm_reference(weights, documents):
    """Mean nats per predicted character of the GRU model in the scenarios, computed directly."""
    embed = torch.as_tensor(weights["embed.weight"])
    gru = torch.nn.GRU(4, 5, batch_first=True).double()
    gru.load_state_dict({k[4:]: torch.as_tensor(v) for k, v in weights.items() if k.startswith("rnn.")})
    total, count = 0.0, 0
    with torch.no_grad():
        for document in documents:
            doc = torch.as_tensor(document, dtype=torch.long)
            out, _ = gru(embed[doc[:-1]].unsqueeze(0))
            logits = out[0] @ torch.as_tensor(weights["head.weight"]).T + torch.as_tensor(
                weights["head.bias"]
            )
            total += torch.nn.functional.cross_entropy(logits, doc[1:], reduction="sum").item()
            count += len(doc) - 1
    return total / count


def tiny_lm_weights(seed):
    gen = torch.Generator().manual_seed(seed)
    shapes = {
        "embed.weight": (6, 4),
        "rnn.weight_ih_l0": (15, 4),
        "rnn.weight_hh_l0": (15, 5),
        "rnn.bias_ih_l0": (15,),
        "rnn.bias_hh_l0": (15,),
        "head.weight": (6, 5),
        "head.bias": (6,),
    }
    return {k: torch.randn(s, generator=gen, dtype=torch.float64) for k, s in shapes.items()}


@visible_test(
    "evaluate_documents",
    hint="a fresh state for every document; weigh every predicted character the "
    "same (sum, then divide by the count); run under torch.no_grad().",
)
def two_documents_of_different_lengths(student):
    """two documents, lengths 3 and 8"""
    weights = tiny_lm_weights(4)
    documents = [np.array([1, 2, 3]), np.array([0, 5, 4, 4, 1, 2, 3, 0])]
    got = as_dict(student.run(_evaluate_scenario, weights, documents), "evaluate_documents")
    expect_close(
        as_float(got["value"], "the mean nats"), tiny_lm_reference(weights, documents), "the mean nats"
    )
    if any(got["grad_modes"]):
        fail("the model was called with gradients switched on: evaluate under torch.no_grad()")


def _gradient_scenario(student, kind, weights, x):
    rnn = getattr(torch.nn, kind)(x.shape[2], weights["weight_hh_l0"].shape[1]).double()
    rnn.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    norms = student.state_gradient_norms(rnn, x.double())
    types = [type(norms).__name__] + [type(v).__name__ for v in norms]
    return {"norms": [float(v) for v in norms], "types": types}


def reference_state_gradients(kind, weights, x):
    """||dL/dh_s|| for s = 1..T, L = h_T.sum(), computed step by step."""
    rnn = getattr(torch.nn, kind)(x.shape[2], weights["weight_hh_l0"].shape[1]).double()
    rnn.load_state_dict({k: torch.as_tensor(v) for k, v in weights.items()})
    state, kept = None, []
    for t in range(x.shape[0]):
        _, state = rnn(x[t : t + 1], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        kept.append(h)
    kept[-1].sum().backward()
    return np.array([h.grad.norm().item() for h in kept])


@visible_test(
    "state_gradient_norms",
    hint="step one time step at a time, passing the state on; retain_grad() on each "
    "step's h; backward from h_T.sum(); return T norms, oldest first.",
)
def a_short_rnn(student):
    """nn.RNN(2, 3) over 4 steps"""
    torch.manual_seed(5)
    rnn = torch.nn.RNN(2, 3).double()
    weights = {k: v.detach() for k, v in rnn.state_dict().items()}
    x = torch.randn(4, 2, 2, dtype=torch.float64)
    got = as_dict(student.run(_gradient_scenario, "RNN", weights, x), "the scenario", keys=["norms", "types"])
    types = as_list(got["types"], "the types")
    if types[0] != "list" or any(t != "float" for t in types[1:]):
        fail(f"state_gradient_norms gave a {types[0]} of {sorted(set(types[1:]))}; return a list of floats")
    got = as_array(got["norms"], "the norms", shape=(4,))
    expect_close(got, reference_state_gradients("RNN", weights, x), "the gradient norms")
