// Learning-rate schedule explorer: pick a PyTorch scheduler, move its parameters, read the
// learning rate at any step. Everything runs here, from the payload lr_schedules.py
// builds, so the demo also works on the static website. When the payload holds measured
// runs (chapter 7's project) and an LR range test, two more plots show them.

const WIDTH = 640, HEIGHT = 260;
const PAD = { left: 58, right: 14, top: 12, bottom: 32 };
const { PALETTE, el, niceTicks: ticks, scalableCanvas, mount } = bookUI;
const BLUE = PALETTE.blue, RED = PALETTE.red;

// ---- the maths (pure functions, exported so the tests can run them in Node) ----

/** PyTorch's cosine annealing from `start` (frac = 0) to `end` (frac = 1). */
const anneal = (start, end, frac) => end + ((start - end) / 2) * (1 + Math.cos(Math.PI * frac));

/** lr(t, p): the learning rate after t calls of scheduler.step(), as torch.optim.lr_scheduler
 *  computes it; p holds the sliders plus lr (the optimizer's) and total_steps.
 *  code(p): the PyTorch line that builds the same scheduler. */
export const SCHEDULES = {
  step: {
    lr: (t, p) => p.lr * p.gamma ** Math.floor(t / p.step_size),
    code: (p) => `StepLR(opt, step_size=${p.step_size}, gamma=${p.gamma})`,
  },
  exponential: {
    lr: (t, p) => p.lr * p.gamma ** t,
    code: (p) => `ExponentialLR(opt, gamma=${p.gamma})`,
  },
  cosine: {
    lr: (t, p) => anneal(p.lr, p.eta_min, t / p.T_max),
    code: (p) => `CosineAnnealingLR(opt, T_max=${p.T_max}, eta_min=${p.eta_min})`,
  },
  warm_restarts: { // cycle i lasts T_0 * T_mult^i steps, then the lr jumps back up
    lr: (t, p) => {
      let inCycle = t, length = p.T_0;
      while (inCycle >= length) { inCycle -= length; length *= p.T_mult; }
      return anneal(p.lr, p.eta_min, inCycle / length);
    },
    code: (p) => `CosineAnnealingWarmRestarts(opt, T_0=${p.T_0}, T_mult=${p.T_mult}, eta_min=${p.eta_min})`,
  },
  warmup_cosine: { // LinearLR for `warmup` steps, then CosineAnnealingLR over the rest
    lr: (t, p) => (t < p.warmup
      ? p.lr * (p.start_factor + ((1 - p.start_factor) * t) / p.warmup)
      : anneal(p.lr, p.eta_min, (t - p.warmup) / cosineSteps(p))),
    code: (p) => `SequentialLR(opt, [LinearLR(opt, start_factor=${p.start_factor}, total_iters=${p.warmup}), `
      + `CosineAnnealingLR(opt, T_max=${cosineSteps(p)}, eta_min=${p.eta_min})], milestones=[${p.warmup}])`,
  },
  onecycle: { // cosine up from max_lr/div_factor to max_lr, then down to that / final_div_factor
    lr: (t, p) => {
      const start = p.lr / p.div_factor, peak = p.pct_start * p.total_steps - 1, last = p.total_steps - 1;
      return t <= peak
        ? anneal(start, p.lr, t / peak)
        : anneal(p.lr, start / p.final_div_factor, (t - peak) / (last - peak));
    },
    code: (p) => `OneCycleLR(opt, max_lr=${p.lr}, total_steps=${p.total_steps}, pct_start=${p.pct_start}, `
      + `div_factor=${p.div_factor}, final_div_factor=${p.final_div_factor})`,
  },
};
const cosineSteps = (p) => Math.max(1, p.total_steps - p.warmup);

/** An axis label: 3 significant digits, or 1.0e-5 style for small values. */
const short = (v) => (v === 0 ? "0" : v >= 1e-3 ? String(Number(v.toPrecision(3))) : v.toExponential(1));

