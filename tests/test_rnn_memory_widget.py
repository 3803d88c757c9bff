"""The RNN memory explorer (chapter 10): real gradients in its payload, and its JavaScript.

The saliency matrix is checked against one backward pass per position (the payload computes all
positions in one batched pass); the payload's structure and size are checked for the chapter's
sizes. The JavaScript's pure functions run in Node when it is installed, and the widget is rendered
in headless Chromium from a bare page that stands in for the widget manager, at phone and desktop
width.
"""

import json
import pathlib
import shutil
import subprocess

import pytest
import torch
from torch import nn

from tests.browser import widget_alone
from utils.widgets import rnn_memory
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.rnn_memory import RNNMemoryExplorer, relative_log_rows, rnn_memory_data, saliency_matrix

JS = pathlib.Path(rnn_memory.__file__).with_name("rnn_memory.js")
ALPHABET = "abcdefghij .,()\n"


class TinyLM(nn.Module):
    def __init__(self, kind, hidden=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.embed = nn.Embedding(len(ALPHABET), 4)
        self.rnn = getattr(nn, kind)(4, hidden, batch_first=True)
        self.head = nn.Linear(hidden, len(ALPHABET))

    def read(self, embedded, state=None):
        out, state = self.rnn(embedded, state)
        return self.head(out), state


def encode(text):
    return [ALPHABET.index(c) for c in text]


def test_saliency_is_the_gradient_of_each_prediction():
    model = TinyLM("LSTM")
    model.train()
    ids = torch.tensor(encode("abc de(f)g.hij"))
    matrix = saliency_matrix(model, ids)
    assert model.training  # the mode is restored
    T = len(ids) - 1
    assert matrix.shape == (T, T) and matrix.dtype == torch.float64
    model.eval()
    for t in (0, 5, T - 1):
        embedded = model.embed(ids[:-1].unsqueeze(0)).detach().requires_grad_()
        logits, _ = model.read(embedded)
        torch.log_softmax(logits[0, t].double(), -1)[ids[t + 1]].backward()
        want = embedded.grad[0].double().norm(dim=-1)
        assert torch.allclose(matrix[t], want, rtol=1e-4, atol=1e-9)
        assert torch.all(want[t + 1 :] == 0)  # the future has no influence
    assert torch.all(matrix.triu(1) == 0) and torch.all(matrix.diagonal() > 0)


def test_relative_rows_and_refusals():
    matrix = torch.tensor([[2.0, 0.0, 0.0], [1.0, 10.0, 0.0], [1e-9, 1e-1, 1.0]], dtype=torch.float64)
    rows = relative_log_rows(matrix)
    assert rows == [[0], [-100, 0], [-400, -100, 0]]  # hundredths of a decade, clipped at FLOOR
    with pytest.raises(ValueError, match="one sequence"):
        saliency_matrix(TinyLM("GRU"), torch.tensor([3]))
    with pytest.raises(ValueError, match="at least one"):
        rnn_memory_data([], {"RNN": TinyLM("RNN")}, encode)
    with pytest.raises(ValueError, match="missing"):
        RNNMemoryExplorer({"items": []})


@pytest.fixture(scope="module")
def payload():
    models = {kind: TinyLM(kind, seed=i) for i, kind in enumerate(("RNN", "LSTM", "GRU"))}
    texts = ["abc (def) ghij.\n" * 4 + "a", "j i h g f e d c b a . , ( ) ab" * 2 + "c"]
    return rnn_memory_data(texts, models, encode, title="test")


def test_payload_structure_and_size(payload):
    assert payload["models"] == ["RNN", "LSTM", "GRU"]
    for item in payload["items"]:
        T = len(item["text"]) - 1
        for name in payload["models"]:
            rows = item["maps"][name]
            assert [len(r) for r in rows] == list(range(1, T + 1))
            assert all(
                r[-1] <= 0 and max(r) == 0 and min(r) >= payload["floor"] * payload["scale"] for r in rows
            )
            assert len(item["profiles"][name]) == T and item["profiles"][name][0] <= 0
    assert json.loads(json.dumps(payload)) == payload
    # the chapter's size: 4 texts of 61 characters and 3 models
    chapter_size = 4 * 3 * sum(4 * n for n in range(1, 61)) * 1.3
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES and chapter_size < MAX_PAYLOAD_BYTES
    assert RNNMemoryExplorer(payload).data == payload
    assert "bookUI" in RNNMemoryExplorer._esm and "export default" in RNNMemoryExplorer._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source.replace("http://www.w3.org", "") and "https://" not in source


NODE_SCRIPT = """
import * as w from "./rnn_memory.mjs";
console.log(JSON.stringify({
  shade: [w.shade(0, -4), w.shade(-4, -4), w.shade(-9, -4), w.shade(-2, -4)],
  chars: [w.showChar(" "), w.showChar("\\n"), w.showChar("a")],
  reach: [w.reach([0, -50, -150, -250, -100], 100, -2), w.reach([0, -300], 100, -2)],
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_helpers(tmp_path):
    (tmp_path / "rnn_memory.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    assert out["shade"] == [
        "rgb(8, 48, 107)",
        "rgb(255, 255, 255)",
        "rgb(255, 255, 255)",
        "rgb(132, 152, 181)",
    ]
    assert out["chars"] == ["\u2423", "\u21b5", "a"]
    assert out["reach"] == [4, 0]


@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    """The widget alone, in a page that plays the widget manager's part (model.get)."""
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".bw-rnnmem")
        assert root.bounding_box()["width"] <= width - 16 + 0.5  # no wider than the column
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert root.locator("canvas").count() == 4  # three maps and the distance chart
        readout = root.locator(".readout")
        last = len(payload["items"][0]["text"]) - 2
        assert readout.get_attribute("data-t") == str(last)
        maps = "cs => cs.map(c => c.toDataURL()).join()"
        before = root.locator("canvas").evaluate_all(maps)
        root.locator("input[name=position]").evaluate(
            "el => { el.value = 7; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        assert readout.get_attribute("data-t") == "7"
        assert root.locator("canvas").evaluate_all(maps) != before
        strip = root.locator(".strip").first
        assert strip.locator("span.target").count() == 1
        assert strip.locator("span.future").count() == len(payload["items"][0]["text"]) - 9
        root.get_by_role("button", name="text 2").click()
        assert root.get_by_role("button", name="text 2").get_attribute("aria-pressed") == "true"
        assert readout.get_attribute("data-item") == "1"
        box = root.locator("canvas").first.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 0.25 * box["height"])
        t = int(readout.get_attribute("data-t"))
        T = len(payload["items"][1]["text"]) - 1
        assert abs(t - T // 4) <= 1  # the row under the pointer
        watcher.assert_clean("rnn memory widget")
