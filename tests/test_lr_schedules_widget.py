"""The LR schedule explorer with chapter 7's measurements: its payload, its JavaScript, its page.

``measured_runs`` turns the per-step losses of the chapter's project runs and its LR range
test into a small payload; the explorer draws them under the schedule (the run of the picked
schedule highlighted). Without them the payload is the gallery's, unchanged. The widget is
rendered in headless Chromium from a bare page that stands in for the widget manager, at phone
and desktop width (tests/test_widgets_browser.py covers the gallery's copy on the built site).
"""

import json
import math
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch

from tests.browser import widget_alone
from utils.widgets import lr_schedules
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.lr_schedules import LRScheduleExplorer, measured_runs, schedule_data

JS = pathlib.Path(lr_schedules.__file__).with_name("lr_schedules.js")


def fake_runs(steps=400):
    t = np.arange(steps)
    return {
        name: {
            "loss": 2.3 * np.exp(-t / (50 + 30 * k)) + 0.2 + 0.01 * np.sin(t),
            "lr": 0.1 * np.ones(steps),
            "acc": 0.8 + 0.01 * k,
        }
        for k, name in enumerate(["constant", "step", "cosine", "warmup_cosine", "onecycle"])
    }


def fake_range(points=150):
    lrs = 1e-5 * (1e6 ** (np.arange(points) / (points - 1)))
    return {
        "lr": lrs,
        "loss": 2.3 - 1.5 * np.exp(-((np.log10(lrs) + 1) ** 2)) + np.where(lrs > 1, lrs, 0),
        "chosen": 0.05,
    }


@pytest.fixture(scope="module")
def payload():
    return schedule_data("cosine", total_steps=400, **measured_runs(fake_runs(), range_test=fake_range()))


def test_without_measurements_the_payload_is_unchanged():
    data = LRScheduleExplorer("warmup_cosine", total_steps=200, warmup=20).data
    assert set(data) == {"schedule", "schedules", "common", "step"}


def test_runs_are_binned_means_of_the_measured_losses():
    losses = torch.arange(10.0)  # a tensor is accepted too
    out = measured_runs(
        {
            "cosine": {"loss": losses, "lr": np.linspace(1, 0.1, 10)},
            "mine": {"loss": np.ones(10), "lr": np.ones(10), "acc": 0.5},
        },
        points=4,
    )
    first, second = out["runs"]["items"]
    assert out["runs"]["total_steps"] == 10 and "range_test" not in out
    assert first["schedule"] == "cosine" and second["schedule"] is None  # not a schedule of the explorer
    # bins [0, 2), [2, 5), [5, 8), [8, 10): centres 0, 3, 6, 8 and the means of the losses in them
    assert first["step"] == [0, 3, 6, 8]
    assert first["loss"] == pytest.approx([0.5, 3.0, 6.0, 8.5])
    assert first["lr"] == pytest.approx(np.linspace(1, 0.1, 10)[[0, 3, 6, 8]].tolist(), rel=1e-4)
    assert first["acc"] is None and second["acc"] == 0.5


def test_range_test_is_thinned_and_keeps_its_ends_and_choice():
    test = fake_range(1000)
    out = measured_runs({"cosine": {"loss": [1.0, 0.5], "lr": [0.1, 0.1]}}, range_test=test, points=50)
    kept = out["range_test"]
    assert len(kept["lr"]) == len(kept["loss"]) <= 100
    assert kept["lr"][0] == pytest.approx(1e-5) and kept["lr"][-1] == pytest.approx(10.0)
    assert kept["chosen"] == 0.05


@pytest.mark.parametrize(
    "runs, range_test, message",
    [
        ({"a": {"loss": [1.0, 2.0], "lr": [0.1]}}, None, "2 losses but 1 learning rates"),
        (
            {"a": {"loss": [1.0, 2.0], "lr": [0.1, 0.1]}, "b": {"loss": [1.0], "lr": [0.1]}},
            None,
            "equal length",
        ),
        ({"a": {"loss": [], "lr": []}}, None, "empty"),
        (
            {"a": {"loss": [1.0], "lr": [0.1]}},
            {"lr": [0.0, 1.0], "loss": [1.0, 2.0], "chosen": 0.1},
            "positive",
        ),
    ],
)
def test_measured_runs_refuses_bad_input(runs, range_test, message):
    with pytest.raises(ValueError, match=message):
        measured_runs(runs, range_test=range_test)


def test_explorer_refuses_a_foreign_runs_payload():
    with pytest.raises(ValueError, match="measured_runs"):
        schedule_data("cosine", runs={"items": [{"loss": [1]}]})


def test_non_finite_losses_travel_as_null(payload):
    out = measured_runs({"cosine": {"loss": [1.0, math.inf, 2.0], "lr": [0.1] * 3}}, points=3)
    assert out["runs"]["items"][0]["loss"] == [1.0, None, 2.0]
    assert json.loads(json.dumps(payload)) == payload
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES / 4


NODE_SCRIPT = """
import * as w from "./lr_schedules.mjs";
console.log(JSON.stringify({
  near: [w.nearestPoint([0, 3, 6, 8], 0), w.nearestPoint([0, 3, 6, 8], 5), w.nearestPoint([0, 3, 6, 8], 100)],
  range: [w.positiveRange([0, null, 2, 0.5, -1]), w.positiveRange([0, null])],
  ticks: [w.logTicks(0.3, 2.5), w.logTicks(1e-5, 10)],
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_helpers(tmp_path):
    (tmp_path / "lr_schedules.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    assert out["near"] == [0, 2, 3]
    assert out["range"] == [[0.5, 2], None]
    assert out["ticks"] == [[0.5, 1, 2], [1e-5, 1e-4, 1e-3, 0.01, 0.1, 1, 10]]


def move_slider(root, name, value):
    root.locator(f"input[name={name}]:visible").evaluate(
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", str(value)
    )


@pytest.mark.parametrize("width", [360, 1000])
def test_measured_panels_render_fit_and_follow_the_schedule(browser, tmp_path, payload, width):
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".bw-lr")
        assert root.locator("canvas").count() == 3
        assert root.bounding_box()["width"] <= width - 16 + 0.5
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        runs = root.locator(".runs-value")
        assert runs.get_attribute("data-run") == "cosine"
        assert root.locator(".legend span.on").inner_text().strip().startswith("\u25a0 cosine")
        measured = root.locator("canvas").nth(1)
        before = measured.evaluate("c => c.toDataURL()")
        root.locator("select[name=schedule]").select_option("onecycle")
        assert runs.get_attribute("data-run") == "onecycle"
        assert measured.evaluate("c => c.toDataURL()") != before
        move_slider(root, "step", 399)  # the cursor moves to the end of the measured run too
        assert int(runs.get_attribute("data-step")) == payload["runs"]["items"][0]["step"][-1]
        item = next(r for r in payload["runs"]["items"] if r["name"] == "onecycle")
        assert float(runs.get_attribute("data-loss")) == pytest.approx(item["loss"][-1])
        root.locator("select[name=schedule]").select_option("exponential")  # no run of that schedule
        assert runs.get_attribute("data-run") == "" and root.locator(".legend span.on").count() == 0
        assert float(root.locator(".range-value").get_attribute("data-chosen")) == 0.05
        watcher.assert_clean("lr schedule explorer")
