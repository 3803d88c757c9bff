"""The latent-space explorer (chapter 13): its payload comes from a real decoder, and its JavaScript.

The Python side is checked on a small stand-in VAE (a fixed linear decoder, so every decoded
image is known), and once on the shipped 2-D VAE book model (the payload stays small). The
JavaScript's pure functions run in Node when it is installed, and the widget is rendered in
headless Chromium from a bare page at phone and desktop width: dragging on the map changes the
decoded image, and tapping two thumbnails makes them the ends A and B of the line that the map,
the strip and the slider use.
"""

import json
import pathlib
import shutil
import subprocess

import pytest
import torch

from tests.browser import widget_alone
from utils.widgets import latent_explorer
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.latent_explorer import (
    LatentExplorer,
    grid_latents,
    latent_explorer_data,
    pack_images,
    unpack_images,
)

JS = pathlib.Path(latent_explorer.__file__).with_name("latent_explorer.js")
CLASSES = [f"class {i}" for i in range(10)]


class TinyVAE(torch.nn.Module):
    """encode: the mean of each image's two halves; decode: a fixed smooth function of z."""

    def encode(self, x):
        flat = x.flatten(1)
        mu = torch.stack([flat[:, :392].mean(1), flat[:, 392:].mean(1)], dim=1) * 4 - 2
        return mu, torch.zeros_like(mu)

    def decode(self, z):
        ramp = torch.linspace(-1, 1, 784)
        return (z[:, :1] * ramp + z[:, 1:] * ramp.flip(0)).reshape(-1, 1, 28, 28)

    def parameters(self, recurse=True):
        yield torch.zeros(1)


def _images(n=60, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 28, 28, generator=generator), torch.arange(n) % 10


@pytest.fixture(scope="module")
def payload():
    images, labels = _images()
    return latent_explorer_data(TinyVAE(), images, labels, CLASSES, grid=9, extent=3.0, scatter=40)


def test_packing_round_trips_to_16_levels():
    images = torch.rand(3, 28, 28, generator=torch.Generator().manual_seed(1))
    back = unpack_images(pack_images(images), 3)
    assert back.shape == (3, 28, 28)
    assert (back - images).abs().max() <= 0.5 / 15 + 1e-6
    assert torch.equal(unpack_images(pack_images(torch.ones(1, 3, 3)), 1, side=3), torch.ones(1, 3, 3))
    assert len(pack_images(torch.zeros(1, 3, 3))) == len("AAAAAA==")  # 9 pixels -> 5 bytes -> 8 characters


def test_grid_runs_row_by_row_from_the_top():
    z = grid_latents(3, 2.0)
    assert z.tolist() == [[-2, 2], [0, 2], [2, 2], [-2, 0], [0, 0], [2, 0], [-2, -2], [0, -2], [2, -2]]


def test_payload_holds_the_decoders_images(payload):
    decoded = unpack_images(payload["decoded"], 81)
    want = torch.sigmoid(TinyVAE().decode(grid_latents(9, 3.0))).reshape(81, 28, 28)
    assert (decoded - want).abs().max() <= 0.5 / 15 + 1e-6
    assert len(payload["scatter"]) == 40 and all(0 <= label < 10 for _, _, label in payload["scatter"])
    images, labels = _images()
    picks = payload["picks"]  # the first 4 images of each class: labels 0..9 repeat every 10 images
    assert [p["index"] for p in picks] == [c + 10 * k for c in range(10) for k in range(4)]
    assert [p["label"] for p in picks] == [c for c in range(10) for _ in range(4)]
    mu = TinyVAE().encode(images[[p["index"] for p in picks]])[0]
    assert torch.allclose(torch.tensor([p["z"] for p in picks]), mu, atol=1e-3)
    shipped = unpack_images(payload["pick_images"], len(picks))
    assert (shipped - images[[p["index"] for p in picks], 0]).abs().max() <= 0.5 / 15 + 1e-6
    assert json.loads(json.dumps(payload)) == payload


def test_refuses_a_latent_that_is_not_2d():
    class Wide(TinyVAE):
        def encode(self, x):
            return torch.zeros(len(x), 3), torch.zeros(len(x), 3)

    with pytest.raises(ValueError, match="2-D latent"):
        latent_explorer_data(Wide(), *_images(), CLASSES)
    with pytest.raises(ValueError, match="missing"):
        LatentExplorer({"grid": 3})


def test_book_model_payload_is_small_and_decodes_garments():
    from utils.data import FASHION_CLASSES, load_fashion_mnist
    from utils.models import load_book_model

    data = load_fashion_mnist()
    vae = load_book_model("vae_2d", device="cpu")
    payload = latent_explorer_data(vae, data.test_x, data.test_y, FASHION_CLASSES)
    assert len(json.dumps(payload)) < MAX_PAYLOAD_BYTES
    assert LatentExplorer(payload).data == payload
    decoded = unpack_images(payload["decoded"], payload["grid"] ** 2)
    assert 0.1 < decoded.mean() < 0.5  # garments on a dark background, not blank and not saturated
    assert "bookUI" in LatentExplorer._esm and "export default" in LatentExplorer._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source  # nothing fetched at runtime


