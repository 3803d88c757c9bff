// Gradient-flow explorer: the norm of each layer's weight gradient in a deep MLP, on a log
// scale, for a choice of activation, initialisation and depth. The numbers were measured
// in Python by real backward passes (gradflow.py); this file only draws and switches
// between them, so the demo also works on the static website.

const { PALETTE, styled: element, scalableCanvas, mount } = bookUI;
const COLORS = { sigmoid: PALETTE.blue, tanh: PALETTE.orange, relu: PALETTE.green, other: "#7f7f7f" };
const INK = PALETTE.ink;
const GRID = "#ddd";
const WARN = PALETTE.warn;
const WIDTH = 600; // canvas size in logical pixels (it shrinks with a narrow column)
const HEIGHT = 300;
const MARGIN = { left: 58, right: 12, top: 14, bottom: 40 };

// ---- pure functions (exported so the tests can run them in Node) ----

/** The payload key of one measured setting. */
export function settingKey(activation, init, depth) {
  return `${activation}|${init}|${depth}`;
}

/** A gradient norm as text: 3 significant digits, "0" for an underflow, "inf/NaN" for null. */
export function formatNorm(v) {
  if (v === null || v === undefined) return "inf/NaN";
  if (v === 0) return "0";
  return v.toExponential(1).replace("e+", "e");
}

/** Whole decades [lo, hi] (log10) that hold every positive norm of the payload, at least 2 apart. */
export function decadeRange(allNorms) {
  const positive = allNorms.filter((v) => typeof v === "number" && v > 0);
  if (positive.length === 0) return [-1, 1];
  let lo = Math.floor(Math.log10(Math.min(...positive)));
  let hi = Math.ceil(Math.log10(Math.max(...positive)));
  if (hi - lo < 2) { lo -= 1; hi += 1; }
  return [lo, hi];
}

/** Decades to label on the axis: every one when few, else a round step, always including 0 if in range. */
export function decadeTicks(lo, hi, maxTicks = 9) {
  const step = Math.max(1, Math.ceil((hi - lo) / (maxTicks - 1)));
  const ticks = [];
  const first = Math.ceil(lo / step) * step;
  for (let t = first; t <= hi; t += step) ticks.push(t);
  return ticks;
}

/** A one-line verdict on a list of per-layer norms (input side first). */
export function describe(norms) {
  if (norms.some((v) => v === null || v === undefined)) {
    return { kind: "overflow", text: "Overflow: some gradients are inf or NaN; training would blow up at once." };
  }
  const zeros = norms.filter((v) => v === 0).length;
  if (zeros > 0) {
    const which = zeros === norms.length ? "every layer gets" : `${zeros} of ${norms.length} layers get`;
    return {
      kind: "underflow",
      text: `Underflow: ${which} a gradient of exactly 0 (too small for float32), so they cannot learn at all.`,
    };
  }
  const first = norms[0];
  const last = norms[norms.length - 1];
  const ratio = first / last;
  const max = Math.max(...norms);
  const min = Math.min(...norms);
  if (max > 100) {
    return { kind: "exploding", text: `Exploding: the largest layer gradient is ${formatNorm(max)} (> 100); a plain SGD step would throw the weights far away.` };
  }
  if (ratio < 1e-3) {
    return { kind: "vanishing", text: `Vanishing: the first layer's gradient is ${formatNorm(ratio)} times the last layer's, so the early layers barely move.` };
  }
  if (ratio > 1e3) {
    return { kind: "exploding", text: `Exploding towards the input: the first layer's gradient is ${formatNorm(ratio)} times the last layer's.` };
  }
  if (max < 1e-4) {
    return { kind: "tiny", text: `Tiny everywhere (at most ${formatNorm(max)}): the signal dies in the forward pass, so every layer's gradient is small.` };
  }
  return { kind: "healthy", text: `Healthy: every layer's gradient lies within a factor of ${Math.max(1, Math.round(max / min))} of the others.` };
}

// ---- the widget ----

