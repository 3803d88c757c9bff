// Segmentation viewer: for one held-out image, the input, the true label map, a trained model's
// prediction and the pixels it got wrong, with the IoU of every class on this image. The
// predictions were made in Python by the chapter's models (segmentation_viewer.py); this file
// decodes the label strings, draws them and computes the per-image scores.

const { PALETTE, styled: element, scalableCanvas, mount } = bookUI; // the shared prelude (prelude.js)
// background, then one colour per class (the chapter's figures use the same)
const CLASS_COLOURS = ["#f4f4f4", PALETTE.blue, PALETTE.orange, PALETTE.green, PALETTE.purple, PALETTE.red];
const CELL = 4; // logical pixels per image pixel

// ---- pure functions (exported so the tests can run them in Node) ----

/** A label string (one digit per pixel) as an array of numbers. */
export function decodeLabels(text) {
  return Array.from(text, (ch) => ch.charCodeAt(0) - 48);
}

/** IoU of every class between two label arrays; null where a class is in neither (undefined). */
export function perClassIoU(pred, truth, numClasses) {
  const inter = new Array(numClasses).fill(0);
  const union = new Array(numClasses).fill(0);
  for (let i = 0; i < truth.length; i += 1) {
    const p = pred[i], t = truth[i];
    if (p === t) { inter[p] += 1; union[p] += 1; } else { union[p] += 1; union[t] += 1; }
  }
  return union.map((u, c) => (u === 0 ? null : inter[c] / u));
}

/** The mean of the non-null values from index `from` on (the foreground classes), or null. */
export function meanDefined(values, from = 1) {
  const defined = values.slice(from).filter((v) => v !== null && v !== undefined);
  return defined.length === 0 ? null : defined.reduce((a, b) => a + b, 0) / defined.length;
}

/** A score in [0, 1] as text with three decimals, or an en dash when undefined. */
export function formatScore(v) {
  return v === null || v === undefined ? "\u2013" : v.toFixed(3);
}

/** The number of pixels where two label arrays differ. */
export function countErrors(pred, truth) {
  let n = 0;
  for (let i = 0; i < truth.length; i += 1) if (pred[i] !== truth[i]) n += 1;
  return n;
}

// ---- the widget ----

