"""Hidden tests for exercises/05_init_norm.ipynb (21 points).

Run by the grader in its own process (see solutions/README.md); never shipped to students.
Expected values come from PyTorch's own layers (nn.BatchNorm1d/2d, nn.GroupNorm, nn.RMSNorm)
or from the definitions in the prompts, computed here. Behaviour that lives in objects
(buffers, the train/eval switch, gradients, inputs that must not change) is observed through
scenarios run in the student's process.
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


def expect_python_float(value, what):
    """A plain Python float (a NumPy float is one once it crosses back), not a tensor or an array."""
    if isinstance(value, bool) or not isinstance(value, float):
        fail(f"{what} should be a Python float, but it is a {type(value).__name__}; use .item() or float()")
    return value

# ---- exercise 1: init_std (2 points) ------------------------------------------------------------------


@hidden_test("init_std", points=1)
def stds_and_bounds_for_several_layers(student):
    """normal std and uniform bound of each rule for square, wide and narrow layers"""
    for fan_in, fan_out in [(784, 256), (64, 1024), (7, 7), (1, 3)]:
        variances = {"lecun": 1 / fan_in, "xavier": 2 / (fan_in + fan_out), "he": 2 / fan_in}
        for scheme, variance in variances.items():
            got = as_float(
                student.init_std(scheme, fan_in, fan_out), f"init_std({scheme!r}, {fan_in}, {fan_out})"
            )
            expect_close(got, math.sqrt(variance), f"init_std({scheme!r}, {fan_in}, {fan_out})", rtol=1e-9)
            got = as_float(
                student.init_std(scheme, fan_in, fan_out, distribution="uniform"),
                f"the uniform bound for {scheme!r}, {fan_in}, {fan_out}",
            )
            expect_close(
                got,
                math.sqrt(3 * variance),
                f"the uniform bound for {scheme!r}, {fan_in} -> {fan_out}",
                rtol=1e-9,
            )


@hidden_test("init_std", points=1)
def agrees_with_torch_init_and_rejects_bad_input(student):
    """the uniform bounds reproduce torch.nn.init's; unknown schemes and bad fans raise ValueError"""
    fan_in, fan_out = 300, 100
    w = torch.empty(fan_out, fan_in, dtype=torch.float64)
    torch.nn.init.xavier_uniform_(w, generator=torch.Generator().manual_seed(0))
    bound = as_float(student.init_std("xavier", fan_in, fan_out, distribution="uniform"), "the Xavier bound")
    if not (w.abs().max().item() <= bound < 1.01 * w.abs().max().item() + 1e-3):
        fail("the Xavier uniform bound does not match what torch.nn.init.xavier_uniform_ draws within")
    for args, what in [
        (("orthogonal", 4, 4), "an unknown scheme"),
        (("he", 0, 4), "fan_in = 0"),
        (("he", 4, -2), "a negative fan_out"),
        (("he", 2.5, 4), "a fractional fan_in"),
    ]:
        expect_raises(lambda args=args: student.init_std(*args), "ValueError", f"init_std with {what}")
    expect_raises(
        lambda: student.init_std("he", 4, 4, distribution="cauchy"),
        "ValueError",
        "init_std with distribution='cauchy'",
    )


# ---- exercise 2: batch_norm_step (3 points) ------------------------------------------------------------


def bn_reference(x, gamma, beta, mean, var, momentum, eps):
    """nn.BatchNorm1d/2d in training mode, one step: (y, running_mean, running_var) as arrays."""
    x = torch.tensor(x)
    layer = (torch.nn.BatchNorm1d if x.dim() == 2 else torch.nn.BatchNorm2d)(
        x.shape[1], eps=eps, momentum=momentum
    ).to(x.dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(gamma))
        layer.bias.copy_(torch.tensor(beta))
        layer.running_mean.copy_(torch.tensor(mean))
        layer.running_var.copy_(torch.tensor(var))
        y = layer(x)
    return y.numpy(), layer.running_mean.numpy(), layer.running_var.numpy()


def bn_step_scenario(student, x, gamma, beta, mean, var, momentum, eps):
    """Call batch_norm_step on tensors we keep, and report the result and those tensors afterwards."""
    given = [torch.tensor(a) for a in (x, gamma, beta, mean, var)]
    y, new_mean, new_var = student.batch_norm_step(*given, momentum=momentum, eps=eps)
    return {
        "y": y,
        "mean": new_mean,
        "var": new_var,
        "y_dtype": str(y.dtype),
        "dtypes": [str(t.dtype) for t in (y, new_mean, new_var)],
        "inputs_after": given,  # compared in the test with its own copies
    }


