"""The activation, learning-rate schedule and attention widgets, without a browser.

Python side: the payloads, and clear errors for bad input. JavaScript side: the maths
in activations.js and lr_schedules.js runs in Node (when installed) and must agree with
PyTorch. tests/test_widgets_browser.py checks the drawn widgets on the built site, and
tools/vendor_widget_js.py is checked here on a fake node_modules.
"""

import json
import math
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.optim import lr_scheduler

from tools import vendor_widget_js
from utils.widgets import activations, attention
from utils.widgets.activations import ActivationExplorer, activation_data
from utils.widgets.attention import AttentionViewer, attention_data
from utils.widgets.base import PRELUDE, BookWidget, widget_module
from utils.widgets.gradflow import GradientFlowExplorer
from utils.widgets.losses import LossExplorer
from utils.widgets.lr_schedules import SCHEDULES, LRScheduleExplorer, schedule_data
from utils.widgets.perceptron import PerceptronPlayground

ROOT = pathlib.Path(__file__).resolve().parent.parent
WIDGETS = pathlib.Path(activations.__file__).parent
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


# ---- activation explorer ----

def test_activation_payload():
    data = ActivationExplorer(show=["gelu", "silu"], beta=2.0).data
    assert data == activation_data(["gelu", "silu"], beta=2.0)
    assert [name for name, _ in data["functions"]] == list(activations.FUNCTIONS)
    assert data["show"] == ["gelu", "silu"] and data["x_range"] == [-5.0, 5.0] and data["x"] == -1.0
    assert data["params"]["beta"][3] == 2.0 and data["params"]["alpha"][3] == 1.0  # nn.ELU's default
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("kwargs, message", [
    ({"show": ["relu", "swish2"]}, r"unknown activation\(s\) \['swish2'\]"),
    ({"show": []}, "unknown activation"),
    ({"x_range": (2, 1)}, "low < high"),
    ({"x_range": (-math.inf, 1)}, "finite"),
    ({"x": 7.0}, "inside x_range"),
    ({"beta": 9.0}, r"beta=9.0 is outside its slider range \[0.1, 5.0\]"),
    ({"gamma": 1.0}, r"unknown parameter\(s\) \['gamma'\]"),
])
def test_activation_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        activation_data(**kwargs)


# ---- learning-rate schedule explorer ----

def test_schedule_payload():
    data = LRScheduleExplorer("step", gamma=0.5, total_steps=200).data
    assert data["schedule"] == "step" and data["step"] == 50  # a quarter of the way by default
    assert data["schedules"]["step"]["params"]["gamma"] == [0.05, 0.95, 0.05, 0.5]
    assert data["schedules"]["exponential"]["params"]["gamma"][3] == 0.97  # other schedules keep defaults
    assert data["common"]["total_steps"][3] == 200
    assert list(data["schedules"]) == list(SCHEDULES)
    assert json.loads(json.dumps(data)) == data


