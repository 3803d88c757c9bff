"""The GAN training playback (chapter 13): the toy GANs it records, and its JavaScript.

The Python side is checked on short real runs: the ring data, the mode count, the losses
(their gradients, the saturation the chapter measures, the gradient penalty against its
definition) and the recorded frames. The JavaScript's pure functions run in Node when it is
installed, and the widget is rendered in headless Chromium from a bare page at phone and
desktop width: switching loss and moving the frame slider redraw it.
"""

import json
import math
import pathlib
import shutil
import subprocess

import pytest
import torch

from tests.browser import widget_alone
from utils.widgets import gan_playback
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.gan_playback import (
    GanPlayback,
    discriminator_loss,
    gan_playback_data,
    generator_loss,
    gradient_penalty,
    modes_covered,
    ring_centres,
    sample_ring,
    stack_mlps,
    surface_grid,
    toy_models,
    train_toy_gan,
)

JS = pathlib.Path(gan_playback.__file__).with_name("gan_playback.js")


@pytest.fixture(scope="module")
def runs():
    return {
        loss: train_toy_gan(loss, steps=12, batch=32, frames=4, frame_points=50)
        for loss in ("minimax", "non-saturating", "wgan-gp")
    }


@pytest.fixture(scope="module")
def payload(runs):
    return gan_playback_data(runs)


def test_ring_and_mode_count():
    centres = ring_centres()
    assert centres.shape == (8, 2)
    assert centres.norm(dim=1).tolist() == pytest.approx([2.0] * 8, abs=1e-6)
    real = sample_ring(4000, torch.Generator().manual_seed(0))
    assert modes_covered(real) == (
        8,
        pytest.approx(1 - math.exp(-4.5), abs=0.01),
    )  # within 3 std: 98.9% in 2-D
    one_mode = centres[:1].repeat(100, 1)
    assert modes_covered(one_mode) == (1, 1.0)
    lopsided = torch.cat([centres[:1].repeat(97, 1), centres[1:4]])  # 3 stray points do not cover a mode
    assert modes_covered(lopsided)[0] == 1
    assert modes_covered(torch.zeros(10, 2)) == (0, 0.0)


def test_generator_losses_and_their_saturation():
    logits = torch.tensor([-6.0, 0.0, 3.0], requires_grad=True)
    for loss, derivative in (
        ("minimax", -torch.sigmoid(logits)),
        ("non-saturating", torch.sigmoid(logits) - 1),
    ):
        (grad,) = torch.autograd.grad(generator_loss(loss, logits), logits)
        assert grad.tolist() == pytest.approx((derivative / 3).tolist(), rel=1e-6), loss
    (grad,) = torch.autograd.grad(generator_loss("wgan-gp", logits), logits)
    assert grad.tolist() == pytest.approx([-1 / 3] * 3)


def test_gradient_penalty_by_its_definition():
    critic = torch.nn.Linear(2, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[0.6, 0.8]]))  # gradient norm 1 everywhere
    assert gradient_penalty(critic, torch.randn(5, 2), torch.randn(5, 2)).item() == pytest.approx(
        0.0, abs=1e-12
    )
    with torch.no_grad():
        critic.weight.mul_(3)
    penalty = gradient_penalty(critic, torch.randn(5, 2), torch.randn(5, 2))
    assert penalty.item() == pytest.approx(4.0)
    penalty.backward()
    assert critic.weight.grad[0].tolist() == pytest.approx([2 * 2 * 0.6, 2 * 2 * 0.8])  # d/dw (|w| - 1)^2


def test_runs_are_seeded_and_record_frames(runs):
    again = train_toy_gan("minimax", steps=12, batch=32, frames=4, frame_points=50)
    first = runs["minimax"]
    assert [f["step"] for f in first["frames"]] == [0, 4, 8, 12]
    assert torch.equal(first["frames"][-1]["points"], again["frames"][-1]["points"])
    assert first["frames"][0]["scores"].shape == (gan_playback.GRID**2,)
    assert first["seeds"] == (0,) and len(first["generators"]) == 1
    assert not torch.equal(
        first["frames"][0]["points"], first["frames"][-1]["points"]
    )  # the generator learned
    with pytest.raises(ValueError, match="unknown loss"):
        train_toy_gan("hinge", steps=1)


def test_stacked_seeds_train_as_if_alone():
    """Seeds stacked into one model compute, and get the gradients of, each seed's own model."""
    discriminators = [toy_models(seed)[1] for seed in (0, 1)]
    stacked = stack_mlps(discriminators)
    real, fake = torch.randn(2, 16, 2), torch.randn(2, 16, 2)
    alone = [d(x) for d, x in zip(discriminators, real)]
    assert torch.allclose(stacked(real), torch.stack(alone), atol=1e-6)
    for loss in ("minimax", "wgan-gp"):
        d_loss = 2 * discriminator_loss(loss, stacked(real), stacked(fake))  # times the number of copies
        (grad,) = torch.autograd.grad(d_loss, stacked[2].weight)
        for i, d in enumerate(discriminators):
            (own,) = torch.autograd.grad(discriminator_loss(loss, d(real[i]), d(fake[i])), d[2].weight)
            assert torch.allclose(grad[i], own.T, atol=1e-6), loss
    spectral = stack_mlps(discriminators, spectral=True)
    for _ in range(200):
        spectral(real)  # each call in training mode takes one step of power iteration
    layer = spectral[2]
    sigma = (layer.v.unsqueeze(1) @ layer.weight @ layer.u.unsqueeze(2)).flatten()
    assert sigma.tolist() == pytest.approx(torch.linalg.matrix_norm(layer.weight, ord=2).tolist(), rel=1e-3)
    run = train_toy_gan("spectral-norm", steps=6, batch=32, seeds=(0, 1))
    first, second = (g[0].weight for g in run["generators"])
    assert not torch.equal(first, second) and not torch.equal(first, toy_models(0)[0][0].weight)


