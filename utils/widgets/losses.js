// Loss explorer. Left panel: four regression losses (MSE, MAE, Huber, log-cosh) drawn
// against the prediction for a target the reader picks, or their derivatives.
// Right panel: a small 1-D data set, with a few outliers the reader can switch on,
// and the constant or the line that minimises each loss. Every fit is computed here,
// in the browser, from the JSON payload that losses.py builds, so the demo also works
// on the static website.

const { PALETTE } = bookUI;
const COLORS = {
  mse: PALETTE.blue, // matplotlib C0, as in the chapter's figures
  mae: PALETTE.red, // C3
  huber: PALETTE.green, // C2
  logcosh: PALETTE.purple, // C4
  points: "#555",
  outliers: PALETTE.orange, // C1
  ink: PALETTE.ink,
  grid: PALETTE.grid,
  axis: PALETTE.axis,
};
const WIDTH = 400; // canvas size in logical pixels (it shrinks with a narrow column)
const HEIGHT = 290;
const PAD = { left: 40, right: 10, top: 10, bottom: 28 };

// ---- the maths (pure functions, exported so the tests can run them in Node) ----

/** log(cosh(e)) without overflow: |e| + log(1 + exp(-2|e|)) - log 2. */
export function logCosh(e) {
  const a = Math.abs(e);
  return a + Math.log1p(Math.exp(-2 * a)) - Math.LN2;
}

/** Per-example losses of the error e = prediction - target, and their derivatives d/de.
 *  The same definitions as the chapter (and as torch: mse_loss, l1_loss, huber_loss). */
export const LOSSES = {
  mse: { label: "MSE", value: (e) => e * e, grad: (e) => 2 * e },
  mae: { label: "MAE", value: (e) => Math.abs(e), grad: (e) => Math.sign(e) },
  huber: {
    label: "Huber",
    value: (e, delta) => (Math.abs(e) <= delta ? 0.5 * e * e : delta * (Math.abs(e) - 0.5 * delta)),
    grad: (e, delta) => (Math.abs(e) <= delta ? e : delta * Math.sign(e)),
  },
  logcosh: { label: "log-cosh", value: (e) => logCosh(e), grad: (e) => Math.tanh(e) },
};
export const LOSS_NAMES = ["mse", "mae", "huber", "logcosh"];

/** IRLS weight psi(r)/r: with it, the weighted least-squares fixed point minimises the loss. */
export function irlsWeight(name, r, delta) {
  const a = Math.abs(r);
  if (name === "mse") return 1;
  if (name === "mae") return 1 / Math.max(a, 1e-6);
  if (name === "huber") return a <= delta ? 1 : delta / a;
  if (name === "logcosh") return a < 1e-8 ? 1 : Math.tanh(a) / a;
  throw new Error(`unknown loss ${name}`);
}

/** Weighted least squares: the constant (line=false) or the line a + b x minimising sum w (y - f)^2. */
export function weightedFit(xs, ys, ws, line) {
  let sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < xs.length; i++) {
    const w = ws[i];
    sw += w; sx += w * xs[i]; sy += w * ys[i];
    sxx += w * xs[i] * xs[i]; sxy += w * xs[i] * ys[i];
  }
  if (!line) return { a: sy / sw, b: 0 };
  const det = sw * sxx - sx * sx;
  if (Math.abs(det) < 1e-12 * Math.max(1, sw * sxx)) return { a: sy / sw, b: 0 };
  const b = (sw * sxy - sx * sy) / det;
  return { a: (sy - b * sx) / sw, b };
}

/** The constant or line minimising the mean loss over the points, by iteratively
 *  reweighted least squares started from the least-squares fit. */
export function fitRobust(xs, ys, name, delta, line, iterations = 500) {
  let fit = weightedFit(xs, ys, xs.map(() => 1), line);
  if (name === "mse") return fit;
  for (let t = 0; t < iterations; t++) {
    const ws = xs.map((x, i) => irlsWeight(name, ys[i] - (fit.a + fit.b * x), delta));
    const next = weightedFit(xs, ys, ws, line);
    const moved = Math.abs(next.a - fit.a) + Math.abs(next.b - fit.b);
    fit = next;
    if (moved < 1e-10) break;
  }
  return fit;
}

