"""Hidden tests for exercises/11_transformers.ipynb (22 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values come from PyTorch (``F.scaled_dot_product_attention``, ``nn.MultiheadAttention``)
or from the formulas in the prompts, computed here in float64. Behaviour that lives in objects
(a module's parameters and gradients, a cache that must not be modified) is observed through
scenarios run in the student's process.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

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


def _t(rng, *shape, dtype=torch.float64):
    return torch.from_numpy(rng.normal(size=shape)).to(dtype)


def _pair(got, what):
    got = as_list(got, what, length=2)
    return got[0], got[1]


# ---- exercise 1: attend (3 points) ------------------------------------------------------------------


@hidden_test("attend", points=1)
def matches_pytorch_with_batch_axes_and_unequal_sizes(student):
    """batch and head axes, T_q != T_k, d_k != d_v, no mask: output and weights match PyTorch"""
    rng = np.random.default_rng(11)
    for lead, tq, tk, dk, dv in [((), 3, 5, 4, 2), ((2,), 4, 4, 8, 3), ((2, 3), 2, 6, 5, 7)]:
        q, k, v = _t(rng, *lead, tq, dk), _t(rng, *lead, tk, dk), _t(rng, *lead, tk, dv)
        out, weights = _pair(student.attend(q, k, v), "attend(q, k, v)")
        want_w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(dk), -1)
        expect_close(
            as_array(weights, "the weights", shape=(*lead, tq, tk)),
            want_w.numpy(),
            f"the weights for q {tuple(q.shape)}, k {tuple(k.shape)}",
        )
        expect_close(
            as_array(out, "the output", shape=(*lead, tq, dv)),
            F.scaled_dot_product_attention(q, k, v).numpy(),
            f"the output for q {tuple(q.shape)}, v {tuple(v.shape)}",
        )


@hidden_test("attend", points=1)
def masks_broadcast_and_masked_keys_get_exactly_zero(student):
    """a causal [T, T] mask and a padding [B, 1, 1, T] mask broadcast; masked weights are exactly 0"""
    rng = np.random.default_rng(12)
    B, H, T, d = 2, 3, 5, 4
    q, k, v = _t(rng, B, H, T, d), _t(rng, B, H, T, d), _t(rng, B, H, T, 6)
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    padding = (torch.arange(T)[None, :] < torch.tensor([5, 2])[:, None])[:, None, None, :]
    for mask, label in ((causal, "a causal mask"), (padding, "a padding mask"), (causal & padding, "both")):
        out, weights = _pair(student.attend(q, k, v, mask), f"attend with {label}")
        weights = as_array(weights, f"the weights with {label}", shape=(B, H, T, T))
        full = np.broadcast_to(mask.numpy(), weights.shape)
        if np.any(weights[~full] != 0):
            fail(
                f"with {label}, some masked keys get a weight that is not exactly 0 "
                "(set their scores to -inf before the softmax)"
            )
        want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        expect_close(
            as_array(out, f"the output with {label}", shape=(B, H, T, 6)),
            want.numpy(),
            f"the output with {label}",
        )
        expect_close(weights.sum(-1), np.ones((B, H, T)), f"the row sums of the weights with {label}")
    half = [t.half() for t in (q, k, v)]
    out, weights = _pair(student.attend(*half, causal & padding), "attend with float16 inputs and a mask")
    weights = torch.as_tensor(np.asarray(as_array(weights, "the float16 weights", shape=(B, H, T, T))))
    out = torch.as_tensor(np.asarray(as_array(out, "the float16 output", shape=(B, H, T, 6))))
    if out.dtype != torch.float16 or weights.dtype != torch.float16:
        fail(f"for float16 inputs the output and weights must be float16, got {out.dtype}, {weights.dtype}")
    full = (causal & padding).expand(B, H, T, T)
    if not torch.isfinite(out).all() or torch.any(weights[~full] != 0):
        fail("with float16 inputs, masked keys must get a weight of exactly 0 and the output must be finite")
    want = F.scaled_dot_product_attention(*(t.double() for t in half), attn_mask=causal & padding)
    expect_close(out.double().numpy(), want.numpy(), "the output for float16 inputs", rtol=1e-2, atol=1e-2)


def attend_scenario(student, q, k, v, mask):
    """The student's attend on tensors we keep: returns its results and our tensors after the call."""
    out, weights = student.attend(q, k, v, mask)
    return {"out": out, "weights": weights, "inputs": [q, k, v, mask]}


