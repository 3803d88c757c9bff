// Initialisation explorer: the spread of the activations (or of their gradients) in every
// layer of a deep stack, for a choice of activation, initialisation and depth, and the
// histogram of one layer. The numbers were measured in Python by real forward and backward
// passes (init_explorer.py); this file only draws and switches between them.

const { PALETTE, styled: element, scalableCanvas, mount, niceTicks } = bookUI; // the shared prelude (prelude.js)
const GRID = PALETTE.grid;
const WARN = PALETTE.warn;
const GOOD = PALETTE.good;
const LINE = { act: PALETTE.blue, grad: PALETTE.purple };
const WIDTH = 600; // canvas size in logical pixels (it shrinks with a narrow column)
const STD_HEIGHT = 200;
const HIST_HEIGHT = 170;
const MARGIN = { left: 54, right: 12, top: 12, bottom: 34 };

// ---- pure functions (exported so the tests can run them in Node) ----

/** The payload key of one measured setting. */
export function settingKey(activation, init) {
  return `${activation}|${init}`;
}

/** The numbers of the `depth`-layer stack of one setting, in the shape of the deepest one's.
 *  A shallower stack has the same first layers (the same weights), so its activations are the
 *  deepest stack's first `depth`; its gradients were measured on it, since they flow back
 *  from its own output. */
export function stackAt(setting, depth, deepest) {
  const grad = depth === deepest ? setting : setting.shallower[depth];
  return {
    act_std: setting.act_std.slice(0, depth), act_hist: setting.act_hist.slice(0, depth), act_limit: setting.act_limit,
    grad_std: grad.grad_std, grad_hist: grad.grad_hist, grad_limit: grad.grad_limit,
  };
}

/** Layer numbers to label on an axis of `depth` layers: the first, then round steps. */
export function layerTicks(depth) {
  return [1, ...niceTicks(0, depth, 5).filter((layer) => layer > 1 && layer <= depth)];
}

/** A spread as text: 2 significant digits in exponent form, "0" for an underflow, "inf/NaN" for null. */
export function formatStd(v) {
  if (v === null || v === undefined) return "inf/NaN";
  if (v === 0) return "0";
  const text = v >= 0.01 && v < 100 ? v.toPrecision(2) : v.toExponential(1);
  return text.replace("e+", "e"); // toPrecision, too, writes 850 as "8.5e+2"
}

/** Whole decades [lo, hi] (log10) that hold every positive value, at least 2 apart. */
export function decadeRange(values) {
  const positive = values.filter((v) => typeof v === "number" && v > 0);
  if (positive.length === 0) return [-1, 1];
  let lo = Math.floor(Math.log10(Math.min(...positive)));
  let hi = Math.ceil(Math.log10(Math.max(...positive)));
  if (hi - lo < 2) { lo -= 1; hi += 1; }
  return [lo, hi];
}

/** About six round decade ticks between lo and hi. */
export function decadeTicks(lo, hi, maxTicks = 6) {
  const step = Math.max(1, Math.ceil((hi - lo) / (maxTicks - 1)));
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) ticks.push(t);
  return ticks;
}

/** A verdict on a list of per-layer spreads (input side first): how the last compares with the first. */
export function describe(stds, what) {
  if (stds.some((v) => v === null || v === undefined)) {
    return { kind: "overflow", text: `Overflow: some ${what} are inf or NaN.` };
  }
  const zeros = stds.filter((v) => v === 0).length;
  if (zeros > 0) {
    return { kind: "underflow", text: `Underflow: in ${zeros} of ${stds.length} layers the ${what} are exactly 0 in float32.` };
  }
  const ratio = stds[stds.length - 1] / stds[0];
  if (ratio < 0.1) return { kind: "shrinks", text: `Shrinks: the spread of the ${what} in the last layer is ${formatStd(ratio)} times the first's.` };
  if (ratio > 10) return { kind: "grows", text: `Grows: the spread of the ${what} in the last layer is ${formatStd(ratio)} times the first's.` };
  return { kind: "stable", text: `Stable: the last layer's spread of the ${what} is ${formatStd(ratio)} times the first's.` };
}

// ---- the widget ----

function makeCanvas(height, label) {
  const plot = scalableCanvas(WIDTH, height, label);
  plot.canvas.style.marginTop = "6px";
  return plot;
}

