// Convolution explorer: a 3x3 kernel slid over a real Fashion-MNIST image with the stride,
// padding and dilation the reader picks; the output size by the formula; the input pixels one
// hovered output pixel sees. Below, the feature maps of the chapter's trained CNN, computed in
// Python (conv_explorer.py) and only drawn here.

const { PALETTE, el, styled, scalableCanvas, mount } = bookUI; // the shared prelude (prelude.js)
const SIDE = 280; // logical canvas size of the input and output panels
const KERNEL = 3;

// ---- pure functions (exported so the tests can run them in Node) ----

/** Output length of a convolution: floor((n + 2p - d(k - 1) - 1) / s) + 1 (0 or less: no output). */
export function outputSize(n, k, s, p, d) {
  return Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** Bytes from base64 text. */
export function decode(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

/** The input positions [row, col] (unpadded coordinates; outside 0..n-1 means a padding zero)
 *  that output pixel (i, j) multiplies by the kernel, in kernel order. */
export function taps(i, j, k, s, p, d) {
  const out = [];
  for (let a = 0; a < k; a++) {
    for (let b = 0; b < k; b++) out.push([i * s - p + a * d, j * s - p + b * d]);
  }
  return out;
}

/** Cross-correlation of an n x n image (row-major floats) with a k x k kernel, as F.conv2d
 *  computes it (no kernel flip, zero padding): { size, values } with values row-major. */
export function convolve(image, n, kernel, s, p, d) {
  const k = Math.round(Math.sqrt(kernel.length));
  const size = outputSize(n, k, s, p, d);
  if (size < 1) return { size: 0, values: new Float64Array(0) };
  const values = new Float64Array(size * size);
  for (let i = 0; i < size; i++) {
    for (let j = 0; j < size; j++) {
      let sum = 0;
      taps(i, j, k, s, p, d).forEach(([r, c], t) => {
        if (r >= 0 && r < n && c >= 0 && c < n) sum += kernel[t] * image[r * n + c];
      });
      values[i * size + j] = sum;
    }
  }
  return { size, values };
}

/** A diverging colour for v in [-1, 1]: blue below 0, white at 0, red above. */
export function diverging(v) {
  const t = Math.max(-1, Math.min(1, v));
  const fade = (c) => Math.round(255 - (255 - c) * Math.abs(t));
  return t >= 0 ? `rgb(${fade(214)},${fade(39)},${fade(40)})` : `rgb(${fade(31)},${fade(119)},${fade(180)})`;
}

// ---- the widget ----

function slider(name, label, min, max, value, onInput) {
  const input = el("input", { type: "range", name, min: String(min), max: String(max), step: "1", value: String(value) });
  const shown = styled("span", { minWidth: "1.5em", fontVariantNumeric: "tabular-nums" }, String(value));
  input.addEventListener("input", () => { shown.textContent = input.value; onInput(Number(input.value)); });
  const box = el("label", { className: "dlb-conv-slider" }, styled("span", {}, label), input, shown);
  return box;
}

function render({ model, el: host }) {
  const data = model.get("data");
  const n = data.size;
  const images = data.images.map((item) => Float64Array.from(decode(item.pixels), (v) => v / 255));
  const presetNames = Object.keys(data.presets);
  const state = { image: 0, kernel: data.presets[presetNames[1]].flat(), stride: 1, padding: 1, dilation: 1,
    hover: null, layer: 0 };
  const root = mount(host, "dlb-conv", `
.dlb-conv { max-width: 660px; }
.dlb-conv .dlb-conv-slider { display: inline-flex; gap: 6px; align-items: center; }
.dlb-conv .dlb-conv-slider input { width: 90px; }
.dlb-conv .kernel { display: grid; grid-template-columns: repeat(3, 58px); gap: 3px; }
.dlb-conv .kernel input { width: 58px; font: inherit; text-align: right; }
.dlb-conv button[aria-pressed=true] { background: #dbe8f6; border-color: ${PALETTE.blue}; }
.dlb-conv .caption { font-size: 12px; color: ${PALETTE.muted}; }
.dlb-conv .maps { display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 4px; }
.dlb-conv h4 { margin: 10px 0 4px; font-size: 14px; }`);

  // image choice (shared by both parts)
  const imageSelect = el("select", { name: "image" });
  data.images.forEach((item, i) => imageSelect.append(el("option", { value: String(i), textContent: `${i + 1}: ${item.label}` })));
  imageSelect.addEventListener("change", () => { state.image = Number(imageSelect.value); state.hover = null; draw(); });
  root.append(el("div", { className: "bw-row" }, styled("span", {}, "Image:"), imageSelect));

  // the kernel: nine numbers and presets
  const cells = state.kernel.map((v, t) => {
    const input = el("input", { type: "number", step: "0.1", name: `k${t}`, value: String(v) });
    input.setAttribute("aria-label", `kernel row ${Math.floor(t / 3) + 1} column ${(t % 3) + 1}`);
    input.addEventListener("input", () => {
      const value = Number(input.value);
      state.kernel[t] = Number.isFinite(value) ? value : 0;
      presetButtons.forEach((b) => b.setAttribute("aria-pressed", "false"));
      draw();
    });
    return input;
  });
  const presetButtons = presetNames.map((name) => {
    const button = el("button", { type: "button", textContent: name });
    button.addEventListener("click", () => {
      state.kernel = data.presets[name].flat();
      cells.forEach((c, t) => { c.value = String(state.kernel[t]); });
      presetButtons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
      draw();
    });
    button.setAttribute("aria-pressed", String(name === presetNames[1]));
    return button;
  });
  root.append(el("div", { className: "bw-row" }, el("div", { className: "kernel" }, ...cells),
    el("div", { className: "bw-row" }, ...presetButtons)));
  root.append(el("div", { className: "bw-row" },
    slider("stride", "stride", 1, 3, state.stride, (v) => { state.stride = v; state.hover = null; draw(); }),
    slider("padding", "padding", 0, 3, state.padding, (v) => { state.padding = v; state.hover = null; draw(); }),
    slider("dilation", "dilation", 1, 3, state.dilation, (v) => { state.dilation = v; state.hover = null; draw(); })));
  const formula = styled("div", { fontVariantNumeric: "tabular-nums", margin: "4px 0" });
  formula.className = "formula";
  root.append(formula);

  const inPlot = scalableCanvas(SIDE, SIDE, "the input image with its padding");
  const outPlot = scalableCanvas(SIDE, SIDE, "the output of the convolution");
  root.append(el("div", { className: "bw-panels" },
    el("div", {}, styled("div", { fontWeight: "600" }, "Input (grey: padding zeros)"), inPlot.canvas),
    el("div", {}, styled("div", { fontWeight: "600" }, "Output (red > 0, blue < 0)"), outPlot.canvas)));
  const readout = styled("div", { fontVariantNumeric: "tabular-nums", minHeight: "2.8em", marginTop: "4px" });
  readout.className = "readout";
  root.append(readout, styled("div", { fontSize: "12px", color: PALETTE.muted },
    "Hover over (or tap) an output pixel: the orange squares are the input pixels it multiplies by the " +
    "kernel, the dashed box its receptive field. The kernel is applied as PyTorch does (no flip)."));

  let result = null;
  function onOutput(event) {
    if (!result || result.size === 0) return;
    const [x, y] = outPlot.local(event);
    const cell = SIDE / result.size;
    const i = Math.floor(y / cell), j = Math.floor(x / cell);
    if (i < 0 || j < 0 || i >= result.size || j >= result.size) return;
    state.hover = [i, j];
    draw();
  }
  outPlot.canvas.addEventListener("pointermove", onOutput);
  outPlot.canvas.addEventListener("pointerdown", onOutput);

  function drawInput(hoverTaps) {
    const { ctx } = inPlot;
    inPlot.begin();
    const p = state.padding, total = n + 2 * p, cell = SIDE / total, image = images[state.image];
    for (let r = -p; r < n + p; r++) {
      for (let c = -p; c < n + p; c++) {
        const inside = r >= 0 && r < n && c >= 0 && c < n;
        const g = inside ? Math.round(255 * image[r * n + c]) : null;
        ctx.fillStyle = inside ? `rgb(${g},${g},${g})` : "#c9ced6";
        ctx.fillRect((c + p) * cell, (r + p) * cell, cell + 0.5, cell + 0.5);
      }
    }
    if (!hoverTaps) return;
    const rows = hoverTaps.map((t) => t[0]), cols = hoverTaps.map((t) => t[1]);
    ctx.setLineDash([4, 3]);
    ctx.strokeStyle = PALETTE.green;
    ctx.lineWidth = 2;
    ctx.strokeRect((Math.min(...cols) + p) * cell, (Math.min(...rows) + p) * cell,
      (Math.max(...cols) - Math.min(...cols) + 1) * cell, (Math.max(...rows) - Math.min(...rows) + 1) * cell);
    ctx.setLineDash([]);
    ctx.strokeStyle = PALETTE.orange;
    for (const [r, c] of hoverTaps) ctx.strokeRect((c + p) * cell + 1, (r + p) * cell + 1, cell - 2, cell - 2);
  }

  function drawOutput() {
    const { ctx } = outPlot;
    outPlot.begin();
    if (result.size === 0) {
      ctx.fillStyle = PALETTE.warn;
      ctx.font = "14px system-ui, sans-serif";
      ctx.fillText("no output: the kernel does not fit", 20, SIDE / 2);
      return;
    }
    const cell = SIDE / result.size;
    let top = 0;
    for (const v of result.values) top = Math.max(top, Math.abs(v));
    for (let i = 0; i < result.size; i++) {
      for (let j = 0; j < result.size; j++) {
        ctx.fillStyle = diverging(top > 0 ? result.values[i * result.size + j] / top : 0);
        ctx.fillRect(j * cell, i * cell, cell + 0.5, cell + 0.5);
      }
    }
    if (state.hover) {
      ctx.strokeStyle = PALETTE.orange;
      ctx.lineWidth = 2;
      ctx.strokeRect(state.hover[1] * cell + 1, state.hover[0] * cell + 1, cell - 2, cell - 2);
    }
  }

  function draw() {
    const { stride: s, padding: p, dilation: d } = state;
    result = convolve(images[state.image], n, state.kernel, s, p, d);
    const span = d * (KERNEL - 1) + 1;
    formula.dataset.out = String(Math.max(result.size, 0));
    formula.textContent = `output side = \u230a(${n} + 2\u00b7${p} \u2212 ${d}\u00b7(3 \u2212 1) \u2212 1) / ${s}\u230b + 1 = ` +
      `${outputSize(n, KERNEL, s, p, d)}   (the kernel spans ${span} \u00d7 ${span} input pixels)`;
    let hoverTaps = null;
    if (state.hover && state.hover[0] < result.size && state.hover[1] < result.size) {
      const [i, j] = state.hover;
      hoverTaps = taps(i, j, KERNEL, s, p, d);
      const value = result.values[i * result.size + j];
      const rows = hoverTaps.map((t) => t[0]), cols = hoverTaps.map((t) => t[1]);
      Object.assign(readout.dataset, { row: String(i), col: String(j), value: String(value),
        rf: `${Math.min(...rows)},${Math.max(...rows)},${Math.min(...cols)},${Math.max(...cols)}` });
      readout.textContent = `output (${i}, ${j}) = ${value.toFixed(3)}; it sees input rows ` +
        `${Math.min(...rows)}\u2013${Math.max(...rows)} and columns ${Math.min(...cols)}\u2013${Math.max(...cols)} ` +
        `(negative or \u2265 ${n}: padding).`;
    } else {
      state.hover = null;
      readout.textContent = "Hover over an output pixel.";
      for (const key of ["row", "col", "value", "rf"]) delete readout.dataset[key];
    }
    drawInput(hoverTaps);
    drawOutput();
    drawMaps();
  }

  // ---- part 2: the trained network's feature maps ----
  const mapCanvases = [];
  let layerButtons = [], mapCaption = null;
  if (data.layers.length > 0) {
    root.append(el("h4", { textContent: `What ${data.model || "the trained CNN"} computes` }));
    layerButtons = data.layers.map((layer, index) => {
      const button = el("button", { type: "button", textContent: layer.name });
      button.addEventListener("click", () => { state.layer = index; draw(); });
      return button;
    });
    root.append(el("div", { className: "bw-row" }, styled("span", {}, "Layer:"), ...layerButtons));
    mapCaption = styled("div", { margin: "2px 0 4px" });
    mapCaption.className = "map-caption";
    const grid = el("div", { className: "maps" });
    const count = Math.max(...data.layers.map((layer) => layer.channels.length));
    for (let c = 0; c < count; c++) {
      const plot = scalableCanvas(112, 112, `feature map ${c + 1}`);
      const label = styled("div", { fontSize: "11px", color: PALETTE.muted, textAlign: "center" });
      mapCanvases.push({ plot, label });
      grid.append(el("div", {}, plot.canvas, label));
    }
    root.append(mapCaption, grid, styled("div", { fontSize: "12px", color: PALETTE.muted, marginTop: "4px" },
      "The channels of the chosen layer that respond most on these images (largest mean), each scaled by its own " +
      "maximum: white is strong, black is zero. Early layers respond to edges and textures at full resolution; " +
      "later ones to larger parts, at lower resolution."));
  }

  function drawMaps() {
    if (data.layers.length === 0) return;
    const layer = data.layers[state.layer], item = data.images[state.image];
    layerButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(i === state.layer)));
    const [channels, h, w] = layer.shape;
    mapCaption.dataset.layer = layer.name;
    mapCaption.textContent = `${layer.name}: ${channels} channels of ${h} \u00d7 ${w}; ` +
      (item.predicted ? `prediction "${item.predicted}" (${Math.round(100 * item.confidence)}%), true class "${item.label}".` : "");
    mapCanvases.forEach(({ plot, label }, c) => {
      plot.begin();
      if (c >= layer.channels.length) { label.textContent = ""; return; }
      const bytes = decode(layer.maps[state.image][c]), cw = 112 / w, ch = 112 / h;
      for (let r = 0; r < h; r++) {
        for (let q = 0; q < w; q++) {
          const g = bytes[r * w + q];
          plot.ctx.fillStyle = `rgb(${g},${g},${g})`;
          plot.ctx.fillRect(q * cw, r * ch, cw + 0.5, ch + 0.5);
        }
      }
      label.textContent = `channel ${layer.channels[c]}`;
    });
  }

  draw();
}

export default { render };
