// Fine-tuning explorer: chapter 12's measured adaptation runs. The reader picks a method (a
// LoRA rank with the slider) and a number of labelled images per class; the widget shows that
// run's accuracy on the new classes, its trainable parameters and time, what the old task kept,
// and bars that compare it with every other method at the same number of labels. All numbers
// were measured in Python (finetune_explorer.py); this file only draws and switches.

const { PALETTE, styled, svgEl, mount } = bookUI; // the shared prelude (prelude.js)

// ---- pure functions (exported so the tests can run them in Node) ----

/** The LoRA ranks present in the payload's method keys ("lora4" -> 4), ascending. */
export function loraRanks(methods) {
  return methods.map((m) => /^lora(\d+)$/.exec(m.key)).filter(Boolean).map((m) => Number(m[1])).sort((a, b) => a - b);
}

/** The method key for a choice: a plain method, or "lora" with a rank. */
export function methodKey(family, rank) {
  return family === "lora" ? `lora${rank}` : family;
}

/** A parameter count in words: 1234 -> "1,234"; 1234567 -> "1.23 M". */
export function formatCount(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  return Math.round(n).toLocaleString("en-US");
}

/** An accuracy as a percentage with one decimal, or a dash where there is none. */
export function formatAcc(v) {
  return v === null || v === undefined ? "\u2013" : `${(100 * v).toFixed(1)}%`;
}

/** The change of the old task's accuracy, in points, with a sign: -12.3 pts, +0.0 pts. */
export function formatChange(after, before) {
  if (after === null || after === undefined) return "no old task (trained from scratch)";
  const pts = 100 * (after - before);
  return `${pts >= 0 ? "+" : "\u2212"}${Math.abs(pts).toFixed(1)} pts`;
}

/** Where the bars start: a round tenth at least 0.1 below the smallest value (0 at worst), so that
 *  differences between accuracies of 80-95% are visible. */
export function barFloor(values) {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return 0;
  return Math.max(0, Math.floor(10 * Math.min(...present) + 1e-9) / 10 - 0.1);
}

// ---- the widget ----

const ROW = 18;
const LABEL_W = 150;
const BAR_W = 200;

function bars(svg, methods, values, selected, colour, title, reference = null) {
  svg.replaceChildren();
  const lo = barFloor(reference === null ? values : [...values, reference]);
  const scale = (v) => (Math.max(lo, Math.min(1, v)) - lo) / (1 - lo) * BAR_W;
  const height = 22 + ROW * methods.length;
  svg.setAttribute("viewBox", `0 0 ${LABEL_W + BAR_W + 50} ${height}`);
  svg.append(svgEl("text", { x: 0, y: 12, "font-size": 12, "font-weight": "bold", fill: PALETTE.ink },
    `${title} (bars from ${Math.round(100 * lo)}%)`));
  methods.forEach((m, i) => {
    const y = 20 + i * ROW;
    const v = values[i];
    const chosen = m.key === selected;
    svg.append(svgEl("text", { x: LABEL_W - 6, y: y + 12, "font-size": 11, "text-anchor": "end",
      fill: chosen ? PALETTE.ink : PALETTE.muted, "font-weight": chosen ? "bold" : "normal" }, m.name));
    svg.append(svgEl("rect", { x: LABEL_W, y: y + 2, width: BAR_W, height: ROW - 5, fill: "#f3f3f3" }));
    if (v !== null && v !== undefined) {
      svg.append(svgEl("rect", { x: LABEL_W, y: y + 2, width: scale(v), height: ROW - 5,
        fill: chosen ? colour : PALETTE.axis }));
    }
    svg.append(svgEl("text", { x: LABEL_W + BAR_W + 4, y: y + 12, "font-size": 11, fill: PALETTE.ink }, formatAcc(v)));
  });
  if (reference !== null) { // the old task's accuracy before adapting
    const x = LABEL_W + scale(reference);
    svg.append(svgEl("line", { x1: x, x2: x, y1: 16, y2: height, stroke: PALETTE.ink, "stroke-dasharray": "3 2" }));
  }
}