@hidden_test("attend", points=1)
def stable_for_large_scores_keeps_float32_and_inputs(student):
    """float32 scores in the hundreds, then allowed scores near -20000: right values; inputs unchanged"""
    rng = np.random.default_rng(13)
    q, k, v = (_t(rng, 2, 4, 16, dtype=torch.float32) * 6 for _ in range(3))
    copies = [t.clone() for t in (q, k, v)]  # attend_scenario returns the tensors it passed, after the call
    mask = torch.ones(4, 4, dtype=torch.bool).tril()
    got = as_dict(
        student.run(attend_scenario, q, k, v, mask), "the scenario", keys=["out", "weights", "inputs"]
    )
    out, weights = got["out"], got["weights"]
    out_t = torch.as_tensor(np.asarray(as_array(out, "the output", shape=(2, 4, 16))))
    if out_t.dtype != torch.float32:
        fail(f"for float32 inputs the output must be float32, got {out_t.dtype}")
    if not torch.isfinite(out_t).all():
        fail("the output has inf or nan for large scores: compute the softmax stably")
    want = F.scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=mask)
    expect_close(out_t.double().numpy(), want.numpy(), "the output for large scores", rtol=1e-4, atol=1e-4)
    weights_t = torch.as_tensor(np.asarray(as_array(weights, "the weights", shape=(2, 4, 4))))
    if weights_t.dtype != torch.float32:
        fail(f"for float32 inputs the weights must be float32, got {weights_t.dtype}")
    after_call = as_list(got["inputs"], "the inputs after the call", length=4)
    for before, after, name in zip([*copies, mask], after_call, ["q", "k", "v", "mask"], strict=True):
        if not torch.equal(before, torch.as_tensor(np.asarray(as_array(after, name)))):
            fail(f"attend modified its input {name}")
    # every allowed score is about -20000: a finite fill value such as -1e4 would win the softmax
    q_far, k_far, v_far = _t(rng, 2, 4, 4) + 100.0, _t(rng, 2, 4, 4) - 100.0, _t(rng, 2, 4, 4)
    out, weights = _pair(student.attend(q_far, k_far, v_far, mask), "attend with very negative scores")
    weights = as_array(weights, "the weights for very negative scores", shape=(2, 4, 4))
    if np.any(weights[:, ~mask.numpy()] != 0):
        fail("with allowed scores near -20000, masked keys get a weight that is not exactly 0")
    expect_close(
        as_array(out, "the output for very negative scores", shape=(2, 4, 4)),
        F.scaled_dot_product_attention(q_far, k_far, v_far, attn_mask=mask).numpy(),
        "the output when every allowed score is near -20000",
    )


# ---- exercise 2: causal_padding_mask (2 points) ---------------------------------------------------


def _mask_reference(lengths, T):
    i, j = np.arange(T)[:, None], np.arange(T)[None, :]
    return np.stack([((j <= i) & (j < n))[None] for n in lengths])


@hidden_test("causal_padding_mask", points=1)
def several_batches_of_lengths(student):
    """lengths from 1 to T in batches of 1 to 4, T longer than every sequence too; bool [B, 1, T, T]"""
    for lengths, T in [([1], 1), ([4, 1, 3], 4), ([6, 6], 6), ([2, 5, 1, 7], 7), ([2, 3], 5)]:
        got = as_array(
            student.causal_padding_mask(torch.tensor(lengths), T),
            f"the mask for {lengths}, T={T}",
            shape=(len(lengths), 1, T, T),
            kind="bool",
        )
        if got.dtype != np.bool_:
            fail(f"the mask must be a boolean tensor, got {got.dtype}")
        expect_equal(
            got.tolist(), _mask_reference(lengths, T).tolist(), f"the mask for lengths {lengths}, T={T}"
        )


@hidden_test("causal_padding_mask", points=1)
def mask_works_in_attention(student):
    """used with F.scaled_dot_product_attention it hides exactly the future and the padding"""
    rng = np.random.default_rng(21)
    lengths, T = [5, 3, 1], 5
    got = as_array(
        student.causal_padding_mask(torch.tensor(lengths), T), "the mask", shape=(3, 1, T, T), kind="bool"
    )
    want = _mask_reference(lengths, T)
    if got.dtype != np.bool_ or not np.array_equal(got, want):
        fail("the mask for lengths [5, 3, 1], T=5 is not the causal-and-padding mask")
    q = _t(rng, 3, 2, T, 4)
    out = F.scaled_dot_product_attention(q, q, q, attn_mask=torch.from_numpy(got))
    if not torch.isfinite(out).all():
        fail("the mask leaves a query with no key at all")