function render({ model, el }) {
  const data = model.get("data");
  const state = { activation: data.start[0], init: data.start[1], depth: data.depth, quantity: "act", layer: 1 };
  const root = mount(el, "dlb-init", `.dlb-init { font-size: 14px; max-width: ${WIDTH + 20}px; }`);

  const groups = {};
  function choiceRow(label, options, field) {
    const row = element("div", { display: "flex", flexWrap: "wrap", gap: "5px", alignItems: "center", margin: "3px 0" });
    row.append(element("span", { minWidth: "96px" }, label));
    groups[field] = options.map(([value, text]) => {
      const button = element("button", {}, text);
      button.dataset.value = String(value);
      button.addEventListener("click", () => { state[field] = value; draw(); });
      row.append(button);
      return button;
    });
    root.append(row);
  }
  choiceRow("Activation:", data.activations, "activation");
  choiceRow("Initialisation:", data.inits, "init");
  choiceRow("Depth:", data.depths.map((depth) => [depth, String(depth)]), "depth"); // in layers
  choiceRow("Show:", [["act", "activations"], ["grad", "gradients"]], "quantity");

  const sliderRow = element("label", { display: "flex", gap: "8px", alignItems: "center", margin: "4px 0" });
  const slider = element("input", { flex: "1", minWidth: "120px" });
  Object.assign(slider, { type: "range", name: "layer", min: "1", max: String(data.depth), step: "1", value: "1" });
  const sliderText = element("span", { minWidth: "70px", fontVariantNumeric: "tabular-nums" });
  sliderRow.append(element("span", { minWidth: "96px" }, "Layer:"), slider, sliderText);
  slider.addEventListener("input", () => { state.layer = Number(slider.value); draw(); });
  root.append(sliderRow);

  const stdPlot = makeCanvas(STD_HEIGHT, "standard deviation per layer");
  const histPlot = makeCanvas(HIST_HEIGHT, "histogram of one layer");
  const readout = element("div", { fontVariantNumeric: "tabular-nums", marginTop: "4px" });
  readout.className = "readout";
  const verdict = element("div", { fontWeight: "600", marginTop: "2px" });
  const note = element("div", { fontSize: "12px", color: "#666", marginTop: "4px" },
    `Measured on ${data.batch} ${data.dataset || "training"} examples in fresh stacks of ${data.depths.join(", ")} layers of ` +
    `${data.width} units (weights drawn from N(0, std\u00b2) by the chosen rule, biases 0). A shallower stack is the first ` +
    "layers of the deepest, so its activations are the same; its gradients are not: they flow back from its own output. " +
    "Top: the standard deviation in each layer (log scale). Bottom: the histogram of the chosen layer; the outer grey " +
    "bars (< and >) count values beyond the range.");
  root.append(stdPlot.canvas, histPlot.canvas, readout, verdict, note);

  // one log range per quantity, over every setting and depth, so switching keeps the axis
  const stacks = Object.values(data.settings).flatMap((s) => data.depths.map((d) => stackAt(s, d, data.depth)));
  const ranges = {};
  for (const q of ["act", "grad"]) {
    ranges[q] = decadeRange(stacks.flatMap((stack) => stack[`${q}_std`]));
  }
  const plotW = WIDTH - MARGIN.left - MARGIN.right;

  function drawStd(stack) {
    const { ctx } = stdPlot;
    const stds = stack[`${state.quantity}_std`];
    const [lo, hi] = ranges[state.quantity];
    const plotH = STD_HEIGHT - MARGIN.top - MARGIN.bottom;
    const xOf = (i) => MARGIN.left + (i / Math.max(1, stds.length - 1)) * plotW;
    const yOf = (log10) => MARGIN.top + (1 - (log10 - lo) / (hi - lo)) * plotH;
    stdPlot.begin();
    ctx.font = "11px system-ui, sans-serif";
    for (const t of decadeTicks(lo, hi)) {
      ctx.strokeStyle = GRID;
      ctx.beginPath(); ctx.moveTo(MARGIN.left, yOf(t)); ctx.lineTo(WIDTH - MARGIN.right, yOf(t)); ctx.stroke();
      ctx.fillStyle = "#555"; ctx.textAlign = "right"; ctx.textBaseline = "middle";
      ctx.fillText(t === 0 ? "1" : `1e${t}`, MARGIN.left - 5, yOf(t));
    }
    ctx.save();
    ctx.translate(9, MARGIN.top + plotH / 2); ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center"; ctx.fillText("std (log)", 0, 0);
    ctx.restore();
    // the line; an underflow (0) or overflow (null) breaks it and is marked at the bottom/top
    ctx.strokeStyle = LINE[state.quantity]; ctx.lineWidth = 2;
    ctx.beginPath();
    let drawing = false;
    stds.forEach((v, i) => {
      if (typeof v !== "number" || v <= 0) {
        drawing = false;
        ctx.fillStyle = WARN;
        ctx.fillRect(xOf(i) - 2, v === 0 ? yOf(lo) - 4 : yOf(hi), 4, 4);
        return;
      }
      const y = yOf(Math.log10(v));
      if (drawing) ctx.lineTo(xOf(i), y); else ctx.moveTo(xOf(i), y);
      drawing = true;
    });
    ctx.stroke();
    ctx.lineWidth = 1;
    const x = xOf(state.layer - 1);
    ctx.strokeStyle = "#888"; ctx.setLineDash([3, 3]);
    ctx.beginPath(); ctx.moveTo(x, MARGIN.top); ctx.lineTo(x, MARGIN.top + plotH); ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = "#555"; ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const layer of layerTicks(stds.length)) {
      ctx.fillText(String(layer), xOf(layer - 1), MARGIN.top + plotH + 4);
    }
    ctx.fillText("layer (1 = next to the input)", MARGIN.left + plotW / 2, STD_HEIGHT - 14);
  }

  function drawHistogram(stack) {
    const { ctx } = histPlot;
    const shares = stack[`${state.quantity}_hist`][state.layer - 1];
    const limit = stack[`${state.quantity}_limit`];
    const plotH = HIST_HEIGHT - MARGIN.top - MARGIN.bottom;
    histPlot.begin();
    ctx.font = "11px system-ui, sans-serif";
    const slot = plotW / shares.length;
    const top = Math.max(...shares, 1);
    shares.forEach((share, i) => {
      const h = (share / top) * plotH;
      const outside = i === 0 || i === shares.length - 1;
      ctx.fillStyle = outside ? "#999" : LINE[state.quantity];
      ctx.fillRect(MARGIN.left + i * slot + 1, MARGIN.top + plotH - h, slot - 2, h);
    });
    ctx.strokeStyle = PALETTE.ink;
    ctx.beginPath(); ctx.moveTo(MARGIN.left, MARGIN.top + plotH); ctx.lineTo(WIDTH - MARGIN.right, MARGIN.top + plotH); ctx.stroke();
    ctx.fillStyle = "#555"; ctx.textBaseline = "top"; ctx.textAlign = "center";
    // the range's ends label the inner bins' outer edges; "<" and ">" the grey bars beyond them
    const inner = (v) => MARGIN.left + slot + ((v + limit) / (2 * limit)) * (plotW - 2 * slot);
    const ticks = [[-limit, `-${formatStd(limit)}`, "left"], [0, "0", "center"], [limit, formatStd(limit), "right"]];
    for (const [v, label, align] of ticks) {
      ctx.textAlign = align;
      ctx.fillText(label, inner(v), MARGIN.top + plotH + 4);
    }
    ctx.textAlign = "center";
    ctx.fillText("<", MARGIN.left + slot / 2, MARGIN.top + plotH + 4);
    ctx.fillText(">", WIDTH - MARGIN.right - slot / 2, MARGIN.top + plotH + 4);
    ctx.fillText(`histogram of layer ${state.layer}'s ${state.quantity === "act" ? "activations" : "gradients"} (share of values per bin)`,
      MARGIN.left + plotW / 2, HIST_HEIGHT - 14);
  }

  function draw() {
    const setting = data.settings[settingKey(state.activation, state.init)];
    if (!setting) {
      readout.textContent = "This setting was not measured.";
      return;
    }
    const stack = stackAt(setting, state.depth, data.depth);
    state.layer = Math.min(state.layer, state.depth);
    Object.assign(slider, { max: String(state.depth), value: String(state.layer) });
    const what = state.quantity === "act" ? "activations" : "gradients";
    const stds = stack[`${state.quantity}_std`];
    drawStd(stack);
    drawHistogram(stack);
    sliderText.textContent = `${state.layer} of ${stds.length}`;
    readout.textContent = `layer ${state.layer}: std ${formatStd(stds[state.layer - 1])}  \u00b7  layer 1: ${formatStd(stds[0])}  \u00b7  layer ${stds.length}: ${formatStd(stds[stds.length - 1])}`;
    readout.dataset.std = String(stds[state.layer - 1]);
    readout.dataset.layer = String(state.layer);
    readout.dataset.depth = String(state.depth);
    const info = describe(stds, what);
    verdict.textContent = info.text;
    verdict.dataset.kind = info.kind;
    verdict.style.color = info.kind === "stable" ? GOOD : WARN;
    stdPlot.canvas.setAttribute("aria-label", `standard deviation of the ${what} per layer of ${state.depth}: ${info.text}`);
    histPlot.canvas.setAttribute("aria-label", `histogram of layer ${state.layer}'s ${what}, of ${state.depth}`);
    for (const [field, buttons] of Object.entries(groups)) {
      buttons.forEach((button) => {
        const on = button.dataset.value === String(state[field]);
        button.style.fontWeight = on ? "700" : "400";
        button.setAttribute("aria-pressed", on ? "true" : "false");
      });
    }
  }

  draw();
}

export default { render };
