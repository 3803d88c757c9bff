"""The perceptron playground (chapter 1): its payload, and the maths in its JavaScript.

The Python side only builds a JSON payload, so it is tested here directly. The
JavaScript's pure functions (prediction, the update rule, half-plane clipping) are
exported from perceptron.js and run in Node when Node is installed; the browser
tests of the built site cover the drawing.
"""

import fractions
import json
import pathlib
import shutil
import subprocess

import numpy as np
import pytest
import torch

from tests.browser import PageWatcher, serve
from utils.widgets import perceptron
from utils.widgets.base import MAX_PAYLOAD_BYTES, widget_module
from utils.widgets.perceptron import GATE_OUTPUTS, PerceptronPlayground, gate_dataset, playground_data

JS = pathlib.Path(perceptron.__file__).with_name("perceptron.js")


def test_gate_truth_tables():
    points, _ = gate_dataset("AND")
    assert points == [[0, 0], [0, 1], [1, 0], [1, 1]]
    for name, rule in {"AND": lambda a, b: a & b, "OR": lambda a, b: a | b,
                       "NAND": lambda a, b: 1 - (a & b), "XOR": lambda a, b: a ^ b}.items():
        points, labels = gate_dataset(name)
        assert labels == [rule(a, b) for a, b in points], name
    with pytest.raises(ValueError, match="unknown gate"):
        gate_dataset("XNOR")


def test_default_payload():
    data = playground_data()
    assert [d["name"] for d in data["datasets"]] == ["AND", "OR", "XOR"]
    assert data["start"] == 0
    assert data["w"] == [0.0, 0.0] and data["b"] == 0.0 and data["lr"] == 0.5
    assert data["view"] == [-0.5, 1.5, -0.5, 1.5]
    assert data["range"] == 3.0
    for d in data["datasets"]:
        assert d["labels"] == GATE_OUTPUTS[d["name"]]
        assert all(isinstance(v, float) for p in d["points"] for v in p)
        assert all(type(v) is int for v in d["labels"])
    assert json.loads(json.dumps(data)) == data  # plain JSON, nothing Python-only


def test_custom_datasets_from_arrays_and_tensors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 2))
    y = (x[:, 0] > 0).astype(np.int64)
    data = playground_data({"numpy": (x, y), "torch": (torch.tensor(x), torch.tensor(y))},
                           start="torch", w=(4, -1), b=0.25)
    assert data["start"] == 1
    assert data["w"] == [4.0, -1.0] and data["b"] == 0.25
    assert data["range"] == 4.0  # widened so the starting weights fit on the sliders
    assert data["datasets"][0]["points"] == data["datasets"][1]["points"]
    xmin, xmax, ymin, ymax = data["view"]
    assert xmax - xmin == pytest.approx(ymax - ymin)  # square, so angles look right
    assert xmin < x[:, 0].min() and xmax > x[:, 0].max() and ymin < x[:, 1].min() and ymax > x[:, 1].max()
    json.dumps(data)


@pytest.mark.parametrize("kwargs, message", [
    ({"datasets": {"bad": ([[0, 0], [1, 1]], [0])}}, "as many labels"),
    ({"datasets": {"bad": ([[0, 0, 0]], [1])}}, "two finite numbers"),
    ({"datasets": {"bad": ([[0, float("nan")]], [1])}}, "two finite numbers"),
    ({"datasets": {"bad": ([[0, 0]], [2])}}, "0 or 1"),
    ({"datasets": {"big": (np.zeros((500, 2)), np.zeros(500))}}, "at most"),
    ({"start": "XOR3"}, "not one of"),
    ({"lr": 0.0}, "lr must"),
])
def test_bad_input_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        playground_data(**kwargs)


def test_widget_carries_payload_and_script():
    widget = PerceptronPlayground(start="XOR", w=(1, 1), b=-1.5)
    assert widget.data == playground_data(start="XOR", w=(1, 1), b=-1.5)
    assert len(json.dumps(widget.data)) < MAX_PAYLOAD_BYTES
    source = JS.read_text(encoding="utf-8")
    assert "export default { render }" in source
    # Self-contained: it must run from the page's embedded state, offline, with no CDN.
    assert "import " not in source and "fetch(" not in source
    assert "http://" not in source and "https://" not in source


def test_python_prediction_matches_the_textbook_gates():
    points, _ = gate_dataset("AND")
    assert perceptron.predict([1, 1], -1.5, points) == GATE_OUTPUTS["AND"]
    assert perceptron.predict([1, 1], -0.5, points) == GATE_OUTPUTS["OR"]
    assert perceptron.predict([0, 0], 0, points) == [1, 1, 1, 1]  # fires at z >= 0


def _perceptron_epochs_python(points, labels, lr, epochs):
    """Reference: the rule the chapter teaches, applied point by point, epoch by epoch.

    Exact rational arithmetic, so a boundary that passes exactly through a point
    (z = 0) is not decided by rounding error; the JavaScript tidies its floats for
    the same reason.
    """
    lr = fractions.Fraction(str(lr))
    w, b, trace = [fractions.Fraction(0)] * 2, fractions.Fraction(0), []
    for _ in range(epochs):
        for x, y in zip(points, labels, strict=True):
            error = y - perceptron.predict(w, b, [x])[0]
            w = [w[0] + lr * error * x[0], w[1] + lr * error * x[1]]
            b += lr * error
        trace.append([round(float(v), 6) for v in (*w, b)])
    return trace


