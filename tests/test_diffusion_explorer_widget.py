"""The diffusion explorer (chapter 14): its payload holds real model outputs, and its JavaScript works.

The Python side is checked with models whose right answer is known (one that predicts the
exact noise, one that records the steps it is asked at); the JavaScript's schedules and
noising run in Node against utils.diffusion; the widget is rendered in headless Chromium
from a bare page that stands in for the widget manager, at phone and desktop width.
"""

import base64
import json
import pathlib
import shutil
import subprocess

import pytest
import torch
from torch import nn

from tests.browser import widget_alone
from utils import diffusion
from utils.data import FASHION_CLASSES
from utils.widgets import diffusion_explorer
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.diffusion_explorer import (
    NOISE_RANGE,
    DiffusionExplorer,
    decode_images,
    diffusion_explorer_data,
    encode_images,
    noisy_image,
    predicted_x0,
)

JS = pathlib.Path(diffusion_explorer.__file__).with_name("diffusion_explorer.js")
T = 1000


def schedules():
    return {
        "linear": diffusion.alpha_bars(diffusion.linear_betas(T)),
        "cosine": diffusion.alpha_bars(diffusion.cosine_betas(T)),
    }


class OracleModel(nn.Module):
    """Predicts the noise exactly, knowing the clean images; remembers the steps it was asked at."""

    num_classes = 10

    def __init__(self, x0, alpha_bar):
        super().__init__()
        self.x0, self.alpha_bar, self.asked = x0, alpha_bar, []
        self.dummy = nn.Parameter(torch.zeros(1))  # samplers read the device from the parameters

    def forward(self, x, t, labels):
        self.asked.append(t.tolist())
        a = self.alpha_bar[t].float().view(-1, 1, 1, 1)
        return (x - a.sqrt() * self.x0[: len(x)]) / (1 - a).sqrt()


class TinyModel(nn.Module):
    """A deterministic noise predictor with the book model's call signature."""

    num_classes = 10

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.classes = nn.Embedding(11, 1)

    def forward(self, x, t, labels):
        return torch.tanh(self.conv(x)) + 0.001 * t.view(-1, 1, 1, 1) + self.classes(labels).view(-1, 1, 1, 1)


@pytest.fixture(scope="module")
def payload():
    torch.manual_seed(0)
    model = TinyModel()
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    guided = {
        w: torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(int(w))) * 2 - 1
        for w in (0.0, 1.0, 2.0, 4.0, 8.0)
    }
    quality = {w: {"frechet": 10.0 + w, "class_accuracy": 0.5 + w / 20} for w in guided}
    return diffusion_explorer_data(
        model,
        images,
        torch.tensor([0, 5, 9]),
        schedules(),
        FASHION_CLASSES,
        trajectory_steps=20,
        guided=guided,
        guidance_quality=quality,
    )


def test_images_survive_encoding_to_one_grey_level():
    images = torch.rand(4, 1, 28, 28) * 2 - 1
    back = decode_images(encode_images(images))
    assert back.shape == images.shape
    assert (back - images).abs().max() <= 1 / 255 + 1e-6  # half a level of 2/255
    noise = torch.randn(2, 1, 28, 28)
    back = decode_images(encode_images(noise, -NOISE_RANGE, NOISE_RANGE), -NOISE_RANGE, NOISE_RANGE)
    inside = noise.abs() < NOISE_RANGE
    assert (back - noise)[inside].abs().max() <= NOISE_RANGE / 255 + 1e-6


def test_an_exact_noise_predictor_gives_back_the_clean_image_under_both_schedules():
    ab = schedules()
    x0 = torch.rand(2, 1, 28, 28) * 1.6 - 0.8
    noise = torch.randn(2, 1, 28, 28)
    for name in ("cosine", "linear"):
        for t in (10, 400, 900) if name == "cosine" else (10, 200, 400):
            a = float(ab[name][t])
            oracle = OracleModel(x0, ab["cosine"].double())
            estimate = predicted_x0(
                oracle, noisy_image(x0, noise, a), a, ab["cosine"].double(), torch.tensor([1, 2])
            )
            # the oracle is asked at the cosine step with the nearest alpha_bar, so a linear-schedule
            # x_t comes back exactly only up to the gap between the two alpha_bars
            asked = oracle.asked[0][0]
            assert abs(float(ab["cosine"][asked]) - a) == pytest.approx(
                float((ab["cosine"] - a).abs().min()), abs=1e-12
            )
            tolerance = 1e-4 if name == "cosine" else 0.05
            assert (estimate - x0).abs().max() < tolerance, (name, t)


def test_payload_structure_and_size(payload):
    assert payload["T"] == T and payload["side"] == 28
    assert [e["label"] for e in payload["examples"]] == ["T-shirt/top", "Sandal", "Ankle boot"]
    steps = payload["prediction_steps"]
    assert steps[0] == 0 and steps[-1] == T - 1 and steps == sorted(steps)
    for name in ("linear", "cosine"):
        assert len(payload["predictions"][name]) == 3
        assert all(len(row) == len(steps) for row in payload["predictions"][name])
    trajectory = payload["trajectory"]
    assert len(trajectory["ddpm"]) == len(trajectory["ddim"]) == 2
    assert all(len(frames) == 10 for frames in trajectory["ddpm"] + trajectory["ddim"])
    assert trajectory["frame_steps"][-1] == -1 and trajectory["frame_steps"][0] > trajectory["frame_steps"][1]
    assert payload["guidance"]["scales"] == [0.0, 1.0, 2.0, 4.0, 8.0]
    assert payload["guidance"]["frechet"] == [10.0, 11.0, 12.0, 14.0, 18.0]
    assert json.loads(json.dumps(payload)) == payload
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES


