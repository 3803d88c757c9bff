// Optimizer race: several optimizers start from the same point of a 2-D loss surface and
// take steps. Everything is computed here, live, so any slider value works: the surfaces
// and their gradients (the same formulas as utils/optim_surfaces.py) and the update rules
// (written as PyTorch's torch.optim computes them; Lion as in Chen et al., 2023). The test
// tests/test_optimizer_race_widget.py runs these functions in Node and compares the
// trajectories with torch.optim's.

const { PALETTE, el, styled, scalableCanvas, mount, fmt } = bookUI; // the shared prelude

const WIDTH = 600;
const HEIGHT = 420;
const M = { left: 40, right: 10, top: 10, bottom: 30 };
const DIVERGED = 1e6; // a coordinate beyond this ends a trajectory

// ---- pure functions (exported so the tests can run them in Node) ----

const WELLS = [[-1.5, -1.0, 1.0, 0.6], [1.2, 1.3, 1.4, 0.5], [1.5, -1.5, 0.8, 0.7]];
const BOWL = 0.02;

/** f(x, y) of a surface. */
export function surfaceValue(name, x, y) {
  switch (name) {
    case "ravine": return 0.01 * x * x + 2.5 * y * y;
    case "rosenbrock": return (1 - x) ** 2 + 100 * (y - x * x) ** 2;
    case "saddle": return 0.5 * x * x + 0.25 * y ** 4 - 0.5 * y * y;
    case "wells": {
      let total = BOWL * (x * x + y * y);
      for (const [cx, cy, depth, width] of WELLS) {
        total -= depth * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * width * width));
      }
      return total;
    }
    default: throw new Error(`unknown surface ${name}`);
  }
}

/** The gradient [df/dx, df/dy], derived by hand. */
export function surfaceGrad(name, x, y) {
  switch (name) {
    case "ravine": return [0.02 * x, 5 * y];
    case "rosenbrock": return [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)];
    case "saddle": return [x, y ** 3 - y];
    case "wells": {
      let gx = 2 * BOWL * x, gy = 2 * BOWL * y;
      for (const [cx, cy, depth, width] of WELLS) {
        const w2 = width * width;
        const e = depth * Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * w2));
        gx += e * (x - cx) / w2;
        gy += e * (y - cy) / w2;
      }
      return [gx, gy];
    }
    default: throw new Error(`unknown surface ${name}`);
  }
}

// Which hyperparameters each optimizer reads; the labels the sliders take for it.
export const OPTIMIZERS = {
  sgd: { label: "SGD", uses: [] },
  momentum: { label: "momentum", uses: ["beta1"], beta1: "momentum \u03bc" },
  nesterov: { label: "Nesterov", uses: ["beta1"], beta1: "momentum \u03bc" },
  adagrad: { label: "AdaGrad", uses: [] },
  rmsprop: { label: "RMSprop", uses: ["beta2"], beta2: "\u03b1 (decay of g\u00b2)" },
  adam: { label: "Adam", uses: ["beta1", "beta2"], beta1: "\u03b21", beta2: "\u03b22" },
  lion: { label: "Lion", uses: ["beta1", "beta2"], beta1: "\u03b21", beta2: "\u03b22" },
};

/** A new optimizer state for one 2-D point. */
function freshState() {
  return { t: 0, buf: null, sum: [0, 0], sq: [0, 0], m: [0, 0], v: [0, 0] };
}

/**
 * One step of optimizer `name` from point p with gradient g (hp: lr, beta1, beta2). Returns the
 * update and the terms that made it: `velocity` (momentum buffer, Adam's or Lion's first moment)
 * and `scale` (the per-coordinate factor an adaptive method multiplies by), or null.
 * Constants as in torch.optim: AdaGrad eps 1e-10, RMSprop and Adam eps 1e-8.
 */