NODE_SCRIPT = """
import * as p from "./perceptron.mjs";
const cases = JSON.parse(process.argv[2]);
const out = {};
for (const [name, c] of Object.entries(cases)) {
  let w = [0, 0], b = 0;
  const trace = [];
  for (let e = 0; e < c.epochs; e++) {
    c.points.forEach((x, i) => {
      const u = p.perceptronUpdate(w, b, x, c.labels[i], c.lr);
      w = u.w;
      b = u.b;
    });
    trace.push([w[0], w[1], b].map((v) => Math.round(v * 1e6) / 1e6));
  }
  out[name] = {trace, correct: p.countCorrect(w, b, c.points, c.labels)};
}
const box = [[-1, -1], [1, -1], [1, 1], [-1, 1]];
out.clip_upper = p.clipHalfPlane(box, [0, 1], 0, 1);
out.clip_none = p.clipHalfPlane(box, [0, 0], -1, 1);
// w = 0, b = 0: z = 0 everywhere, which outputs 1, so the "0" side must be empty (no grey overlap)
out.zero_ones = p.clipHalfPlane(box, [0, 0], 0, 1);
out.zero_zeros = p.clipHalfPlane(box, [0, 0], 0, -1);
out.lower = p.clipHalfPlane(box, [0, 1], 0, -1);
out.segment = p.boundarySegment([1, 1], -1.5, [-0.5, 1.5, -0.5, 1.5]);
out.no_segment = p.boundarySegment([0, 0], 1, [-0.5, 1.5, -0.5, 1.5]);
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_javascript_rule_matches_python(tmp_path):
    (tmp_path / "perceptron.mjs").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(NODE_SCRIPT, encoding="utf-8")
    cases = {}
    for name in ("AND", "OR", "XOR"):
        points, labels = gate_dataset(name)
        # Steps like 0.1 and 0.3 are not exact in floating point: the rule must still match exact arithmetic.
        for lr in (0.1, 0.3, 0.7, 1.0):
            cases[f"{name}@{lr}"] = {"points": points, "labels": labels, "lr": lr, "epochs": 30}
    result = subprocess.run(["node", "run.mjs", json.dumps(cases)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=True)
    out = json.loads(result.stdout)
    for name, c in cases.items():
        expected = _perceptron_epochs_python(c["points"], c["labels"], c["lr"], c["epochs"])
        assert out[name]["trace"] == expected, name
    for lr in (0.1, 0.3, 0.7, 1.0):
        assert out[f"AND@{lr}"]["correct"] == 4 and out[f"OR@{lr}"]["correct"] == 4
        assert out[f"XOR@{lr}"]["correct"] < 4  # no line separates XOR
        # From a zero start the step size only scales the weights: the same run, scaled.
        scaled = [[round(v * lr, 6) for v in state] for state in out["AND@1.0"]["trace"]]
        assert out[f"AND@{lr}"]["trace"] == scaled
    box = [(-1, -1), (1, -1), (1, 1), (-1, 1)]
    assert sorted(map(tuple, out["clip_upper"])) == [(-1, 0), (-1, 1), (1, 0), (1, 1)]
    assert out["clip_none"] == []  # z = -1 everywhere: nothing on the positive side
    assert sorted(map(tuple, out["zero_ones"])) == sorted(map(tuple, box)) and out["zero_zeros"] == []
    assert sorted(map(tuple, out["lower"])) == [(-1, -1), (-1, 0), (1, -1), (1, 0)]
    assert sorted(map(tuple, out["segment"])) == [(0.0, 1.5), (1.5, 0.0)]
    assert out["no_segment"] is None


PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<title>perceptron widget</title></head>
<body><div id="root"></div><script type="module">
import widget from "./perceptron.js";
const data = %s;
const model = { get: (key) => (key === "data" ? data : undefined), on() {}, off() {} };
widget.render({ model, el: document.getElementById("root") });
window.rendered = true;
</script></body></html>"""


@pytest.mark.parametrize("width", [360, 1280])
def test_zero_weights_shade_everything_as_output_1_and_fit_the_width(browser, tmp_path, width):
    """w = 0, b = 0 gives z = 0 everywhere, which the readout counts as output 1: the canvas must
    show the "1" colour alone (it was a grey mix of both), and the widget fits a phone's width."""
    (tmp_path / "perceptron.js").write_text(widget_module(JS), encoding="utf-8")
    (tmp_path / "index.html").write_text(PAGE % json.dumps(playground_data(start="AND", w=(0, 0), b=0)),
                                         encoding="utf-8")
    with serve(tmp_path) as url:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.watcher = PageWatcher(page, url)
        page.goto(url + "index.html", wait_until="load")
        page.wait_for_function("window.rendered === true", timeout=10_000)
        # the middle of the view, (0.5, 0.5), holds no point, boundary or arrow
        r, g, b, a = page.evaluate("""() => { const c = document.querySelector('canvas');
            return [...c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data]; }""")
        assert a > 0 and r == 255 and b < 40, (r, g, b, a)  # orange (output 1), no blue mixed in
        assert "0 of 4" not in page.locator(".dlb-perceptron").inner_text()
        sizes = page.evaluate("""() => { const r = document.querySelector('.bw-root');
            return [r.scrollWidth, r.clientWidth, r.getBoundingClientRect().right,
                    document.documentElement.scrollWidth]; }""")
        assert sizes[0] <= sizes[1] and sizes[2] <= width and sizes[3] <= width, sizes
        page.watcher.assert_clean("perceptron widget page")
        context.close()
