"""The chapter-3 loss explorer: its payload, its maths (run in Node) and the widget in Chromium.

The maths in ``losses.js`` is checked against PyTorch's loss functions and against
direct minimisation, so the fits the reader sees on the static site are the right ones.
The browser test mounts the widget on a bare page with a stand-in for the anywidget
model (no site build needed) and checks that it draws and reacts to its controls.
"""

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.browser import PageWatcher, serve
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.losses import LossExplorer, explorer_data

JS = pathlib.Path(__file__).resolve().parent.parent / "utils" / "widgets" / "losses.js"


def test_payload_is_small_plain_json_within_the_slider_ranges():
    data = explorer_data()
    assert json.loads(json.dumps(data)) == data
    assert len(json.dumps(data)) < MAX_PAYLOAD_BYTES / 20
    assert len(data["points"]["x"]) == 24 and len(data["outliers"]["x"]) == 4
    lo, hi = data["ranges"]["x"]
    assert all(lo <= x <= hi for x in data["points"]["x"] + data["outliers"]["x"])
    for key in ("target", "prediction", "delta", "height"):
        low, high = data["ranges"][key]
        assert low <= data["defaults"][key] <= high, key
    widget = LossExplorer(delta=0.5, line=False)
    assert widget.data["defaults"]["delta"] == 0.5 and widget.data["defaults"]["line"] is False


@pytest.mark.parametrize("kwargs", [dict(delta=0.0), dict(delta=5), dict(height=-1), dict(n_points=1),
                                    dict(n_points=300), dict(target=3), dict(prediction=-9)])
def test_payload_rejects_values_outside_the_sliders(kwargs):
    with pytest.raises(ValueError):
        explorer_data(**kwargs)


def test_payload_is_reproducible():
    assert explorer_data(seed=4) == explorer_data(seed=4)
    assert explorer_data(seed=4) != explorer_data(seed=5)


# ---- the JavaScript maths, run in Node ----

@pytest.fixture(scope="module")
def module_uri(tmp_path_factory):
    """losses.js as the page gets it (the shared prelude in front), saved as an ES module file."""
    path = tmp_path_factory.mktemp("losses") / "losses.mjs"
    path.write_text(widget_module(JS), encoding="utf-8")
    return path.as_uri()


