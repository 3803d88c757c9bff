"""The optimizer race (chapter 6): its JavaScript against torch.optim, and the widget in Chromium.

The widget computes every trajectory in the browser. Here its JavaScript runs in Node on
every surface with every optimizer (and a few off-default hyperparameters), and each path
must equal the one ``torch.optim`` takes on the same surface (autograd's gradient of the
formula in utils/optim_surfaces.py) to 1e-6 relative. Lion, which torch.optim does not have,
is compared with the paper's update written here in torch. The widget is then rendered in
headless Chromium from a bare page, at phone and desktop width, and clicked.
"""

import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch

from tests.browser import widget_alone
from utils.optim_surfaces import SURFACES, grid_values, log_levels, surface_value, torch_trajectory
from utils.widgets import optimizer_race
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.optimizer_race import DEFAULT_LRS, OPTIMIZERS, OptimizerRace, optimizer_race_data

JS = pathlib.Path(optimizer_race.__file__).with_name("optimizer_race.js")
STEPS = 200


def lion_trajectory(surface, start, steps, lr, beta1, beta2):
    """Lion (Chen et al., 2023, Algorithm 2 without weight decay), in torch."""
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    m = torch.zeros(2, dtype=torch.float64)
    path = [point.detach().clone()]
    for _ in range(steps):
        point.grad = None
        surface_value(surface, point[0], point[1]).backward()
        g = point.grad
        with torch.no_grad():
            point -= lr * torch.sign(beta1 * m + (1 - beta1) * g)
            m = beta2 * m + (1 - beta2) * g
        path.append(point.detach().clone())
    return torch.stack(path).numpy()


def reference(surface, name, hp, start, steps):
    if name == "lion":
        return lion_trajectory(surface, start, steps, **hp)
    return torch_trajectory(surface, name, start, steps, **hp)


def cases():
    """Every surface x optimizer at the widget's defaults, plus off-default hyperparameters."""
    out = []
    for surface, info in SURFACES.items():
        for name in OPTIMIZERS:
            beta2 = 0.99 if name == "lion" else 0.999
            out.append(
                [
                    surface,
                    name,
                    {"lr": DEFAULT_LRS[surface][name], "beta1": 0.9, "beta2": beta2},
                    info["start"],
                    STEPS,
                ]
            )
    out += [
        ["ravine", "momentum", {"lr": 0.01, "beta1": 0.5, "beta2": 0.999}, [3.0, -2.0], STEPS],
        ["ravine", "nesterov", {"lr": 0.05, "beta1": 0.97, "beta2": 0.999}, [-7.0, 1.0], STEPS],
        ["saddle", "rmsprop", {"lr": 0.003, "beta2": 0.9, "beta1": 0.0}, [1.0, 0.5], STEPS],
        ["wells", "adam", {"lr": 0.3, "beta1": 0.5, "beta2": 0.9}, [0.5, -2.5], STEPS],
        ["rosenbrock", "adam", {"lr": 0.02, "beta1": 0.95, "beta2": 0.99}, [0.0, 2.0], STEPS],
        ["wells", "lion", {"lr": 0.03, "beta1": 0.8, "beta2": 0.95}, [2.0, 2.0], STEPS],
        ["ravine", "adagrad", {"lr": 0.5, "beta1": 0.9, "beta2": 0.999}, [9.0, 3.0], STEPS],
    ]
    return out


NODE_SCRIPT = """
import * as w from "./race.mjs";
import fs from "fs";
const cases = JSON.parse(fs.readFileSync("cases.json", "utf-8"));
const grads = ["ravine", "rosenbrock", "saddle", "wells"].map(
  (s) => [w.surfaceValue(s, 0.3, -0.7), w.surfaceGrad(s, 0.3, -0.7)]);
const runs = cases.map(([s, name, hp, start, steps]) => w.trajectory(s, name, hp, start, steps));
const blowup = w.trajectory("rosenbrock", "sgd", { lr: 0.1, beta1: 0.9, beta2: 0.999 }, [-1.5, 2.5], 50);
const first = w.trajectory("ravine", "adam", { lr: 0.1, beta1: 0.9, beta2: 0.999 }, [-9, 2.5], 1);
console.log(JSON.stringify({ paths: runs.map((r) => r.points), diverged: runs.map((r) => r.diverged),
  grads, blowup: [blowup.diverged, blowup.points.length], first: first.terms[0],
  short: [w.short(0), w.short(1234.5), w.short(2e-5), w.short(-0.5), w.short(NaN)] }));
"""


