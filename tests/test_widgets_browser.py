"""The widget gallery page of the built site in headless Chromium: no kernel, no network.

Each widget must render from the page's embedded state, redraw when a control moves,
and leave the console clean; the learning-rate explorer's readout must equal PyTorch's
schedulers. Screenshots of the three widgets go to $DLBOOK_SCREENSHOTS when it is set.
"""

import os
import pathlib

import pytest
import torch
import torch.nn.functional as F

from tests.browser import PageWatcher, widgets_rendered
from tests.test_widgets import torch_lrs

GALLERY = "appendix/widget-gallery.html"
WIDGETS = {"activations": ".bw-act", "lr_schedules": ".bw-lr", "attention": ".bw-att",
           "init_explorer": ".dlb-init", "optimizer_race": ".dlb-race",
           "conv_explorer": ".dlb-conv", "segmentation_viewer": ".dlb-seg", "rnn_memory": ".bw-rnnmem",
           "latent_explorer": ".dlb-latent", "gan_playback": ".dlb-gan",
           "diffusion_explorer": ".dlb-diffusion", "finetune_explorer": ".dlb-finetune"}


@pytest.fixture
def gallery(page, site_dir, site_url):
    if not (site_dir / GALLERY).is_file():
        pytest.fail(f"{GALLERY} is not in the built site: is appendix/widget-gallery in _toc.yml?")
    page.goto(site_url + GALLERY, wait_until="load")
    for selector in WIDGETS.values():
        page.wait_for_selector(selector, timeout=30_000)
    return page


def set_slider(root, name, value):
    """Move a range input as a reader would (the widget listens to "input"); returns the value it took."""
    move = ("(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); "
            "return el.value }")
    return float(root.locator(f"input[name={name}]:visible").evaluate(move, str(value)))


def canvas_pixels(root):
    return root.locator("canvas").evaluate_all("cs => cs.map(c => c.toDataURL()).join()")


def test_widgets_render_from_embedded_state_offline(gallery):
    gallery.wait_for_load_state("networkidle")
    gallery.wait_for_selector("mjx-container", timeout=15_000)  # the page's math, typeset by local MathJax
    for name, selector in WIDGETS.items():
        box = gallery.locator(selector)
        assert box.bounding_box()["height"] > 200, name
        if folder := os.environ.get("DLBOOK_SCREENSHOTS"):
            box.screenshot(path=str(pathlib.Path(folder) / f"widget-{name}.png"))
    gallery.watcher.assert_clean(GALLERY)


def test_activation_explorer_responds_and_agrees_with_torch(gallery):
    act = gallery.locator(WIDGETS["activations"])
    rows = act.locator("tr[data-fn]")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.fn)") == ["relu", "gelu", "silu"]
    before = canvas_pixels(act)
    act.locator("input[value=tanh]").check()
    assert canvas_pixels(act) != before and rows.count() == 4
    before = canvas_pixels(act)
    assert set_slider(act, "beta", 2.0) == 2.0
    assert canvas_pixels(act) != before

    box = act.locator("canvas").bounding_box()
    gallery.mouse.move(box["x"] + 0.3 * box["width"], box["y"] + 0.5 * box["height"])
    readout = {r["fn"]: r for r in rows.evaluate_all("rs => rs.map(r => ({...r.dataset}))")}
    x = torch.tensor(float(readout["gelu"]["x"]), dtype=torch.float64, requires_grad=True)
    assert -3 < x.item() < -1  # the cursor followed the mouse
    reference = {"gelu": F.gelu, "tanh": torch.tanh,
                 "silu": lambda t: t * torch.sigmoid(2.0 * t)}  # Swish with beta = 2, as set above
    for name, fn in reference.items():
        x.grad = None
        y = fn(x)
        y.backward()
        assert float(readout[name]["f"]) == pytest.approx(y.item(), abs=1e-12), name
        assert float(readout[name]["df"]) == pytest.approx(x.grad.item(), abs=1e-12), name
    assert float(readout["gelu"]["minF"]) == pytest.approx(-0.16997, abs=1e-5)
    assert float(readout["silu"]["minF"]) == pytest.approx(-0.27846 / 2.0, abs=1e-5)  # Swish with beta = 2
    gallery.watcher.assert_clean(GALLERY)


# schedule -> (slider values, steps to read); every schedule of the widget, edges included
LR_CASES = {
    "step": ({"lr": 0.3, "total_steps": 200, "step_size": 17, "gamma": 0.5}, [0, 16, 17, 50, 199]),
    "exponential": ({"lr": 0.5, "total_steps": 100, "gamma": 0.95}, [0, 1, 50, 99]),
    "cosine": ({"lr": 0.1, "total_steps": 100, "T_max": 60, "eta_min": 0.01}, [0, 30, 60, 61, 99]),
    "warm_restarts": ({"lr": 0.2, "total_steps": 100, "T_0": 10, "T_mult": 2, "eta_min": 0.005},
                      [0, 9, 10, 29, 30, 69, 70, 99]),
    "warmup_cosine": ({"lr": 0.1, "total_steps": 120, "warmup": 15, "start_factor": 0.1, "eta_min": 0.001},
                      [0, 7, 14, 15, 16, 60, 119]),
    "onecycle": ({"lr": 0.8, "total_steps": 150, "pct_start": 0.25, "div_factor": 10,
                  "final_div_factor": 100}, [0, 20, 36, 37, 38, 100, 149]),
}