def test_trajectories_are_the_samplers_own(payload):
    """The last DDIM frame is what utils.diffusion.sample returns for the same model and seed."""
    torch.manual_seed(0)
    model = TinyModel()
    final = diffusion.sample(
        model,
        torch.tensor([7, 0]),
        schedules()["cosine"],
        20,
        eta=0.0,
        generator=torch.Generator().manual_seed(1),
    )
    stored = decode_images([frames[-1] for frames in payload["trajectory"]["ddim"]])
    assert (stored - final.clamp(-1, 1)).abs().max() <= 1 / 255 + 1e-6
    ddpm_last = decode_images([frames[-1] for frames in payload["trajectory"]["ddpm"]])
    assert (ddpm_last - stored).abs().max() > 0.05  # the stochastic sampler went elsewhere


def test_widget_refuses_a_foreign_payload_and_ships_the_prelude(payload):
    assert DiffusionExplorer(payload).data == payload
    with pytest.raises(ValueError, match="missing"):
        DiffusionExplorer({"T": 3})
    with pytest.raises(ValueError, match="linear"):
        diffusion_explorer_data(
            TinyModel(),
            torch.zeros(1, 1, 28, 28),
            torch.tensor([0]),
            {"cosine": schedules()["cosine"]},
            FASHION_CLASSES,
        )
    assert "bookUI" in DiffusionExplorer._esm and "export default" in DiffusionExplorer._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source  # nothing fetched at runtime


NODE_SCRIPT = """
import * as w from "./diffusion_explorer.mjs";
import fs from "node:fs";
const input = JSON.parse(fs.readFileSync("input.json", "utf8"));
const x0 = w.decodeImage(input.x0), noise = w.decodeImage(input.noise);
console.log(JSON.stringify({
  linear: Array.from(w.linearAlphaBar(1000)),
  cosine: Array.from(w.cosineAlphaBar(1000)),
  levels: Array.from(w.noisyLevels(x0, noise, input.a, input.range)),
  decoded: Array.from(x0.slice(0, 5)),
  nearest: [w.nearestIndex([0, 50, 150, 300], 0), w.nearestIndex([0, 50, 150, 300], 120),
            w.nearestIndex([0, 50, 150, 300], 999), w.nearestIndex([0, 50, 150, 300], 100)],
  snr: [w.formatSnr(0.5), w.formatSnr(1e-6), w.formatSnr(1)],
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_schedules_and_noising_match_python(tmp_path):
    (tmp_path / "diffusion_explorer.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    x0 = torch.rand(1, 1, 28, 28) * 2 - 1
    noise = torch.randn(1, 1, 28, 28)
    a = float(schedules()["cosine"][300])
    (tmp_path / "input.json").write_text(
        json.dumps(
            {
                "x0": encode_images(x0)[0],
                "noise": encode_images(noise, -NOISE_RANGE, NOISE_RANGE)[0],
                "a": a,
                "range": NOISE_RANGE,
            }
        ),
        encoding="utf-8",
    )
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    ab = schedules()
    for name in ("linear", "cosine"):
        assert torch.allclose(torch.tensor(out[name], dtype=torch.float64), ab[name], rtol=1e-10, atol=1e-15)
    stored_x0 = decode_images(encode_images(x0))
    stored_noise = decode_images(encode_images(noise, -NOISE_RANGE, NOISE_RANGE), -NOISE_RANGE, NOISE_RANGE)
    want = ((noisy_image(stored_x0, stored_noise, a) + 1) / 2 * 255).round().clamp(0, 255).flatten()
    assert (torch.tensor(out["levels"], dtype=torch.float32) - want).abs().max() <= 1
    assert out["decoded"] == list(base64.b64decode(encode_images(x0)[0])[:5])
    assert out["nearest"] == [0, 2, 3, 1]  # 100 is as near 50 as 150: the first wins
    assert out["snr"] == ["1.0", "1.0e-6", "\u221e"]


def _set_slider(root, name, value):
    root.locator(f"input[name={name}]").evaluate(
        f"el => {{ el.value = {value}; el.dispatchEvent(new Event('input', {{bubbles: true}})); }}"
    )


@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    """The widget alone, in a page that plays the widget manager's part (model.get)."""
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".dlb-diffusion")
        assert root.bounding_box()["width"] <= width - 16 + 0.5  # no wider than the column
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        canvases = root.locator("canvas")
        first = canvases.first.evaluate("c => c.toDataURL()")
        _set_slider(root, "t", 100)
        readout = root.locator(".noising-readout")
        assert readout.get_attribute("data-t") == "100"
        assert readout.get_attribute("data-prediction") == "50"
        assert canvases.first.evaluate("c => c.toDataURL()") != first
        estimate = canvases.nth(1).evaluate("c => c.toDataURL()")
        root.get_by_role("button", name="Sandal").click()
        assert root.get_by_role("button", name="Sandal").get_attribute("aria-pressed") == "true"
        assert canvases.nth(1).evaluate("c => c.toDataURL()") != estimate
        frame_canvas = root.get_by_role("img", name="ddim trajectory of a Sneaker")
        before = frame_canvas.evaluate("c => c.toDataURL()")
        _set_slider(root, "frame", 9)
        assert root.locator(".frame-readout").get_attribute("data-frame") == "9"
        assert frame_canvas.evaluate("c => c.toDataURL()") != before
        _set_slider(root, "guidance", 3)
        guidance = root.locator(".guidance-readout")
        assert guidance.get_attribute("data-scale") == "4"
        assert "14.0" in guidance.text_content()
        watcher.assert_clean("diffusion explorer widget")
