"""The segmentation viewer (chapter 9): its payload, its JavaScript, and its rendering.

The payload packs label maps one digit per pixel; the tests decode them back and compare with
the tensors they came from. The JavaScript's pure functions (decoding, per-class IoU with the
empty-class convention) run in Node when it is installed and are compared with the Python
computation; the widget is rendered in headless Chromium from a bare page that stands in for
the widget manager, at phone and desktop width, and must react to the image slider and to the
model switch.
"""

import json
import math
import pathlib
import shutil
import subprocess

import pytest
import torch

from tests.browser import widget_alone
from utils.data import SHAPE_CLASSES, make_shapes
from utils.widgets import segmentation_viewer
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.segmentation_viewer import (
    SegmentationViewer,
    label_string,
    per_class_iou,
    segmentation_viewer_data,
)

JS = pathlib.Path(segmentation_viewer.__file__).with_name("segmentation_viewer.js")


def _predictions(masks, flip_share, seed):
    """The true masks with a share of pixels set to another class: a stand-in for a model."""
    gen = torch.Generator().manual_seed(seed)
    wrong = torch.rand(masks.shape, generator=gen) < flip_share
    return torch.where(wrong, (masks + 1) % len(SHAPE_CLASSES), masks)


@pytest.fixture(scope="module")
def payload():
    images, masks = make_shapes(16, size=32, seed=5)
    preds = {"U-Net": _predictions(masks, 0.02, 0), "no skips": _predictions(masks, 0.2, 1)}
    overall = {name: {"iou": per_class_iou(p, masks, 4)} for name, p in preds.items()}
    return segmentation_viewer_data(images, masks, preds, SHAPE_CLASSES, overall=overall)


def test_label_strings_round_trip():
    labels = torch.tensor([[0, 3, 1], [2, 2, 0]])
    text = label_string(labels)
    assert text == "031220"
    assert torch.equal(torch.tensor([int(c) for c in text]).view(2, 3), labels)
    with pytest.raises(ValueError, match="0..9"):
        label_string(torch.tensor([10]))


def test_per_class_iou_and_its_empty_class_convention():
    truth = torch.tensor([0, 1, 1, 2])
    pred = torch.tensor([0, 1, 2, 2])
    assert per_class_iou(pred, truth, 4) == [1.0, 0.5, 0.5, None]


def test_payload_round_trips_the_images_and_labels(payload):
    images, masks = make_shapes(16, size=32, seed=5)
    assert payload["height"] == payload["width"] == 32
    assert payload["classes"] == list(SHAPE_CLASSES) and payload["models"] == ["U-Net", "no skips"]
    assert len(payload["samples"]) == 16
    for i, sample in enumerate(payload["samples"]):
        assert torch.equal(torch.tensor([int(c) for c in sample["truth"]]).view(32, 32), masks[i])
        grey = torch.tensor(sample["image"]).view(32, 32)
        assert grey.min() == 0 and grey.max() == 255
        # the grey levels are a monotone image of the input
        assert torch.corrcoef(torch.stack([grey.flatten().float(), images[i, 0].flatten()]))[0, 1] > 0.999
    assert json.loads(json.dumps(payload)) == payload
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES


def test_payload_refuses_bad_input():
    images, masks = make_shapes(2, size=16, seed=0)
    with pytest.raises(ValueError, match="shape"):
        segmentation_viewer_data(images, masks, {"m": masks[:, :8]}, SHAPE_CLASSES)
    with pytest.raises(ValueError, match="at least one"):
        segmentation_viewer_data(images, masks, {}, SHAPE_CLASSES)
    with pytest.raises(ValueError, match="need images"):
        segmentation_viewer_data(images[:, 0], masks, {"m": masks}, SHAPE_CLASSES)
    with pytest.raises(ValueError, match="missing"):
        SegmentationViewer({"samples": []})
    many_images, many_masks = make_shapes(segmentation_viewer.MAX_IMAGES + 1, size=8, seed=0)
    with pytest.raises(ValueError, match="between 1 and"):
        segmentation_viewer_data(many_images, many_masks, {"m": many_masks}, SHAPE_CLASSES)


