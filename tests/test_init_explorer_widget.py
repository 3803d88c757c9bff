"""The initialisation explorer (chapter 5): real measurements in its payload, and its JavaScript.

The Python side measures per-layer activation and gradient statistics by real forward and
backward passes; they are checked here against a direct computation and against what the
chapter teaches (He keeps a ReLU stack level, a tiny init collapses it). The JavaScript's
pure functions run in Node when it is installed, and the widget is rendered in headless
Chromium from a bare page that stands in for the widget manager, at phone and desktop width.
"""

import json
import pathlib
import re
import shutil
import subprocess

import pytest
import torch

from tests.browser import widget_alone
from utils.widgets import init_explorer
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.init_explorer import (
    InitExplorer,
    histogram,
    init_explorer_data,
    init_stack,
    layer_statistics,
)

JS = pathlib.Path(init_explorer.__file__).with_name("init_explorer.js")


def _batch(n=128, features=40, classes=5, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, features, generator=generator), torch.randint(0, classes, (n,), generator=generator)


@pytest.fixture(scope="module")
def payload():
    x, y = _batch()
    return init_explorer_data(x, y, depths=(5, 10, 20), width=64, dataset="random")


def test_stack_shape_init_and_seed():
    stack = init_stack(40, depth=3, width=256, activation="relu", init="he", seed=2)
    linears = [m for m in stack if isinstance(m, torch.nn.Linear)]
    assert [tuple(m.weight.shape) for m in linears] == [(256, 40), (256, 256), (256, 256)]
    assert sum(isinstance(m, torch.nn.ReLU) for m in stack) == 3
    assert all(torch.all(m.bias == 0) for m in linears)
    assert linears[1].weight.std().item() == pytest.approx((2 / 256) ** 0.5, rel=0.05)
    xavier = init_stack(40, depth=2, width=256, activation="tanh", init="xavier")
    assert xavier[2].weight.std().item() == pytest.approx((2 / 512) ** 0.5, rel=0.05)
    again = init_stack(40, depth=3, width=256, activation="relu", init="he", seed=2)
    assert all(
        torch.equal(a, b)
        for a, b in zip(stack.state_dict().values(), again.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"activation": "sigmoid"}, "unknown activation"),
        ({"init": "orthogonal"}, "unknown initialisation"),
        ({"depth": 0}, "depth must be"),
    ],
)
def test_stack_refuses_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        init_stack(4, **({"depth": 3, "width": 8, "activation": "relu", "init": "he"} | kwargs))


def test_statistics_are_those_of_a_real_pass():
    x, y = _batch(n=32, features=6, classes=3)
    stats = layer_statistics(x, y, activation="tanh", init="xavier", depth=3, width=5, seed=1)
    stack = init_stack(6, depth=3, width=5, activation="tanh", init="xavier", seed=1)
    h, outputs = x, []
    for module in stack:
        h = module(h)
        if isinstance(module, torch.nn.Tanh):
            outputs.append(h)
    assert stats["act_std"] == pytest.approx([o.std().item() for o in outputs], rel=1e-6)
    assert len(stats["grad_std"]) == 3 and all(g > 0 for g in stats["grad_std"])


def test_histogram_counts_everything_once():
    shares = histogram(torch.tensor([-5.0, -1.0, 0.0, 0.5, 1.0, 9.0]), limit=2.0)
    assert len(shares) == init_explorer.HISTOGRAM_BINS + 2
    assert shares[0] == round(1000 / 6) and shares[-1] == round(1000 / 6)  # -5 and 9 lie beyond
    assert sum(shares) == pytest.approx(1000, abs=3)


def test_payload_structure(payload):
    assert [a for a, _ in payload["activations"]] == ["tanh", "relu", "gelu"]
    assert [i for i, _ in payload["inits"]] == ["small", "lecun", "xavier", "he"]
    assert payload["start"] == ["tanh", "xavier"] and payload["batch"] == 128
    assert payload["depths"] == [5, 10, 20] and payload["depth"] == 20
    assert len(payload["settings"]) == 12
    for key, setting in payload["settings"].items():
        assert set(setting["shallower"]) == {"5", "10"}, key
        stacks = [(20, setting)] + [(int(d), grads) for d, grads in setting["shallower"].items()]
        for depth, stack in stacks:
            for q in ("act", "grad") if depth == 20 else ("grad",):
                assert len(stack[f"{q}_std"]) == depth, key
                assert len(stack[f"{q}_hist"]) == depth and all(
                    len(h) == payload["bins"] + 2 for h in stack[f"{q}_hist"]
                ), key
                assert stack[f"{q}_limit"] > 0, key
    assert json.loads(json.dumps(payload)) == payload
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES


