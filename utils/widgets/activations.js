// Activation explorer: tick functions, toggle derivatives, move the parameters, point at
// the plot to read f(x) and f'(x). All maths runs here, from the payload activations.py
// builds, so the demo also works on the static website.

const { PALETTE, el, niceTicks: ticks, scalableCanvas, mount } = bookUI;
const COLORS = PALETTE.cycle; // matplotlib's tab10
const WIDTH = 640, HEIGHT = 300;
const PAD = { left: 46, right: 12, top: 12, bottom: 30 };

// ---- the maths (pure functions, exported so the tests can run them in Node) ----

/** erf(x) = 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)): every term is
 *  positive, so the sum loses no precision; past |x| = 6, erf is 1 to double precision. */
export function erf(x) {
  const a = Math.abs(x);
  if (a > 6) return Math.sign(x);
  let term = a, sum = a;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * a * a) / (2 * n + 1);
    sum += term;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * Math.exp(-a * a) * sum;
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const softplus = (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))); // log(1 + e^x), no overflow
const normalPdf = (x) => Math.exp(-x * x / 2) / Math.sqrt(2 * Math.PI);
const K = Math.sqrt(2 / Math.PI), C = 0.044715; // GELU's tanh approximation

/** f(x, p), its derivative df(x, p), and either `dip` (a bracket [dip(p), 0] holding the
 *  only minimum) or `range`/`lowest` texts for the functions that never dip. */
export const FUNCTIONS = {
  sigmoid: {
    f: (x) => sigmoid(x), df: (x) => sigmoid(x) * (1 - sigmoid(x)),
    range: () => "(0, 1)", lowest: () => "none: → 0 as x → −∞",
  },
  tanh: {
    f: (x) => Math.tanh(x), df: (x) => 1 - Math.tanh(x) ** 2,
    range: () => "(−1, 1)", lowest: () => "none: → −1 as x → −∞",
  },
  relu: {
    f: (x) => Math.max(0, x), df: (x) => (x > 0 ? 1 : 0),
    range: () => "[0, ∞)", lowest: () => "0 for every x ≤ 0",
  },
  leaky_relu: {
    f: (x, p) => (x > 0 ? x : p.negative_slope * x), df: (x, p) => (x > 0 ? 1 : p.negative_slope),
    range: (p) => (p.negative_slope > 0 ? "(−∞, ∞)" : "[0, ∞)"),
    lowest: (p) => (p.negative_slope > 0 ? "none: → −∞" : "0 for every x ≤ 0"),
  },
  elu: {
    f: (x, p) => (x > 0 ? x : p.alpha * Math.expm1(x)), df: (x, p) => (x > 0 ? 1 : p.alpha * Math.exp(x)),
    range: (p) => `(−${p.alpha}, ∞)`, lowest: (p) => `none: → −${p.alpha} as x → −∞`,
  },
  gelu: { // x Phi(x), Phi the standard normal CDF
    f: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
    df: (x) => 0.5 * (1 + erf(x / Math.SQRT2)) + x * normalPdf(x),
    dip: () => -3,
  },
  gelu_tanh: {
    f: (x) => 0.5 * x * (1 + Math.tanh(K * (x + C * x ** 3))),
    df: (x) => {
      const t = Math.tanh(K * (x + C * x ** 3));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * K * (1 + 3 * C * x * x);
    },
    dip: () => -3,
  },
  silu: { // Swish: x sigmoid(beta x); beta = 1 is SiLU
    f: (x, p) => x * sigmoid(p.beta * x),
    df: (x, p) => {
      const s = sigmoid(p.beta * x);
      return s + p.beta * x * s * (1 - s);
    },
    dip: (p) => -6 / p.beta,
  },
  mish: {
    f: (x) => x * Math.tanh(softplus(x)),
    df: (x) => {
      const t = Math.tanh(softplus(x));
      return t + x * (1 - t * t) * sigmoid(x);
    },
    dip: () => -4,
  },
  softplus: {
    f: softplus, df: sigmoid,
    range: () => "(0, ∞)", lowest: () => "none: → 0 as x → −∞",
  },
};

