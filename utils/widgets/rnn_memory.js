// RNN memory explorer: for a text, how strongly each trained model's prediction at position t
// depends on every earlier character s (the saliency |d log p / d e_s|), as heatmaps side by side,
// the text shaded for one position, and the average against the distance t - s. Everything is
// drawn here from the payload rnn_memory.py computes, so the demo works on the static website.

const { el, styled, mount, scalableCanvas, PALETTE } = bookUI;

/** The fill for a log10 saliency (relative to its row's largest, in [floor, 0]): white to dark blue. */
export function shade(logValue, floor) {
  const w = Math.max(0, Math.min(1, 1 - logValue / floor));
  const ink = [8, 48, 107];
  const [r, g, b] = ink.map((c) => Math.round(255 - w * (255 - c)));
  return `rgb(${r}, ${g}, ${b})`;
}

/** How a character is shown in the text strip (spaces and line breaks made visible). */
export function showChar(c) {
  if (c === " ") return "\u2423";
  if (c === "\n") return "\u21b5";
  if (c === "\t") return "\u21e5";
  return c;
}

/** The largest distance d at which a profile (log10 values in hundredths) is still above `level` decades. */
export function reach(profile, scale, level) {
  let last = 0;
  profile.forEach((v, d) => { if (v / scale >= level) last = d; });
  return last;
}

const CSS = `
.bw-rnnmem .strip { font: 12px/1.5 ui-monospace, monospace; overflow-wrap: anywhere; }
.bw-rnnmem .strip span { padding: 0 1px; }
.bw-rnnmem .strip span.target { outline: 2px solid ${PALETTE.red}; }
.bw-rnnmem .strip span.future { color: #bbb; }
.bw-rnnmem button[aria-pressed=true] { background: #cfe0f3; border-color: ${PALETTE.blue}; }
.bw-rnnmem h4 { margin: 4px 0; font-size: 13px; }`;

function render({ model, el: host }) {
  const { models, items, floor, scale, title } = model.get("data");
  const state = { item: 0, t: items[0].text.length - 2 };
  const root = mount(host, "bw-rnnmem", CSS);
  if (title) root.append(el("div", { textContent: title }));

  const buttons = items.map((item, k) => {
    const b = el("button", { type: "button", textContent: `text ${k + 1}` });
    b.addEventListener("click", () => { state.item = k; state.t = items[k].text.length - 2; update(); });
    return b;
  });
  const slider = el("input", { type: "range", name: "position", min: 0, step: 1 });
  slider.addEventListener("input", () => { state.t = Number(slider.value); update(); });
  root.append(el("div", { className: "bw-row" }, ...buttons),
    el("label", { className: "bw-row" }, "prediction at position t ", slider));

  const SIDE = 240;
  const panels = models.map((name) => {
    const canvas = scalableCanvas(SIDE, SIDE, `${name} saliency map`);
    const strip = el("div", { className: "strip" });
    canvas.canvas.addEventListener("mousemove", (event) => {
      const [, y] = canvas.local(event);
      const T = items[state.item].text.length - 1;
      state.t = Math.max(0, Math.min(T - 1, Math.floor((y / SIDE) * T)));
      update();
    });
    const box = el("div", {}, el("h4", { textContent: name }), canvas.canvas, strip);
    return { name, canvas, strip, box };
  });
  root.append(el("div", { className: "bw-panels" }, ...panels.map((p) => p.box)));
  root.append(styled("div", { fontSize: "12px", color: PALETTE.muted },
    "Rows: the position t whose next character is predicted; columns: the earlier character s. "
    + "Dark: a large gradient (log scale, relative to the row's largest). Point at a row."));

  const chart = scalableCanvas(480, 200, "mean saliency against distance");
  const readout = el("div", { className: "readout" });
  root.append(el("h4", { textContent: "average over positions, by distance t \u2212 s" }), chart.canvas, readout);

  function drawMap(panel, rows, T) {
    const { ctx } = panel.canvas;
    panel.canvas.begin();
    const cell = SIDE / T;
    rows.forEach((row, t) => row.forEach((v, s) => {
      ctx.fillStyle = shade(v / scale, floor);
      ctx.fillRect(s * cell, t * cell, Math.ceil(cell), Math.ceil(cell));
    }));
    ctx.strokeStyle = PALETTE.red;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(0.75, state.t * cell, SIDE - 1.5, cell);
  }

  function drawStrip(panel, text, row) {
    panel.strip.replaceChildren(...[...text].map((c, s) => {
      const span = el("span", { textContent: showChar(c) });
      if (s <= state.t) span.style.background = shade(row[s] / scale, floor);
      if (s <= state.t && row[s] / scale > floor / 2) span.style.color = "#fff";
      if (s === state.t + 1) span.className = "target";
      else if (s > state.t) span.className = "future";
      span.addEventListener("mouseenter", () => {
        if (s >= 1 && s !== state.t + 1) { state.t = s - 1; update(); }
      });
      return span;
    }));
  }

  function drawChart(item) {
    const { ctx, width, height } = chart;
    chart.begin();
    const left = 40, bottom = 24, top = 8, right = 8;
    const D = item.text.length - 1;
    const x = (d) => left + (d / Math.max(1, D - 1)) * (width - left - right);
    const y = (v) => top + (Math.max(v, floor) / floor) * (height - top - bottom);
    ctx.strokeStyle = PALETTE.grid;
    ctx.fillStyle = PALETTE.muted;
    ctx.font = "10px system-ui, sans-serif";
    for (let decade = 0; decade >= floor; decade -= 1) {
      ctx.beginPath(); ctx.moveTo(left, y(decade)); ctx.lineTo(width - right, y(decade)); ctx.stroke();
      ctx.fillText(decade === 0 ? "1" : `1e${decade}`, 4, y(decade) + 3);
    }
    for (let d = 0; d < D; d += 10) ctx.fillText(String(d), x(d) - 4, height - 8);
    models.forEach((name, k) => {
      ctx.strokeStyle = PALETTE.cycle[k];
      ctx.lineWidth = 2;
      ctx.beginPath();
      item.profiles[name].forEach((v, d) => (d ? ctx.lineTo(x(d), y(v / scale)) : ctx.moveTo(x(d), y(v / scale))));
      ctx.stroke();
      ctx.fillStyle = PALETTE.cycle[k];
      ctx.fillText(name, width - right - 40, top + 12 + 12 * k);
    });
  }

  function update() {
    const item = items[state.item];
    const T = item.text.length - 1;
    state.t = Math.max(0, Math.min(T - 1, state.t));
    buttons.forEach((b, k) => b.setAttribute("aria-pressed", String(k === state.item)));
    slider.max = T - 1;
    slider.value = state.t;
    panels.forEach((panel) => {
      drawMap(panel, item.maps[panel.name], T);
      drawStrip(panel, item.text, item.maps[panel.name][state.t]);
    });
    drawChart(item);
    const target = showChar(item.text[state.t + 1]);
    const reaches = models.map((name) => `${name} ${reach(item.maps[name][state.t].slice().reverse(), scale, -2)}`);
    readout.textContent = `predicting \u201c${target}\u201d at position ${state.t}: characters back with a `
      + `saliency above 1% of the largest: ${reaches.join(", ")}`;
    Object.assign(readout.dataset, { t: state.t, item: state.item });
  }

  update();
}

export default { render };