def same_values(value, original, what):
    """Whether a tensor that came back holds exactly the values of ``original`` (NumPy), shape included."""
    original = np.asarray(original)
    return np.array_equal(as_array(value, what, shape=original.shape), original)


def bn_data(rng, shape, dtype=np.float64):
    c = shape[1]
    return (
        rng.normal(loc=2.0, scale=3.0, size=shape).astype(dtype),
        rng.uniform(0.5, 1.5, c).astype(dtype),
        rng.normal(size=c).astype(dtype),
        rng.normal(size=c).astype(dtype),
        rng.uniform(0.5, 2, c).astype(dtype),
    )


def expect_bn_step(student, args, momentum, eps, what, rtol=1e-6):
    got = as_dict(
        student.run(bn_step_scenario, *args, momentum, eps),
        what,
        keys=["y", "mean", "var", "y_dtype", "dtypes", "inputs_after"],
    )
    want = bn_reference(*args, momentum, eps)
    for name, value, ref in zip(
        ("y", "new running_mean", "new running_var"), (got["y"], got["mean"], got["var"]), want
    ):
        expect_close(
            as_array(value, f"{name} for {what}", shape=ref.shape),
            ref,
            f"{name} for {what}",
            rtol=rtol,
            atol=1e-6,
        )
    return got


@hidden_test("batch_norm_step", points=1)
def matches_batchnorm1d_and_2d(student):
    """outputs and running statistics match nn.BatchNorm1d and nn.BatchNorm2d, several momenta"""
    rng = np.random.default_rng(501)
    expect_bn_step(student, bn_data(rng, (16, 5)), 0.1, 1e-5, "a [16, 5] batch")
    expect_bn_step(student, bn_data(rng, (3, 4)), 0.7, 1e-5, "a [3, 4] batch with momentum 0.7")
    expect_bn_step(student, bn_data(rng, (2, 3, 4, 5)), 0.25, 1e-5, "a [2, 3, 4, 5] image batch")
    expect_bn_step(student, bn_data(rng, (1, 2, 3, 3)), 0.1, 1e-5, "one image [1, 2, 3, 3]")


@hidden_test("batch_norm_step", points=1)
def eps_dtype_and_inputs_left_alone(student):
    """a large eps inside the square root; float32 stays float32 (all three results); inputs unchanged"""
    rng = np.random.default_rng(502)
    args = bn_data(rng, (6, 3))
    args = (args[0] * 0.01,) + args[1:]  # a tiny variance, where eps matters
    got = expect_bn_step(student, args, 0.1, 0.5, "eps = 0.5 and a tiny variance")
    dtypes = as_list(got["dtypes"], "the dtypes", length=3)
    for name, dtype in zip(("y", "new running_mean", "new running_var"), dtypes):
        expect_equal(dtype, "torch.float64", f"the dtype of {name} for a float64 x")
    after = as_list(got["inputs_after"], "the inputs after the call", length=5)
    names = ("x", "gamma", "beta", "running_mean", "running_var")
    if not all(same_values(a, b, f"{n} after the call") for a, b, n in zip(after, args, names)):
        fail(
            "batch_norm_step changed a tensor it was given (x, gamma, beta, running_mean or running_var); "
            "return new tensors instead of updating them in place"
        )
    got = expect_bn_step(student, bn_data(rng, (8, 4), np.float32), 0.1, 1e-5, "a float32 batch", rtol=1e-4)
    dtypes = as_list(got["dtypes"], "the dtypes", length=3)
    for name, dtype in zip(("y", "new running_mean", "new running_var"), dtypes):
        expect_equal(dtype, "torch.float32", f"the dtype of {name} for a float32 x")


@hidden_test("batch_norm_step", points=1)
def too_few_values_and_wrong_shapes_raise(student):
    """ValueError for one value per channel and for a 3-D x (after computing correct results)"""
    rng = np.random.default_rng(503)
    expect_bn_step(student, bn_data(rng, (5, 2)), 0.1, 1e-5, "a [5, 2] batch")
    one = [torch.tensor(a) for a in bn_data(rng, (1, 3))]
    expect_raises(
        lambda: student.batch_norm_step(*one), "ValueError", "batch_norm_step on a batch of one [1, 3]"
    )
    c3 = [torch.tensor(a) for a in bn_data(rng, (4, 3))]
    c3[0] = c3[0].reshape(4, 3, 1, 1)[:, :, 0]  # 3-D
    expect_raises(
        lambda: student.batch_norm_step(*c3), "ValueError", "batch_norm_step on a 3-D x of shape (4, 3, 1)"
    )


