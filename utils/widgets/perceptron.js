// Perceptron playground: move w1, w2 and b and watch the decision boundary, the two
// half-planes and the count of correctly classified points; "Step" applies one
// perceptron-rule update. Everything happens here, in the browser, from the JSON
// payload that perceptron.py builds, so the demo also works on the static website.

const { PALETTE, styled: element, scalableCanvas, mount } = bookUI;
const COLORS = {
  class0: PALETTE.blue, // matplotlib C0, as in the chapter's figures
  class1: PALETTE.orange, // matplotlib C1
  region0: "rgba(31, 119, 180, 0.14)",
  region1: "rgba(255, 127, 14, 0.16)",
  wrong: PALETTE.red,
  ink: PALETTE.ink,
  grid: "#ccc",
};
const SIZE = 320; // canvas size in logical pixels (it shrinks with a narrow column)

// ---- the maths (pure functions, exported so the tests can run them in Node) ----

/** Pre-activation z = w.x + b. */
export function preActivation(w, b, x) {
  return w[0] * x[0] + w[1] * x[1] + b;
}

// Weights move in steps such as 0.1 that floats cannot hold exactly, so a point lying
// exactly on the boundary can come out at z = 1e-17 or -1e-17; within TIE of 0 counts as 0.
const TIE = 1e-9;

/** The perceptron's output: 1 when z >= 0, else 0 (the same convention as the chapter). */
export function predict(w, b, x) {
  return preActivation(w, b, x) >= -TIE ? 1 : 0;
}

/** How many of the points the perceptron (w, b) classifies correctly. */
export function countCorrect(w, b, points, labels) {
  let correct = 0;
  points.forEach((x, i) => { correct += predict(w, b, x) === labels[i] ? 1 : 0; });
  return correct;
}

const tidy = (v) => Math.round(v * 1e9) / 1e9; // keeps 0.1 + 0.2 from drifting to 0.30000000000000004

/** One perceptron-rule update on point x with target y:
 *  w <- w + lr (y - yhat) x,  b <- b + lr (y - yhat).  Nothing changes when yhat == y. */
export function perceptronUpdate(w, b, x, y, lr) {
  const error = y - predict(w, b, x);
  return {
    w: [tidy(w[0] + lr * error * x[0]), tidy(w[1] + lr * error * x[1])],
    b: tidy(b + lr * error),
    error,
  };
}

/** The part of a convex polygon where the perceptron outputs 1 (sign = +1: w.x + b >= 0) or
 *  0 (sign = -1: w.x + b < 0), with the same tie rule as `predict`, so the two parts never
 *  overlap: with w = 0 and b = 0 every point outputs 1 and the "0" part is empty.
 *  (One Sutherland-Hodgman pass.) */
export function clipHalfPlane(polygon, w, b, sign) {
  const out = [];
  const inside = (p) => (preActivation(w, b, p) >= -TIE) === (sign > 0);
  for (let i = 0; i < polygon.length; i++) {
    const p = polygon[i];
    const q = polygon[(i + 1) % polygon.length];
    if (inside(p)) out.push(p);
    if (inside(p) !== inside(q)) {
      const zp = preActivation(w, b, p);
      const t = zp / (zp - preActivation(w, b, q));
      out.push([p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]);
    }
  }
  return out;
}

/** The segment of the line w.x + b = 0 inside the rectangle [x0, x1] x [y0, y1], or null. */
export function boundarySegment(w, b, view) {
  const [x0, x1, y0, y1] = view;
  if (w[0] === 0 && w[1] === 0) return null;
  const hits = [];
  const add = (p) => {
    const inside = p[0] >= x0 - 1e-9 && p[0] <= x1 + 1e-9 && p[1] >= y0 - 1e-9 && p[1] <= y1 + 1e-9;
    if (inside && !hits.some((h) => Math.abs(h[0] - p[0]) + Math.abs(h[1] - p[1]) < 1e-9)) hits.push(p);
  };
  if (w[1] !== 0) {
    for (const x of [x0, x1]) add([x, -(w[0] * x + b) / w[1]]);
  }
  if (w[0] !== 0) {
    for (const y of [y0, y1]) add([-(w[1] * y + b) / w[0], y]);
  }
  return hits.length >= 2 ? [hits[0], hits[1]] : null;
}

// ---- the widget ----

const fmt = (v) => (Math.abs(v) < 5e-10 ? 0 : v).toFixed(2);