def test_surface_grid_and_payload(runs, payload):
    grid = surface_grid(3, 1.0)
    assert grid.tolist() == [[-1, 1], [0, 1], [1, 1], [-1, 0], [0, 0], [1, 0], [-1, -1], [0, -1], [1, -1]]
    assert [v["name"] for v in payload["variants"]] == ["minimax", "non-saturating", "wgan-gp"]
    for variant in payload["variants"]:
        assert len(variant["frames"]) == 4
        for frame in variant["frames"]:
            assert len(frame["points"]) == 2 * 50 and len(frame["surface"]) == 2 * payload["grid"] ** 2
            assert frame["surface"].isdigit()
    wgan = [int(payload["variants"][2]["frames"][-1]["surface"][i : i + 2]) for i in range(0, 2 * 20**2, 2)]
    assert min(wgan) == 0 and max(wgan) == 99  # a critic's scores are scaled to the frame's range
    probability = torch.sigmoid(runs["minimax"]["frames"][1]["scores"][0]).item()
    assert int(payload["variants"][0]["frames"][1]["surface"][:2]) == pytest.approx(
        99 * probability, abs=0.51
    )
    points = runs["non-saturating"]["frames"][2]["points"]
    assert payload["variants"][1]["frames"][2]["points"][:2] == [
        round(100 * points[0, 0].item()),
        round(100 * points[0, 1].item()),
    ]
    assert json.loads(json.dumps(payload)) == payload
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES
    assert GanPlayback(payload).data == payload
    with pytest.raises(ValueError, match="missing"):
        GanPlayback({"variants": []})
    with pytest.raises(ValueError, match="no frames"):
        gan_playback_data({"minimax": train_toy_gan("minimax", steps=2)})
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source


def test_a_full_size_payload_fits():
    """Three runs of 24 frames of 150 points, as the chapter records, stay under the payload limit."""
    fake = {
        "step": 0,
        "points": torch.randn(150, 2) * 2,
        "scores": torch.randn(gan_playback.GRID**2),
        "covered": 3,
    }
    runs = {
        loss: {"loss": loss, "frames": [fake] * 24, "steps": 600}
        for loss in ("minimax", "non-saturating", "wgan-gp")
    }
    assert len(json.dumps(gan_playback_data(runs))) < MAX_PAYLOAD_BYTES


NODE_SCRIPT = """
import * as w from "./gan_playback.mjs";
console.log(JSON.stringify({
  pixels: [w.toPixels([0, 0], 3, 360), w.toPixels([-3, 3], 3, 360), w.toPixels([3, -1.5], 3, 360)],
  colours: [w.surfaceColour(0), w.surfaceColour(49.5), w.surfaceColour(99), w.surfaceColour(150)],
  next: [w.nextFrame(0, 3), w.nextFrame(2, 3)],
  points: w.decodePoints([150, -25, 0, 300]),
  levels: w.decodeLevels("0599070"),
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_helpers(tmp_path):
    (tmp_path / "gan_playback.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    assert out["pixels"] == [[180, 180], [0, 0], [360, 270]]
    assert out["colours"] == ["rgb(244,199,195)", "rgb(255,255,255)", "rgb(190,230,190)", "rgb(190,230,190)"]
    assert out["next"] == [1, 0]
    assert out["points"] == [[1.5, -0.25], [0, 3]]
    assert out["levels"] == [5, 99, 7]  # a stray last digit is ignored


@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".dlb-gan")
        assert root.bounding_box()["width"] <= width - 16 + 0.5
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        readout = root.locator(".readout")
        canvas = root.locator("canvas")
        assert readout.get_attribute("data-variant") == "minimax"
        assert readout.get_attribute("data-step") == "0"
        before = canvas.evaluate("c => c.toDataURL()")
        root.locator("input[name=frame]").evaluate(
            "el => { el.value = 3; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        assert readout.get_attribute("data-step") == "12"
        want = payload["variants"][0]["frames"][3]["covered"]
        assert readout.get_attribute("data-covered") == str(want)
        assert canvas.evaluate("c => c.toDataURL()") != before
        before = canvas.evaluate("c => c.toDataURL()")
        root.get_by_role("button", name="WGAN-GP").click()
        assert readout.get_attribute("data-variant") == "wgan-gp"
        assert root.get_by_role("button", name="WGAN-GP").get_attribute("aria-pressed") == "true"
        assert canvas.evaluate("c => c.toDataURL()") != before
        root.get_by_role("button", name="\u25b6 play").click()
        page.wait_for_function(
            "document.querySelector('.dlb-gan .readout').dataset.step !== '12'", timeout=5_000
        )
        watcher.assert_clean("GAN playback widget")