# ---- exercise 3: ScratchBatchNorm1d (3 points) ----------------------------------------------------------


def module_train_eval(student, batches, eval_batch, momentum, upstream, eps=1e-5):
    """Train mode on some batches (with a backward pass on the last), then eval mode; all observations."""
    norm = student.ScratchBatchNorm1d(len(eval_batch[0]), eps=eps, momentum=momentum).double()
    fresh = {name: value.clone() for name, value in norm.state_dict().items()}
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 1.5, len(eval_batch[0]), dtype=torch.float64))
        norm.bias.copy_(torch.linspace(-1.0, 1.0, len(eval_batch[0]), dtype=torch.float64))
    norm.train()
    outputs = []
    for x in batches[:-1]:
        outputs.append(norm(torch.tensor(x)).detach())
    x_last = torch.tensor(batches[-1]).requires_grad_()
    out = norm(x_last)
    outputs.append(out.detach())
    in_graph = sorted(name for name, b in norm.named_buffers() if b.requires_grad or b.grad_fn is not None)
    (out * torch.tensor(upstream)).sum().backward()
    after_train = {name: b.clone() for name, b in norm.named_buffers()}
    train_grads = [None if t.grad is None else t.grad.clone() for t in (x_last, norm.weight, norm.bias)]
    norm.eval()
    norm.weight.grad = None
    x_eval = torch.tensor(eval_batch).requires_grad_()
    eval_out = norm(x_eval)
    try:  # fails when the running statistics recorded a graph that the training backward freed
        eval_out.sum().backward()
    except RuntimeError:
        pass
    eval_output = eval_out.detach()
    return {
        "eval_x_grad": x_eval.grad,
        "eval_weight_grad": norm.weight.grad,
        "outputs": outputs,
        "after_train": after_train,
        "eval_output": eval_output,
        "after_eval": dict(norm.named_buffers()),
        "x_grad": train_grads[0],
        "weight_grad": train_grads[1],
        "bias_grad": train_grads[2],
        "state_keys": sorted(norm.state_dict()),
        "fresh": fresh,
        "buffers_in_graph": in_graph,
    }


def module_reference(batches, eval_batch, momentum, upstream, eps=1e-5):
    c = len(eval_batch[0])
    norm = torch.nn.BatchNorm1d(c, eps=eps, momentum=momentum).double()
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 1.5, c, dtype=torch.float64))
        norm.bias.copy_(torch.linspace(-1.0, 1.0, c, dtype=torch.float64))
    outputs = [norm(torch.tensor(x)).detach().numpy() for x in batches[:-1]]
    x_last = torch.tensor(batches[-1]).requires_grad_()
    out = norm(x_last)
    outputs.append(out.detach().numpy())
    (out * torch.tensor(upstream)).sum().backward()
    stats = {
        "running_mean": norm.running_mean.clone().numpy(),
        "running_var": norm.running_var.clone().numpy(),
    }
    grads = {
        "x_grad": x_last.grad.clone().numpy(),
        "weight_grad": norm.weight.grad.clone().numpy(),
        "bias_grad": norm.bias.grad.clone().numpy(),
    }
    norm.eval()
    norm.weight.grad = None
    x_eval = torch.tensor(eval_batch).requires_grad_()
    eval_out = norm(x_eval)
    eval_out.sum().backward()
    eval_output = eval_out.detach().numpy()
    grads["eval_x_grad"] = x_eval.grad.numpy()
    grads["eval_weight_grad"] = norm.weight.grad.numpy()
    return outputs, stats, eval_output, grads


def module_data(seed, n=8, c=4, steps=4, scale=2.0):
    rng = np.random.default_rng(seed)
    batches = [rng.normal(loc=3.0, scale=scale, size=(n, c)) for _ in range(steps)]
    return batches, rng.normal(loc=3.0, scale=scale, size=(5, c)), rng.normal(size=(n, c))


def expect_stats(got, want, what):
    got = as_dict(got, what)
    for name, value in want.items():
        if name not in got:
            fail(f"no buffer named {name} {what}: register it with self.register_buffer({name!r}, ...)")
        expect_close(as_array(got[name], f"{name} {what}", shape=value.shape), value, f"{name} {what}")


