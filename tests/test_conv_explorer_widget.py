"""The convolution explorer (chapter 8): its payload, its JavaScript convolution, its page.

The JavaScript convolves in the browser, so its pure functions run in Node (when installed)
and are compared with ``F.conv2d`` and the output-size formula over a grid of settings. The
payload's feature maps are checked against a direct forward pass. The widget is rendered in
headless Chromium from a bare page that stands in for the widget manager, at phone and desktop
width, and must respond to presets, sliders and a hovered output pixel.
"""

import base64
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.browser import widget_alone
from utils.widgets import conv_explorer
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.conv_explorer import PRESETS, ConvExplorer, conv_explorer_data, feature_maps

JS = pathlib.Path(conv_explorer.__file__).with_name("conv_explorer.js")
CLASSES = [f"class {i}" for i in range(10)]


def _cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 3, padding=1),
        nn.BatchNorm2d(6),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 12, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(12 * 7 * 7, 10),
    )


def _images(n=4, seed=0):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def payload():
    model = _cnn()
    return conv_explorer_data(
        _images(),
        [0, 3, 5, 9],
        CLASSES,
        model=model,
        layers=[("block 1", model[2]), ("block 2", model[5])],
        channels=4,
        model_name="a test CNN",
    )


def _bytes(text):
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8)


def test_payload_holds_the_images_and_real_feature_maps(payload):
    images = _images()
    assert payload["size"] == 28 and len(payload["images"]) == 4
    low, high = images.min(), images.max()
    want = ((images[0, 0] - low) / (high - low) * 255).round().numpy().ravel()
    np.testing.assert_array_equal(_bytes(payload["images"][0]["pixels"]), want)
    assert [i["label"] for i in payload["images"]] == ["class 0", "class 3", "class 5", "class 9"]
    model = _cnn().eval()
    with torch.no_grad():
        first = model[:3](images)
        logits = model(images)
    layer = payload["layers"][0]
    assert layer["shape"] == [6, 28, 28] and len(layer["channels"]) == 4
    assert layer["channels"] == first.mean(dim=(0, 2, 3)).argsort(descending=True)[:4].tolist()
    c = layer["channels"][0]
    got = _bytes(layer["maps"][2][0]).reshape(28, 28)
    want = (first[2, c] / first[2, c].max() * 255).round().numpy()
    np.testing.assert_array_equal(got, want)
    assert payload["layers"][1]["shape"] == [12, 14, 14]
    assert payload["images"][1]["predicted"] == CLASSES[int(logits[1].argmax())]
    assert json.loads(json.dumps(payload)) == payload
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES


def test_feature_maps_restore_the_mode_and_remove_hooks():
    model = _cnn().train()
    maps, logits = feature_maps(model, _images(2), [("a", model[0])])
    assert model.training and not model[0]._forward_hooks
    assert maps["a"].shape == (2, 6, 28, 28) and logits.shape == (2, 10)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="greyscale"):
        conv_explorer_data(torch.rand(2, 3, 8, 8), [0, 1], CLASSES)
    with pytest.raises(ValueError, match="labels"):
        conv_explorer_data(_images(2), [0], CLASSES)
    with pytest.raises(ValueError, match="layers"):
        conv_explorer_data(_images(2), [0, 1], CLASSES, model=_cnn())
    with pytest.raises(ValueError, match="missing"):
        ConvExplorer({"images": []})
    bare = conv_explorer_data(_images(2), [0, 1], CLASSES)
    assert bare["layers"] == [] and ConvExplorer(bare).data == bare
    assert "bookUI" in ConvExplorer._esm and "export default" in ConvExplorer._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source  # nothing fetched at runtime


SETTINGS = [(s, p, d) for s in (1, 2, 3) for p in (0, 1, 2, 3) for d in (1, 2, 3)]