NODE_SCRIPT = """
import * as w from "./latent_explorer.mjs";
const packed = Buffer.from([0x0f, 0xa5]).toString("base64");
console.log(JSON.stringify({
  unpacked: w.unpackImages(packed, 2, 1).map((a) => Array.from(a)),
  centre: w.blendWeights([0, 0], 3, 2),
  corner: w.blendWeights([-5, 5], 3, 2),
  between: w.blendWeights([1, -1], 3, 2),
  lerp: w.lerp([0, 0], [2, -4], 0.25),
}));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_helpers(tmp_path):
    (tmp_path / "latent_explorer.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    out = json.loads(result.stdout)
    assert out["unpacked"] == [[0], [15]]
    assert out["centre"] == [[4, 1]]  # the middle grid point exactly
    assert out["corner"] == [[0, 1]]  # clamped to the top-left grid point
    assert sorted(out["between"]) == [[4, 0.25], [5, 0.25], [7, 0.25], [8, 0.25]]
    assert out["lerp"] == [0.5, -1]


def _end_pixels(strip, cell, at):
    """Grey levels 0..15 read back from the strip cell that starts at logical x = ``at``: image pixel
    (r, c) is a square of (cell - 4) / 28 logical units, sampled at its centre."""
    return strip.evaluate(
        """(c, [cell, at]) => {
          const ctx = c.getContext("2d"), step = (cell - 4) / 28, dpr = window.devicePixelRatio || 1;
          const out = [];
          for (let p = 0; p < 784; p += 1) {
            const x = (at + (p % 28 + 0.5) * step) * dpr, y = ((Math.floor(p / 28) + 0.5) * step) * dpr;
            out.push(Math.round(15 * (1 - ctx.getImageData(x, y, 1, 1).data[0] / 255)));
          }
          return out;
        }""",
        [cell, at],
    )


@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, payload, width):
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".dlb-latent")
        assert root.bounding_box()["width"] <= width - 16 + 0.5
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        readout = root.locator(".readout")
        picture = root.locator("canvas").nth(1)
        before = picture.evaluate("c => c.toDataURL()")
        box = root.locator("canvas").first.bounding_box()
        page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 0.1 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.85 * box["width"], box["y"] + 0.15 * box["height"])
        page.mouse.up()
        z1, z2 = float(readout.get_attribute("data-z1")), float(readout.get_attribute("data-z2"))
        assert z1 == pytest.approx(0.7 * 3.0, abs=0.1) and z2 == pytest.approx(0.7 * 3.0, abs=0.1)
        assert picture.evaluate("c => c.toDataURL()") != before
        thumbs = root.locator("button[data-pick]")
        assert thumbs.count() == len(payload["picks"])
        for thumb in thumbs.all():  # big enough to tap on a phone
            size = thumb.bounding_box()
            assert size["width"] >= 32 and size["height"] >= 32
        watcher.assert_clean("latent explorer widget")


@pytest.mark.parametrize("width", [375, 1000])
def test_two_picked_test_images_are_the_ends_of_the_line(browser, tmp_path, payload, width):
    picks = payload["picks"]
    a, b = 13, 37  # a class-3 and a class-9 image of the 40 pickable ones
    with widget_alone(browser, tmp_path, JS, payload, width) as (page, watcher):
        root = page.locator(".dlb-latent")
        thumbs = root.locator("button[data-pick]")
        map_canvas = root.locator("canvas").first
        map_before = map_canvas.evaluate("c => c.toDataURL()")
        thumbs.nth(a).click()
        thumbs.nth(b).click()  # the taps alternate: the first sets A, the next B
        assert (root.get_attribute("data-a"), root.get_attribute("data-b")) == (str(a), str(b))
        assert [thumbs.nth(i).get_attribute("data-end") for i in (a, b)] == ["A", "B"]
        assert root.locator("button[name=end-A]").inner_text().strip() == "A: class 3"
        assert root.locator("button[name=end-B]").inner_text().strip() == "B: class 9"
        line = [float(v) for v in map_canvas.get_attribute("data-line").split()]
        assert line == pytest.approx(picks[a]["z"] + picks[b]["z"], abs=1e-9)
        assert map_canvas.evaluate("c => c.toDataURL()") != map_before  # the line moved on the map
        readout = root.locator(".readout")
        middle = [(p + q) / 2 for p, q in zip(picks[a]["z"], picks[b]["z"])]
        for t, want in ((0, picks[a]["z"]), (1, picks[b]["z"]), (0.5, middle)):
            root.locator("input[name=t]").evaluate(
                "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", t
            )
            z = [float(readout.get_attribute("data-z1")), float(readout.get_attribute("data-z2"))]
            assert z == pytest.approx(want, abs=1e-3)
        # the strip's two ends are the picked test images themselves (4-bit grey levels)
        images = unpack_images(payload["pick_images"], len(picks))
        strip = root.locator("canvas[aria-label^='decoded images along']")
        for at, end in ((0, a), (9 * 60, b)):
            shown = torch.tensor(_end_pixels(strip, 60, at), dtype=torch.float32).reshape(28, 28) / 15
            assert (shown - images[end]).abs().max() <= 1.5 / 15
        # tapping the A box makes A the end that the next tap moves
        root.locator("button[name=end-A]").click()
        thumbs.nth(0).click()
        assert (root.get_attribute("data-a"), root.get_attribute("data-b")) == ("0", str(b))
        watcher.assert_clean("latent explorer widget")