def test_payload_shows_what_the_chapter_teaches(payload):
    he = payload["settings"]["relu|he"]["act_std"]
    assert 0.2 < he[-1] / he[0] < 5  # roughly level
    xavier = payload["settings"]["relu|xavier"]["act_std"]
    assert xavier[-1] / xavier[0] < 0.01  # halves in variance at every layer
    small = payload["settings"]["tanh|small"]["act_std"]
    assert small[-1] < 1e-10 * small[0]


@pytest.mark.parametrize("setting", ["relu|xavier", "tanh|small", "gelu|he"])
def test_shallower_stacks_are_measured_on_their_own(payload, setting):
    """A 5-layer stack's activations are the first 5 of the deepest stack's (the same weights), so
    the payload keeps them once; its gradients, measured on a fresh 5-layer stack, are kept apart."""
    activation, init = setting.split("|")
    fresh = layer_statistics(
        *_batch(), activation=activation, init=init, depth=5, width=64, with_histograms=True
    )
    rounded = init_explorer._rounded(fresh)
    deepest = payload["settings"][setting]
    assert rounded["act_std"] == deepest["act_std"][:5] and rounded["act_hist"] == deepest["act_hist"][:5]
    assert deepest["shallower"]["5"] == {k: v for k, v in rounded.items() if k.startswith("grad")}
    assert rounded["grad_std"][0] != deepest["grad_std"][0]  # layer 1 of 5 is not layer 1 of 20


def test_widget_refuses_a_foreign_payload_and_ships_the_prelude(payload):
    assert InitExplorer(payload).data == payload
    with pytest.raises(ValueError, match="missing"):
        InitExplorer({"settings": {}})
    with pytest.raises(ValueError, match="start="):
        init_explorer_data(*_batch(n=8, features=3, classes=2), activations=("relu",), depths=(2,), width=4)
    with pytest.raises(ValueError, match="at least one depth"):
        init_explorer_data(*_batch(n=8, features=3, classes=2), depths=(), width=4)
    assert "bookUI" in InitExplorer._esm and "export default" in InitExplorer._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source  # nothing fetched at runtime


