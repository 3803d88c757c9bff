"""The fine-tuning explorer (chapter 12): its payload from measured runs, and its JavaScript.

The payload is built from a small set of stand-in runs (every number known), the JavaScript's
pure functions run in Node when it is installed, and the widget is rendered in headless
Chromium from a bare page at phone and desktop width: choosing a label count, a method and a
LoRA rank changes what it reports.
"""

import json
import pathlib
import shutil
import subprocess

import pytest

from tests.browser import widget_alone
from utils.widgets import finetune_explorer
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.finetune_explorer import FinetuneExplorer, finetune_explorer_data

JS = pathlib.Path(finetune_explorer.__file__).with_name("finetune_explorer.js")
LABELS = [10, 50, 250]
METHODS = {
    "scratch": "from scratch",
    "head": "head only",
    "full": "full fine-tuning",
    "lora1": "LoRA r=1",
    "lora4": "LoRA r=4",
    "lora16": "LoRA r=16",
}


def _runs():
    runs = {}
    for m, key in enumerate(METHODS):
        for i, n in enumerate(LABELS):
            runs[key, n] = {
                "acc": 0.5 + 0.05 * m + 0.1 * i,
                "trainable": 1000 * (m + 1),
                "seconds": 0.1 * (i + 1),
                "old_acc": None if key == "scratch" else 0.9 - 0.1 * i,
            }
    return runs


@pytest.fixture(scope="module")
def payload():
    return finetune_explorer_data(_runs(), METHODS, LABELS, 0.93)


def test_payload_holds_every_run_in_order(payload):
    assert payload["labels"] == LABELS
    assert [m["key"] for m in payload["methods"]] == list(METHODS)
    full = payload["methods"][2]
    assert full["acc"] == [0.6, 0.7, 0.8] and full["trainable"] == 3000
    assert payload["methods"][0]["old"] == [None, None, None]
    assert payload["base_old"] == 0.93
    assert json.loads(json.dumps(payload)) == payload
    assert FinetuneExplorer(payload).data == payload


def test_payload_from_many_runs_stays_small():
    methods = {f"lora{r}": f"LoRA r={r}" for r in (1, 2, 4, 8, 16, 32)} | dict(METHODS)
    runs = {
        (k, n): {"acc": 0.123456789, "trainable": 12345, "seconds": 1.23456, "old_acc": 0.5}
        for k in methods
        for n in (10, 50, 250, 1000)
    }
    payload = finetune_explorer_data(runs, methods, [10, 50, 250, 1000], 0.9)
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES // 20
    assert "bookUI" in FinetuneExplorer._esm and "export default" in FinetuneExplorer._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source.replace('"http://www.w3.org/2000/svg"', "") and "https://" not in source


NODE_SCRIPT = """
import * as w from "./finetune_explorer.mjs";
console.log(JSON.stringify({
  ranks: w.loraRanks([{key: "lora16"}, {key: "full"}, {key: "lora1"}, {key: "lora4"}]),
  key: [w.methodKey("lora", 8), w.methodKey("head", 8)],
  counts: [w.formatCount(1234), w.formatCount(2500000)],
  acc: [w.formatAcc(0.9234), w.formatAcc(null)],
  change: [w.formatChange(0.8, 0.9), w.formatChange(0.95, 0.9), w.formatChange(null, 0.9)],
  floor: [w.barFloor([0.83, 0.95, null]), w.barFloor([0.05, 0.5]), w.barFloor([null]), w.barFloor([0.9])],
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_helpers(tmp_path):
    (tmp_path / "finetune_explorer.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    assert out["ranks"] == [1, 4, 16]
    assert out["key"] == ["lora8", "head"]
    assert out["counts"] == ["1,234", "2.50 M"]
    assert out["acc"] == ["92.3%", "\u2013"]
    assert out["change"][0] == "\u221210.0 pts" and out["change"][1] == "+5.0 pts"
    assert "scratch" in out["change"][2]
    assert out["floor"] == pytest.approx([0.7, 0, 0, 0.8])


@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".dlb-finetune")
        assert root.bounding_box()["width"] <= width - 16 + 0.5
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        readout = root.locator(".readout")
        assert readout.get_attribute("data-method") == "full"
        root.locator("button[data-group=labels][data-key='2']").click()
        assert readout.get_attribute("data-labels") == "250"
        assert float(readout.get_attribute("data-acc")) == pytest.approx(0.8)
        root.locator("button[data-group=family][data-key=head]").click()
        assert readout.get_attribute("data-method") == "head"
        assert "Old classes" in readout.inner_text()
        root.locator("input[name=rank]").evaluate(
            "el => { el.value = 2; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        assert readout.get_attribute("data-method") == "lora16"
        assert readout.get_attribute("data-trainable") == "6000"
        assert root.locator("svg rect").count() >= 2 * len(METHODS)
        watcher.assert_clean("fine-tuning explorer widget")