# ---- exercise 3: MultiHeadSelfAttention (4 points) ------------------------------------------------


def mhsa_scenario(student, d_model, heads, state, x, mask):
    """The student's module with our weights: output, gradients, parameter names."""
    module = student.MultiHeadSelfAttention(d_model, heads).double()
    names = sorted(name for name, _ in module.named_parameters())
    expected = sorted(
        f"{layer}.{kind}"
        for layer in ("q_proj", "k_proj", "v_proj", "out_proj")
        for kind in ("weight", "bias")
    )
    if names != expected:
        return {"names": names}
    module.load_state_dict(state)
    x = x.clone().requires_grad_()
    out = module(x, mask)
    (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view(out.shape)).sum().backward()
    return {
        "names": names,
        "out": out.detach(),
        "x_grad": x.grad,
        "q_grad": module.q_proj.weight.grad,
        "v_grad": module.v_proj.bias.grad,
    }


def _mha_reference(d_model, heads, seed, far=False):
    torch.manual_seed(seed)
    reference = torch.nn.MultiheadAttention(d_model, heads, batch_first=True).double()
    with torch.no_grad():
        reference.in_proj_bias.normal_()  # PyTorch starts the biases at 0: make them matter
        reference.out_proj.bias.normal_()
        if far:  # opposite query and key biases: every score is far below -1e4
            reference.in_proj_bias[:d_model] += 300.0
            reference.in_proj_bias[d_model : 2 * d_model] -= 300.0
    w, b = reference.in_proj_weight.detach(), reference.in_proj_bias.detach()
    state = {
        f"{n}_proj.{kind}": t[i * d_model : (i + 1) * d_model].clone()
        for i, n in enumerate("qkv")
        for kind, t in (("weight", w), ("bias", b))
    }
    state |= {f"out_proj.{k}": v.detach().clone() for k, v in reference.out_proj.state_dict().items()}
    return reference, state


def _check_mhsa(student, d_model, heads, B, T, mask, seed, gradients, far=False):
    reference, state = _mha_reference(d_model, heads, seed, far)
    x = torch.from_numpy(np.random.default_rng(seed).normal(size=(B, T, d_model)))
    got = as_dict(student.run(mhsa_scenario, d_model, heads, state, x, mask), "the scenario")
    if "out" not in got:
        fail(
            f"the module's parameters are {got['names']}; the prompt asks for exactly q_proj, k_proj, "
            "v_proj and out_proj, each an nn.Linear with a bias"
        )
    xr = x.clone().requires_grad_()
    forbidden = None if mask is None else ~mask.expand(B, heads, T, T).reshape(B * heads, T, T)
    want = reference(xr, xr, xr, attn_mask=forbidden, need_weights=False)[0]
    label = f"d_model {d_model}, {heads} heads" + ("" if mask is None else ", masked")
    label += ", every score far below -1e4" if far else ""
    expect_close(
        as_array(got["out"], "the output", shape=(B, T, d_model)),
        want.detach().numpy(),
        f"the output ({label})",
    )
    if gradients:
        (want * torch.linspace(-1, 1, want.numel(), dtype=want.dtype).view(want.shape)).sum().backward()
        expect_close(
            as_array(got["x_grad"], "the gradient of x"), xr.grad.numpy(), f"the gradient of x ({label})"
        )
        q_grad = reference.in_proj_weight.grad[:d_model]
        expect_close(
            as_array(got["q_grad"], "the gradient of q_proj.weight"),
            q_grad.numpy(),
            f"the gradient of q_proj.weight ({label})",
        )
        expect_close(
            as_array(got["v_grad"], "the gradient of v_proj.bias"),
            reference.in_proj_bias.grad[2 * d_model :].numpy(),
            f"the gradient of v_proj.bias ({label})",
        )