export function optimizerStep(name, state, g, hp) {
  const { lr, beta1, beta2 } = hp;
  state.t += 1;
  const t = state.t;
  const update = [0, 0];
  let velocity = null, scale = null;
  if (name === "sgd") {
    for (let i = 0; i < 2; i++) update[i] = -lr * g[i];
  } else if (name === "momentum" || name === "nesterov") {
    // PyTorch's form: buf = mu * buf + g (buf = g at the first step)
    state.buf = state.buf === null ? [...g] : state.buf.map((b, i) => beta1 * b + g[i]);
    velocity = [...state.buf];
    for (let i = 0; i < 2; i++) {
      const d = name === "nesterov" ? g[i] + beta1 * state.buf[i] : state.buf[i];
      update[i] = -lr * d;
    }
  } else if (name === "adagrad") {
    scale = [0, 0];
    for (let i = 0; i < 2; i++) {
      state.sum[i] += g[i] * g[i];
      scale[i] = 1 / (Math.sqrt(state.sum[i]) + 1e-10);
      update[i] = -lr * g[i] * scale[i];
    }
  } else if (name === "rmsprop") {
    scale = [0, 0];
    for (let i = 0; i < 2; i++) {
      state.sq[i] = beta2 * state.sq[i] + (1 - beta2) * g[i] * g[i];
      scale[i] = 1 / (Math.sqrt(state.sq[i]) + 1e-8);
      update[i] = -lr * g[i] * scale[i];
    }
  } else if (name === "adam") {
    scale = [0, 0];
    const bc1 = 1 - beta1 ** t, bc2 = 1 - beta2 ** t;
    for (let i = 0; i < 2; i++) {
      state.m[i] = beta1 * state.m[i] + (1 - beta1) * g[i];
      state.v[i] = beta2 * state.v[i] + (1 - beta2) * g[i] * g[i];
      scale[i] = 1 / (Math.sqrt(state.v[i]) / Math.sqrt(bc2) + 1e-8);
      update[i] = -(lr / bc1) * state.m[i] * scale[i];
    }
    velocity = [...state.m];
  } else if (name === "lion") {
    velocity = [0, 0];
    for (let i = 0; i < 2; i++) {
      const c = beta1 * state.m[i] + (1 - beta1) * g[i]; // interpolate with beta1 ...
      velocity[i] = c;
      update[i] = -lr * Math.sign(c); // ... step by its sign ...
      state.m[i] = beta2 * state.m[i] + (1 - beta2) * g[i]; // ... and keep the average with beta2
    }
  } else {
    throw new Error(`unknown optimizer ${name}`);
  }
  return { update, velocity, scale };
}

/** `steps` steps of optimizer `name` on `surface` from `start`: the points visited (start first),
 *  the loss at each, the terms of each step, and the step at which it diverged (or null). */
export function trajectory(surface, name, hp, start, steps) {
  const state = freshState();
  const points = [[start[0], start[1]]];
  const losses = [surfaceValue(surface, start[0], start[1])];
  const terms = [];
  let diverged = null;
  for (let k = 0; k < steps; k++) {
    const [x, y] = points[points.length - 1];
    const grad = surfaceGrad(surface, x, y);
    const { update, velocity, scale } = optimizerStep(name, state, grad, hp);
    const next = [x + update[0], y + update[1]];
    if (!next.every((v) => Number.isFinite(v) && Math.abs(v) < DIVERGED)) {
      diverged = k + 1;
      break;
    }
    terms.push({ grad, velocity, scale, update });
    points.push(next);
    losses.push(surfaceValue(surface, next[0], next[1]));
  }
  return { points, losses, terms, diverged };
}

/** A number for the readout: 3 significant digits, exponent form when very small or large. */
export function short(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "\u2013";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e4)) return v.toExponential(2).replace("e+", "e").replace("-", "\u2212");
  return fmt(v, a >= 100 ? 1 : 3);
}

// ---- the widget ----