@pytest.mark.parametrize("args, kwargs, message", [
    (("cosine_restarts",), {}, r"unknown schedule 'cosine_restarts'; choose from \['step'"),
    (("step",), {"pct_start": 0.3}, r"schedule 'step' has no parameter\(s\) \['pct_start'\]"),
    (("onecycle",), {"pct_start": 0.99}, "pct_start=0.99 is outside its slider range"),
    (("cosine",), {"lr": 5.0}, "lr=5.0 is outside"),
    (("cosine",), {"step": 100}, r"step must be an integer in \[0, total_steps\)"),
    (("cosine",), {"step": 2.5}, "step must be an integer"),
    (("warmup_cosine",), {"warmup": 30, "total_steps": 30}, "warmup must be shorter than total_steps=30"),
])
def test_schedule_bad_input(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        schedule_data(*args, **kwargs)


def torch_lrs(name, p):
    """The learning rate each of p["total_steps"] optimizer steps uses, from PyTorch itself."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=p["lr"], momentum=0.9)
    total = p["total_steps"]
    make = {
        "step": lambda: lr_scheduler.StepLR(opt, step_size=p["step_size"], gamma=p["gamma"]),
        "exponential": lambda: lr_scheduler.ExponentialLR(opt, gamma=p["gamma"]),
        "cosine": lambda: lr_scheduler.CosineAnnealingLR(opt, T_max=p["T_max"], eta_min=p["eta_min"]),
        "warm_restarts": lambda: lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=p["T_0"], T_mult=p["T_mult"], eta_min=p["eta_min"]),
        "warmup_cosine": lambda: lr_scheduler.SequentialLR(opt, [
            lr_scheduler.LinearLR(opt, start_factor=p["start_factor"], total_iters=p["warmup"]),
            lr_scheduler.CosineAnnealingLR(opt, T_max=total - p["warmup"], eta_min=p["eta_min"])],
            milestones=[p["warmup"]]),
        "onecycle": lambda: lr_scheduler.OneCycleLR(
            opt, max_lr=p["lr"], total_steps=total, pct_start=p["pct_start"], div_factor=p["div_factor"],
            final_div_factor=p["final_div_factor"]),
    }
    scheduler, lrs = make[name](), []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        scheduler.step()
    return lrs


def run_node(tmp_path, module, script, payload):
    """Run ``script`` (an ES module importing ./widget.mjs, a copy of ``module``) on a JSON payload."""
    (tmp_path / "widget.mjs").write_text(widget_module(WIDGETS / module), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(script, encoding="utf-8")
    result = subprocess.run(["node", "run.mjs", json.dumps(payload)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60, check=True)
    return json.loads(result.stdout)


SCHEDULE_CASES = [
    ("step", {"lr": 0.3, "total_steps": 200, "step_size": 17, "gamma": 0.5}),
    ("exponential", {"lr": 0.5, "total_steps": 300, "gamma": 0.97}),
    ("cosine", {"lr": 0.1, "total_steps": 250, "T_max": 100, "eta_min": 0.001}),  # runs past T_max
    ("warm_restarts", {"lr": 0.1, "total_steps": 300, "T_0": 20, "T_mult": 2, "eta_min": 0.0}),
    ("warm_restarts", {"lr": 0.3, "total_steps": 100, "T_0": 7, "T_mult": 1, "eta_min": 0.01}),
    ("warmup_cosine", {"lr": 0.1, "total_steps": 100, "warmup": 10, "start_factor": 0.01, "eta_min": 0.0}),
    ("warmup_cosine", {"lr": 0.7, "total_steps": 500, "warmup": 37, "start_factor": 0.25, "eta_min": 0.02}),
    ("onecycle", {"lr": 0.1, "total_steps": 100, "pct_start": 0.3, "div_factor": 25,
                  "final_div_factor": 1e4}),
    ("onecycle", {"lr": 0.9, "total_steps": 20, "pct_start": 0.1, "div_factor": 3, "final_div_factor": 10}),
]


@needs_node
def test_schedule_javascript_matches_torch(tmp_path):
    script = """import { SCHEDULES } from "./widget.mjs";
const cases = JSON.parse(process.argv[2]);
console.log(JSON.stringify(cases.map(([name, p]) =>
  Array.from({ length: p.total_steps }, (_, t) => SCHEDULES[name].lr(t, p)))));"""
    from_js = run_node(tmp_path, "lr_schedules.js", script, SCHEDULE_CASES)
    for (name, p), lrs in zip(SCHEDULE_CASES, from_js, strict=True):
        np.testing.assert_allclose(lrs, torch_lrs(name, p), rtol=0, atol=1e-12, err_msg=f"{name} {p}")
    assert {name for name, _ in SCHEDULE_CASES} == set(SCHEDULES)


# ---- the activation formulas, in Node, against PyTorch and autograd ----

ACTIVATION_CASES = {  # name -> (PyTorch function of a float64 tensor, the widget's parameters)
    "sigmoid": (torch.sigmoid, {}),
    "tanh": (torch.tanh, {}),
    "relu": (F.relu, {}),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), {"negative_slope": 0.2}),
    "elu": (lambda x: F.elu(x, 0.7), {"alpha": 0.7}),
    "gelu": (F.gelu, {}),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), {}),
    "silu": (lambda x: x * torch.sigmoid(2.5 * x), {"beta": 2.5}),
    "mish": (F.mish, {}),
    "softplus": (F.softplus, {}),
}


@needs_node
def test_activation_javascript_matches_torch(tmp_path):
    xs = [round(v, 3) for v in np.linspace(-7, 7, 281)]  # includes 0, where ReLU's kink is
    script = """import { FUNCTIONS, describe, erf } from "./widget.mjs";
const { xs, cases } = JSON.parse(process.argv[2]);
const out = { erf: xs.map(erf) };
for (const [name, p] of Object.entries(cases)) {
  const fn = FUNCTIONS[name];
  out[name] = { f: xs.map((x) => fn.f(x, p)), df: xs.map((x) => fn.df(x, p)), min: describe(fn, p) };
}
console.log(JSON.stringify(out));"""
    out = run_node(tmp_path, "activations.js", script,
                   {"xs": xs, "cases": {name: p for name, (_, p) in ACTIVATION_CASES.items()}})
    np.testing.assert_allclose(out["erf"], [math.erf(x) for x in xs], rtol=0, atol=1e-15)
    assert set(ACTIVATION_CASES) == set(activations.FUNCTIONS)
    grid = torch.linspace(-4, 0, 400_001, dtype=torch.float64)
    for name, (fn, _) in ACTIVATION_CASES.items():
        x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
        y = fn(x)
        y.sum().backward()
        np.testing.assert_allclose(out[name]["f"], y.detach().numpy(), rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(out[name]["df"], x.grad.numpy(), rtol=0, atol=1e-12, err_msg=name)
        found = out[name]["min"]
        if "x" in found:  # the functions that dip below zero: the minimum against a fine grid
            values = fn(grid)
            assert found["y"] == pytest.approx(values.min().item(), abs=1e-9), name
            assert found["x"] == pytest.approx(grid[values.argmin()].item(), abs=1e-4), name
    assert round(out["gelu"]["min"]["y"], 3) == -0.170 and round(out["gelu"]["min"]["x"], 2) == -0.75
    beta = ACTIVATION_CASES["silu"][1]["beta"]
    assert round(beta * out["silu"]["min"]["y"], 3) == -0.278  # Swish's minimum is SiLU's divided by beta


# ---- attention viewer ----

def test_attention_payload_from_tensor_array_and_lists():
    weights = torch.softmax(torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0)), dim=-1)
    data = AttentionViewer(list("abcd"), weights, title="toy").data
    assert data["tokens"] == ["a", "b", "c", "d"] and data["title"] == "toy" and data["causal"] is False
    assert np.array(data["weights"]).shape == (2, 3, 4, 4)  # not causal: every row complete
    flat = [w for layer in data["weights"] for head in layer for row in head for w in row]
    assert all(type(w) is int for w in flat)  # thousandths, as short integers
    np.testing.assert_allclose(attention.decode_weights(data), weights.numpy(), atol=0.5 / attention.SCALE)
    untitled = data | {"title": ""}
    assert attention_data("abcd", weights.numpy()) == attention_data("abcd", weights.tolist()) == untitled
    assert attention_data([1, 2], [[[[1, 0], [0.5, 0.5]]]])["tokens"] == ["1", "2"]  # tokens shown as text


def test_attention_payload_of_a_grad_tensor():
    scores = torch.randn(1, 1, 3, 3, requires_grad=True)
    assert len(attention_data("xyz", scores.softmax(-1))["weights"][0][0]) == 3


def test_causal_maps_send_only_the_visible_triangle():
    future = torch.ones(5, 5, dtype=torch.bool).triu(1)
    scores = torch.randn(2, 2, 5, 5, generator=torch.Generator().manual_seed(1))
    weights = scores.masked_fill(future, float("-inf")).softmax(-1)
    data = attention_data("abcde", weights)
    assert data["causal"] is True  # detected: nothing above the diagonal
    assert [len(row) for row in data["weights"][1][0]] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(attention.decode_weights(data), weights.numpy(), atol=0.5 / attention.SCALE)
    assert attention_data("abcde", weights, causal=False)["causal"] is False  # the caller may say otherwise
    with pytest.raises(ValueError, match="causal=True but some weights above the diagonal"):
        attention_data("abcde", scores.softmax(-1), causal=True)


@pytest.mark.parametrize("tokens, weights, message", [
    ("ab", [[[[1, 0], [0.5, 0.5]], [[1, 0]]]], "attention is ragged"),
    ("ab", [[[1, 0], [0.5, 0.5]]], r"4 dimensions \[layers, heads, T, T\]; got shape \(1, 2, 2\)"),
    ("abc", [[[[1, 0], [0.5, 0.5]]]], "there are 3 tokens: the last two dimensions must both be 3"),
    ("ab", np.zeros((1, 1, 2, 3)), "must both be 2"),
    ("ab", [[[[1.5, -0.5], [0.5, 0.5]]]], "non-negative"),
    ("ab", [[[[1, 0], [0.5, np.nan]]]], "finite"),
    ("ab", [[[[1, 0], [0.2, 0.5]]]], "layer 0, head 0, row 1 sums to 0.7000"),
])
def test_attention_bad_input(tokens, weights, message):
    with pytest.raises(ValueError, match=message):
        attention_data(tokens, weights)


def test_attention_start_map_must_exist():
    weights = np.full((2, 3, 2, 2), 0.5)
    assert attention_data("ab", weights, layer=1, head=2)["head"] == 2
    with pytest.raises(ValueError, match="there are 2 layers and 3 heads"):
        attention_data("ab", weights, head=3)


def _small_gpt():
    from utils.models.char_gpt import CharGPT

    torch.manual_seed(3)
    model = CharGPT(context=16, width=24, layers=2, heads=3)
    with torch.no_grad():  # larger weights than the init's, so the maps are far from uniform
        for block in model.blocks:
            block.attention.qkv.weight.normal_(0, 0.5)
    return model


def test_attention_maps_of_a_gpt_recomputed_independently():
    """Layer 1's maps, from the embeddings by slicing q and k per head by hand; the model left as it was."""
    model = _small_gpt().train()
    ids = torch.tensor([72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100])
    maps = attention.attention_maps(model, ids)
    assert maps.shape == (2, 3, 11, 11) and model.training  # its mode is restored
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 3, 11))
    assert torch.all(maps[..., torch.ones(11, 11, dtype=torch.bool).triu(1)] == 0)  # causal
    with torch.no_grad():
        h = model.blocks[0].norm1(model.token(ids) + model.position(torch.arange(11)))
        qkv = model.blocks[0].attention.qkv(h)  # [T, 3 * 24]: q | k | v, each 3 heads of 8 features
        for head in range(3):
            q, k = qkv[:, 8 * head:8 * head + 8], qkv[:, 24 + 8 * head:24 + 8 * head + 8]
            future = torch.ones(11, 11, dtype=torch.bool).triu(1)
            scores = (q @ k.T / math.sqrt(8)).masked_fill(future, -math.inf)
            torch.testing.assert_close(maps[0, head], scores.softmax(-1))
    assert not any(m._forward_pre_hooks for m in model.modules())  # the hooks are gone
    with pytest.raises(ValueError, match="no attention module"):
        attention.attention_maps(torch.nn.Linear(3, 3), ids)


