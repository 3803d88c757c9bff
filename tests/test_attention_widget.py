"""The attention viewer (chapter 11) fed by a real GPT of the book's recipe, in headless Chromium.

A bare page stands in for the widget manager (``model.get``), so no site build is needed. At
phone and desktop width the widget must fit, show every layer and head as a small map, enlarge
the one clicked, follow the pointer over rows and tokens, hatch exactly the squares the causal
mask hides, and show the same weights as the payload.
"""

import os
import pathlib

import numpy as np
import pytest
import torch

from tests.browser import widget_alone
from utils.models.char_gpt import CharGPT
from utils.widgets import attention
from utils.widgets.attention import AttentionViewer

JS = pathlib.Path(attention.__file__).with_name("attention.js")
TEXT = "def f(x):\n    return (x + 1)"


@pytest.fixture(scope="module")
def payload():
    torch.manual_seed(0)
    model = CharGPT(context=32, width=48, layers=3, heads=4)
    with torch.no_grad():  # sharper maps than at initialisation
        for block in model.blocks:
            block.attention.qkv.weight.normal_(0, 0.4)
    return AttentionViewer.from_model(model, TEXT, title="a 3-layer, 4-head GPT", layer=1, head=2).data


@pytest.mark.parametrize("width", [340, 360, 1000])  # 340: the book's text column on a 360 px phone
def test_viewer_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    maps = attention.decode_weights(payload)
    T = len(payload["tokens"])
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".bw-att")
        assert root.bounding_box()["width"] <= width - 16 + 0.5  # no wider than the column
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        assert root.evaluate("r => r.scrollWidth <= r.clientWidth + 1")  # nothing cut off inside
        last = root.locator("rect[data-j]").evaluate_all(
            "rs => Math.max(...rs.map(r => r.getBoundingClientRect().right))")
        assert last <= root.bounding_box()["x"] + root.bounding_box()["width"]

        # every layer and head as a small map; the start map is pressed
        thumbs = root.locator(".grid button")
        assert thumbs.count() == 3 * 4
        pressed = root.locator(".grid button[aria-pressed=true]")
        assert pressed.count() == 1 and pressed.get_attribute("aria-label") == "layer 2, head 3"
        readout = root.locator(".readout")
        assert (readout.get_attribute("data-layer"), readout.get_attribute("data-head")) == ("1", "2")

        # the causal mask: exactly the squares above the diagonal are hatched
        masked = root.locator("rect.masked").evaluate_all(
            "rs => rs.map(r => [Number(r.dataset.i), Number(r.dataset.j)])")
        assert sorted(map(tuple, masked)) == [(i, j) for i in range(T) for j in range(i + 1, T)]

        # click another small map: the large map, the selects and the readout follow
        fills = "rs => rs.map(r => r.getAttribute('fill'))"
        before = root.locator("rect[data-j]").evaluate_all(fills)
        canvas_before = thumbs.nth(0).locator("canvas").evaluate("c => c.toDataURL()")
        thumbs.nth(0).click()
        assert (readout.get_attribute("data-layer"), readout.get_attribute("data-head")) == ("0", "0")
        assert root.locator("select[name=layer]").input_value() == "0"
        now_pressed = root.locator(".grid button[aria-pressed=true]")
        assert now_pressed.get_attribute("aria-label") == "layer 1, head 1"
        assert root.locator("rect[data-j]").evaluate_all(fills) != before

        # point at a row: the chips show that row of the payload, masked keys as 0
        root.locator("rect[data-i='7'][data-j='2']").hover()
        assert readout.get_attribute("data-query") == "7"
        weights = root.locator(".chip").evaluate_all("cs => cs.map(c => Number(c.dataset.weight))")
        np.testing.assert_allclose(weights, maps[0, 0, 7], atol=1e-9)
        assert root.locator(".chip.masked").count() == T - 8
        canvas_after = thumbs.nth(0).locator("canvas").evaluate("c => c.toDataURL()")
        assert canvas_after != canvas_before  # the small map marks the row pointed at

        # the layer select works too, and a chip is a pointer target
        root.locator("select[name=layer]").select_option("2")
        assert readout.get_attribute("data-layer") == "2"
        root.locator(".chip").nth(3).hover()
        assert readout.get_attribute("data-query") == "3"
        if folder := os.environ.get("DLBOOK_SCREENSHOTS"):
            root.screenshot(path=str(pathlib.Path(folder) / f"attention-viewer-{width}.png"))
        watcher.assert_clean("attention viewer widget")