@hidden_test("ScratchBatchNorm1d", points=1)
def training_mode_outputs_and_running_statistics(student):
    """4 training batches: outputs and running statistics as nn.BatchNorm1d (momentum 0.1, 0.3), no graph"""
    for seed, momentum in ((511, 0.1), (512, 0.3)):
        batches, eval_batch, upstream = module_data(seed)
        got = as_dict(student.run(module_train_eval, batches, eval_batch, momentum, upstream), "the scenario")
        want_outputs, want_stats, _, _ = module_reference(batches, eval_batch, momentum, upstream)
        for k, want in enumerate(want_outputs):
            expect_close(
                as_array(got["outputs"][k], f"the output on training batch {k}", shape=want.shape),
                want,
                f"the output on training batch {k}",
            )
        expect_stats(got["after_train"], want_stats, f"after 4 training batches (momentum {momentum})")
        in_graph = as_list(got["buffers_in_graph"], "the buffers that require gradients")
        if in_graph:
            fail(
                f"after a training step on an input that requires gradients, the buffer {in_graph[0]} is "
                "part of the autograd graph; update the running statistics under torch.no_grad()"
            )
        for key in ("running_mean", "running_var"):
            if key not in as_list(got["state_keys"], "the state_dict keys"):
                fail(f"{key} is not in the module's state_dict: register it with self.register_buffer")
        fresh = as_dict(got["fresh"], "the state_dict of a new module")
        for key, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            if key not in fresh:
                fail(f"a new module has no {key} in its state_dict")
            expect_close(as_array(fresh[key], key, shape=(4,)), np.full(4, value), f"{key} of a new module")


@hidden_test("ScratchBatchNorm1d", points=1)
def eval_mode_uses_and_keeps_the_running_statistics(student):
    """eval mode normalises with the running statistics and leaves them unchanged; eps = 0.5 is used"""
    batches, eval_batch, upstream = module_data(513, n=2, c=3)
    got = as_dict(student.run(module_train_eval, batches, eval_batch, 0.1, upstream), "the scenario")
    _, want_stats, want_eval, _ = module_reference(batches, eval_batch, 0.1, upstream)
    expect_close(
        as_array(got["eval_output"], "the eval-mode output", shape=want_eval.shape),
        want_eval,
        "the output in eval mode",
    )
    batches, eval_batch, upstream = module_data(515, n=3, c=2, scale=0.5)
    got_eps = as_dict(
        student.run(module_train_eval, batches, eval_batch, 0.1, upstream, eps=0.5), "the scenario with eps"
    )
    want_outputs, _, want_eval_eps, _ = module_reference(batches, eval_batch, 0.1, upstream, eps=0.5)
    expect_close(
        as_array(got_eps["outputs"][-1], "the training output with eps = 0.5", shape=want_outputs[-1].shape),
        want_outputs[-1],
        "the training-mode output of ScratchBatchNorm1d(2, eps=0.5)",
    )
    expect_close(
        as_array(got_eps["eval_output"], "the eval-mode output with eps = 0.5", shape=want_eval_eps.shape),
        want_eval_eps,
        "the eval-mode output of ScratchBatchNorm1d(2, eps=0.5)",
    )
    expect_stats(got["after_eval"], want_stats, "after a batch in eval mode (eval must not update them)")


@hidden_test("ScratchBatchNorm1d", points=1)
def gradients_reach_input_weight_and_bias(student):
    """backward gives nn.BatchNorm1d's gradients for input, weight, bias (tiny variances; also eval mode)"""
    batches, eval_batch, upstream = module_data(514, n=6, c=5, steps=2, scale=0.003)
    got = as_dict(student.run(module_train_eval, batches, eval_batch, 0.1, upstream), "the scenario")
    *_, want = module_reference(batches, eval_batch, 0.1, upstream)
    for name, value in want.items():
        mode = " in eval mode" if name.startswith("eval_") else ""
        what = name.removeprefix("eval_").replace("_grad", ".grad") + mode
        if got.get(name) is None:
            fail(
                f"{what} is None after backward(): is it a parameter, and is the output computed from it "
                "(with gradients tracked)?"
            )
        expect_close(as_array(got[name], what, shape=value.shape), value, what)


# ---- exercise 4: group_norm (2 points) ------------------------------------------------------------------


def group_reference(x, groups, weight, bias, eps=1e-5):
    return torch.nn.functional.group_norm(
        torch.tensor(x), groups, torch.tensor(weight), torch.tensor(bias), eps
    ).numpy()


