"""Visible tests for chapter 11's exercises (exercises/11_transformers.ipynb).

Expected values come from PyTorch (``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``)
computed here, outside the student's code, or from the formulas in the prompts. The exercises
ask for attention written by hand, so PyTorch's fused attention functions are switched off while
they are checked.
"""

import math

import torch
import torch.nn.functional as F

from utils.grading.expect import as_array, as_dict, as_float, expect_close, expect_equal, fail
from utils.grading.public import visible_test
from utils.grading.rules import write_it_yourself

ATTENTION = (
    "torch.nn.functional.scaled_dot_product_attention",
    "torch.nn.functional.multi_head_attention_forward",
)
for _exercise in ("attend", "MultiHeadSelfAttention", "kv_cache_step", "causal_self_attention"):
    write_it_yourself(_exercise, *ATTENTION)
write_it_yourself("rope", "utils.positional.rotate_pairs")


@visible_test(
    "attend",
    hint="scores = q @ k^T / sqrt(d_k); masked scores -> -inf BEFORE the softmax; "
    "softmax over the last axis (the keys).",
)
def three_queries_two_keys_with_a_mask(student):
    """3 queries, 4 keys, d_k = 2, d_v = 3, with and without a mask, compared with PyTorch"""
    q = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    k = torch.tensor([[1.0, 1.0], [0.0, -1.0], [2.0, 0.0], [0.5, 0.5]], dtype=torch.float64)
    v = torch.arange(12, dtype=torch.float64).reshape(4, 3)
    mask = torch.tensor([[True, False, False, False], [True, True, False, False], [True, True, True, True]])
    for m, label in ((None, "no mask"), (mask, "a mask")):
        got = student.attend(q, k, v, m)
        if not isinstance(got, tuple) or len(got) != 2:
            fail("attend must return a tuple (output, weights)")
        out = as_array(got[0], f"the output ({label})", shape=(3, 3))
        weights = as_array(got[1], f"the weights ({label})", shape=(3, 4))
        scores = q @ k.T / math.sqrt(2)
        want_w = torch.softmax(scores if m is None else scores.masked_fill(~m, float("-inf")), -1)
        expect_close(weights, want_w.numpy(), f"the weights ({label})")
        want = F.scaled_dot_product_attention(q, k, v, attn_mask=m)
        expect_close(out, want.numpy(), f"the output ({label})")


@visible_test(
    "causal_padding_mask",
    hint="tril(ones(T, T)) for the causal part; keys j < lengths[b]; combine with &, shape [B, 1, T, T].",
)
def two_sequences_of_length_3_and_2(student):
    """lengths [3, 2], T = 3, then lengths [2], T = 3"""
    got = as_array(
        student.causal_padding_mask(torch.tensor([3, 2]), 3), "the mask", shape=(2, 1, 3, 3), kind="bool"
    )
    want = [[[[1, 0, 0], [1, 1, 0], [1, 1, 1]]], [[[1, 0, 0], [1, 1, 0], [1, 1, 0]]]]
    expect_equal(got.astype(int).tolist(), want, "causal_padding_mask([3, 2], 3)")
    got = as_array(
        student.causal_padding_mask(torch.tensor([2]), 3), "the mask", shape=(1, 1, 3, 3), kind="bool"
    )
    expect_equal(
        got.astype(int).tolist(), [want[1]], "causal_padding_mask([2], 3): T is longer than the sequence"
    )


def _mhsa_forward(student, state, x, mask):
    """The student's module with our weights, forward (and backward) on x."""
    module = student.MultiHeadSelfAttention(8, 2).double()
    missing = [n for n in ("q_proj", "k_proj", "v_proj", "out_proj") if not hasattr(module, n)]
    if missing:
        return {"missing": missing}
    module.load_state_dict(state)
    x = x.clone().requires_grad_()
    out = module(x, mask)
    out.sum().backward()
    return {"missing": [], "out": out.detach(), "x_grad": x.grad}


@visible_test(
    "MultiHeadSelfAttention",
    hint="view [B, T, D] as [B, T, heads, d_head], THEN transpose to "
    "[B, heads, T, d_head]; scale by sqrt(d_head); merge back with transpose + reshape.",
)
def two_heads_like_nn_multiheadattention(student):
    """d_model 8, 2 heads, causal mask, compared with nn.MultiheadAttention"""
    torch.manual_seed(0)
    reference = torch.nn.MultiheadAttention(8, 2, batch_first=True).double()
    w, b = reference.in_proj_weight.detach(), reference.in_proj_bias.detach()
    state = {
        f"{n}_proj.{kind}": t[i * 8 : (i + 1) * 8].clone()
        for i, n in enumerate("qkv")
        for kind, t in (("weight", w), ("bias", b))
    }
    state |= {f"out_proj.{k}": v.detach().clone() for k, v in reference.out_proj.state_dict().items()}
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    causal = torch.ones(5, 5, dtype=torch.bool).tril()
    got = as_dict(student.run(_mhsa_forward, state, x, causal), "the module")
    if got["missing"]:
        fail(
            f"the module has no attribute(s) {got['missing']}: name the four nn.Linear layers "
            "as the prompt says"
        )
    xr = x.clone().requires_grad_()
    want = reference(xr, xr, xr, attn_mask=~causal, need_weights=False)[0]
    want.sum().backward()
    expect_close(as_array(got["out"], "the output", shape=(2, 5, 8)), want.detach().numpy(), "the output")
    expect_close(
        as_array(got["x_grad"], "the gradient of x", shape=(2, 5, 8)),
        xr.grad.numpy(),
        "the gradient of out.sum() with respect to x",
    )