@hidden_test("MultiHeadSelfAttention", points=1)
def matches_nn_multiheadattention_without_a_mask(student):
    """no mask: d_model 12 with 3 heads and d_model 16 with 4 heads, against nn.MultiheadAttention"""
    _check_mhsa(student, 12, 3, 2, 5, None, seed=31, gradients=False)
    _check_mhsa(student, 16, 4, 1, 7, None, seed=32, gradients=False)


@hidden_test("MultiHeadSelfAttention", points=1)
def matches_with_causal_and_padding_masks(student):
    """a causal [T, T] mask and a causal-and-padding [B, 1, T, T] mask; also with every score below -1e4"""
    T = 6
    causal = torch.ones(T, T, dtype=torch.bool).tril()
    _check_mhsa(student, 12, 2, 2, T, causal, seed=33, gradients=False)
    _check_mhsa(student, 12, 2, 2, T, causal, seed=37, gradients=False, far=True)
    padded = causal[None, None] & (torch.arange(T)[None, :] < torch.tensor([6, 3])[:, None])[:, None, None, :]
    _check_mhsa(student, 12, 4, 2, T, padded, seed=34, gradients=False)


@hidden_test("MultiHeadSelfAttention", points=1)
def gradients_match(student):
    """gradients of x, q_proj.weight and v_proj.bias match nn.MultiheadAttention's"""
    T = 5
    _check_mhsa(student, 8, 2, 2, T, torch.ones(T, T, dtype=torch.bool).tril(), seed=35, gradients=True)


def mhsa_bad_heads(student, d_model, heads):
    try:
        student.MultiHeadSelfAttention(d_model, heads)
    except NotImplementedError:
        raise  # a stub: reported as "not implemented yet"
    except ValueError:
        return "ValueError"
    except Exception as error:  # noqa: BLE001 (report whatever it was)
        return type(error).__name__
    return "nothing"


@hidden_test("MultiHeadSelfAttention", points=1)
def rejects_indivisible_sizes_and_splits_heads_right(student):
    """ValueError for 10 features in 3 heads; one head per feature (d_head = 1) still matches"""
    raised = student.run(mhsa_bad_heads, 10, 3)
    if raised != "ValueError":
        fail(f"MultiHeadSelfAttention(10, 3) should raise a ValueError, it raised: {raised}")
    _check_mhsa(student, 6, 6, 1, 4, None, seed=36, gradients=False)


# ---- exercise 4: rope (3 points) --------------------------------------------------------------------


def _rope_reference(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-np.arange(0, d, 2) / d)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * theta
    out = np.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * np.cos(angles) - x[..., 1::2] * np.sin(angles)
    out[..., 1::2] = x[..., 0::2] * np.sin(angles) + x[..., 1::2] * np.cos(angles)
    return out


@hidden_test("rope", points=1)
def matches_the_formula_at_any_positions(student):
    """float64, leading axes, positions not 0..T-1, another base"""
    rng = np.random.default_rng(41)
    for shape, positions, base in [
        ((5, 8), [0, 1, 2, 3, 4], 10000.0),
        ((2, 3, 4, 6), [7, 2, 100, 0], 10000.0),
        ((3, 16), [3, 3, 50], 500.0),
    ]:
        x = rng.normal(size=shape)
        got = as_array(
            student.rope(torch.from_numpy(x), torch.tensor(positions), base=base),
            "rope(x, positions)",
            shape=shape,
        )
        if got.dtype != np.float64:
            fail(f"rope of a float64 tensor must be float64 (the dtype of x), got {got.dtype}")
        expect_close(
            got,
            _rope_reference(x, positions, base),
            f"rope for x {shape}, positions {positions}, base {base}",
        )


@hidden_test("rope", points=1)
def scores_depend_only_on_the_offset(student):
    """rope(q at m) . rope(k at m + 4) is the same for m = 0..29, and lengths are kept"""
    rng = np.random.default_rng(42)
    q, k = rng.normal(size=32), rng.normal(size=32)
    m = np.arange(30)
    rq = as_array(
        student.rope(torch.from_numpy(np.tile(q, (30, 1))), torch.from_numpy(m)), "rope(q)", shape=(30, 32)
    )
    rk = as_array(
        student.rope(torch.from_numpy(np.tile(k, (30, 1))), torch.from_numpy(m + 4)),
        "rope(k)",
        shape=(30, 32),
    )
    scores = (rq * rk).sum(-1)
    expect_close(scores, np.full(30, scores[0]), "the score of q at m with k at m + 4, for m = 0..29")
    expect_close(np.linalg.norm(rq, axis=-1), np.full(30, np.linalg.norm(q)), "the length of the rotated q")
    expect_close(rq, _rope_reference(np.tile(q, (30, 1)), m), "rope(q) at positions 0..29")