@hidden_test("group_norm", points=1)
def matches_nn_groupnorm_for_several_shapes(student):
    """nn.GroupNorm for images, sequences and [N, C] inputs, 1, some and C groups"""
    rng = np.random.default_rng(521)
    for shape, groups in [
        ((3, 6, 4, 5), 3),
        ((2, 8, 7), 4),
        ((4, 6), 2),
        ((2, 4, 3, 3), 1),
        ((2, 4, 3, 3), 4),
    ]:
        x = rng.normal(loc=1.0, scale=2.0, size=shape)
        w, b = rng.uniform(0.5, 1.5, shape[1]), rng.normal(size=shape[1])
        got = as_array(
            student.group_norm(torch.tensor(x), groups, torch.tensor(w), torch.tensor(b)),
            f"group_norm for {shape}, {groups} groups",
            shape=shape,
            kind="float",
        )
        expect_close(
            got, group_reference(x, groups, w, b), f"group_norm for x of shape {shape}, {groups} groups"
        )


def norm_call_scenario(student, name, dtype, x, *args):
    """Call a normalisation function on tensors of a dtype, which we keep: output, its dtype, x changed?"""
    dtype = getattr(torch, dtype)
    given = torch.tensor(x, dtype=dtype)
    out = getattr(student, name)(
        given, *[torch.tensor(a, dtype=dtype) if isinstance(a, list) else a for a in args]
    )
    return {"out": out, "dtype": str(out.dtype), "x_after": given}


def expect_dtype_kept_and_x_unchanged(student, name, x, *args):
    """float32 and float64 inputs: the output has x's dtype, and x is not changed; the float32 result."""
    for dtype in ("float64", "float32"):
        got = as_dict(student.run(norm_call_scenario, name, dtype, x, *args), f"{name} on {dtype} tensors")
        expect_equal(got["dtype"], f"torch.{dtype}", f"the dtype of {name}'s output for a {dtype} x")
        if not same_values(got["x_after"], np.asarray(x, dtype=dtype), f"x after {name}"):
            fail(f"{name} changed the x it was given; compute a new tensor instead of updating x in place")
    return got


@hidden_test("group_norm", points=1)
def eps_and_indivisible_channels(student):
    """eps = 1 inside the root, per-channel weights; dtype kept, x unchanged; C % groups != 0 raises"""
    rng = np.random.default_rng(522)
    x = rng.normal(scale=0.3, size=(2, 6, 3))
    w, b = np.arange(1.0, 7.0), np.arange(6.0) - 3
    got = as_array(
        student.group_norm(torch.tensor(x), 2, torch.tensor(w), torch.tensor(b), eps=1.0),
        "group_norm with eps = 1",
        shape=x.shape,
    )
    expect_close(
        got, group_reference(x, 2, w, b, eps=1.0), "group_norm with eps = 1 and distinct channel weights"
    )
    x32 = rng.normal(loc=1.0, size=(3, 4, 2, 2))
    w32, b32 = [1.0, 2.0, 0.5, 1.5], [0.0, 1.0, -1.0, 2.0]
    got = expect_dtype_kept_and_x_unchanged(student, "group_norm", x32, 2, w32, b32)
    expect_close(
        as_array(got["out"], "group_norm of a float32 x", shape=x32.shape),
        group_reference(x32, 2, np.array(w32), np.array(b32)),
        "group_norm of a float32 x",
        rtol=1e-4,
        atol=1e-5,
    )
    expect_raises(
        lambda: student.group_norm(torch.tensor(x), 4, torch.tensor(w), torch.tensor(b)),
        "ValueError",
        "group_norm with 6 channels in 4 groups",
    )


# ---- exercise 5: rms_norm (2 points) --------------------------------------------------------------------


def rms_reference(x, weight, eps=1e-6):
    layer = torch.nn.RMSNorm(len(weight), eps=eps).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
        return layer(torch.tensor(x)).numpy()


@hidden_test("rms_norm", points=1)
def matches_nn_rmsnorm(student):
    """nn.RMSNorm on inputs with a non-zero mean, of 1, 2 and 3 dimensions"""
    rng = np.random.default_rng(531)
    for shape in [(7,), (4, 5), (2, 3, 6)]:
        x = rng.normal(loc=2.0, size=shape)
        w = rng.uniform(0.5, 1.5, shape[-1])
        got = as_array(
            student.rms_norm(torch.tensor(x), torch.tensor(w)), f"rms_norm for {shape}", shape=shape
        )
        expect_close(got, rms_reference(x, w), f"rms_norm for x of shape {shape}")