function render({ model, el }) {
  const data = model.get("data");
  const methods = data.methods;
  const ranks = loraRanks(methods);
  const families = methods.filter((m) => !m.key.startsWith("lora")).map((m) => [m.key, m.name]);
  if (ranks.length) families.push(["lora", "LoRA"]);
  const state = { family: "full", rank: ranks.includes(4) ? 4 : ranks[0], labels: 0 };
  if (!methods.some((m) => m.key === "full")) state.family = families[0][0];
  const fullCount = Math.max(...methods.map((m) => m.trainable));

  const root = mount(el, "dlb-finetune", ".dlb-finetune { font-size: 14px; max-width: 640px; }");
  const buttons = {};
  function row(label) {
    const r = styled("div", {});
    r.className = "bw-row";
    r.append(styled("span", { minWidth: "90px" }, label));
    root.append(r);
    return r;
  }
  function button(parent, text, onClick, group, key) {
    const b = styled("button", {}, text);
    b.dataset.group = group;
    b.dataset.key = String(key);
    b.addEventListener("click", onClick);
    parent.append(b);
    (buttons[group] ??= {})[key] = b;
  }
  const labelRow = row("Labels/class");
  data.labels.forEach((n, i) => button(labelRow, String(n), () => { state.labels = i; update(); }, "labels", i));
  const methodRow = row("Method");
  families.forEach(([key, name]) => button(methodRow, name, () => { state.family = key; update(); }, "family", key));
  const rankRow = row("LoRA rank");
  const slider = styled("input", { flex: "1 1 140px" });
  slider.name = "rank";
  Object.assign(slider, { type: "range", min: 0, max: Math.max(0, ranks.length - 1), step: 1,
    value: Math.max(0, ranks.indexOf(state.rank)) });
  slider.setAttribute("aria-label", "LoRA rank");
  const rankText = styled("span", { minWidth: "40px" });
  rankRow.append(slider, rankText);
  slider.addEventListener("input", () => { state.rank = ranks[Number(slider.value)]; state.family = "lora"; update(); });

  const readout = styled("div", { margin: "6px 0", lineHeight: "1.5" });
  readout.className = "readout";
  const panels = styled("div", {});
  panels.className = "bw-panels";
  const newSvg = svgEl("svg", { role: "img", "aria-label": "accuracy on the new classes, every method" });
  const oldSvg = svgEl("svg", { role: "img", "aria-label": "accuracy on the old classes after adapting" });
  panels.append(newSvg, oldSvg);
  root.append(readout, panels);

  function update() {
    const key = methodKey(state.family, state.rank);
    const m = methods.find((x) => x.key === key) ?? methods[0];
    const i = state.labels;
    for (const [group, current] of [["labels", i], ["family", state.family]]) {
      for (const [k, b] of Object.entries(buttons[group])) {
        const on = String(k) === String(current);
        b.style.background = on ? PALETTE.blue : "#f3f3f3";
        b.style.color = on ? "#fff" : PALETTE.ink;
        b.setAttribute("aria-pressed", on ? "true" : "false");
      }
    }
    rankText.textContent = `r = ${state.rank}`;
    Object.assign(readout.dataset, { method: m.key, labels: String(data.labels[i]), acc: String(m.acc[i]),
      trainable: String(m.trainable) });
    rankRow.style.opacity = state.family === "lora" ? "1" : "0.5";
    readout.replaceChildren(
      styled("div", { fontWeight: "bold" }, `${m.name}, ${data.labels[i]} labelled images per class`),
      styled("div", {}, `New classes: ${formatAcc(m.acc[i])} test accuracy`),
      styled("div", {}, `Trains ${formatCount(m.trainable)} parameters (${(100 * m.trainable / fullCount).toFixed(1)}% of the full model), ${m.seconds[i].toFixed(2)} s`),
      styled("div", {}, `Old classes (old head put back): ${formatAcc(m.old[i])}, ${formatChange(m.old[i], data.base_old)} vs ${formatAcc(data.base_old)} before`),
    );
    bars(newSvg, methods, methods.map((x) => x.acc[i]), m.key, PALETTE.blue, "New classes: accuracy");
    bars(oldSvg, methods, methods.map((x) => x.old[i]), m.key, PALETTE.orange, "Old classes: accuracy kept", data.base_old);
  }
  update();
}

export default { render };