def run_node(module_uri, script):
    """Import losses.js as an ES module in Node, run ``script`` (which sets ``out``), return ``out``."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not found (apt-get install nodejs)")
    program = (f"import * as m from {json.dumps(module_uri)};\n"
               f"let out;\n{script}\nconsole.log(JSON.stringify(out));\n")
    done = subprocess.run([node, "--input-type=module", "-e", program], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_js_losses_and_derivatives_match_torch(module_uri):
    errors = np.linspace(-6, 6, 121)
    deltas = [0.3, 1.0, 2.5]
    out = run_node(module_uri, f"""
        const es = {json.dumps(errors.tolist())};
        out = {{}};
        for (const name of m.LOSS_NAMES) {json.dumps(deltas)}.forEach((d, k) => {{
          out[name + k] = {{value: es.map((e) => m.LOSSES[name].value(e, d)),
                            grad: es.map((e) => m.LOSSES[name].grad(e, d))}};
        }});""")
    pred = torch.tensor(errors, dtype=torch.float64, requires_grad=True)
    target = torch.zeros_like(pred)
    for k, delta in enumerate(deltas):
        torch_losses = {
            "mse": lambda p: F.mse_loss(p, target, reduction="none"),
            "mae": lambda p: F.l1_loss(p, target, reduction="none"),
            "huber": lambda p: F.huber_loss(p, target, reduction="none", delta=delta),  # noqa: B023
            "logcosh": lambda p: torch.log(torch.cosh(p - target)),
        }
        for name, loss_fn in torch_losses.items():
            value = loss_fn(pred)
            (grad,) = torch.autograd.grad(value.sum(), pred)
            js = out[f"{name}{k}"]
            np.testing.assert_allclose(js["value"], value.detach().numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=name)
            np.testing.assert_allclose(js["grad"], grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=name)


def test_js_log_cosh_does_not_overflow(module_uri):
    out = run_node(module_uri, "out = [m.logCosh(1000), m.logCosh(-1000), m.logCosh(0)];")
    np.testing.assert_allclose(out, [1000 - np.log(2), 1000 - np.log(2), 0.0], atol=1e-9)


def direct_fit(x, y, name, delta, line):
    """Minimise the mean loss with L-BFGS in float64 (the smooth losses) as an independent check."""
    x, y = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    params = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    losses = {"mse": lambda e: e**2,
              "huber": lambda e: F.huber_loss(e, torch.zeros_like(e), reduction="none", delta=delta),
              "logcosh": lambda e: torch.log(torch.cosh(e))}
    opt = torch.optim.LBFGS([params], lr=1, max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        slope = params[1] if line else 0.0
        loss = losses[name](params[0] + slope * x - y).mean()
        loss.backward()
        return loss

    opt.step(closure)
    return params[0].item(), (params[1].item() if line else 0.0)


@pytest.mark.parametrize("line", [False, True])
def test_js_fits_minimise_each_loss(module_uri, line):
    data = explorer_data(seed=1)
    x = data["points"]["x"] + data["outliers"]["x"]
    y = data["points"]["y"] + [v + 5.0 for v in data["outliers"]["y"]]
    delta = 0.8
    out = run_node(module_uri, f"""
        const xs = {json.dumps(x)}, ys = {json.dumps(y)};
        out = {{}};
        for (const name of m.LOSS_NAMES) {{
          const fit = m.fitRobust(xs, ys, name, {delta}, {json.dumps(line)});
          const at = (a, b) => m.meanLoss(xs, ys, name, {delta}, {{a, b}});
          const nudged = [];
          for (const da of [-1e-3, 0, 1e-3]) for (const db of {json.dumps([-1e-3, 0, 1e-3] if line else [0])})
            nudged.push(at(fit.a + da, fit.b + db));
          out[name] = {{a: fit.a, b: fit.b, loss: at(fit.a, fit.b), nudged}};
        }}""")
    for name in ("mse", "huber", "logcosh"):
        a, b = direct_fit(x, y, name, delta, line)
        assert out[name]["a"] == pytest.approx(a, abs=1e-6), name
        assert out[name]["b"] == pytest.approx(b, abs=1e-6), name
    # MAE is not smooth: the constant fit is a median (with an even count, anything between
    # the two middle values), and no nudge lowers the mean absolute error
    if not line:
        middle = sorted(y)[len(y) // 2 - 1: len(y) // 2 + 1] if len(y) % 2 == 0 else [np.median(y)] * 2
        assert middle[0] - 1e-4 <= out["mae"]["a"] <= middle[1] + 1e-4
    for name, fit in out.items():
        assert fit["loss"] <= min(fit["nudged"]) + 1e-9, name
    # the point of the panel: with outliers raised, MSE moves furthest up and MAE least
    assert out["mse"]["a"] > out["huber"]["a"] > out["mae"]["a"] or line


def test_js_outliers_pull_the_mse_constant_up_but_not_the_median(module_uri):
    data = explorer_data()
    out = run_node(module_uri, f"""
        const data = {json.dumps(data)};
        out = {{}};
        for (const on of [false, true]) {{
          const {{xs, ys}} = m.currentPoints(data, on, 6);
          out[on] = Object.fromEntries(m.LOSS_NAMES.map((n) => [n, m.fitRobust(xs, ys, n, 1.0, false).a]));
        }}""")
    shift = {name: out["true"][name] - out["false"][name] for name in out["true"]}
    assert shift["mse"] > 0.6
    assert abs(shift["mae"]) < shift["huber"] < shift["logcosh"] < shift["mse"]


# ---- the widget in a browser ----

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>losses widget</title></head>
<body><div id="root"></div><script type="module">
import widget from "./losses.js";
const data = %s;
const model = { get: (key) => (key === "data" ? data : undefined), on() {}, off() {} };
widget.render({ model, el: document.getElementById("root") });
window.rendered = true;
</script></body></html>"""