/** The index of the binned point of a measured run nearest to step `t` (runs are stored binned). */
export function nearestPoint(steps, t) {
  let best = 0;
  steps.forEach((s, i) => { if (Math.abs(s - t) < Math.abs(steps[best] - t)) best = i; });
  return best;
}

/** Tick values for a log axis from lo to hi: 1, 2 and 5 times powers of ten, or only the powers
 *  of ten when that would be too many. */
export function logTicks(lo, hi, most = 6) {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = Number((m * 10 ** e).toPrecision(3));
      if (v >= lo && v <= hi) out.push({ v, m });
    }
  }
  return (out.length > most ? out.filter((t) => t.m === 1) : out).map((t) => t.v);
}

/** [lowest, highest] of the finite positive values, for a log axis; null when there are none. */
export function positiveRange(values) {
  const ok = values.filter((v) => v !== null && Number.isFinite(v) && v > 0);
  return ok.length ? [Math.min(...ok), Math.max(...ok)] : null;
}

// ---- the widget ----

const CSS = `
.bw-lr { max-width: ${WIDTH + 16}px; }
.bw-lr label { white-space: nowrap; max-width: 100%; }
.bw-lr label .name { display: inline-block; min-width: 84px; }
.bw-lr label .name + input + span { display: inline-block; min-width: 48px; margin-left: 4px; }
.bw-lr input[type=range] { width: 120px; vertical-align: middle; }
.bw-lr canvas { cursor: crosshair; }
.bw-lr code { padding: 2px 4px; display: block; }
.bw-lr .lr-value { font-weight: 600; font-variant-numeric: tabular-nums; }
.bw-lr h4 { margin: 10px 0 2px; font-size: 0.95em; }
.bw-lr .legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 0.85em; }
.bw-lr .legend span.on { font-weight: 700; }
.bw-lr .runs-value, .bw-lr .range-value { font-size: 0.9em; font-variant-numeric: tabular-nums; }`;

function slider(key, [lo, hi, step, value], onInput) {
  const input = el("input", { type: "range", min: lo, max: hi, step, value, name: key });
  const shown = el("span", { textContent: String(value) });
  input.addEventListener("input", () => { shown.textContent = input.value; onInput(Number(input.value)); });
  const set = (v) => { input.value = v; shown.textContent = input.value; }; // moves it without an event
  const label = el("label", {}, el("span", { className: "name", textContent: key }), input, shown);
  return { input, set, label };
}