function render({ model, el }) {
  const data = model.get("data");
  const view = data.view; // [xmin, xmax, ymin, ymax] in data units
  const initial = { w: [...data.w], b: data.b };
  const state = { dataset: data.start, w: [...data.w], b: data.b, lr: data.lr, next: 0, epochErrors: 0 };

  // layout: canvas on the left, controls on the right; stacked on a phone
  const root = mount(el, "dlb-perceptron", `
.dlb-perceptron { font-size: 14px; }
.dlb-perceptron .bw-layout { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.dlb-perceptron .bw-layout > canvas { flex: 0 1 ${SIZE}px; min-width: 0; }`);
  const layout = element("div");
  layout.className = "bw-layout";
  const { canvas, ctx, begin } = scalableCanvas(SIZE, SIZE, "the data and the decision boundary");
  const panel = element("div", { display: "flex", flexDirection: "column", gap: "8px", flex: "1 1 260px", minWidth: "0", maxWidth: "420px" });
  layout.append(canvas, panel);
  root.append(layout);

  // dataset choice
  const choice = element("div", { display: "flex", flexWrap: "wrap", gap: "6px", alignItems: "center" });
  choice.append(element("span", {}, "Data:"));
  const datasetButtons = data.datasets.map((d, i) => {
    const button = element("button", {}, d.name);
    button.addEventListener("click", () => {
      state.dataset = i;
      state.next = 0;
      state.epochErrors = 0;
      log.textContent = `Switched to ${d.name}.`;
      draw();
    });
    choice.append(button);
    return button;
  });
  panel.append(choice);

  // sliders
  function slider(label, get, set, min, max, step) {
    const row = element("label", { display: "grid", gridTemplateColumns: "minmax(70px, max-content) minmax(60px, 1fr) 48px", alignItems: "center", gap: "6px" });
    const name = element("span", {}, label);
    const input = element("input", {});
    Object.assign(input, { type: "range", min, max, step });
    input.setAttribute("aria-label", label);
    const value = element("span", { fontVariantNumeric: "tabular-nums", textAlign: "right" });
    input.addEventListener("input", () => {
      set(parseFloat(input.value));
      draw();
    });
    row.append(name, input, value);
    panel.append(row);
    return {
      input,
      sync() {
        const v = get();
        if (v > parseFloat(input.max)) input.max = String(Math.ceil(v));
        if (v < parseFloat(input.min)) input.min = String(Math.floor(v));
        input.value = String(v);
        value.textContent = fmt(v);
      },
    };
  }
  const r = data.range;
  const sliders = [
    slider("w\u2081", () => state.w[0], (v) => { state.w[0] = v; }, -r, r, data.slider_step),
    slider("w\u2082", () => state.w[1], (v) => { state.w[1] = v; }, -r, r, data.slider_step),
    slider("b", () => state.b, (v) => { state.b = v; }, -r, r, data.slider_step),
    slider("step size \u03b1", () => state.lr, (v) => { state.lr = v; }, 0.1, 1, 0.1),
  ];

  // perceptron-rule buttons
  const buttons = element("div", { display: "flex", flexWrap: "wrap", gap: "6px" });
  const stepButton = element("button", {}, "Step (1 point)");
  const epochButton = element("button", {}, "Epoch (all points)");
  const resetButton = element("button", {}, "Reset");
  buttons.append(stepButton, epochButton, resetButton);
  panel.append(buttons);

  const equation = element("div", { fontFamily: "ui-monospace, monospace" });
  const readout = element("div", { fontWeight: "600" });
  const log = element("div", { minHeight: "4.5em", color: "#444", fontSize: "13px" });
  const legend = element("div", { fontSize: "12px", color: "#666" },
    "Shading: what the perceptron outputs (orange 1, blue 0). Dots: the targets. " +
    "Red ring: a mistake. Dashed ring: the point the next Step visits. The arrow w points to the side that outputs 1.");
  panel.append(equation, readout, log, legend);

  function current() {
    return data.datasets[state.dataset];
  }

  function step() {
    const d = current();
    const i = state.next;
    const x = d.points[i];
    const y = d.labels[i];
    const yhat = predict(state.w, state.b, x);
    const update = perceptronUpdate(state.w, state.b, x, y, state.lr);
    state.w = update.w;
    state.b = update.b;
    if (update.error !== 0) state.epochErrors += 1;
    const where = `point (${x.map((v) => +v.toFixed(2)).join(", ")}), target ${y}, predicted ${yhat}`;
    let message = update.error === 0
      ? `${where}: correct, no change.`
      : `${where}: wrong, so w += ${state.lr}\u00b7(${update.error})\u00b7x and b += ${state.lr}\u00b7(${update.error}).`;
    state.next = (i + 1) % d.points.length;
    if (state.next === 0) {
      message += ` End of epoch: ${state.epochErrors} update(s).`;
      state.epochErrors = 0;
    }
    return message;
  }

  stepButton.addEventListener("click", () => {
    log.textContent = step();
    draw();
  });
  epochButton.addEventListener("click", () => {
    let message = "";
    do { message = step(); } while (state.next !== 0);
    log.textContent = message;
    draw();
  });
  resetButton.addEventListener("click", () => {
    state.w = [...initial.w];
    state.b = initial.b;
    state.next = 0;
    state.epochErrors = 0;
    log.textContent = "Weights reset.";
    draw();
  });

  // drawing
  const px = (p) => [((p[0] - view[0]) / (view[1] - view[0])) * SIZE, (1 - (p[1] - view[2]) / (view[3] - view[2])) * SIZE];

  function fillPolygon(polygon, color) {
    if (polygon.length < 3) return;
    ctx.beginPath();
    polygon.forEach((p, i) => { const [u, v] = px(p); if (i === 0) ctx.moveTo(u, v); else ctx.lineTo(u, v); });
    ctx.closePath();
    ctx.fillStyle = color;
    ctx.fill();
  }

  function arrow(from, to) {
    const [u0, v0] = px(from);
    const [u1, v1] = px(to);
    const angle = Math.atan2(v1 - v0, u1 - u0);
    ctx.beginPath();
    ctx.moveTo(u0, v0);
    ctx.lineTo(u1, v1);
    ctx.lineTo(u1 - 9 * Math.cos(angle - 0.4), v1 - 9 * Math.sin(angle - 0.4));
    ctx.moveTo(u1, v1);
    ctx.lineTo(u1 - 9 * Math.cos(angle + 0.4), v1 - 9 * Math.sin(angle + 0.4));
    ctx.stroke();
  }

  function draw() {
    const d = current();
    const w = state.w;
    const b = state.b;
    begin();

    // the two half-planes
    const box = [[view[0], view[2]], [view[1], view[2]], [view[1], view[3]], [view[0], view[3]]];
    fillPolygon(clipHalfPlane(box, w, b, +1), COLORS.region1);
    fillPolygon(clipHalfPlane(box, w, b, -1), COLORS.region0);

    // axes through the origin, ticks at 0 and 1
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1;
    ctx.fillStyle = "#666";
    ctx.font = "11px system-ui, sans-serif";
    for (const t of [0, 1]) {
      const [u] = px([t, 0]);
      const [, v] = px([0, t]);
      ctx.beginPath(); ctx.moveTo(u, 0); ctx.lineTo(u, SIZE); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(0, v); ctx.lineTo(SIZE, v); ctx.stroke();
      ctx.fillText(String(t), u + 3, SIZE - 4);
      ctx.fillText(String(t), 3, v - 3);
    }
    ctx.fillText("x\u2081", SIZE - 16, SIZE - 4);
    ctx.fillText("x\u2082", 3, 12);

    // the boundary w.x + b = 0 and the weight vector, which points into the "1" side
    const segment = boundarySegment(w, b, view);
    if (segment) {
      ctx.strokeStyle = COLORS.ink;
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(...px(segment[0]));
      ctx.lineTo(...px(segment[1]));
      ctx.stroke();
      // foot of the perpendicular from the view's centre onto the line
      const centre = [(view[0] + view[1]) / 2, (view[2] + view[3]) / 2];
      const norm2 = w[0] * w[0] + w[1] * w[1];
      const z = preActivation(w, b, centre);
      const foot = [centre[0] - (z * w[0]) / norm2, centre[1] - (z * w[1]) / norm2];
      const length = 0.25 * (view[1] - view[0]);
      const tip = [foot[0] + (length * w[0]) / Math.sqrt(norm2), foot[1] + (length * w[1]) / Math.sqrt(norm2)];
      ctx.lineWidth = 1.5;
      arrow(foot, tip);
      const [u, v] = px(tip);
      ctx.fillStyle = COLORS.ink;
      ctx.fillText("w", u + 4, v - 4);
    }

    // the points, filled with their target's colour; a red ring marks a mistake
    let correct = 0;
    d.points.forEach((x, i) => {
      const y = d.labels[i];
      const ok = predict(w, b, x) === y;
      correct += ok ? 1 : 0;
      const [u, v] = px(x);
      ctx.beginPath();
      ctx.arc(u, v, 10, 0, 2 * Math.PI);
      ctx.fillStyle = y === 1 ? COLORS.class1 : COLORS.class0;
      ctx.fill();
      ctx.lineWidth = ok ? 1 : 3.5;
      ctx.strokeStyle = ok ? "white" : COLORS.wrong;
      ctx.stroke();
      ctx.fillStyle = "white";
      ctx.font = "bold 12px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(String(y), u, v + 0.5);
      ctx.textAlign = "start";
      ctx.textBaseline = "alphabetic";
      ctx.font = "11px system-ui, sans-serif";
    });
    if (d.points.length > 0) {
      // a dashed ring marks the point the next "Step" will visit
      const [u, v] = px(d.points[state.next]);
      ctx.strokeStyle = COLORS.ink;
      ctx.lineWidth = 1;
      ctx.setLineDash([3, 3]);
      ctx.beginPath();
      ctx.arc(u, v, 15, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.setLineDash([]);
    }

    // text
    const n = d.points.length;
    const sign = b < 0 ? "\u2212" : "+";
    equation.textContent = `boundary: ${fmt(w[0])}\u00b7x\u2081 + ${fmt(w[1])}\u00b7x\u2082 ${sign} ${fmt(Math.abs(b))} = 0`;
    readout.textContent = `${d.name}: ${correct} of ${n} points correct${correct === n ? " \u2714" : ""}`;
    readout.style.color = correct === n ? "#2a7a2a" : COLORS.ink;
    canvas.setAttribute("aria-label", `${d.name} data and the decision boundary; ${correct} of ${n} points correct`);
    datasetButtons.forEach((button, i) => { button.style.fontWeight = i === state.dataset ? "700" : "400"; });
    sliders.forEach((s) => s.sync());
  }

  draw();
}

export default { render };