@hidden_test("rms_norm", points=1)
def eps_inside_the_root_and_dtype_kept(student):
    """a large eps and tiny inputs; float32 and float64 kept; x not changed"""
    rng = np.random.default_rng(532)
    x = rng.normal(scale=0.01, size=(3, 4))
    w = rng.uniform(0.5, 1.5, 4)
    got = as_array(
        student.rms_norm(torch.tensor(x), torch.tensor(w), eps=0.1), "rms_norm with eps = 0.1", shape=x.shape
    )
    expect_close(got, rms_reference(x, w, eps=0.1), "rms_norm with eps = 0.1")
    got = expect_dtype_kept_and_x_unchanged(student, "rms_norm", x, [float(v) for v in w])
    expect_close(
        as_array(got["out"], "rms_norm of a float32 x", shape=x.shape),
        rms_reference(x, w),
        "rms_norm of a float32 x",
        rtol=1e-4,
        atol=1e-6,
    )


# ---- exercise 6: inverted_dropout (2 points) --------------------------------------------------------------


def dropout_scenario(student, x, p, u, training):
    given = torch.tensor(x)
    out = student.inverted_dropout(given, p, torch.tensor(u), training=training)
    return {
        "out": out,
        "x_after": given,
        "dtype": str(out.dtype),
        "storages": [out.untyped_storage().data_ptr(), given.untyped_storage().data_ptr()],
    }


def expect_new_tensor(got, what):
    out_storage, x_storage = as_list(got["storages"], "the storage addresses", length=2)
    if as_int(out_storage, "the output's storage address") == as_int(x_storage, "x's storage address"):
        fail(f"{what} returned x itself (or a view of it); return a new tensor")


def dropout_reference(x, p, u):
    if p == 1:
        return np.zeros_like(x)
    return x * (u >= p) / (1 - p)


@hidden_test("inverted_dropout", points=1)
def keeps_where_u_reaches_p_and_scales(student):
    """the mask u >= p (u exactly p is kept), 1/(1-p) scaling, p = 0 and p = 1, several shapes"""
    rng = np.random.default_rng(541)
    for shape, p in [((6, 5), 0.3), ((4, 3, 2), 0.5), ((9,), 0.0), ((3, 3), 1.0)]:
        x, u = rng.normal(size=shape), rng.uniform(size=shape)
        u.flat[0] = p if p < 1 else u.flat[0]  # a draw exactly at p is kept
        got = as_dict(
            student.run(dropout_scenario, x, p, u, True),
            "the scenario",
            keys=["out", "x_after", "dtype", "storages"],
        )
        expect_close(
            as_array(got["out"], f"inverted_dropout for p = {p}", shape=shape),
            dropout_reference(x, p, u),
            f"inverted_dropout for p = {p}, x of shape {shape}",
        )
        expect_new_tensor(got, f"inverted_dropout with p = {p}")


@hidden_test("inverted_dropout", points=1)
def evaluation_identity_input_untouched_and_bad_p(student):
    """training=False returns a copy of x; x never changes; float32 kept; bad p raises in both modes"""
    rng = np.random.default_rng(542)
    x, u = rng.normal(size=(5, 4)), rng.uniform(size=(5, 4))
    got = as_dict(student.run(dropout_scenario, x, 0.4, u, False), "the scenario")
    expect_close(
        as_array(got["out"], "inverted_dropout in evaluation mode", shape=x.shape),
        x,
        "inverted_dropout with training=False",
        rtol=0,
        atol=0,
    )
    expect_new_tensor(got, "inverted_dropout with training=False")
    got = as_dict(
        student.run(dropout_scenario, x.astype(np.float32), 0.4, u.astype(np.float32), True), "the scenario"
    )
    if not same_values(got["x_after"], x.astype(np.float32), "x after inverted_dropout"):
        fail("inverted_dropout changed the x it was given; return a new tensor")
    expect_equal(got["dtype"], "torch.float32", "the output dtype for a float32 x")
    got = as_dict(student.run(dropout_scenario, x.astype(np.float32), 0.4, u, True), "the scenario")
    expect_equal(got["dtype"], "torch.float32", "the output dtype for a float32 x and float64 draws u")
    for p in (-0.1, 1.5):
        for training in (True, False):
            expect_raises(
                lambda p=p, training=training: student.inverted_dropout(
                    torch.tensor(x), p, torch.tensor(u), training=training
                ),
                "ValueError",
                f"inverted_dropout with p = {p}, training={training}",
            )


# ---- exercise 7: evaluate (3 points) ----------------------------------------------------------------------