function render({ model, el }) {
  const data = model.get("data");
  const { height: H, width: W, classes } = data;
  const samples = data.samples.map((s) => ({
    image: s.image,
    truth: decodeLabels(s.truth),
    pred: Object.fromEntries(Object.entries(s.pred).map(([name, text]) => [name, decodeLabels(text)])),
  }));
  const state = { index: 0, model: data.models[0] };
  const root = mount(el, "dlb-seg", `.dlb-seg { font-size: 14px; max-width: 720px; }
.dlb-seg .seg-panels { display: grid; gap: 6px; grid-template-columns: repeat(4, minmax(0, 1fr)); }
.dlb-seg .seg-panel { min-width: 0; text-align: center; font-size: 12px; }
.dlb-seg canvas.bw-canvas { image-rendering: pixelated; }
.dlb-seg table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 13px; }
.dlb-seg td, .dlb-seg th { padding: 1px 8px; text-align: right; border-bottom: 1px solid #eee; }
.dlb-seg td:first-child, .dlb-seg th:first-child { text-align: left; }
.dlb-seg .swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border: 1px solid #999; }`);

  // controls: the image (a slider: works the same with a finger and a mouse) and the model
  const pickRow = element("label", { display: "flex", gap: "8px", alignItems: "center", margin: "4px 0" });
  const slider = element("input", { flex: "1", minWidth: "100px" });
  Object.assign(slider, { type: "range", name: "image", min: "0", max: String(samples.length - 1), step: "1", value: "0" });
  const pickText = element("span", { minWidth: "90px", fontVariantNumeric: "tabular-nums" });
  pickRow.append(element("span", {}, "Test image:"), slider, pickText);
  slider.addEventListener("input", () => { state.index = Number(slider.value); draw(); });
  const modelRow = element("div", { display: "flex", flexWrap: "wrap", gap: "5px", alignItems: "center", margin: "4px 0" });
  modelRow.append(element("span", {}, "Prediction of:"));
  const modelButtons = data.models.map((name) => {
    const button = element("button", {}, name);
    button.addEventListener("click", () => { state.model = name; draw(); });
    modelRow.append(button);
    return button;
  });
  root.append(pickRow, modelRow);

  const panels = element("div");
  panels.className = "seg-panels";
  const canvases = {};
  for (const [key, title] of [["input", "input"], ["truth", "truth"], ["pred", "prediction"], ["errors", "errors"]]) {
    const box = element("div");
    box.className = "seg-panel";
    const plot = scalableCanvas(W * CELL, H * CELL, title);
    canvases[key] = plot;
    box.append(plot.canvas, element("div", {}, title));
    panels.append(box);
  }
  root.append(panels);

  const legend = element("div", { display: "flex", flexWrap: "wrap", gap: "4px 12px", margin: "6px 0", fontSize: "12px" });
  classes.forEach((name, c) => {
    const item = element("span");
    const swatch = element("span", { background: CLASS_COLOURS[c % CLASS_COLOURS.length] });
    swatch.className = "swatch";
    item.append(swatch, name);
    legend.append(item);
  });
  const errorKey = element("span");
  const errorSwatch = element("span", { background: PALETTE.red });
  errorSwatch.className = "swatch";
  errorKey.append(errorSwatch, "wrong pixel");
  legend.append(errorKey);
  root.append(legend);

  const table = element("table");
  const readout = element("div", { fontWeight: "600", marginTop: "4px", fontVariantNumeric: "tabular-nums" });
  readout.className = "readout";
  const note = element("div", { fontSize: "12px", color: "#666", marginTop: "4px" },
    "IoU = overlap / union of a class's predicted and true pixels on this image (\u2013: the class is in " +
    "neither). The last column is the model's IoU over the whole held-out set.");
  root.append(readout, table, note);

  function paint(plot, colourOf) {
    const { ctx } = plot;
    plot.begin();
    for (let y = 0; y < H; y += 1) {
      for (let x = 0; x < W; x += 1) {
        ctx.fillStyle = colourOf(y * W + x);
        ctx.fillRect(x * CELL, y * CELL, CELL, CELL);
      }
    }
  }

  function draw() {
    const sample = samples[state.index];
    const pred = sample.pred[state.model];
    const colour = (labels) => (i) => CLASS_COLOURS[labels[i] % CLASS_COLOURS.length];
    paint(canvases.input, (i) => `rgb(${sample.image[i]},${sample.image[i]},${sample.image[i]})`);
    paint(canvases.truth, colour(sample.truth));
    paint(canvases.pred, colour(pred));
    paint(canvases.errors, (i) => (pred[i] === sample.truth[i] ? (sample.truth[i] === 0 ? "#ffffff" : "#d9d9d9") : PALETTE.red));
    pickText.textContent = `${state.index + 1} of ${samples.length}`;
    const iou = perClassIoU(pred, sample.truth, classes.length);
    const mean = meanDefined(iou);
    const errors = countErrors(pred, sample.truth);
    readout.textContent = `${state.model}: mean foreground IoU ${formatScore(mean)} on this image, ${errors} wrong pixel${errors === 1 ? "" : "s"} of ${H * W}`;
    readout.dataset.meanIou = mean === null ? "" : String(mean);
    readout.dataset.errors = String(errors);
    const overall = (data.overall || {})[state.model];
    table.replaceChildren();
    const head = element("tr");
    for (const text of ["class", "IoU (this image)", "IoU (test set)"]) head.append(element("th", {}, text));
    table.append(head);
    classes.forEach((name, c) => {
      const row = element("tr");
      const all = overall && overall.iou ? overall.iou[c] : null;
      row.append(element("td", {}, name), element("td", {}, formatScore(iou[c])), element("td", {}, formatScore(all)));
      table.append(row);
    });
    canvases.pred.canvas.setAttribute("aria-label", `prediction of ${state.model}`);
    modelButtons.forEach((button, k) => {
      const on = data.models[k] === state.model;
      button.style.fontWeight = on ? "700" : "400";
      button.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  draw();
}

export default { render };