/** Golden-section search for the minimum of f on [a, b], where f has exactly one. */
function argmin(f, a, b) {
  const g = (Math.sqrt(5) - 1) / 2;
  while (b - a > 1e-10) {
    const c = b - g * (b - a), d = a + g * (b - a);
    if (f(c) < f(d)) b = d; else a = c;
  }
  return (a + b) / 2;
}

const fmt = (v, digits = 3) => v.toFixed(digits).replace("-", "−");

/** Range and minimum as text; for the functions that dip, also the minimum's x and f. */
export function describe(fn, p) {
  if (!fn.dip) return { range: fn.range(p), lowest: fn.lowest(p) };
  const x = argmin((t) => fn.f(t, p), fn.dip(p), 0), y = fn.f(x, p);
  return { range: `[${fmt(y)}, ∞)`, lowest: `${fmt(y)} at x = ${fmt(x)}`, x, y };
}

// ---- the widget ----

const CSS = `
.bw-act { max-width: ${WIDTH + 16}px; }
.bw-act label { cursor: pointer; white-space: nowrap; }
.bw-act input[type=range] { width: 110px; vertical-align: middle; }
.bw-act canvas { cursor: crosshair; }
.bw-act .bw-table { overflow-x: auto; }
.bw-act table { border-collapse: collapse; margin-top: 6px; width: 100%; font-variant-numeric: tabular-nums; }
.bw-act th, .bw-act td { text-align: left; padding: 2px 8px 2px 0; border-bottom: 1px solid #eee; }
.bw-act .swatch { display: inline-block; width: 12px; height: 3px; margin-right: 4px;
  vertical-align: middle; }`;