@pytest.fixture(scope="module")
def node_results(tmp_path_factory):
    if shutil.which("node") is None:
        pytest.skip("Node.js is not installed")
    folder = tmp_path_factory.mktemp("race")
    (folder / "race.mjs").write_text(widget_module(JS), encoding="utf-8")
    (folder / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    (folder / "cases.json").write_text(json.dumps(cases()), encoding="utf-8")
    result = subprocess.run(
        ["node", "run.mjs"], cwd=folder, capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout)


def test_javascript_surfaces_and_gradients_equal_torch_autograd(node_results):
    for surface, (value, grad) in zip(SURFACES, node_results["grads"], strict=True):
        point = torch.tensor([0.3, -0.7], dtype=torch.float64, requires_grad=True)
        f = surface_value(surface, point[0], point[1])
        f.backward()
        assert value == pytest.approx(f.item(), rel=1e-12), surface
        np.testing.assert_allclose(grad, point.grad.numpy(), rtol=1e-12, atol=1e-14, err_msg=surface)


@pytest.mark.parametrize("index", range(len(cases())))
def test_javascript_trajectories_equal_torch_optim(node_results, index):
    surface, name, hp, start, steps = cases()[index]
    got = np.array(node_results["paths"][index])
    assert node_results["diverged"][index] is None and got.shape == (steps + 1, 2)
    want = reference(surface, name, hp, start, steps)
    assert np.abs(want[-1] - want[0]).max() > 0.05, "the case should move"
    scale = np.maximum(1.0, np.abs(want))
    assert np.max(np.abs(got - want) / scale) <= 1e-6, f"{surface} / {name}"


def test_javascript_stops_a_diverging_run_and_splits_the_update(node_results):
    diverged_at, length = node_results["blowup"]
    assert diverged_at is not None and length == diverged_at  # points before the blow-up only
    first = node_results["first"]  # Adam's first step: bias correction makes it lr * sign(g)
    np.testing.assert_allclose(first["update"], [0.1, -0.1], rtol=1e-6)
    assert first["grad"] == pytest.approx([0.02 * -9, 5 * 2.5])
    assert first["velocity"] == pytest.approx([0.1 * 0.02 * -9, 0.1 * 5 * 2.5])
    assert (
        node_results["short"][0] == "0.000"
        and node_results["short"][2] == "2.00e\u22125"
        and node_results["short"][4] == "\u2013"
    )


def test_payload_and_widget():
    data = optimizer_race_data(lrs={"ravine": {"adam": 0.2}}, start_optimizers=("sgd", "lion"))
    assert set(data["surfaces"]) == set(SURFACES)
    assert data["surfaces"]["ravine"]["lr"]["adam"] == 0.2
    assert data["surfaces"]["ravine"]["lr"]["sgd"] == DEFAULT_LRS["ravine"]["sgd"]
    assert json.loads(json.dumps(data)) == data and len(json.dumps(data)) < MAX_PAYLOAD_BYTES
    assert OptimizerRace(data).data == data
    with pytest.raises(ValueError, match="missing"):
        OptimizerRace({"surfaces": {}})
    with pytest.raises(ValueError, match="unknown surface"):
        optimizer_race_data(start_surface="himmelblau")
    with pytest.raises(ValueError, match="start_optimizers"):
        optimizer_race_data(start_optimizers=("adamw",))
    assert "bookUI" in OptimizerRace._esm and "export default" in OptimizerRace._esm
    source = JS.read_text(encoding="utf-8")
    assert "http://" not in source and "https://" not in source



@pytest.mark.parametrize("width", [360, 1000])
def test_widget_renders_fits_and_responds_in_chromium(browser, tmp_path, width):
    data = optimizer_race_data()
    with widget_alone(browser, tmp_path, JS, data, width, height=1000) as (page, watcher):
        root = page.locator(".dlb-race")
        assert root.bounding_box()["width"] <= width - 16 + 0.5
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        canvas = root.locator("canvas")
        terms = root.locator("table.terms")
        board = root.locator("table.board tr[data-opt]")
        assert board.evaluate_all("rs => rs.map(r => r.dataset.opt)") == ["sgd", "momentum", "adam"]

        def shown_point():
            return [float(terms.get_attribute("data-x")), float(terms.get_attribute("data-y"))]

        # the readout is SGD's point after 150 steps: torch.optim.SGD agrees
        want = torch_trajectory(
            "ravine", "sgd", data["surfaces"]["ravine"]["start"], 150, lr=DEFAULT_LRS["ravine"]["sgd"]
        )
        np.testing.assert_allclose(shown_point(), want[-1], rtol=1e-6, atol=1e-12)

        # a click on the surface starts every optimizer there
        before = canvas.evaluate("c => c.toDataURL()")
        box = canvas.bounding_box()
        canvas.click(position={"x": 0.75 * box["width"], "y": 0.25 * box["height"]})
        assert canvas.evaluate("c => c.toDataURL()") != before
        root.locator("input[name=shown]").evaluate(
            "el => { el.value = 0; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        x0, y0 = shown_point()
        assert 3.0 < x0 < 8.0 and 0.5 < y0 < 3.0  # the clicked point, in surface coordinates

        # a new learning rate for SGD moves its path: the readout follows torch.optim again
        root.locator("select[name=focus]").select_option("sgd")
        root.locator("input[name=lr]").evaluate(
            "el => { el.value = -1; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        root.locator("input[name=shown]").evaluate(
            "el => { el.value = 40; el.dispatchEvent(new Event('input', {bubbles: true})); }"
        )
        want = torch_trajectory("ravine", "sgd", [x0, y0], 40, lr=0.1)
        np.testing.assert_allclose(shown_point(), want[-1], rtol=1e-6, atol=1e-12)

        # other surface, other optimizers
        root.get_by_role("button", name="Rosenbrock valley").click()
        root.locator("button[data-opt=lion]").click()
        assert "lion" in board.evaluate_all("rs => rs.map(r => r.dataset.opt)")
        assert root.locator("select[name=focus]").input_value() == "lion"
        assert root.locator("input[name=beta2]").is_visible()
        root.locator("button[data-opt=sgd]").click()  # SGD leaves the race
        assert "sgd" not in board.evaluate_all("rs => rs.map(r => r.dataset.opt)")
        watcher.assert_clean("optimizer race widget")


def test_surfaces_module():
    """The minima the chapter and the widget mark are minima; the grid and levels fit the window."""
    for surface, points in optimizer_race.MINIMA.items():
        for x, y in points:
            point = torch.tensor([x, y], dtype=torch.float64, requires_grad=True)
            value = surface_value(surface, point[0], point[1])
            value.backward()
            assert point.grad.abs().max().item() < 1e-12, surface
            assert value.item() == pytest.approx(SURFACES[surface]["min"], abs=1e-12), surface
    xs, ys, values = grid_values("wells", n=30)
    assert values.shape == (30, 30)
    assert xs[0] == SURFACES["wells"]["x"][0] and ys[-1] == SURFACES["wells"]["y"][1]
    assert values.min() >= SURFACES["wells"]["min"]  # the colour scale's floor lies below the surface
    levels = log_levels("wells", values)
    assert levels == sorted(levels) and SURFACES["wells"]["min"] < levels[0] < levels[-1] < values.max()
    with pytest.raises(ValueError, match="unknown surface"):
        surface_value("himmelblau", 0.0, 0.0)