def rope_scenario(student, x, positions):
    out = student.rope(x, positions)
    return {"out": out, "dtype": str(out.dtype), "x_after": x}  # the test compares x_after with its own x


@hidden_test("rope", points=1)
def keeps_float32_leaves_x_alone_and_rejects_odd_d(student):
    """float32 in, float32 out, x not modified; an odd last dimension raises ValueError"""
    rng = np.random.default_rng(43)
    x = torch.from_numpy(rng.normal(size=(2, 5, 10))).float()
    got = as_dict(student.run(rope_scenario, x, torch.arange(5)), "the scenario")
    if got["dtype"] != "torch.float32":
        fail(f"rope of a float32 tensor must be float32, got {got['dtype']}")
    if not np.array_equal(as_array(got["x_after"], "x after rope", shape=tuple(x.shape)), x.numpy()):
        fail("rope modified its input x")
    expect_close(
        as_array(got["out"], "rope(x)", shape=(2, 5, 10)),
        _rope_reference(x.double().numpy(), range(5)),
        "rope of a float32 input",
        rtol=1e-5,
        atol=1e-5,
    )
    expect_raises(lambda: student.rope(torch.zeros(3, 5), torch.arange(3)), "ValueError", "rope with d = 5")


# ---- exercise 5: kv_cache_step (3 points) -----------------------------------------------------------


def _cache_problem(seed, B, T, D, dk, dv):
    rng = np.random.default_rng(seed)
    x = _t(rng, B, T, D)
    return x, _t(rng, D, dk), _t(rng, D, dk), _t(rng, D, dv)


@hidden_test("kv_cache_step", points=1)
def step_by_step_equals_full_causal_attention(student):
    """7 tokens one at a time from an empty cache, d_k != d_v, against full causal attention"""
    B, T, D, dk, dv = 3, 7, 5, 4, 6
    x, w_q, w_k, w_v = _cache_problem(51, B, T, D, dk, dv)
    want = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)
    cache = {"k": torch.zeros(B, 0, dk, dtype=torch.float64), "v": torch.zeros(B, 0, dv, dtype=torch.float64)}
    for t in range(T):
        out, cache = _pair(student.kv_cache_step(x[:, t], cache, w_q, w_k, w_v), f"kv_cache_step at step {t}")
        expect_close(
            as_array(out, f"the output at step {t}", shape=(B, dv)),
            want[:, t].numpy(),
            f"the output at step {t}",
        )
        cache = as_dict(cache, "the new cache", keys=["k", "v"])
        cache = {
            key: torch.as_tensor(np.asarray(as_array(cache[key], f"cache[{key!r}]"))) for key in ("k", "v")
        }


@hidden_test("kv_cache_step", points=1)
def new_cache_holds_the_keys_and_values_in_order(student):
    """from a cache of 4 earlier tokens: the new cache is the old one with the new key and value appended"""
    B, D, dk, dv = 2, 6, 3, 5
    x, w_q, w_k, w_v = _cache_problem(52, B, 5, D, dk, dv)
    cache = {"k": x[:, :4] @ w_k, "v": x[:, :4] @ w_v}
    out, new = _pair(student.kv_cache_step(x[:, 4], cache, w_q, w_k, w_v), "kv_cache_step")
    new = as_dict(new, "the new cache", keys=["k", "v"])
    expect_close(
        as_array(new["k"], "the new keys", shape=(B, 5, dk)), (x @ w_k).numpy(), "the new cache's keys"
    )
    expect_close(
        as_array(new["v"], "the new values", shape=(B, 5, dv)), (x @ w_v).numpy(), "the new cache's values"
    )
    want = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)[:, 4]
    expect_close(as_array(out, "the output", shape=(B, dv)), want.numpy(), "the output after 4 cached tokens")


def cache_scenario(student, x_new, k, v, w_q, w_k, w_v):
    cache = {"k": k, "v": v}
    out, new = student.kv_cache_step(x_new, cache, w_q, w_k, w_v)
    return {
        "out": out,
        "same_keys": sorted(cache),
        "k_after": cache.get("k"),  # the given cache's tensors after the call: the test compares them
        "v_after": cache.get("v"),
        "new_is_old": new is cache,
        "k_is_k": cache["k"] is k,
    }