@pytest.fixture
def widget_page(browser, tmp_path):
    (tmp_path / "losses.js").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "index.html").write_text(PAGE % json.dumps(explorer_data()), encoding="utf-8")
    with serve(tmp_path) as url:
        context = browser.new_context(viewport={"width": 1000, "height": 900})
        page = context.new_page()
        page.watcher = PageWatcher(page, url)
        page.goto(url + "index.html", wait_until="load")
        page.wait_for_function("window.rendered === true", timeout=10_000)
        yield page
        context.close()


def canvas_pixels(page, index):
    return page.evaluate(f"document.querySelectorAll('canvas')[{index}].toDataURL()")


def test_widget_draws_and_reacts_to_its_controls(widget_page):
    page = widget_page
    assert page.locator("canvas").count() == 2
    readouts = page.locator("div[style*='monospace']")
    loss_text, fit_text = readouts.nth(0).inner_text(), readouts.nth(1).inner_text()
    assert "MSE" in loss_text and "Huber" in fit_text
    before = [canvas_pixels(page, 0), canvas_pixels(page, 1)]

    # moving the prediction slider changes the readout and the loss canvas
    page.locator("input[data-key=prediction]").fill("-2.5")
    assert readouts.nth(0).inner_text() != loss_text
    assert canvas_pixels(page, 0) != before[0]

    # switching the outliers on moves the fits (and the MSE fit more than the MAE fit)
    page.locator("button[data-model=constant]").click()
    constant_text = readouts.nth(1).inner_text()
    page.locator("input[data-key=outliers]").check()
    with_outliers = readouts.nth(1).inner_text()
    assert with_outliers != constant_text
    assert canvas_pixels(page, 1) != before[1]

    def constants(text):
        return {line.split()[0]: float(line.split("=")[1].replace("\u2212", "-"))
                for line in text.splitlines()}

    shift = {k: constants(with_outliers)[k] - constants(constant_text)[k] for k in ("MSE", "MAE")}
    assert shift["MSE"] > shift["MAE"] >= 0

    # the derivative toggle and the delta slider redraw without errors
    page.locator("input[data-key=derivative]").check()
    assert "dL/d" in readouts.nth(0).inner_text()
    page.locator("input[data-key=delta]").fill("0.3")
    page.watcher.assert_clean("losses widget page")


@pytest.mark.parametrize("column", [752, 342])  # a chapter's text column at 1280 px, and on a 360 px phone
def test_widget_fits_the_column(browser, tmp_path, column):
    """Side by side in a desktop column (it was 402 px per panel, stacked to 1092 px tall),
    one above the other on a phone, and never wider than the column (it was 402 px in 358)."""
    (tmp_path / "losses.js").write_text(widget_module(JS), encoding="utf-8")
    page_html = PAGE.replace('<div id="root"></div>', f'<div id="root" style="width: {column}px"></div>')
    (tmp_path / "index.html").write_text(page_html % json.dumps(explorer_data()), encoding="utf-8")
    with serve(tmp_path) as url:
        context = browser.new_context(viewport={"width": max(column + 18, 360), "height": 900})
        page = context.new_page()
        page.goto(url + "index.html", wait_until="load")
        page.wait_for_function("window.rendered === true", timeout=10_000)
        card = page.locator(".bw-root")
        box = card.bounding_box()
        assert box["width"] <= column and card.evaluate("c => c.scrollWidth <= c.clientWidth")
        canvases = [page.locator("canvas").nth(i).bounding_box() for i in range(2)]
        for canvas in canvases:
            assert canvas["x"] + canvas["width"] <= box["x"] + box["width"]
        if column >= 700:
            assert canvases[0]["y"] == canvases[1]["y"] and box["height"] < 700, (canvases, box)
        else:
            assert canvases[1]["y"] > canvases[0]["y"] + canvases[0]["height"]  # stacked
        context.close()