/** Mean loss of a fit over the points (used by the tests to check optimality). */
export function meanLoss(xs, ys, name, delta, fit) {
  let total = 0;
  xs.forEach((x, i) => { total += LOSSES[name].value(fit.a + fit.b * x - ys[i], delta); });
  return total / xs.length;
}

/** The points the fit panel uses: the clean ones, plus the outliers lifted by `height` when shown. */
export function currentPoints(data, withOutliers, height) {
  const xs = [...data.points.x];
  const ys = [...data.points.y];
  if (withOutliers) {
    data.outliers.x.forEach((x, i) => { xs.push(x); ys.push(data.outliers.y[i] + height); });
  }
  return { xs, ys };
}

// ---- the widget ----

const { styled: element, fmt, stepTicks: ticks, scalableCanvas, mount } = bookUI;

/** A canvas with data-to-pixel maps, a grid and labelled axes; it shrinks with its column. */
function makePlot(parent, label) {
  const { canvas, ctx, begin } = scalableCanvas(WIDTH, HEIGHT, label);
  parent.append(canvas);
  const plot = { canvas, ctx, xr: [0, 1], yr: [0, 1] };
  plot.u = (x) => PAD.left + ((x - plot.xr[0]) / (plot.xr[1] - plot.xr[0])) * (WIDTH - PAD.left - PAD.right);
  plot.v = (y) => PAD.top + (1 - (y - plot.yr[0]) / (plot.yr[1] - plot.yr[0])) * (HEIGHT - PAD.top - PAD.bottom);
  plot.begin = (xr, yr, xlabel, ylabel, xticks, yticks) => {
    plot.xr = xr;
    plot.yr = yr;
    begin();
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    for (const t of xticks) {
      ctx.strokeStyle = t === 0 ? COLORS.axis : COLORS.grid;
      ctx.beginPath(); ctx.moveTo(plot.u(t), PAD.top); ctx.lineTo(plot.u(t), HEIGHT - PAD.bottom); ctx.stroke();
      ctx.fillStyle = "#666";
      ctx.textAlign = "center";
      ctx.fillText(fmt(t, 0), plot.u(t), HEIGHT - PAD.bottom + 13);
    }
    for (const t of yticks) {
      ctx.strokeStyle = t === 0 ? COLORS.axis : COLORS.grid;
      ctx.beginPath(); ctx.moveTo(PAD.left, plot.v(t)); ctx.lineTo(WIDTH - PAD.right, plot.v(t)); ctx.stroke();
      ctx.fillStyle = "#666";
      ctx.textAlign = "right";
      ctx.fillText(fmt(t, 0), PAD.left - 4, plot.v(t) + 4);
    }
    ctx.textAlign = "center";
    ctx.fillText(xlabel, (PAD.left + WIDTH - PAD.right) / 2, HEIGHT - 3);
    ctx.save();
    ctx.translate(11, (PAD.top + HEIGHT - PAD.bottom) / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.fillText(ylabel, 0, 0);
    ctx.restore();
    ctx.textAlign = "start";
    // clip further drawing to the plotting area
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, WIDTH - PAD.left - PAD.right, HEIGHT - PAD.top - PAD.bottom);
    ctx.clip();
  };
  plot.end = () => ctx.restore();
  plot.curve = (f, color, width = 2, dash = []) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.setLineDash(dash);
    ctx.beginPath();
    const steps = 300;
    for (let k = 0; k <= steps; k++) {
      const x = plot.xr[0] + ((plot.xr[1] - plot.xr[0]) * k) / steps;
      const y = Math.max(Math.min(f(x), plot.yr[1] + 10), plot.yr[0] - 10); // keep far values finite on canvas
      if (k === 0) ctx.moveTo(plot.u(x), plot.v(y)); else ctx.lineTo(plot.u(x), plot.v(y));
    }
    ctx.stroke();
    ctx.setLineDash([]);
  };
  plot.dot = (x, y, color, radius = 4, ring = false) => {
    ctx.beginPath();
    ctx.arc(plot.u(x), plot.v(y), radius, 0, 2 * Math.PI);
    ctx.fillStyle = color;
    ctx.fill();
    if (ring) { ctx.strokeStyle = "white"; ctx.lineWidth = 1; ctx.stroke(); }
  };
  return plot;
}