function render({ model, el: root }) {
  const data = model.get("data");
  const names = data.functions.map(([name]) => name);
  const labels = Object.fromEntries(data.functions);
  const color = (name) => COLORS[names.indexOf(name) % COLORS.length];
  const swatch = (name) => el("span", { className: "swatch", style: `background:${color(name)}` });
  const shown = new Set(data.show);
  const params = Object.fromEntries(Object.entries(data.params).map(([k, v]) => [k, v[3]]));
  const state = { x: data.x, derivatives: data.derivatives };
  const [x0, x1] = data.x_range;

  const checks = el("div", { className: "bw-row" });
  for (const name of names) {
    const input = el("input", { type: "checkbox", checked: shown.has(name), value: name });
    input.addEventListener("change", () => { input.checked ? shown.add(name) : shown.delete(name); draw(); });
    checks.append(el("label", {}, input, " ", swatch(name), labels[name]));
  }
  const deriv = el("input", { type: "checkbox", checked: state.derivatives });
  deriv.addEventListener("change", () => { state.derivatives = deriv.checked; draw(); });
  const controls = el("div", { className: "bw-row" }, el("label", {}, deriv, " derivatives f′ (dashed)"));
  // each slider shows only while the function it belongs to is ticked
  const owners = { negative_slope: ["leaky_relu", "leaky ReLU slope"], alpha: ["elu", "ELU α"],
    beta: ["silu", "Swish β"] };
  const sliderRows = {};
  for (const [key, [lo, hi, step, value]] of Object.entries(data.params)) {
    const input = el("input", { type: "range", min: lo, max: hi, step, value, name: key });
    const number = el("span", { textContent: String(value) });
    input.addEventListener("input", () => {
      params[key] = Number(input.value);
      number.textContent = input.value;
      draw();
    });
    sliderRows[key] = el("label", {}, `${owners[key][1]} `, input, " ", number);
    controls.append(sliderRows[key]);
  }
  const { canvas, ctx, begin, local } = scalableCanvas(WIDTH, HEIGHT, "the chosen activation functions");
  const table = el("table");
  mount(root, "bw-act", CSS).append(checks, controls, canvas, el("div", { className: "bw-table" }, table));

  const plotW = WIDTH - PAD.left - PAD.right, plotH = HEIGHT - PAD.top - PAD.bottom;
  const px = (x) => PAD.left + ((x - x0) / (x1 - x0)) * plotW;
  const line = (ax, ay, bx, by) => { ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke(); };
  canvas.addEventListener("mousemove", (event) => {
    const frac = (local(event)[0] - PAD.left) / plotW;
    state.x = x0 + Math.min(1, Math.max(0, frac)) * (x1 - x0);
    draw();
  });

  function draw() {
    const active = names.filter((n) => shown.has(n));
    for (const [key, row] of Object.entries(sliderRows)) {
      row.style.display = shown.has(owners[key][0]) ? "" : "none";
    }
    const xs = Array.from({ length: 401 }, (_, i) => x0 + (i / 400) * (x1 - x0));
    const curves = [];
    for (const name of active) {
      const fn = FUNCTIONS[name];
      curves.push({ name, ys: xs.map((x) => fn.f(x, params)), dashed: false });
      if (state.derivatives) curves.push({ name, ys: xs.map((x) => fn.df(x, params)), dashed: true });
    }
    const all = curves.flatMap((c) => c.ys);
    // at least [-0.5, 1.1], at most [-3, 3]: steep tails run off the top instead of flattening the dips
    let y0 = Math.max(-3, Math.min(-0.5, ...all)), y1 = Math.min(3, Math.max(1.1, ...all));
    const margin = 0.05 * (y1 - y0);
    y0 -= margin; y1 += margin;
    const py = (y) => HEIGHT - PAD.bottom - ((y - y0) / (y1 - y0)) * plotH;

    begin();
    ctx.font = "11px system-ui, sans-serif";
    ctx.lineWidth = 1;
    ctx.fillStyle = "#555";
    for (const t of ticks(x0, x1, 10)) {
      ctx.strokeStyle = t === 0 ? "#999" : "#eee";
      line(px(t), PAD.top, px(t), HEIGHT - PAD.bottom);
      ctx.textAlign = "center";
      ctx.fillText(fmt(t, Number.isInteger(t) ? 0 : 1), px(t), HEIGHT - PAD.bottom + 14);
    }
    for (const t of ticks(y0, y1, 6)) {
      ctx.strokeStyle = t === 0 ? "#999" : "#eee";
      line(PAD.left, py(t), WIDTH - PAD.right, py(t));
      ctx.textAlign = "right";
      ctx.fillText(fmt(t, Number.isInteger(t) ? 0 : 1), PAD.left - 5, py(t) + 4);
    }
    ctx.fillText("x", WIDTH - PAD.right, HEIGHT - 4);
    ctx.save();
    ctx.beginPath();
    ctx.rect(PAD.left, PAD.top, plotW, plotH);
    ctx.clip();
    ctx.lineWidth = 2;
    for (const c of curves) {
      ctx.strokeStyle = color(c.name);
      ctx.setLineDash(c.dashed ? [5, 4] : []);
      ctx.beginPath();
      c.ys.forEach((y, i) => (i ? ctx.lineTo(px(xs[i]), py(y)) : ctx.moveTo(px(xs[i]), py(y))));
      ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.strokeStyle = "#888"; ctx.lineWidth = 1;
    line(px(state.x), PAD.top, px(state.x), HEIGHT - PAD.bottom);
    for (const name of active) {
      ctx.fillStyle = color(name);
      ctx.beginPath();
      ctx.arc(px(state.x), py(FUNCTIONS[name].f(state.x, params)), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.restore();
    drawTable(active);
  }

  function drawTable(active) {
    const at = fmt(state.x, 2);
    const heads = ["function", "range", "minimum", `f(${at})`, `f′(${at})`];
    table.replaceChildren(el("tr", {}, ...heads.map((h) => el("th", { textContent: h }))));
    for (const name of active) {
      const fn = FUNCTIONS[name], info = describe(fn, params);
      const f = fn.f(state.x, params), df = fn.df(state.x, params);
      const row = el("tr", {}, el("td", {}, swatch(name), labels[name]),
        el("td", { textContent: info.range }), el("td", { textContent: info.lowest }),
        el("td", { textContent: fmt(f, 4) }), el("td", { textContent: fmt(df, 4) }));
      Object.assign(row.dataset, { fn: name, x: state.x, f, df }); // full precision, for the tests
      if (info.x !== undefined) Object.assign(row.dataset, { minX: info.x, minF: info.y });
      table.append(row);
    }
  }

  draw();
}

export default { render };