def evaluate_scenario(student, state, x, y, batch_size, start_in_training):
    """A BN + dropout classifier with given weights, evaluated by the student's function."""

    class Probe(torch.nn.Module):  # records the mode and grad switch its forward pass sees
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(
                torch.nn.Linear(4, 16),
                torch.nn.BatchNorm1d(16),
                torch.nn.ReLU(),
                torch.nn.Dropout(0.5),
                torch.nn.Linear(16, 3),
            )
            self.seen = []

        def forward(self, inputs):
            self.seen.append([self.training, torch.is_grad_enabled()])
            return self.body(inputs)

    model = Probe().double()
    model.body.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    model.train(start_in_training)
    torch.manual_seed(0)
    accuracy = student.evaluate(model, torch.tensor(x), torch.tensor(y), batch_size=batch_size)
    return {
        "accuracy": accuracy,
        "seen": model.seen,
        "training_after": model.training,
        "modes_after": {name or "the model": module.training for name, module in model.named_modules()},
        "grad_enabled_after": torch.is_grad_enabled(),
        "state_after": model.body.state_dict(),
    }


def evaluate_data(seed):
    rng = np.random.default_rng(seed)
    body = torch.nn.Sequential(
        torch.nn.Linear(4, 16),
        torch.nn.BatchNorm1d(16),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(16, 3),
    ).double()
    with torch.no_grad():
        for p in body.parameters():
            p.copy_(torch.tensor(rng.normal(size=tuple(p.shape))))
        body[1].running_mean.copy_(torch.tensor(rng.normal(size=16)))
        body[1].running_var.copy_(torch.tensor(rng.uniform(0.5, 3.0, 16)))
    state = {k: v.numpy().copy() for k, v in body.state_dict().items()}
    x = rng.normal(size=(50, 4))
    body.eval()
    with torch.no_grad():
        y = body(torch.tensor(x)).argmax(1).numpy()
    y[::4] = (y[::4] + 1) % 3  # a quarter wrong, so the accuracy is 0.74, not 1
    with torch.no_grad():
        want = float((body(torch.tensor(x)).argmax(1).numpy() == y).mean())
    return state, x, y, want


@hidden_test("evaluate", points=1)
def accuracy_in_evaluation_mode_without_gradients(student):
    """the eval-mode accuracy (a Python float), every forward pass in eval mode without gradients"""
    state, x, y, want = evaluate_data(551)
    for batch_size in (7, 64):
        got = as_dict(student.run(evaluate_scenario, state, x, y, batch_size, True), "the scenario")
        expect_close(
            as_float(got["accuracy"], "evaluate(...)"), want, f"the accuracy with batches of {batch_size}"
        )
        expect_python_float(got["accuracy"], "the accuracy evaluate returns")
        for training, grad_enabled in as_list(got["seen"], "the forward passes"):
            if training:
                fail("the model ran a forward pass in training mode: call model.eval() first")
            if grad_enabled:
                fail("the model ran a forward pass with gradients enabled: use torch.no_grad()")


@hidden_test("evaluate", points=1)
def the_model_is_not_changed(student):
    """parameters and BatchNorm buffers are the same after the call"""
    state, x, y, _ = evaluate_data(552)
    got = as_dict(student.run(evaluate_scenario, state, x, y, 10, True), "the scenario")
    after = as_dict(got["state_after"], "the model's state after evaluate")
    for name, value in state.items():
        expect_close(
            as_array(after[name], name), value, f"{name} after evaluate (it must not change)", rtol=0, atol=0
        )


@hidden_test("evaluate", points=1)
def the_mode_is_restored(student):
    """every submodule goes back to the mode it was in (training or eval); the gradient switch is left on"""
    state, x, y, want = evaluate_data(553)
    for start in (True, False):
        got = as_dict(student.run(evaluate_scenario, state, x, y, 16, start), "the scenario")
        expect_close(as_float(got["accuracy"], "evaluate(...)"), want, "the accuracy")
        mode = "training" if start else "evaluation"
        if got["training_after"] is not start:
            fail(f"a model that was in {mode} mode should be in {mode} mode again after evaluate")
        for name, training in as_dict(got["modes_after"], "the modes after evaluate").items():
            if training is not start:
                fail(
                    f"the model was in {mode} mode, but after evaluate its submodule {name} is not: set the "
                    "mode with model.train(...)/model.eval(), which reach every submodule"
                )
        if got["grad_enabled_after"] is not True:
            fail("gradient tracking is switched off after evaluate; turn it off only inside the function")


# ---- exercise 8: layer_stds (2 points) --------------------------------------------------------------------


def stds_reference(x, weights, activation):
    functions = {
        "linear": lambda t: t,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "gelu": torch.nn.functional.gelu,
    }
    h, stds = torch.tensor(x), []
    for w in weights:
        h = functions[activation](h @ torch.tensor(w).T)
        stds.append(h.std(unbiased=False).item())
    return np.array(stds)