function render({ model, el }) {
  const data = model.get("data");
  const [startActivation, startInit, startDepth] = data.start;
  const state = { activation: startActivation, init: startInit, depth: startDepth, hover: -1 };
  const [lo, hi] = decadeRange(Object.values(data.norms).flat());

  const root = mount(el, "dlb-gradflow", `.dlb-gradflow { font-size: 14px; max-width: ${WIDTH + 20}px; }`);

  // three rows of choice buttons
  const groups = {};
  function choiceRow(label, options, field) {
    const row = element("div", { display: "flex", flexWrap: "wrap", gap: "6px", alignItems: "center", margin: "3px 0" });
    row.append(element("span", { minWidth: "100px" }, label));
    groups[field] = options.map(([value, text]) => {
      const button = element("button", {}, text);
      button.dataset.value = String(value);
      button.addEventListener("click", () => {
        state[field] = value;
        draw();
      });
      row.append(button);
      return button;
    });
    root.append(row);
  }
  choiceRow("Activation:", data.activations, "activation");
  choiceRow("Initialisation:", data.inits, "init");
  choiceRow("Depth (layers):", data.depths.map((d) => [d, String(d)]), "depth");

  const { canvas, ctx, begin, local } = scalableCanvas(WIDTH, HEIGHT, "per-layer gradient norms");
  canvas.style.marginTop = "6px";
  const readout = element("div", { fontVariantNumeric: "tabular-nums", marginTop: "4px" });
  const verdict = element("div", { fontWeight: "600", marginTop: "2px" });
  const note = element("div", { fontSize: "12px", color: "#666", marginTop: "4px" },
    `Each bar: the norm of one layer's weight gradient \u2016\u2202L/\u2202W\u2016 (log scale), measured by one backward pass of the ` +
    `cross-entropy loss on ${data.batch} ${data.dataset || "training"} examples, in a fresh MLP with ${data.width} hidden units per layer. ` +
    "Layer 1 is next to the input. Point at a bar to read its value.");
  root.append(canvas, readout, verdict, note);

  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const yOf = (log10) => MARGIN.top + (1 - (log10 - lo) / (hi - lo)) * plotH;

  function current() {
    return data.norms[settingKey(state.activation, state.init, state.depth)] || [];
  }

  canvas.addEventListener("mousemove", (event) => {
    const u = local(event)[0] - MARGIN.left;
    const n = current().length;
    const i = Math.floor((u / plotW) * n);
    const hover = u >= 0 && i >= 0 && i < n ? i : -1;
    if (hover !== state.hover) { state.hover = hover; draw(); }
  });
  canvas.addEventListener("mouseleave", () => { state.hover = -1; draw(); });

  function draw() {
    const norms = current();
    const n = norms.length;
    begin();
    ctx.font = "11px system-ui, sans-serif";

    // decade grid and labels
    ctx.lineWidth = 1;
    for (const t of decadeTicks(lo, hi)) {
      const y = yOf(t);
      ctx.strokeStyle = t === 0 ? "#999" : GRID;
      ctx.setLineDash(t === 0 ? [4, 3] : []);
      ctx.beginPath(); ctx.moveTo(MARGIN.left, y); ctx.lineTo(WIDTH - MARGIN.right, y); ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#555";
      ctx.textAlign = "right";
      ctx.textBaseline = "middle";
      ctx.fillText(t === 0 ? "1" : `1e${t}`, MARGIN.left - 6, y);
    }
    ctx.save();
    ctx.translate(14, MARGIN.top + plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText("gradient norm (log scale)", 0, 0);
    ctx.restore();

    // one bar per layer
    const slot = plotW / Math.max(n, 1);
    const barW = Math.max(2, slot * 0.75);
    const colour = COLORS[state.activation] || COLORS.other;
    norms.forEach((v, i) => {
      const x = MARGIN.left + i * slot + (slot - barW) / 2;
      const bottom = yOf(lo);
      let top;
      if (v === null || v === undefined) {
        top = yOf(hi);
        ctx.fillStyle = WARN;
      } else if (v === 0) {
        top = bottom - 3; // a stub: nothing to draw on a log scale
        ctx.fillStyle = "#999";
      } else {
        top = yOf(Math.log10(v));
        ctx.fillStyle = colour;
      }
      ctx.globalAlpha = state.hover === -1 || state.hover === i ? 1 : 0.55;
      ctx.fillRect(x, top, barW, bottom - top);
      ctx.globalAlpha = 1;
    });

    // x axis
    ctx.strokeStyle = INK;
    ctx.beginPath(); ctx.moveTo(MARGIN.left, yOf(lo)); ctx.lineTo(WIDTH - MARGIN.right, yOf(lo)); ctx.stroke();
    ctx.fillStyle = "#555";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const every = Math.max(1, Math.ceil(n / 10)); // label layer 1 and every multiple of `every`
    norms.forEach((_, i) => {
      if (i === 0 || (i + 1) % every === 0) ctx.fillText(String(i + 1), MARGIN.left + (i + 0.5) * slot, yOf(lo) + 4);
    });
    ctx.fillText("layer (1 = next to the input \u2192 output)", MARGIN.left + plotW / 2, HEIGHT - 14);

    // text
    if (n > 0) {
      const shown = state.hover >= 0 ? state.hover : 0;
      readout.textContent = `layer ${shown + 1}: ${formatNorm(norms[shown])}   \u00b7   last layer (${n}): ${formatNorm(norms[n - 1])}`;
      const verdictInfo = describe(norms);
      verdict.textContent = verdictInfo.text;
      verdict.dataset.kind = verdictInfo.kind;
      verdict.style.color = verdictInfo.kind === "healthy" ? PALETTE.good : verdictInfo.kind === "tiny" ? PALETTE.caution : WARN;
      canvas.setAttribute("aria-label", `per-layer gradient norms, ${state.activation}, ${state.init}, ${n} layers: ${verdictInfo.text}`);
    } else {
      readout.textContent = "This setting was not measured.";
      verdict.textContent = "";
    }
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