def test_lr_explorer_shows_torch_values(gallery):
    lr = gallery.locator(WIDGETS["lr_schedules"])
    readout = lr.locator(".lr-value")
    for schedule, (values, steps) in LR_CASES.items():
        before = canvas_pixels(lr)
        lr.locator("select[name=schedule]").select_option(schedule)
        params = {name: set_slider(lr, name, value) for name, value in values.items()}
        assert canvas_pixels(lr) != before, schedule
        params = {k: int(v) if v.is_integer() else v for k, v in params.items()}  # PyTorch wants int steps
        expected = torch_lrs(schedule, params)
        for step in steps:
            set_slider(lr, "step", step)
            assert int(readout.get_attribute("data-step")) == step
            shown = float(readout.get_attribute("data-lr"))
            assert shown == pytest.approx(expected[step], abs=1e-6), f"{schedule} {params} step {step}"
    gallery.watcher.assert_clean(GALLERY)


def test_attention_viewer_switches_heads_and_follows_the_mouse(gallery):
    att = gallery.locator(WIDGETS["attention"])
    readout = att.locator(".readout")
    cells = att.locator("rect[data-j]")
    fills = "rs => rs.map(r => r.getAttribute('fill'))"
    first = cells.evaluate_all(fills)
    other = str(1 - int(readout.get_attribute("data-layer")))  # the gallery's model has 2 layers
    att.locator("select[name=layer]").select_option(other)
    assert cells.evaluate_all(fills) != first
    assert readout.get_attribute("data-layer") == other

    att.locator("rect[data-i='8'][data-j='0']").hover()
    assert readout.get_attribute("data-query") == "8"
    weights = att.locator(".chip").evaluate_all("cs => cs.map(c => Number(c.dataset.weight))")
    assert sum(weights) == pytest.approx(1, abs=0.01) and all(w == 0 for w in weights[9:])  # causal
    att.locator(".chip").nth(3).hover()
    assert readout.get_attribute("data-query") == "3"

    assert att.locator(".grid button").count() == 4  # every layer and head of the model, as small maps
    assert att.locator("rect.masked").count() == 12 * 11 // 2  # the causal mask's squares, hatched
    att.locator(".grid button[data-layer='0'][data-head='1']").click()
    assert (readout.get_attribute("data-layer"), readout.get_attribute("data-head")) == ("0", "1")
    gallery.watcher.assert_clean(GALLERY)



def test_init_explorer_switches_settings_and_layers(gallery):
    init = gallery.locator(WIDGETS["init_explorer"])
    verdict = init.locator("div[data-kind]")
    assert verdict.get_attribute("data-kind") == "shrinks"  # ReLU with Xavier, the gallery's start
    before = canvas_pixels(init)
    init.get_by_role("button", name="He (2/fan_in)").click()
    assert verdict.get_attribute("data-kind") == "stable" and canvas_pixels(init) != before
    assert set_slider(init, "layer", 50) == 50
    assert init.locator(".readout").get_attribute("data-layer") == "50"
    gallery.watcher.assert_clean(GALLERY)

@pytest.fixture
def narrow_gallery(browser, site_dir, site_url, request):
    """The gallery in a window ``request.param`` px wide (a phone), widgets drawn."""
    context = browser.new_context(viewport={"width": request.param, "height": 900})
    page = context.new_page()
    page.watcher = PageWatcher(page, site_url)
    page.goto(site_url + GALLERY, wait_until="networkidle")
    widgets_rendered(page)
    yield page
    context.close()


@pytest.mark.parametrize("narrow_gallery", [360, 390], indirect=True)
def test_gallery_widgets_fit_a_phone(narrow_gallery):
    width = narrow_gallery.viewport_size["width"]
    for name, selector in WIDGETS.items():
        card = narrow_gallery.locator(selector)
        box = card.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, (name, box)
        assert card.evaluate("c => c.scrollWidth <= c.clientWidth"), name
    # the attention map's last column (it was cut off on a phone)
    att = narrow_gallery.locator(WIDGETS["attention"])
    last = att.locator("rect[data-j]").evaluate_all(
        "rs => Math.max(...rs.map(r => r.getBoundingClientRect().right))")
    assert last <= att.bounding_box()["x"] + att.bounding_box()["width"] <= width
    narrow_gallery.watcher.assert_clean(GALLERY)


def test_widgets_stay_legible_in_dark_mode(browser, site_url):
    """In the site's dark mode the widgets keep their light card: the LR widget's code line was
    pale pink (the dark theme's code colour) on the white canvas background."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    page.add_init_script("localStorage.setItem('mode', 'dark'); localStorage.setItem('theme', 'dark');")
    page.goto(site_url + GALLERY, wait_until="networkidle")
    widgets_rendered(page)
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    for selector in (*WIDGETS.values(), f"{WIDGETS['lr_schedules']} code"):
        ratio = page.locator(selector).first.evaluate(CONTRAST_JS)
        assert ratio >= 4.5, f"{selector}: contrast {ratio:.2f}"
    context.close()


# WCAG contrast of an element's text colour against the first opaque background behind it
CONTRAST_JS = """(e) => {
  const rgb = (s) => s.match(/[\\d.]+/g).map(Number);
  const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  const lum = ([r, g, b]) => 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  let node = e, bg = null;
  while (node && node.nodeType === 1) { const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] > 0.9) { bg = c; break; } node = node.parentElement; }
  const fg = rgb(getComputedStyle(e).color);
  const [a, b] = [lum(fg), lum(bg || [255, 255, 255])].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""