function render({ model, el: root }) {
  const data = model.get("data");
  const values = {}; // every slider's current value, by schedule ("common" for lr and total_steps)
  const state = { schedule: data.schedule, step: data.step, log: false };

  const picker = el("select", { name: "schedule" },
    ...Object.entries(data.schedules).map(([value, s]) => el("option", { value, textContent: s.label })));
  picker.value = state.schedule;
  picker.addEventListener("change", () => { state.schedule = picker.value; showSliders(); draw(); });
  const logBox = el("input", { type: "checkbox", name: "log" });
  logBox.addEventListener("change", () => { state.log = logBox.checked; draw(); });

  const stepSpec = [0, data.common.total_steps[3] - 1, 1, state.step];
  const stepSlider = slider("step", stepSpec, (v) => { state.step = v; draw(); });
  const commonRow = el("div", { className: "bw-row" });
  values.common = {};
  for (const [key, spec] of Object.entries(data.common)) {
    values.common[key] = spec[3];
    commonRow.append(slider(key, spec, (v) => {
      values.common[key] = v;
      if (key === "total_steps") { // keep the chosen step on the plot
        stepSlider.input.max = v - 1;
        state.step = Math.min(state.step, v - 1);
        stepSlider.set(state.step);
      }
      draw();
    }).label);
  }
  const rows = {};
  for (const [name, s] of Object.entries(data.schedules)) {
    values[name] = {};
    rows[name] = el("div", { className: "bw-row" });
    for (const [key, spec] of Object.entries(s.params)) {
      values[name][key] = spec[3];
      rows[name].append(slider(key, spec, (v) => { values[name][key] = v; draw(); }).label);
    }
  }
  const { canvas, ctx, begin, local } = scalableCanvas(WIDTH, HEIGHT, "the learning rate at every step");
  const readout = el("span", { className: "lr-value" });
  const code = el("code");
  const box = mount(root, "bw-lr", CSS);
  box.append(
    el("div", { className: "bw-row" },
      el("label", {}, "schedule ", picker), el("label", {}, logBox, " log scale")),
    commonRow, ...Object.values(rows), canvas,
    el("div", { className: "bw-row" }, stepSlider.label, readout), code);
  const measured = data.runs ? runsPanel(box, data.runs) : null;
  const rangeTest = data.range_test ? rangePanel(box, data.range_test) : null;

  const plotW = WIDTH - PAD.left - PAD.right, plotH = HEIGHT - PAD.top - PAD.bottom;
  const line = (ax, ay, bx, by) => { ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke(); };
  canvas.addEventListener("mousemove", (event) => {
    const frac = (local(event)[0] - PAD.left) / plotW;
    state.step = Math.round(Math.min(1, Math.max(0, frac)) * (values.common.total_steps - 1));
    stepSlider.set(state.step);
    draw();
  });

  function showSliders() {
    for (const [name, row] of Object.entries(rows)) row.style.display = name === state.schedule ? "" : "none";
  }

  function draw() {
    const p = { ...values.common, ...values[state.schedule] };
    const schedule = SCHEDULES[state.schedule];
    const lrs = Array.from({ length: p.total_steps }, (_, t) => schedule.lr(t, p));
    const top = Math.max(...lrs);
    const floor = Math.min(top, ...lrs.filter((lr) => lr > 0)); // a log axis shows a 0 at its bottom
    const [y0, y1] = state.log ? [Math.log10(floor) - 0.1, Math.log10(top) + 0.1] : [0, top * 1.08];
    const px = (t) => PAD.left + (t / Math.max(1, p.total_steps - 1)) * plotW;
    const height = (lr) => (state.log ? Math.log10(Math.max(lr, floor)) : lr);
    const py = (lr) => HEIGHT - PAD.bottom - ((height(lr) - y0) / (y1 - y0)) * plotH;

    begin();
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#eee";
    ctx.fillStyle = "#555";
    ctx.textAlign = "center";
    for (const t of ticks(0, p.total_steps - 1, 8)) {
      line(px(t), PAD.top, px(t), HEIGHT - PAD.bottom);
      ctx.fillText(String(t), px(t), HEIGHT - PAD.bottom + 14);
    }
    ctx.fillText("step", PAD.left + plotW / 2, HEIGHT - 4);
    const powers = ticks(y0, y1, 5), whole = powers.filter(Number.isInteger);
    const yTicks = state.log ? (whole.length > 1 ? whole : powers).map((e) => 10 ** e) : ticks(0, y1, 5);
    ctx.textAlign = "right";
    for (const v of yTicks) {
      line(PAD.left, py(v), WIDTH - PAD.right, py(v));
      ctx.fillText(short(v), PAD.left - 5, py(v) + 4);
    }
    ctx.save();
    ctx.translate(12, PAD.top + plotH / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.fillText("learning rate", 0, 0);
    ctx.restore();

    ctx.strokeStyle = BLUE; ctx.lineWidth = 2;
    ctx.beginPath();
    lrs.forEach((lr, t) => (t ? ctx.lineTo(px(t), py(lr)) : ctx.moveTo(px(t), py(lr))));
    ctx.stroke();
    const lr = lrs[state.step];
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
    line(px(state.step), PAD.top, px(state.step), HEIGHT - PAD.bottom);
    ctx.fillStyle = RED;
    ctx.beginPath();
    ctx.arc(px(state.step), py(lr), 4, 0, 2 * Math.PI);
    ctx.fill();

    readout.textContent = `learning rate at step ${state.step}: ${lr.toPrecision(6)}`;
    Object.assign(readout.dataset, { step: state.step, lr }); // full precision, for the tests
    const optimizer = state.schedule === "onecycle" ? "" : `opt = torch.optim.SGD(params, lr=${p.lr})\n`;
    code.textContent = `${optimizer}scheduler = ${schedule.code(p)}`;
    if (measured) measured.draw(state.schedule, state.step / Math.max(1, p.total_steps - 1));
    if (rangeTest) rangeTest.draw();
  }

  showSliders();
  draw();
}

// ---- the measured panels (chapter 7) ----

const SMALL_H = 200;
const SMALL_PAD = { left: 58, right: 14, top: 10, bottom: 32 };

/** A small log-y plot: axes, ticks and labels; returns the coordinate maps. */
function logAxes(ctx, [x0, x1], [y0, y1], xLabel, yLabel, xLog = false) {
  const w = WIDTH - SMALL_PAD.left - SMALL_PAD.right, h = SMALL_H - SMALL_PAD.top - SMALL_PAD.bottom;
  const fx = (v) => (xLog ? Math.log10(v) : v);
  const [lx0, lx1] = [fx(x0), fx(x1)], [ly0, ly1] = [Math.log10(y0), Math.log10(y1)];
  const px = (v) => SMALL_PAD.left + ((fx(v) - lx0) / Math.max(1e-12, lx1 - lx0)) * w;
  const py = (v) => SMALL_H - SMALL_PAD.bottom - ((Math.log10(v) - ly0) / Math.max(1e-12, ly1 - ly0)) * h;
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#eee";
  ctx.fillStyle = "#555";
  ctx.textAlign = "center";
  const xs = xLog ? ticks(lx0, lx1, 6).filter(Number.isInteger).map((e) => 10 ** e) : ticks(x0, x1, 6);
  for (const v of xs) {
    ctx.beginPath(); ctx.moveTo(px(v), SMALL_PAD.top); ctx.lineTo(px(v), SMALL_H - SMALL_PAD.bottom); ctx.stroke();
    ctx.fillText(short(v), px(v), SMALL_H - SMALL_PAD.bottom + 14);
  }
  ctx.fillText(xLabel, SMALL_PAD.left + w / 2, SMALL_H - 4);
  ctx.textAlign = "right";
  for (const v of logTicks(y0, y1)) {
    ctx.beginPath(); ctx.moveTo(SMALL_PAD.left, py(v)); ctx.lineTo(WIDTH - SMALL_PAD.right, py(v)); ctx.stroke();
    ctx.fillText(short(v), SMALL_PAD.left - 5, py(v) + 4);
  }
  ctx.save();
  ctx.translate(12, SMALL_PAD.top + h / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
  return { px, py };
}

function polyline(ctx, xs, ys, px, py) {
  ctx.beginPath();
  let open = false;
  xs.forEach((x, i) => {
    const y = ys[i];
    if (y === null || !(y > 0)) { open = false; return; }
    if (open) ctx.lineTo(px(x), py(y)); else ctx.moveTo(px(x), py(y));
    open = true;
  });
  ctx.stroke();
}

/** The training loss of each measured run; the run of the picked schedule is highlighted. */
function runsPanel(root, runs) {
  const { canvas, ctx, begin } = scalableCanvas(WIDTH, SMALL_H, "measured training loss of each schedule's run");
  const legend = el("div", { className: "legend" });
  const names = runs.items.map((run, i) => {
    const colour = PALETTE.cycle[i % PALETTE.cycle.length];
    const acc = run.acc === null || run.acc === undefined ? "" : ` ${(100 * run.acc).toFixed(1)}%`;
    const name = el("span", { textContent: `\u25A0 ${run.name}${acc}` });
    name.style.color = colour;
    legend.append(name);
    return { name, colour };
  });
  const readout = el("div", { className: "runs-value" });
  root.append(el("h4", { textContent: "Measured: training loss per step (chapter 7 project)" }),
    canvas, legend, readout);
  const allLoss = runs.items.flatMap((r) => r.loss);
  const [lo, hi] = positiveRange(allLoss) || [0.1, 1];
  const last = Math.max(1, runs.total_steps - 1);

  function draw(schedule, frac) {
    begin();
    const { px, py } = logAxes(ctx, [0, last], [lo / 1.1, hi * 1.1], "step", "training loss");
    const chosen = runs.items.findIndex((r) => r.schedule === schedule);
    runs.items.forEach((run, i) => {
      if (i === chosen) return; // drawn last, on top
      ctx.strokeStyle = chosen >= 0 ? "#bbb" : names[i].colour;
      ctx.lineWidth = 1.2;
      polyline(ctx, run.step, run.loss, px, py);
    });
    const t = Math.round(frac * last);
    ctx.strokeStyle = "#999"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(px(t), SMALL_PAD.top); ctx.lineTo(px(t), SMALL_H - SMALL_PAD.bottom); ctx.stroke();
    names.forEach(({ name }, i) => name.classList.toggle("on", i === chosen));
    if (chosen >= 0) {
      const run = runs.items[chosen];
      ctx.strokeStyle = names[chosen].colour; ctx.lineWidth = 2.5;
      polyline(ctx, run.step, run.loss, px, py);
      const k = nearestPoint(run.step, t);
      readout.textContent = `${run.name}, around step ${run.step[k]}: loss ${run.loss[k]}, lr ${run.lr[k]}`;
      Object.assign(readout.dataset, { run: run.name, step: run.step[k], loss: run.loss[k] });
    } else {
      readout.textContent = "no measured run for this schedule: pick one of the coloured ones";
      Object.assign(readout.dataset, { run: "", step: t, loss: "" });
    }
  }
  return { draw };
}

/** The LR range test: loss against a log learning-rate axis, the chosen rate marked. */
function rangePanel(root, test) {
  const { canvas, ctx, begin } = scalableCanvas(WIDTH, SMALL_H, "LR range test: loss against learning rate");
  const readout = el("div", { className: "range-value" });
  root.append(el("h4", { textContent: "Measured: LR range test" }), canvas, readout);
  const [l0, l1] = positiveRange(test.lr);
  const [lo, hi] = positiveRange(test.loss) || [0.1, 1];
  readout.textContent = `chosen learning rate: ${Number(test.chosen.toPrecision(3))} `
    + `(dashed); the test ran ${test.lr.length} points from ${short(l0)} to ${short(l1)}`;
  readout.dataset.chosen = test.chosen;

  function draw() {
    begin();
    const { px, py } = logAxes(ctx, [l0, l1], [lo / 1.1, Math.min(hi, 10 * lo) * 1.1], "learning rate (log scale)",
      "training loss", true);
    ctx.save();
    ctx.beginPath();
    ctx.rect(SMALL_PAD.left, SMALL_PAD.top, WIDTH - SMALL_PAD.left - SMALL_PAD.right, SMALL_H - SMALL_PAD.top - SMALL_PAD.bottom);
    ctx.clip();
    ctx.strokeStyle = BLUE; ctx.lineWidth = 1.5;
    polyline(ctx, test.lr, test.loss, px, py);
    ctx.restore();
    ctx.strokeStyle = RED; ctx.lineWidth = 1.5;
    ctx.setLineDash([5, 4]);
    ctx.beginPath(); ctx.moveTo(px(test.chosen), SMALL_PAD.top); ctx.lineTo(px(test.chosen), SMALL_H - SMALL_PAD.bottom);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  return { draw };
}

export default { render };