@hidden_test("layer_stds", points=1)
def stds_after_each_activation(student):
    """population std after the activation, for each activation, layers of changing width; a list of floats"""
    rng = np.random.default_rng(561)
    x = rng.normal(size=(5, 6))  # a small batch, where the population and sample std differ
    weights = [
        rng.normal(scale=0.5, size=(8, 6)),
        rng.normal(scale=0.5, size=(3, 8)),
        rng.normal(size=(3, 3)),  # square, so that W and W.T both fit
        rng.normal(size=(4, 3)),
    ]
    for activation in ("linear", "tanh", "relu", "gelu"):
        result = student.layer_stds(torch.tensor(x), [torch.tensor(w) for w in weights], activation)
        for value in as_list(result, f"layer_stds for {activation}", length=4):
            expect_python_float(value, f"each value layer_stds returns for {activation}")
        got = as_array(result, f"layer_stds for {activation}", shape=(4,), kind="float")
        expect_close(got, stds_reference(x, weights, activation), f"layer_stds for {activation}")


@hidden_test("layer_stds", points=1)
def one_layer_and_unknown_activation(student):
    """a single layer; ValueError for an unknown activation"""
    rng = np.random.default_rng(562)
    x, w = rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    got = as_array(
        student.layer_stds(torch.tensor(x), [torch.tensor(w)], "relu"),
        "layer_stds, one layer",
        shape=(1,),
        kind="float",
    )
    expect_close(got, stds_reference(x, [w], "relu"), "layer_stds for one ReLU layer")
    expect_raises(
        lambda: student.layer_stds(torch.tensor(x), [torch.tensor(w)], "swish"),
        "ValueError",
        "layer_stds with activation 'swish'",
    )


# ---- exercise 9: depth_to_collapse (2 points) ----------------------------------------------------------


def collapse_reference(scheme, activation, width, max_depth, threshold, seed):
    """The same experiment, our own random draws: the first collapsed layer, or None."""
    generator = torch.Generator().manual_seed(seed + 1000)
    std = {
        "small": 0.01,
        "lecun": math.sqrt(1 / width),
        "xavier": math.sqrt(1 / width),
        "he": math.sqrt(2 / width),
    }[scheme]
    x = torch.randn(256, width, generator=generator)
    h, first = x, None
    functions = {
        "linear": lambda t: t,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "gelu": torch.nn.functional.gelu,
    }
    for layer in range(1, max_depth + 1):
        h = functions[activation](h @ (torch.randn(width, width, generator=generator) * std).T)
        s = h.std(unbiased=False).item()
        first = s if first is None else first
        if s < threshold * first:
            return layer
    return None


def expect_depth(student, scheme, activation, what, slack, **kwargs):
    settings = {"width": 256, "max_depth": 50, "threshold": 1e-3, "seed": 0} | kwargs
    got = student.depth_to_collapse(scheme, activation, **settings)
    want = collapse_reference(scheme, activation, **settings)
    if want is None or got is None:
        if got is not want:
            fail(
                f"depth_to_collapse for {what}: expected "
                f"{'None (no collapse)' if want is None else 'a layer number'}, got {got!r}"
            )
        return
    got = as_int(got, f"depth_to_collapse for {what}")
    if abs(got - want) > slack:
        fail(f"depth_to_collapse for {what} is {got:g}, outside the range the random draw allows")


@hidden_test("depth_to_collapse", points=1)
def collapse_depths_of_shrinking_stacks(student):
    """small-init tanh and Xavier-init ReLU collapse at the depth the experiment measures"""
    expect_depth(student, "small", "tanh", "small init, tanh", slack=0)
    expect_depth(student, "xavier", "relu", "Xavier, ReLU", slack=2)
    expect_depth(student, "xavier", "tanh", "Xavier, tanh (fades, but not by 1e-3 in 50 layers)", slack=0)


@hidden_test("depth_to_collapse", points=1)
def no_collapse_with_he_and_relu(student):
    """He init keeps a ReLU stack alive (None); small-init stacks collapse at once, or not within max_depth"""
    expect_depth(student, "he", "relu", "He, ReLU", slack=0)
    expect_depth(student, "small", "tanh", "small init, tanh, max_depth 3", slack=0, max_depth=3)
    expect_depth(
        student,
        "small",
        "relu",
        "small init, ReLU, width 64, threshold 0.1",
        slack=0,
        width=64,
        threshold=0.1,
        max_depth=10,
    )