NODE_SCRIPT = """
import * as w from "./conv_explorer.mjs";
import { readFileSync } from "node:fs";
const job = JSON.parse(readFileSync("job.json", "utf8"));
const out = job.settings.map(([s, p, d]) => {
  const r = w.convolve(Float64Array.from(job.image), job.n, job.kernel, s, p, d);
  return { size: r.size, formula: w.outputSize(job.n, 3, s, p, d), values: Array.from(r.values) };
});
console.log(JSON.stringify({ out, taps: w.taps(2, 1, 3, 2, 1, 2),
  decoded: Array.from(w.decode(job.b64)), colours: [w.diverging(0), w.diverging(1), w.diverging(-1)] }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_convolution_matches_conv2d(tmp_path):
    n = 9
    rng = np.random.default_rng(0)
    image = rng.random((n, n))
    kernel = rng.normal(size=(3, 3))
    job = {
        "n": n,
        "image": image.ravel().tolist(),
        "kernel": kernel.ravel().tolist(),
        "settings": SETTINGS,
        "b64": base64.b64encode(bytes([0, 7, 255])).decode(),
    }
    (tmp_path / "conv_explorer.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    (tmp_path / "job.json").write_text(json.dumps(job), encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    x = torch.tensor(image).reshape(1, 1, n, n)
    w = torch.tensor(kernel).reshape(1, 1, 3, 3)
    for (s, p, d), got in zip(SETTINGS, out["out"], strict=True):
        want = F.conv2d(x, w, stride=s, padding=p, dilation=d)[0, 0]
        assert got["size"] == got["formula"] == want.shape[-1], (s, p, d)
        np.testing.assert_allclose(got["values"], want.numpy().ravel(), atol=1e-12)
    # output (2, 1) with stride 2, padding 1, dilation 2: rows 3, 5, 7 and columns 1, 3, 5
    assert out["taps"] == [[r, c] for r in (3, 5, 7) for c in (1, 3, 5)]
    assert out["decoded"] == [0, 7, 255]
    assert out["colours"][0] == "rgb(255,255,255)" and out["colours"][1] == "rgb(214,39,40)"


def test_no_output_when_the_kernel_does_not_fit():
    # the formula the JS prints gives <= 0 exactly where PyTorch refuses
    for n, p, d in [(4, 0, 2), (3, 0, 2), (2, 0, 1)]:
        size = (n + 2 * p - d * 2 - 1) // 1 + 1
        with pytest.raises(RuntimeError):
            F.conv2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, 3, 3), padding=p, dilation=d)
        assert size <= 0



def _set(root, name, value):
    root.locator(f"input[name={name}]").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", str(value)
    )


@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    """The widget alone, in a page that plays the widget manager's part (model.get)."""
    with widget_alone(browser, tmp_path, JS, payload, width, height=1000) as (page, watcher):
        root = page.locator(".dlb-conv")
        assert root.bounding_box()["width"] <= width - 16 + 0.5  # no wider than the column
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        formula = root.locator(".formula")
        assert formula.get_attribute("data-out") == "28"  # 3x3, padding 1, stride 1
        output = root.locator("canvas").nth(1)
        before = output.evaluate("c => c.toDataURL()")
        root.get_by_role("button", name="blur").click()
        assert output.evaluate("c => c.toDataURL()") != before
        assert root.locator("input[name=k4]").input_value() == "0.25"
        _set(root, "stride", 2)
        _set(root, "padding", 0)
        _set(root, "dilation", 2)
        assert formula.get_attribute("data-out") == str((28 - 2 * 2 - 1) // 2 + 1)  # 12
        box = output.bounding_box()  # hover over output pixel (row 3, column 5) of 12
        page.mouse.move(box["x"] + box["width"] * 5.5 / 12, box["y"] + box["height"] * 3.5 / 12)
        readout = root.locator(".readout")
        assert (readout.get_attribute("data-row"), readout.get_attribute("data-col")) == ("3", "5")
        assert readout.get_attribute("data-rf") == "6,10,10,14"  # rows 6..10, columns 10..14
        _set(root, "k4", 1)
        image = _images()[0:1]
        low, high = _images().min(), _images().max()
        x = ((image - low) / (high - low) * 255).round() / 255
        kernel = torch.tensor(PRESETS["blur"], dtype=torch.float64)
        kernel[1, 1] = 1.0
        want = F.conv2d(x.double(), kernel.reshape(1, 1, 3, 3), stride=2, dilation=2)[0, 0, 3, 5].item()
        page.mouse.move(box["x"] + box["width"] * 5.6 / 12, box["y"] + box["height"] * 3.4 / 12)
        assert float(readout.get_attribute("data-value")) == pytest.approx(want, abs=1e-6)
        maps = root.locator(".maps canvas")
        assert maps.count() == 4
        before = maps.first.evaluate("c => c.toDataURL()")
        root.get_by_role("button", name="block 2").click()
        assert root.locator(".map-caption").get_attribute("data-layer") == "block 2"
        assert maps.first.evaluate("c => c.toDataURL()") != before
        root.locator("select[name=image]").select_option("2")
        assert "class 5" in root.locator(".map-caption").text_content()
        watcher.assert_clean("conv explorer widget")
