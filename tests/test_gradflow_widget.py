"""The gradient-flow explorer (chapter 4): real measurements in its payload, and its JavaScript.

The Python side measures per-layer gradient norms by real backward passes; those are
checked here against what the chapter teaches (sigmoid gradients vanish towards the
input, ReLU with He init keeps them level, a too-large init explodes). The JavaScript's
pure functions run in Node when it is installed, and the widget itself is rendered in
headless Chromium from a bare page that stands in for the widget manager.
"""

import json
import pathlib
import shutil
import subprocess

import pytest
import torch

from tests.browser import widget_alone
from utils.widgets import gradflow
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.gradflow import GradientFlowExplorer, deep_mlp, gradient_flow_data, layer_gradient_norms

JS = pathlib.Path(gradflow.__file__).with_name("gradflow.js")


def _batch(n=256, features=100, classes=10, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, features, generator=generator), torch.randint(0, classes, (n,), generator=generator)


@pytest.fixture(scope="module")
def payload():
    x, y = _batch()
    return gradient_flow_data(x, y, depths=(4, 10), width=64, start=("sigmoid", "xavier", 10),
                              dataset="random")


def test_deep_mlp_shape_init_and_seed():
    model = deep_mlp(100, 10, depth=5, width=32, activation="relu", init="he", seed=3)
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(32, 100), (32, 32), (32, 32), (32, 32), (10, 32)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in model) == 4  # no activation after the last layer
    assert all(torch.all(m.bias == 0) for m in linears)
    he_std = (2 / 32) ** 0.5  # He: std sqrt(2 / fan_in)
    assert linears[1].weight.std().item() == pytest.approx(he_std, rel=0.15)
    small = deep_mlp(100, 10, depth=3, width=32, activation="tanh", init="small")
    assert small[2].weight.std().item() == pytest.approx(gradflow.SMALL_STD, rel=0.15)
    again = deep_mlp(100, 10, depth=5, width=32, activation="relu", init="he", seed=3)
    pairs = zip(model.state_dict().values(), again.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_deep_mlp_leaves_the_global_random_stream_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    deep_mlp(10, 2, depth=3, width=8, activation="tanh", init="xavier", seed=7)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("kwargs, message", [
    ({"activation": "gelu"}, "unknown activation"),
    ({"init": "zeros"}, "unknown initialisation"),
    ({"depth": 1}, "depth must be"),
])
def test_deep_mlp_refuses_bad_settings(kwargs, message):
    settings = {"n_in": 4, "n_out": 2, "depth": 3, "width": 8, "activation": "relu", "init": "he"} | kwargs
    with pytest.raises(ValueError, match=message):
        deep_mlp(**settings)


def test_norms_are_those_of_a_real_backward_pass():
    x, y = _batch(n=32, features=6, classes=3)
    model = deep_mlp(6, 3, depth=3, width=5, activation="tanh", init="xavier", seed=1)
    norms = layer_gradient_norms(model, x, y)
    model.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    expected = [model[i].weight.grad.norm().item() for i in (0, 2, 4)]
    assert norms == pytest.approx(expected, rel=1e-6)


def test_payload_structure(payload):
    assert [a for a, _ in payload["activations"]] == ["sigmoid", "tanh", "relu"]
    assert [i for i, _ in payload["inits"]] == ["small", "xavier", "he", "large"]
    assert payload["depths"] == [4, 10]
    assert payload["start"] == ["sigmoid", "xavier", 10]
    assert payload["batch"] == 256 and payload["width"] == 64 and payload["dataset"] == "random"
    assert len(payload["norms"]) == 3 * 4 * 2
    for key, norms in payload["norms"].items():
        depth = int(key.split("|")[2])
        assert len(norms) == depth, key
        assert all(v is None or (isinstance(v, float) and v >= 0) for v in norms), key
    assert json.loads(json.dumps(payload)) == payload
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES


def test_payload_shows_what_the_chapter_teaches(payload):
    sigmoid = payload["norms"]["sigmoid|xavier|10"]
    assert sigmoid[0] / sigmoid[-1] < 1e-2  # vanishing towards the input
    relu_he = payload["norms"]["relu|he|10"]
    assert 1e-2 < relu_he[0] / relu_he[-1] < 1e2  # roughly level
    assert max(payload["norms"]["relu|large|10"]) > 100  # too large an init explodes
    assert max(payload["norms"]["relu|small|10"]) < 1e-4  # too small: the signal dies on the way


def test_payload_is_reproducible():
    x, y = _batch(n=64, features=20, classes=4)
    settings = {"activations": ("tanh",), "inits": ("xavier",), "depths": (3, 5),
                "start": ("tanh", "xavier", 3)}
    assert gradient_flow_data(x, y, **settings) == gradient_flow_data(x, y, **settings)


@pytest.mark.parametrize("kwargs, message", [
    ({"depths": (1, 5)}, "depths must be"),
    ({"depths": (5, 5)}, "depths must be"),
    ({"activations": ("swish",)}, "unknown activation"),
    ({"inits": ("orthogonal",)}, "unknown initialisation"),
    ({"start": ("relu", "he", 7)}, "start="),
])
def test_payload_refuses_bad_settings(kwargs, message):
    x, y = _batch(n=16, features=4, classes=2)
    with pytest.raises(ValueError, match=message):
        gradient_flow_data(x, y, **kwargs)


def test_widget_carries_payload_and_script(payload):
    widget = GradientFlowExplorer(payload)
    assert widget.data == payload
    with pytest.raises(ValueError, match="missing"):
        GradientFlowExplorer({"norms": {}})
    source = JS.read_text(encoding="utf-8")
    assert "export default" in source and "render" in source
    assert "http://" not in source and "https://" not in source  # nothing fetched at runtime


NODE_SCRIPT = """
import * as g from "./gradflow.mjs";
const out = {
  key: g.settingKey("relu", "he", 10),
  fmt: [g.formatNorm(0), g.formatNorm(null), g.formatNorm(0.000123), g.formatNorm(4.5e7)],
  range: g.decadeRange([0, 3e-7, 0.5, 2.0, null]),
  flat: g.decadeRange([1.0, 1.0]),
  ticks: g.decadeTicks(-21, 7),
  fewTicks: g.decadeTicks(-3, 1),
  kinds: [
    g.describe([1e-6, 1e-3, 0.5]).kind,
    g.describe([0.8, 1.1, 0.9]).kind,
    g.describe([300, 500, 700]).kind,
    g.describe([0, 0, 1e-5, 0.1]).kind,
    g.describe([null, 1, 1]).kind,
    g.describe([1e-11, 1e-11, 1e-11]).kind,
    g.describe([5, 1e-3, 1e-3]).kind,
  ],
};
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_helpers(tmp_path):
    (tmp_path / "gradflow.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    result = subprocess.run(["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            check=True)
    out = json.loads(result.stdout)
    assert out["key"] == "relu|he|10"
    assert out["fmt"] == ["0", "inf/NaN", "1.2e-4", "4.5e7"]
    assert out["range"] == [-7, 1]
    assert out["flat"] == [-1, 1]
    assert out["ticks"][0] >= -21 and out["ticks"][-1] <= 7 and 0 in out["ticks"] and len(out["ticks"]) <= 9
    assert out["fewTicks"] == [-3, -2, -1, 0, 1]
    assert out["kinds"] == ["vanishing", "healthy", "exploding", "underflow", "overflow", "tiny", "exploding"]



def test_widget_renders_and_responds_in_chromium(browser, tmp_path, payload):
    """The widget alone, in a page that plays the widget manager's part (model.get)."""
    with widget_alone(browser, tmp_path, JS, payload, 900, height=700) as (page, watcher):
        verdict = page.locator(".dlb-gradflow div[data-kind]")
        assert verdict.get_attribute("data-kind") == "vanishing"  # sigmoid, Xavier, 10 layers
        before = page.evaluate("document.querySelector('.dlb-gradflow canvas').toDataURL()")
        page.get_by_role("button", name="ReLU").click()
        page.get_by_role("button", name="He/Kaiming normal").click()
        assert verdict.get_attribute("data-kind") == "healthy"
        he_button = page.get_by_role("button", name="He/Kaiming normal")
        assert he_button.get_attribute("aria-pressed") == "true"
        after = page.evaluate("document.querySelector('.dlb-gradflow canvas').toDataURL()")
        assert after != before  # the bars were redrawn
        page.get_by_role("button", name="large normal (std 0.3)").click()
        assert verdict.get_attribute("data-kind") == "exploding"
        page.get_by_role("button", name="4", exact=True).click()
        assert "last layer (4)" in page.locator(".dlb-gradflow").inner_text()
        canvas = page.locator(".dlb-gradflow canvas")
        box = canvas.bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.95, box["y"] + box["height"] / 2)
        assert "layer 4:" in page.locator(".dlb-gradflow").inner_text()  # hovering the last bar
        watcher.assert_clean("gradflow widget")