def test_widget_ships_the_prelude_and_fetches_nothing(payload):
    assert SegmentationViewer(payload).data == payload
    assert "bookUI" in SegmentationViewer._esm and "export default" in SegmentationViewer._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source


NODE_SCRIPT = """
import * as w from "./segmentation_viewer.mjs";
const truth = w.decodeLabels("0112"), pred = w.decodeLabels("0122");
console.log(JSON.stringify({
  decoded: truth,
  iou: w.perClassIoU(pred, truth, 4),
  mean: w.meanDefined(w.perClassIoU(pred, truth, 4)),
  meanNone: w.meanDefined([1, null, null]),
  errors: w.countErrors(pred, truth),
  fmt: [w.formatScore(null), w.formatScore(0.91234)],
  payload: %s,
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_helpers_agree_with_python(tmp_path, payload):
    sample = payload["samples"][3]
    call = (
        f'w.perClassIoU(w.decodeLabels("{sample["pred"]["no skips"]}"), '
        f'w.decodeLabels("{sample["truth"]}"), 4)'
    )
    (tmp_path / "segmentation_viewer.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT % call, encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    assert out["decoded"] == [0, 1, 1, 2]
    assert out["iou"] == [1.0, 0.5, 0.5, None]
    assert out["mean"] == pytest.approx(0.5)
    assert out["meanNone"] is None and out["errors"] == 1
    assert out["fmt"] == ["\u2013", "0.912"]
    want = per_class_iou(
        torch.tensor([int(c) for c in sample["pred"]["no skips"]]),
        torch.tensor([int(c) for c in sample["truth"]]),
        4,
    )
    assert out["payload"] == pytest.approx(want)


def _mean_foreground(values):
    defined = [v for v in values[1:] if v is not None]
    return sum(defined) / len(defined) if defined else math.nan


@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    """The widget alone, in a page that plays the widget manager's part (model.get)."""
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".dlb-seg")
        assert root.bounding_box()["width"] <= width - 16 + 0.5
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        readout = root.locator(".readout")
        assert root.get_by_role("button", name="U-Net").get_attribute("aria-pressed") == "true"

        def decoded(i, model):
            sample = payload["samples"][i]
            return (
                torch.tensor([int(c) for c in sample["pred"][model]]),
                torch.tensor([int(c) for c in sample["truth"]]),
            )

        pred, truth = decoded(0, "U-Net")
        assert int(readout.get_attribute("data-errors")) == int((pred != truth).sum())
        assert float(readout.get_attribute("data-mean-iou")) == pytest.approx(
            _mean_foreground(per_class_iou(pred, truth, 4))
        )
        canvases = root.locator("canvas")
        assert canvases.count() == 4
        before = canvases.nth(2).evaluate("c => c.toDataURL()")
        root.get_by_role("button", name="no skips").click()
        assert root.get_by_role("button", name="no skips").get_attribute("aria-pressed") == "true"
        pred, truth = decoded(0, "no skips")
        assert int(readout.get_attribute("data-errors")) == int((pred != truth).sum())
        assert canvases.nth(2).evaluate("c => c.toDataURL()") != before
        input_before = canvases.nth(0).evaluate("c => c.toDataURL()")
        root.locator("input[name=image]").evaluate(
            "el => { el.value = 5; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        assert canvases.nth(0).evaluate("c => c.toDataURL()") != input_before
        pred, truth = decoded(5, "no skips")
        assert int(readout.get_attribute("data-errors")) == int((pred != truth).sum())
        assert root.locator("table tr").count() == 1 + len(SHAPE_CLASSES)
        watcher.assert_clean("segmentation viewer widget")