@hidden_test("kv_cache_step", points=1)
def the_given_cache_is_not_modified(student):
    """the dict and the tensors passed in are unchanged after the call, and the output is right"""
    B, D, dk, dv = 2, 4, 4, 3
    x, w_q, w_k, w_v = _cache_problem(53, B, 4, D, dk, dv)
    k, v = x[:, :3] @ w_k, x[:, :3] @ w_v
    got = as_dict(student.run(cache_scenario, x[:, 3], k, v, w_q, w_k, w_v), "the scenario")
    tensors_kept = all(
        after is not None and np.array_equal(as_array(after, name, shape=tuple(want.shape)), want.numpy())
        for after, want, name in (
            (got["k_after"], k, "the cache's keys after the call"),
            (got["v_after"], v, "the cache's values after the call"),
        )
    )
    if got["new_is_old"] or not got["k_is_k"] or not tensors_kept:
        fail("kv_cache_step modified the cache it was given: return a new dict with new tensors")
    want = F.scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, is_causal=True)[:, 3]
    expect_close(as_array(got["out"], "the output", shape=(B, dv)), want.numpy(), "the output")


# ---- exercise 6: causal_self_attention (4 points) ---------------------------------------------------


def _csa_reference(x, w_qkv, w_out, heads):
    B, T, D = x.shape
    q, k, v = (x @ w_qkv).split(D, dim=-1)
    q, k, v = (t.reshape(B, T, heads, D // heads).transpose(1, 2) for t in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return y.transpose(1, 2).reshape(B, T, D) @ w_out


def _csa_problem(seed, B, T, D):
    rng = np.random.default_rng(seed)
    return _t(rng, B, T, D), _t(rng, D, 3 * D) / math.sqrt(D), _t(rng, D, D)


@hidden_test("causal_self_attention", points=1)
def one_head_is_right(student):
    """one head (the head split and the scale cannot go wrong there): the mask must be right"""
    for seed, (B, T, D) in ((61, (2, 6, 4)), (62, (1, 9, 8))):
        x, w_qkv, w_out = _csa_problem(seed, B, T, D)
        got = as_array(student.causal_self_attention(x, w_qkv, w_out, 1), "the output", shape=(B, T, D))
        expect_close(got, _csa_reference(x, w_qkv, w_out, 1).numpy(), f"the output for one head, T = {T}")


@hidden_test("causal_self_attention", points=1)
def several_heads_are_right(student):
    """2, 4 and 8 heads"""
    for seed, heads, (B, T, D) in ((63, 2, (2, 5, 8)), (64, 4, (1, 7, 16)), (65, 8, (2, 4, 16))):
        x, w_qkv, w_out = _csa_problem(seed, B, T, D)
        got = as_array(student.causal_self_attention(x, w_qkv, w_out, heads), "the output", shape=(B, T, D))
        expect_close(got, _csa_reference(x, w_qkv, w_out, heads).numpy(), f"the output for {heads} heads")


@hidden_test("causal_self_attention", points=1)
def the_future_does_not_leak(student):
    """changing token t changes no output before t (and the outputs are right)"""
    x, w_qkv, w_out = _csa_problem(66, 1, 6, 8)
    base = as_array(student.causal_self_attention(x, w_qkv, w_out, 2), "the output", shape=(1, 6, 8))
    expect_close(base, _csa_reference(x, w_qkv, w_out, 2).numpy(), "the output")
    for t in (1, 3, 5):
        changed = x.clone()
        changed[:, t] += 3.0
        got = as_array(student.causal_self_attention(changed, w_qkv, w_out, 2), "the output", shape=(1, 6, 8))
        if not np.allclose(got[:, :t], base[:, :t], rtol=1e-9, atol=1e-12):
            fail(f"changing token {t} changed the outputs of earlier tokens: the future leaks")


@hidden_test("causal_self_attention", points=1)
def float32_longer_sequence(student):
    """float32, 32 tokens, 4 heads of 8 features"""
    x, w_qkv, w_out = (t.float() for t in _csa_problem(67, 2, 32, 32))
    got = as_array(student.causal_self_attention(x, w_qkv, w_out, 4), "the output", shape=(2, 32, 32))
    want = _csa_reference(x.double(), w_qkv.double(), w_out.double(), 4).numpy()
    expect_close(got, want, "the output for T = 32 in float32", rtol=1e-4, atol=1e-4)


# ---- exercise 7: softmax_saturation (3 points) ------------------------------------------------------


def _saturation_reference(d_k, n_keys, trials=60_000, seed=1234, chunk=2000):
    """The two mean largest weights from a long run, drawn in chunks to keep the memory small."""
    generator = torch.Generator().manual_seed(seed)
    raw, scaled = 0.0, 0.0
    for _ in range(trials // chunk):
        q = torch.randn(chunk, 1, d_k, generator=generator, dtype=torch.float64)
        k = torch.randn(chunk, n_keys, d_k, generator=generator, dtype=torch.float64)
        scores = (q @ k.transpose(1, 2)).squeeze(1)
        raw += scores.softmax(-1).max(-1).values.sum().item()
        scaled += (scores / math.sqrt(d_k)).softmax(-1).max(-1).values.sum().item()
    return raw / trials, scaled / trials


def _saturation(student, *args, **kwargs):
    got = as_dict(
        student.softmax_saturation(*args, **kwargs),
        "softmax_saturation(...)",
        keys=["score_std", "max_weight_raw", "max_weight_scaled"],
    )
    for key, value in got.items():
        if not isinstance(value, float):
            fail(f"softmax_saturation()['{key}'] should be a Python float, got {type(value).__name__}")
    return got


@hidden_test("softmax_saturation", points=1)
def score_std_is_sqrt_dk_and_the_seed_fixes_it(student):
    """score_std near sqrt(d_k) for d_k 4, 16 and 256; same seed, same numbers; another seed, others"""
    # d_k = 4 with 4 keys: the mean of per-query standard deviations is about 14 % lower than the std of all
    for d_k, n_keys, trials, tolerance in ((4, 4, 4000, 0.06), (16, 8, 2000, 0.05), (256, 8, 2000, 0.05)):
        got = _saturation(student, d_k, n_keys=n_keys, trials=trials, seed=3)
        std = as_float(got["score_std"], "score_std")
        if abs(std - math.sqrt(d_k)) > tolerance * math.sqrt(d_k):
            fail(
                f"score_std for d_k = {d_k}, {n_keys} keys is {std:.3f}, too far from what it should be "
                "(the standard deviation of all the raw scores together)"
            )
    a, b = _saturation(student, 32, seed=5), _saturation(student, 32, seed=5)
    if a != b:
        fail("two calls with the same seed gave different results: draw everything from the seeded generator")
    other = _saturation(student, 32, seed=6)
    if other == a:
        fail("two different seeds gave the same results: use the seed")
    if other["score_std"] == a["score_std"]:
        fail("score_std does not change with the seed: measure it on the scores you drew")
    if _saturation(student, 32, trials=500, seed=5) == a:
        fail("trials=500 gave the same results as trials=2000: draw `trials` queries")


@hidden_test("softmax_saturation", points=1)
def scaled_max_weight_matches_a_long_run(student):
    """max_weight_scaled for d_k 64 (16 keys) and d_k 8 (4 keys), within 0.02 of a 60,000-trial run"""
    for d_k, n_keys in ((64, 16), (8, 4)):
        got = as_float(
            _saturation(student, d_k, n_keys=n_keys, trials=4000, seed=7)["max_weight_scaled"],
            "max_weight_scaled",
        )
        want = _saturation_reference(d_k, n_keys)[1]
        if abs(got - want) > 0.02:
            fail(
                f"max_weight_scaled for d_k = {d_k}, {n_keys} keys is {got:.4f}; "
                "a long run gives another value"
            )


@hidden_test("softmax_saturation", points=1)
def raw_max_weight_matches_a_long_run(student):
    """max_weight_raw for d_k 4 (8 keys) and d_k 256 (16 keys), within 0.02 of a 60,000-trial run"""
    for d_k, n_keys in ((4, 8), (256, 16)):
        got = as_float(
            _saturation(student, d_k, n_keys=n_keys, trials=3000, seed=8)["max_weight_raw"], "max_weight_raw"
        )
        want = _saturation_reference(d_k, n_keys)[0]
        if abs(got - want) > 0.02:
            fail(
                f"max_weight_raw for d_k = {d_k}, {n_keys} keys is {got:.4f}; a long run gives another value"
            )