@visible_test("rope", hint="theta_i = base ** (-2i / d) for pair i = (2i, 2i+1); angle = position * theta_i.")
def one_vector_at_three_positions(student):
    """d = 4, positions [0, 1, 2]"""
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]] * 3, dtype=torch.float64)
    got = as_array(student.rope(x, torch.tensor([0, 1, 2])), "rope(x, [0, 1, 2])", shape=(3, 4))
    want = [[1.0, 0.0, 1.0, 0.0]]
    for p in (1, 2):
        a, b = p * 1.0, p * 10000.0**-0.5
        want.append([math.cos(a), math.sin(a), math.cos(b), math.sin(b)])
    expect_close(got, want, "rope(x, [0, 1, 2])")


@visible_test(
    "kv_cache_step",
    hint="append the new key and value FIRST, then attend over all of them "
    "(the new token sees itself); scale by sqrt(d_k).",
)
def three_steps_equal_full_causal_attention(student):
    """3 tokens, one at a time from an empty cache, against full causal attention"""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 4, generator=g, dtype=torch.float64)
    w_q, w_k, w_v = (torch.randn(4, d, generator=g, dtype=torch.float64) for d in (4, 4, 2))
    cache = {"k": torch.zeros(2, 0, 4, dtype=torch.float64), "v": torch.zeros(2, 0, 2, dtype=torch.float64)}
    want = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)
    for t in range(3):
        got = student.kv_cache_step(x[:, t], cache, w_q, w_k, w_v)
        if not isinstance(got, tuple) or len(got) != 2:
            fail("kv_cache_step must return a tuple (output, new_cache)")
        expect_close(
            as_array(got[0], f"the output of step {t}", shape=(2, 2)),
            want[:, t].numpy(),
            f"the output of step {t}",
        )
        cache = as_dict(got[1], "the new cache", keys=["k", "v"])
        as_array(cache["k"], f"the cache's keys after step {t}", shape=(2, t + 1, 4))


@visible_test(
    "causal_self_attention",
    hint="four bugs: the head split, the scale, where the mask is applied, and the mask's diagonal.",
)
def two_heads_against_pytorch(student):
    """B 1, T 4, D 4, 2 heads, compared with a PyTorch computation"""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(1, 4, 4, generator=g, dtype=torch.float64)
    w_qkv, w_out = (
        torch.randn(4, 12, generator=g, dtype=torch.float64),
        torch.randn(4, 4, generator=g, dtype=torch.float64),
    )
    got = as_array(student.causal_self_attention(x, w_qkv, w_out, 2), "the output", shape=(1, 4, 4))
    q, k, v = (x @ w_qkv).split(4, dim=-1)
    q, k, v = (t.view(1, 4, 2, 2).transpose(1, 2) for t in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(1, 4, 4)
    expect_close(got, (y @ w_out).numpy(), "causal_self_attention(x, w_qkv, w_out, 2)")


@visible_test(
    "softmax_saturation",
    hint="scores = q . k for standard normal q, k; std ~ sqrt(d_k); "
    "max weight: softmax over each query's n_keys scores, then the largest, averaged.",
)
def std_grows_like_sqrt_dk(student):
    """d_k = 64: the raw scores have std near 8, and scaling spreads the attention"""
    got = as_dict(
        student.softmax_saturation(64),
        "softmax_saturation(64)",
        keys=["score_std", "max_weight_raw", "max_weight_scaled"],
    )
    if not all(isinstance(value, float) for value in got.values()):
        fail("the three numbers should be Python floats (use .item() or float(...)), not tensors")
    std = as_float(got["score_std"], "score_std")
    if not 7.6 < std < 8.4:
        fail(
            f"score_std for d_k = 64 is {std:.3f}; the dot product of two standard normal 64-vectors "
            "has standard deviation 8"
        )
    raw, scaled = (
        as_float(got["max_weight_raw"], "max_weight_raw"),
        as_float(got["max_weight_scaled"], "max_weight_scaled"),
    )
    if not (1 / 16 <= scaled < raw <= 1):
        fail(f"expected 1/16 <= max_weight_scaled < max_weight_raw <= 1, got {scaled:.3f} and {raw:.3f}")