def test_viewer_from_a_model_labels_bytes_and_stays_small():
    model = _small_gpt()
    viewer = AttentionViewer.from_model(model, "a b\nc")
    assert viewer.data["tokens"] == ["a", "␣", "b", "↵", "c"] and viewer.data["causal"] is True
    assert attention.byte_tokens("é!") == ["é", "", "!"]  # a two-byte character labels its first byte
    with pytest.raises(ValueError, match="reads at most 16"):
        AttentionViewer.from_model(model, "x" * 17)
    from utils.models.char_gpt import CharGPT

    big = CharGPT(context=64, width=128, layers=4, heads=4)  # the book model's size, full context
    payload = AttentionViewer.from_model(big, "The objects returned by dict.keys() and dict.values() a").data
    assert len(json.dumps(payload)) < 120_000


@needs_node
def test_attention_js_decodes_like_python(tmp_path):
    scores = torch.randn(2, 2, 6, 6, generator=torch.Generator().manual_seed(4))
    weights = scores.masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf")).softmax(-1)
    payloads = [attention_data("abcdef", weights), attention_data("abcdef", scores.softmax(-1))]
    (tmp_path / "attention.mjs").write_text(widget_module(WIDGETS / "attention.js"), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(
        'import { decode } from "./attention.mjs";\n'
        f"console.log(JSON.stringify({json.dumps(payloads)}.map(decode)));\n", encoding="utf-8")
    out = subprocess.run(["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                         check=True)
    for decoded, payload in zip(json.loads(out.stdout), payloads, strict=True):
        np.testing.assert_allclose(decoded, attention.decode_weights(payload), atol=1e-12)


def test_widget_scripts_are_self_contained():
    """Each widget's JavaScript imports nothing and fetches nothing: it must run from a page's state."""
    scripts = sorted(set((ROOT / "utils" / "widgets").glob("*.js")) - {PRELUDE})
    assert len(scripts) >= 6, scripts  # every widget of the book, not only the three above
    for script in scripts:
        source = widget_module(script)
        assert "export default" in source and "render" in source, script.name
        assert "import " not in source and "fetch(" not in source, script.name
        urls = source.replace('"http://www.w3.org/2000/svg"', "")  # an SVG namespace name, never fetched
        assert "https://" not in urls and "http://" not in urls, script.name


# ---- vendoring the widget JavaScript ----

def test_no_static_folder_in_the_book_source():
    """Jupyter Book adds every .js under every html_static_path to every page once _static/ exists."""
    assert not (ROOT / "_static").exists(), ("a _static/ folder at the book root makes Jupyter Book put "
                                             "every vendored .js of _widget_js/ into every page")


def test_vendor_needs_node_modules(tmp_path):
    with pytest.raises(SystemExit, match="run `npm ci`"):
        vendor_widget_js.vendor(tmp_path / "node_modules", tmp_path / "out")


def test_vendor_copies_files_and_writes_local_paths(tmp_path):
    node_modules = tmp_path / "node_modules"
    for src in vendor_widget_js.COPIES.values():
        path = node_modules / src
        if path.suffix == ".js":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("// js\n")
        else:
            (path / "inner").mkdir(parents=True)
            (path / "inner" / "part.js").write_text("// part\n")
    (node_modules / "@jupyter-widgets/html-manager/dist/abc.woff2").write_bytes(b"font")
    (node_modules / "@jupyter-widgets/html-manager/dist/old.svg").write_bytes(b"<svg/>")  # old browsers only
    out = tmp_path / "_widget_js"
    count = vendor_widget_js.vendor(node_modules, out)
    assert (out / "widgets/require.js").is_file() and (out / "mathjax/tex-chtml.js").is_file()
    assert (out / "widgets/abc.woff2").read_bytes() == b"font" and not (out / "widgets/old.svg").exists()
    assert (out / "mathjax/sre/inner/part.js").is_file()
    local = (out / "widgets/local-paths.js").read_text()
    assert 'anywidget: here + "anywidget/index"' in local and "http" not in local
    assert count == sum(1 for p in out.rglob("*") if p.is_file())


# ---- the shared prelude ----

def test_every_widget_ships_the_shared_prelude_once():
    """BookWidget puts prelude.js (bookUI: DOM and axis helpers, palette, responsive card) in front
    of each widget's module, and no widget keeps its own copy of those helpers."""
    prelude = PRELUDE.read_text(encoding="utf-8")
    widgets = [ActivationExplorer, AttentionViewer, LRScheduleExplorer, LossExplorer, PerceptronPlayground,
               GradientFlowExplorer]
    for cls in widgets:
        assert issubclass(cls, BookWidget)
        assert cls._esm.startswith(prelude) and cls._esm.count("const bookUI =") == 1, cls.__name__
        own = cls._esm[len(prelude):]
        assert "bookUI" in own, f"{cls.__name__} does not use the shared prelude"
        for helper in ("function el(", "function element(", "function svgEl(", "function ticks(",
                       "devicePixelRatio", "document.createElement("):
            assert helper not in own, f"{cls.__name__} keeps its own copy of {helper!r}"