NODE_SCRIPT = """
import * as w from "./init_explorer.mjs";
console.log(JSON.stringify({
  key: w.settingKey("relu", "he"),
  stack: w.stackAt({ act_std: [1, 2, 3], act_hist: [[1], [2], [3]], act_limit: 9, grad_std: [4, 5, 6],
    grad_hist: [[4], [5], [6]], grad_limit: 8, shallower: { 2: { grad_std: [7, 8], grad_hist: [[7], [8]],
    grad_limit: 0.5 } } }, 2, 3),
  ticks: [5, 10, 20, 50].map(w.layerTicks),
  fmt: [0, null, 0.5, 2.3e-7, 12345, 850].map(w.formatStd),
  range: w.decadeRange([0, 3e-7, 0.5, 2.0, null]),
  kinds: [w.describe([1, 0.9, 1.1], "x").kind, w.describe([1, 0.01], "x").kind,
          w.describe([1, 50], "x").kind, w.describe([1, 0], "x").kind, w.describe([1, null], "x").kind],
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_helpers(tmp_path):
    (tmp_path / "init_explorer.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    assert out["key"] == "relu|he"
    assert out["stack"] == {"act_std": [1, 2], "act_hist": [[1], [2]], "act_limit": 9,
                            "grad_std": [7, 8], "grad_hist": [[7], [8]], "grad_limit": 0.5}
    assert out["ticks"] == [[1, 2, 3, 4, 5], [1, 2, 4, 6, 8, 10], [1, 5, 10, 15, 20], [1, 10, 20, 30, 40, 50]]
    assert out["fmt"] == ["0", "inf/NaN", "0.50", "2.3e-7", "1.2e4", "8.5e2"]
    assert out["range"] == [-7, 1]
    assert out["kinds"] == ["stable", "shrinks", "grows", "underflow", "overflow"]


@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    """The widget alone, in a page that plays the widget manager's part (model.get)."""
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".dlb-init")
        assert root.bounding_box()["width"] <= width - 16 + 0.5  # no wider than the column
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        verdict = root.locator("div[data-kind]")
        assert root.get_by_role("button", name="tanh").get_attribute("aria-pressed") == "true"
        before = root.locator("canvas").first.evaluate("c => c.toDataURL()")
        root.get_by_role("button", name="ReLU").click()  # ReLU with Xavier: halves the variance per layer
        assert verdict.get_attribute("data-kind") == "shrinks"
        assert root.locator("canvas").first.evaluate("c => c.toDataURL()") != before
        before = root.locator("canvas").first.evaluate("c => c.toDataURL()")
        root.get_by_role("button", name="He (2/fan_in)").click()
        assert verdict.get_attribute("data-kind") == "stable"
        assert root.locator("canvas").first.evaluate("c => c.toDataURL()") != before
        root.get_by_role("button", name="small (std 0.01)").click()
        assert verdict.get_attribute("data-kind") in ("shrinks", "underflow")
        hist_before = root.locator("canvas").nth(1).evaluate("c => c.toDataURL()")
        root.locator("input[name=layer]").evaluate(
            "el => { el.value = 7; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        readout = root.locator(".readout")
        assert readout.get_attribute("data-layer") == "7"
        assert root.locator("canvas").nth(1).evaluate("c => c.toDataURL()") != hist_before
        root.get_by_role("button", name="gradients").click()
        std = float(readout.get_attribute("data-std"))
        assert std == pytest.approx(payload["settings"]["relu|small"]["grad_std"][6], rel=1e-9)
        watcher.assert_clean("init explorer widget")


def _shown_numbers(readout):
    """{layer: std} as the readout prints them ("layer 3: std 0.25  ·  layer 1: ...")."""
    pairs = re.findall(r"layer (\d+): (?:std )?(\S+)", readout.inner_text())
    return {int(layer): float(v) for layer, v in pairs}


@pytest.mark.parametrize("width", [360, 1280])
def test_depth_choice_redraws_with_that_depths_numbers(browser, tmp_path, payload, width):
    """Choosing a depth draws that stack: its own gradients, the deepest stack's first activations."""
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".dlb-init")
        slider, readout = root.locator("input[name=layer]"), root.locator(".readout")
        verdict = root.locator("div[data-kind]")
        depth_button = {d: root.get_by_role("button", name=str(d), exact=True) for d in payload["depths"]}
        assert depth_button[20].get_attribute("aria-pressed") == "true"  # the deepest stack first
        assert slider.get_attribute("max") == "20" and readout.get_attribute("data-depth") == "20"
        root.get_by_role("button", name="ReLU").click()  # with Xavier: the variance halves at every layer
        root.get_by_role("button", name="gradients").click()
        assert verdict.get_attribute("data-kind") == "grows"
        before = root.locator("canvas").evaluate_all("cs => cs.map(c => c.toDataURL())")

        depth_button[5].click()
        assert depth_button[5].get_attribute("aria-pressed") == "true"
        assert depth_button[20].get_attribute("aria-pressed") == "false"
        after = root.locator("canvas").evaluate_all("cs => cs.map(c => c.toDataURL())")
        assert after[0] != before[0] and after[1] != before[1]  # both the spreads and the histogram
        assert slider.get_attribute("max") == "5" and readout.get_attribute("data-depth") == "5"
        grads = payload["settings"]["relu|xavier"]["shallower"]["5"]["grad_std"]
        assert grads[0] != payload["settings"]["relu|xavier"]["grad_std"][0]
        assert float(readout.get_attribute("data-std")) == pytest.approx(grads[0], rel=1e-9)
        shown = _shown_numbers(readout)
        assert set(shown) == {1, 5}
        assert shown[1] == pytest.approx(grads[0], rel=0.06) and shown[5] == pytest.approx(grads[4], rel=0.06)
        assert verdict.get_attribute("data-kind") == "stable"  # five layers do not yet show the trend

        root.get_by_role("button", name="activations").click()
        slider.evaluate("el => { el.value = 4; el.dispatchEvent(new Event('input', {bubbles: true})); }")
        acts = payload["settings"]["relu|xavier"]["act_std"]
        assert float(readout.get_attribute("data-std")) == pytest.approx(acts[3], rel=1e-9)
        shown = _shown_numbers(readout)
        assert shown[4] == pytest.approx(acts[3], rel=0.06) and shown[5] == pytest.approx(acts[4], rel=0.06)

        depth_button[20].click()  # the layer stays where it was; the last layer is now 20
        assert slider.get_attribute("max") == "20" and readout.get_attribute("data-layer") == "4"
        assert _shown_numbers(readout)[20] == pytest.approx(acts[19], rel=0.06)
        assert verdict.get_attribute("data-kind") == "shrinks"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        watcher.assert_clean("init explorer widget, depth choice")
