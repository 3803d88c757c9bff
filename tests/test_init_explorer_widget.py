"""The initialisation explorer (chapter 5): real measurements in its payload, and its JavaScript.

The Python side measures per-layer activation and gradient statistics by real forward and
backward passes; they are checked here against a direct computation and against what the
chapter teaches (He keeps a ReLU stack level, a tiny init collapses it). The JavaScript's
pure functions run in Node when it is installed, and the widget is rendered in headless
Chromium from a bare page that stands in for the widget manager, at phone and desktop width.
"""

import json
import pathlib
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
    return init_explorer_data(x, y, depth=20, width=64, dataset="random")


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
    assert payload["start"] == ["tanh", "xavier"] and payload["depth"] == 20 and payload["batch"] == 128
    assert len(payload["settings"]) == 12
    for key, setting in payload["settings"].items():
        for q in ("act", "grad"):
            assert len(setting[f"{q}_std"]) == 20, key
            assert len(setting[f"{q}_hist"]) == 20 and all(
                len(h) == payload["bins"] + 2 for h in setting[f"{q}_hist"]
            ), key
            assert setting[f"{q}_limit"] > 0, key
    assert json.loads(json.dumps(payload)) == payload
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES


def test_payload_shows_what_the_chapter_teaches(payload):
    he = payload["settings"]["relu|he"]["act_std"]
    assert 0.2 < he[-1] / he[0] < 5  # roughly level
    xavier = payload["settings"]["relu|xavier"]["act_std"]
    assert xavier[-1] / xavier[0] < 0.01  # halves in variance at every layer
    small = payload["settings"]["tanh|small"]["act_std"]
    assert small[-1] < 1e-10 * small[0]


def test_widget_refuses_a_foreign_payload_and_ships_the_prelude(payload):
    assert InitExplorer(payload).data == payload
    with pytest.raises(ValueError, match="missing"):
        InitExplorer({"settings": {}})
    with pytest.raises(ValueError, match="start="):
        init_explorer_data(*_batch(n=8, features=3, classes=2), activations=("relu",), depth=2, width=4)
    assert "bookUI" in InitExplorer._esm and "export default" in InitExplorer._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source  # nothing fetched at runtime


NODE_SCRIPT = """
import * as w from "./init_explorer.mjs";
console.log(JSON.stringify({
  key: w.settingKey("relu", "he"),
  fmt: [w.formatStd(0), w.formatStd(null), w.formatStd(0.5), w.formatStd(2.3e-7), w.formatStd(12345)],
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
    assert out["fmt"] == ["0", "inf/NaN", "0.50", "2.3e-7", "1.2e4"]
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