function render({ model, el: host }) {
  const data = model.get("data");
  const names = Object.keys(OPTIMIZERS).filter((n) => data.optimizers.includes(n));
  const colour = Object.fromEntries(names.map((n, i) => [n, PALETTE.cycle[i % 10]]));
  const state = {
    surface: data.start_surface,
    active: new Set(data.start_optimizers),
    focus: data.start_optimizers[0],
    start: null,
    steps: data.steps,
    shown: data.steps,
    hp: {}, // per surface, per optimizer
  };
  for (const [s, info] of Object.entries(data.surfaces)) {
    state.hp[s] = {};
    for (const n of names) state.hp[s][n] = { lr: info.lr[n], beta1: data.beta1, beta2: n === "lion" ? 0.99 : data.beta2 };
  }
  const root = mount(host, "dlb-race", `.dlb-race { max-width: ${WIDTH + 20}px; }
.dlb-race .lab { min-width: 88px; }
.dlb-race button[aria-pressed=true] { font-weight: 700; border-color: #333; }
.dlb-race table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: 12px; width: 100%; }
.dlb-race td, .dlb-race th { padding: 1px 6px; text-align: right; border-bottom: 1px solid #eee; }
.dlb-race td:first-child, .dlb-race th:first-child { text-align: left; }
.dlb-race .swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; border-radius: 2px; }`);

  // surface and optimizer choices
  const surfaceRow = el("div", { className: "bw-row" }, styled("span", {}, "Surface:"));
  const surfaceButtons = Object.entries(data.surfaces).map(([s, info]) => {
    const b = el("button", { textContent: info.label });
    b.dataset.surface = s;
    b.addEventListener("click", () => { state.surface = s; state.start = null; recompute(); });
    surfaceRow.append(b);
    return b;
  });
  const optRow = el("div", { className: "bw-row" }, styled("span", {}, "Race:"));
  const optButtons = names.map((n) => {
    const b = el("button", {}, el("span", { className: "swatch" }), OPTIMIZERS[n].label);
    b.querySelector(".swatch").style.background = colour[n];
    b.dataset.opt = n;
    b.addEventListener("click", () => {
      if (state.active.has(n) && state.active.size > 1) state.active.delete(n); else state.active.add(n);
      if (state.active.has(n)) state.focus = n;
      else if (!state.active.has(state.focus)) state.focus = [...state.active][0];
      recompute();
    });
    optRow.append(b);
    return b;
  });
  root.append(surfaceRow, optRow);

  // sliders for the focused optimizer's hyperparameters
  const focusSelect = el("select", { name: "focus" });
  focusSelect.addEventListener("change", () => { state.focus = focusSelect.value; recompute(); });
  const tuneRow = el("div", { className: "bw-row" }, styled("span", {}, "Tune:"), focusSelect);
  root.append(tuneRow);
  function slider(name, min, max, step) {
    const input = el("input", { type: "range", name, min, max, step });
    input.style.flex = "1";
    const label = styled("span", { minWidth: "100px" });
    const value = styled("span", { minWidth: "56px", fontVariantNumeric: "tabular-nums" });
    const row = el("label", { className: "bw-row" }, label, input, value);
    root.append(row);
    return { input, label, value, row };
  }
  const lrSlider = slider("lr", "-5", "1", "0.05");
  const b1Slider = slider("beta1", "0", "0.99", "0.01");
  const b2Slider = slider("beta2", "0.5", "0.9999", "0.0001");
  const stepsSlider = slider("steps", "10", "500", "10");
  lrSlider.label.textContent = "learning rate";
  stepsSlider.label.textContent = "steps";
  lrSlider.input.addEventListener("input", () => { focusHp().lr = 10 ** Number(lrSlider.input.value); recompute(); });
  b1Slider.input.addEventListener("input", () => { focusHp().beta1 = Number(b1Slider.input.value); recompute(); });
  b2Slider.input.addEventListener("input", () => { focusHp().beta2 = Number(b2Slider.input.value); recompute(); });
  stepsSlider.input.addEventListener("input", () => {
    state.steps = Number(stepsSlider.input.value);
    state.shown = state.steps;
    recompute();
  });

  const plot = scalableCanvas(WIDTH, HEIGHT, "loss surface with optimizer trajectories");
  plot.canvas.style.cursor = "crosshair";
  root.append(plot.canvas);

  // playback: which step is shown
  const play = el("button", { textContent: "\u25b6 play" });
  const stepInput = el("input", { type: "range", name: "shown", min: "0", step: "1" });
  stepInput.style.flex = "1";
  const stepText = styled("span", { minWidth: "90px", fontVariantNumeric: "tabular-nums" });
  root.append(el("div", { className: "bw-row" }, play, stepInput, stepText));
  stepInput.addEventListener("input", () => { state.shown = Number(stepInput.value); stopPlaying(); draw(); });
  let timer = null;
  function stopPlaying() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "\u25b6 play";
  }
  play.addEventListener("click", () => {
    if (timer !== null) { stopPlaying(); return; }
    if (state.shown >= state.steps) state.shown = 0;
    play.textContent = "\u275a\u275a pause";
    timer = setInterval(() => {
      state.shown = Math.min(state.steps, state.shown + Math.max(1, Math.round(state.steps / 100)));
      draw();
      if (state.shown >= state.steps) stopPlaying();
    }, 40);
  });

  const terms = el("table", { className: "terms" });
  const board = el("table", { className: "board" });
  const note = styled("div", { fontSize: "12px", color: PALETTE.muted, marginTop: "4px" },
    "Click the surface to start all optimizers from that point. The table shows the chosen step of the " +
    "tuned optimizer: its gradient, its velocity (momentum buffer or first moment), the adaptive scale " +
    "that multiplies each coordinate, and the update \u0394\u03b8 they make together.");
  root.append(el("div", { className: "bw-panels" }, terms, board), note);

  function focusHp() { return state.hp[state.surface][state.focus]; }
  function start() { return state.start || data.surfaces[state.surface].start; }

  // the background: log(f - min + 1) in bands, computed once per surface
  const background = {};
  function surfaceImage(s) {
    if (background[s]) return background[s];
    const info = data.surfaces[s];
    const nx = 150, ny = 105;
    const img = document.createElement("canvas");
    img.width = nx; img.height = ny;
    const ictx = img.getContext("2d");
    const pixels = ictx.createImageData(nx, ny);
    const values = [];
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const x = info.x[0] + ((i + 0.5) / nx) * (info.x[1] - info.x[0]);
        const y = info.y[1] - ((j + 0.5) / ny) * (info.y[1] - info.y[0]);
        values.push(Math.log1p(Math.max(0, surfaceValue(s, x, y) - info.min)));
      }
    }
    const top = Math.max(...values);
    values.forEach((v, k) => {
      const u = v / top, band = Math.floor(u * 14) % 2;
      const shade = 255 - 120 * u - (band ? 10 : 0);
      pixels.data.set([shade - 40 * (1 - u), shade - 15 * (1 - u), 255 - 60 * u, 255], 4 * k);
    });
    ictx.putImageData(pixels, 0, 0);
    background[s] = img;
    return img;
  }

  let runs = {};
  function recompute() {
    runs = {};
    for (const n of state.active) runs[n] = trajectory(state.surface, n, state.hp[state.surface][n], start(), state.steps);
    state.shown = Math.min(state.shown, state.steps);
    draw();
  }

  const W = WIDTH - M.left - M.right, H = HEIGHT - M.top - M.bottom;
  function toPixel(s, x, y) {
    const info = data.surfaces[s];
    return [M.left + ((x - info.x[0]) / (info.x[1] - info.x[0])) * W,
      M.top + (1 - (y - info.y[0]) / (info.y[1] - info.y[0])) * H];
  }
  plot.canvas.addEventListener("click", (event) => {
    const [px, py] = plot.local(event);
    if (px < M.left || px > M.left + W || py < M.top || py > M.top + H) return;
    const info = data.surfaces[state.surface];
    state.start = [info.x[0] + ((px - M.left) / W) * (info.x[1] - info.x[0]),
      info.y[0] + (1 - (py - M.top) / H) * (info.y[1] - info.y[0])];
    recompute();
  });

  function drawPlot() {
    const { ctx } = plot;
    const info = data.surfaces[state.surface];
    plot.begin();
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(surfaceImage(state.surface), M.left, M.top, W, H);
    ctx.strokeStyle = PALETTE.axis;
    ctx.strokeRect(M.left, M.top, W, H);
    ctx.fillStyle = PALETTE.muted;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const x of bookUI.niceTicks(info.x[0], info.x[1], 6)) ctx.fillText(fmt(x, Math.abs(x) < 10 && x % 1 ? 1 : 0), toPixel(state.surface, x, 0)[0], M.top + H + 4);
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const y of bookUI.niceTicks(info.y[0], info.y[1], 5)) ctx.fillText(fmt(y, y % 1 ? 1 : 0), M.left - 4, toPixel(state.surface, 0, y)[1]);
    for (const [mx, my] of info.minima || []) {
      const [px, py] = toPixel(state.surface, mx, my);
      ctx.fillStyle = PALETTE.ink;
      ctx.font = "16px system-ui, sans-serif"; ctx.textAlign = "center";
      ctx.fillText("\u2605", px, py);
    }
    ctx.save();
    ctx.beginPath(); ctx.rect(M.left, M.top, W, H); ctx.clip();
    for (const [n, run] of Object.entries(runs)) {
      const upto = Math.min(state.shown, run.points.length - 1);
      ctx.strokeStyle = colour[n]; ctx.lineWidth = n === state.focus ? 2.5 : 1.5;
      ctx.beginPath();
      run.points.slice(0, upto + 1).forEach(([x, y], k) => {
        const [px, py] = toPixel(state.surface, x, y);
        if (k === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
      });
      ctx.stroke();
      const [px, py] = toPixel(state.surface, ...run.points[upto]);
      ctx.fillStyle = colour[n];
      ctx.beginPath(); ctx.arc(px, py, n === state.focus ? 5 : 4, 0, 2 * Math.PI); ctx.fill();
    }
    ctx.restore();
    const [sx, sy] = toPixel(state.surface, ...start());
    ctx.strokeStyle = PALETTE.ink; ctx.lineWidth = 1.5;
    ctx.beginPath(); ctx.arc(sx, sy, 6, 0, 2 * Math.PI); ctx.stroke();
    ctx.lineWidth = 1;
  }

  function row(cells, header = false) {
    return el("tr", {}, ...cells.map((c) => el(header ? "th" : "td", { textContent: c })));
  }

  function drawTables() {
    const run = runs[state.focus];
    const k = Math.min(state.shown, run.points.length - 1);
    const term = run.terms[Math.max(0, k - 1)];
    const pair = (v) => (v ? `${short(v[0])}, ${short(v[1])}` : "\u2013");
    terms.replaceChildren(
      row([`${OPTIMIZERS[state.focus].label}, step ${Math.max(1, k)}`, "(x, y)"], true),
      row(["point \u03b8", pair(run.points[k])]),
      row(["gradient g", pair(term && term.grad)]),
      row([state.focus === "lion" ? "\u03b21 mix (signed)" : "velocity", pair(term && term.velocity)]),
      row(["adaptive scale", pair(term && term.scale)]),
      row(["update \u0394\u03b8", pair(term && term.update)]),
    );
    Object.assign(terms.dataset, { x: String(run.points[k][0]), y: String(run.points[k][1]), step: String(k), opt: state.focus });
    board.replaceChildren(row(["optimizer", `loss at step ${state.shown}`], true));
    for (const [n, r] of Object.entries(runs)) {
      const kk = Math.min(state.shown, r.points.length - 1);
      const text = r.diverged !== null && state.shown >= r.diverged ? `diverged (step ${r.diverged})` : short(r.losses[kk]);
      const tr = row([OPTIMIZERS[n].label, text]);
      tr.dataset.opt = n;
      tr.dataset.loss = String(r.losses[kk]);
      tr.firstChild.prepend(el("span", { className: "swatch" }));
      tr.querySelector(".swatch").style.background = colour[n];
      board.append(tr);
    }
  }

  function drawControls() {
    surfaceButtons.forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.surface === state.surface)));
    optButtons.forEach((b) => b.setAttribute("aria-pressed", String(state.active.has(b.dataset.opt))));
    focusSelect.replaceChildren(...[...state.active].map((n) => el("option", { value: n, textContent: OPTIMIZERS[n].label })));
    focusSelect.value = state.focus;
    const hp = focusHp(), uses = OPTIMIZERS[state.focus].uses;
    lrSlider.input.value = String(Math.log10(hp.lr));
    lrSlider.value.textContent = short(hp.lr);
    for (const [key, s] of [["beta1", b1Slider], ["beta2", b2Slider]]) {
      const on = uses.includes(key);
      s.row.style.display = on ? "" : "none";
      s.label.textContent = OPTIMIZERS[state.focus][key] || key;
      s.input.value = String(hp[key]);
      s.value.textContent = String(hp[key]);
    }
    stepsSlider.input.value = String(state.steps);
    stepsSlider.value.textContent = String(state.steps);
    stepInput.max = String(state.steps);
    stepInput.value = String(state.shown);
    stepText.textContent = `step ${state.shown} of ${state.steps}`;
  }

  function draw() {
    drawControls();
    drawPlot();
    drawTables();
  }

  recompute();
}

export default { render };