function render({ model, el }) {
  const data = model.get("data");
  const state = {
    target: data.defaults.target,
    prediction: data.defaults.prediction,
    delta: data.defaults.delta,
    derivative: false,
    outliers: false,
    height: data.defaults.height,
    line: data.defaults.line,
  };

  // two panels side by side where the column is wide enough, one above the other on a phone
  const root = mount(el, "dlb-losses", ".dlb-losses { font-size: 14px; }");
  const panels = element("div");
  panels.className = "bw-panels";
  root.append(panels);

  const column = () => element("div", { display: "flex", flexDirection: "column", gap: "6px" });
  const left = column();
  const right = column();
  panels.append(left, right);

  // legend shared by both panels
  function legend(parent) {
    const row = element("div", { display: "flex", gap: "12px", flexWrap: "wrap" });
    for (const name of LOSS_NAMES) {
      const item = element("span", { display: "inline-flex", alignItems: "center", gap: "4px" });
      item.append(element("span", { display: "inline-block", width: "18px", height: "3px", background: COLORS[name] }),
        element("span", {}, LOSSES[name].label));
      row.append(item);
    }
    parent.append(row);
  }

  function slider(parent, label, key, min, max, step, digits = 2) {
    const row = element("label", { display: "grid", gridTemplateColumns: "minmax(84px, max-content) minmax(60px, 1fr) 44px", alignItems: "center", gap: "6px" });
    const input = element("input", {});
    Object.assign(input, { type: "range", min, max, step, value: state[key] });
    input.setAttribute("aria-label", label);
    input.dataset.key = key;
    const value = element("span", { fontVariantNumeric: "tabular-nums", textAlign: "right" });
    input.addEventListener("input", () => {
      state[key] = parseFloat(input.value);
      draw();
    });
    row.append(element("span", {}, label), input, value);
    parent.append(row);
    return () => { value.textContent = fmt(state[key], digits); };
  }

  function checkbox(parent, label, key) {
    const row = element("label", { display: "inline-flex", alignItems: "center", gap: "6px", cursor: "pointer" });
    const input = element("input", {});
    input.type = "checkbox";
    input.checked = state[key];
    input.dataset.key = key;
    input.addEventListener("change", () => {
      state[key] = input.checked;
      draw();
    });
    row.append(input, element("span", {}, label));
    parent.append(row);
    return row;
  }

  // left panel: loss (or derivative) against the prediction
  left.append(element("div", { fontWeight: "600" }, "Loss against the prediction"));
  const lossPlot = makePlot(left, "regression losses against the prediction for the chosen target");
  legend(left);
  const syncers = [
    slider(left, "target y", "target", data.ranges.target[0], data.ranges.target[1], 0.1, 1),
    slider(left, "prediction \u0177", "prediction", data.ranges.prediction[0], data.ranges.prediction[1], 0.05),
    slider(left, "Huber \u03b4", "delta", data.ranges.delta[0], data.ranges.delta[1], 0.05),
  ];
  checkbox(left, "show the derivative dL/d\u0177 instead", "derivative");
  const lossReadout = element("div", { fontFamily: "ui-monospace, monospace", fontSize: "13px", minHeight: "2.6em" });
  left.append(lossReadout);

  // right panel: the fits
  right.append(element("div", { fontWeight: "600" }, "What each loss fits to the data"));
  const fitPlot = makePlot(right, "data points and the fit that minimises each loss");
  legend(right);
  const modelRow = element("div", { display: "flex", gap: "6px", alignItems: "center" });
  modelRow.append(element("span", {}, "Fit:"));
  const modelButtons = [["constant", false], ["line", true]].map(([name, isLine]) => {
    const button = element("button", {}, name);
    button.dataset.model = name;
    button.addEventListener("click", () => { state.line = isLine; draw(); });
    modelRow.append(button);
    return [button, isLine];
  });
  right.append(modelRow);
  checkbox(right, `add ${data.outliers.x.length} outliers`, "outliers");
  syncers.push(slider(right, "outlier height", "height", data.ranges.height[0], data.ranges.height[1], 0.25));
  right.append(element("div", { color: "#666", fontSize: "12px" }, "(Huber uses the \u03b4 slider on the left.)"));
  const fitReadout = element("div", { fontFamily: "ui-monospace, monospace", fontSize: "12px", minHeight: "5.2em", whiteSpace: "pre-wrap" });
  right.append(fitReadout);

  function drawLosses() {
    const { target, prediction, delta, derivative } = state;
    const xr = data.ranges.prediction;
    const yr = derivative ? [-4, 4] : [0, 4];
    lossPlot.begin(xr, yr, "prediction \u0177", derivative ? "dL/d\u0177" : "loss L(\u0177, y)",
      ticks(xr[0], xr[1], 1), ticks(yr[0], yr[1], derivative ? 2 : 1));
    const ctx = lossPlot.ctx;
    // the target and the chosen prediction
    ctx.strokeStyle = "#aaa";
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(lossPlot.u(target), PAD.top); ctx.lineTo(lossPlot.u(target), HEIGHT - PAD.bottom); ctx.stroke();
    ctx.setLineDash([]);
    ctx.strokeStyle = "#444";
    ctx.beginPath(); ctx.moveTo(lossPlot.u(prediction), PAD.top); ctx.lineTo(lossPlot.u(prediction), HEIGHT - PAD.bottom); ctx.stroke();
    ctx.fillStyle = "#888";
    ctx.fillText("y", lossPlot.u(target) + 3, PAD.top + 11);
    const lines = [];
    for (const name of LOSS_NAMES) {
      const f = derivative ? LOSSES[name].grad : LOSSES[name].value;
      lossPlot.curve((p) => f(p - target, delta), COLORS[name]);
      const at = f(prediction - target, delta);
      lossPlot.dot(prediction, at, COLORS[name], 4, true);
      lines.push(`${LOSSES[name].label} ${fmt(at)}`);
    }
    lossPlot.end();
    lossReadout.textContent = `at \u0177 = ${fmt(prediction)}, error e = \u0177 \u2212 y = ${fmt(prediction - target)}:  `
      + `${derivative ? "dL/d\u0177" : "L"} = ${lines.join(", ")}`;
  }

  function drawFits() {
    const { xs, ys } = currentPoints(data, state.outliers, state.height);
    const xr = data.ranges.x;
    const top = Math.max(data.ranges.y[1], ...ys.map((y) => y + 0.75)); // room for raised outliers
    const yr = [data.ranges.y[0], Math.ceil(top)];
    fitPlot.begin(xr, yr, "x", "y", ticks(xr[0], xr[1], 1), ticks(yr[0], yr[1], 2));
    data.points.x.forEach((x, i) => fitPlot.dot(x, data.points.y[i], COLORS.points, 3.5));
    if (state.outliers) {
      data.outliers.x.forEach((x, i) => fitPlot.dot(x, data.outliers.y[i] + state.height, COLORS.outliers, 5, true));
    }
    const lines = [];
    for (const name of LOSS_NAMES) {
      const fit = fitRobust(xs, ys, name, state.delta, state.line);
      fitPlot.curve((x) => fit.a + fit.b * x, COLORS[name], 2, name === "logcosh" ? [6, 4] : []);
      const label = LOSSES[name].label.padEnd(8);
      lines.push(state.line ? `${label} y = ${fmt(fit.b)}\u00b7x + ${fmt(fit.a)}` : `${label} c = ${fmt(fit.a)}`);
    }
    fitPlot.end();
    fitReadout.textContent = lines.join("\n");
    modelButtons.forEach(([button, isLine]) => { button.style.fontWeight = isLine === state.line ? "700" : "400"; });
  }

  function draw() {
    drawLosses();
    drawFits();
    syncers.forEach((sync) => sync());
  }

  draw();
}

export default { render };
