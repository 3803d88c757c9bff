// Attention viewer: every layer and head of a model as small maps; click one to enlarge it;
// point at a token (a row of the large map, or a chip of the text) to see what that token
// attends to in every head at once. In a causal model the squares above the diagonal are
// hatched: the mask hides them. Everything runs here, from the payload attention.py builds,
// so the demo also works on the static website.

const { el, svgEl, mount } = bookUI;
const INK = [8, 48, 107]; // the colour of weight 1; weight 0 is white
const MASKED = [226, 226, 226]; // a square the causal mask hides (in the small maps)
const THUMB = 64; // CSS pixels of a small map's side

/** The [r, g, b] for an attention weight w in [0, 1]: white to dark blue, linearly. */
function rgb(w) {
  return INK.map((c) => Math.round(255 - w * (255 - c)));
}

function shade(w) {
  return `rgb(${rgb(w).join(", ")})`;
}

/** Full T x T matrices from the payload: weights in thousandths, causal rows cut after the diagonal. */
export function decode(data) {
  const T = data.tokens.length;
  return data.weights.map((heads) => heads.map((rows) => rows.map((row) => {
    const full = new Array(T).fill(0);
    row.forEach((w, j) => { full[j] = w / data.scale; });
    return full;
  })));
}

const CSS = `
.bw-att svg { width: 100%; }
.bw-att svg text { font: 12px system-ui, sans-serif; fill: #333; }
.bw-att .grid { display: grid; gap: 4px; margin: 6px 0; justify-content: start; }
.bw-att .grid small { align-self: center; font-size: 11px; color: #555; }
.bw-att .grid button { padding: 2px; border: 2px solid transparent; background: none; cursor: pointer;
  line-height: 0; border-radius: 3px; }
.bw-att .grid button[aria-pressed=true] { border-color: #d62728; }
.bw-att .grid button { min-width: 0; }
.bw-att .grid canvas { width: 100%; max-width: ${THUMB}px; height: auto; aspect-ratio: 1;
  image-rendering: pixelated; }
.bw-att .strip { display: flex; flex-wrap: wrap; gap: 3px; margin-top: 8px; }
.bw-att .chip { text-align: center; min-width: 24px; padding: 2px 3px; border: 1px solid #ccc;
  border-radius: 3px; cursor: default; font-variant-numeric: tabular-nums; }
.bw-att .chip small { display: block; font-size: 10px; }
.bw-att .chip.query { border: 2px solid #d62728; }
.bw-att .chip.masked { background: repeating-linear-gradient(45deg, #fff 0 3px, #ddd 3px 5px); color: #888; }
.bw-att .legend { font-size: 12px; color: #444; }`;

function render({ model, el: root }) {
  const data = model.get("data");
  const { tokens, title, causal } = data;
  const attention = decode(data);
  const T = tokens.length, L = attention.length, H = attention[0].length;
  const state = { layer: data.layer, head: data.head, query: T - 1 };
  const focus = (i) => () => { state.query = i; update(); }; // a mouseenter handler for query i
  const hidden = (i, j) => causal && j > i; // what the causal mask hides

  const selects = {};
  const select = (name, count) => {
    const node = el("select", { name }, ...Array.from({ length: count }, (_, i) =>
      el("option", { value: i, textContent: `${i + 1} of ${count}` })));
    node.value = state[name];
    node.addEventListener("change", () => { state[name] = Number(node.value); update(); });
    selects[name] = node;
    return el("label", {}, `${name} `, node);
  };

  // every layer (rows) and head (columns) as a small map: a T x T image drawn enlarged
  const grid = el("div", { className: "grid" });
  grid.style.gridTemplateColumns = `auto repeat(${H}, minmax(0, ${THUMB + 8}px))`; // shrink to fit a phone
  grid.append(el("small"), ...Array.from({ length: H }, (_, h) => el("small", { textContent: `head ${h + 1}` })));
  const thumbs = [];
  attention.forEach((heads, l) => {
    grid.append(el("small", { textContent: `layer ${l + 1}` }));
    heads.forEach((A, h) => {
      const image = new ImageData(T, T);
      A.forEach((row, i) => row.forEach((w, j) => {
        image.data.set([...(hidden(i, j) ? MASKED : rgb(w)), 255], 4 * (i * T + j));
      }));
      const pixels = el("canvas");
      pixels.width = pixels.height = T;
      pixels.getContext("2d").putImageData(image, 0, 0);
      const scale = Math.max(1, Math.ceil((2 * THUMB) / T)); // crisp on high-density screens
      const canvas = el("canvas");
      canvas.width = canvas.height = T * scale;
      const button = el("button", { type: "button", title: `layer ${l + 1}, head ${h + 1}` }, canvas);
      button.setAttribute("aria-label", `layer ${l + 1}, head ${h + 1}`);
      Object.assign(button.dataset, { layer: l, head: h });
      button.addEventListener("click", () => { state.layer = l; state.head = h; update(); });
      grid.append(button);
      thumbs.push({ l, h, button, canvas, pixels, scale });
    });
  });

  // the enlarged map: one square cell per (query, key); query labels on the left, key labels on top
  const cell = Math.max(12, Math.min(30, Math.floor(420 / T)));
  const side = T * cell;
  const labelSize = 14 + 7 * Math.max(...tokens.map((t) => t.length));
  const left = labelSize + 22, top = labelSize + 22;
  // a viewBox, so the map scales down to the column's width on a phone instead of being cut off
  const svg = svgEl("svg", { viewBox: `0 0 ${left + side + 4} ${top + side + 4}`,
    style: `max-width: ${left + side + 4}px` });
  const hatch = svgEl("pattern", { id: `bw-att-hatch-${Math.random().toString(36).slice(2)}`,
    width: 5, height: 5, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  hatch.append(svgEl("rect", { width: 5, height: 5, fill: "#f4f4f4" }),
    svgEl("line", { x1: 0, y1: 0, x2: 0, y2: 5, stroke: "#bbb", "stroke-width": 2 }));
  const defs = svgEl("defs");
  defs.append(hatch);
  svg.append(defs,
    svgEl("text", { x: left + side / 2, y: 12, "text-anchor": "middle" }, "key (attended token) →"),
    svgEl("text", { transform: `translate(12, ${top + side / 2}) rotate(-90)`, "text-anchor": "middle" },
      "query (attending token) →"));
  const cells = tokens.map((token, i) => {
    const middle = i * cell + cell / 2;
    const rowLabel = svgEl("text", { x: left - 5, y: top + middle + 4, "text-anchor": "end" }, token);
    rowLabel.addEventListener("mouseenter", focus(i));
    const colLabel = svgEl("text", { transform: `translate(${left + middle + 4}, ${top - 5}) rotate(-90)` },
      token);
    svg.append(rowLabel, colLabel);
    return tokens.map((_, j) => {
      const rect = svgEl("rect", { x: left + j * cell, y: top + i * cell, width: cell, height: cell,
        "data-i": i, "data-j": j });
      if (hidden(i, j)) {
        rect.setAttribute("fill", `url(#${hatch.id})`);
        rect.classList.add("masked");
      }
      rect.addEventListener("mouseenter", focus(i));
      svg.append(rect);
      return rect;
    });
  });
  const rowMark = svgEl("rect", { x: left - 1, width: side + 2, height: cell, fill: "none", stroke: "#d62728",
    "stroke-width": 2, "pointer-events": "none" });
  const frame = svgEl("rect", { x: left, y: top, width: side, height: side, fill: "none", stroke: "#999" });
  svg.append(frame, rowMark);

  const heading = el("div", { className: "heading" });
  const readout = el("div", { className: "readout" });
  const strip = el("div", { className: "strip" });
  const chips = tokens.map((token, j) => {
    const chip = el("div", { className: "chip" }, token, el("small"));
    chip.addEventListener("mouseenter", focus(j));
    strip.append(chip);
    return chip;
  });

  mount(root, "bw-att", CSS).append(
    title ? el("div", { textContent: title }) : "",
    el("div", { className: "legend", textContent: `All ${L} layers × ${H} heads; click a map to enlarge it. `
      + "The red line marks the token you point at." }),
    grid,
    el("div", { className: "bw-row" }, select("layer", L), select("head", H)),
    heading, svg,
    el("div", { className: "legend", textContent: causal
      ? "Hatched squares: hidden by the causal mask (a token never sees the tokens after it). "
        + "Point at a token or a row: the shading below shows how much that token attends to each token."
      : "Point at a token or a row: the shading below shows how much that token attends to each token." }),
    strip, readout);

  function drawThumb({ l, h, button, canvas, pixels, scale }) {
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(pixels, 0, 0, T * scale, T * scale);
    ctx.strokeStyle = "rgba(214, 39, 40, 0.9)";
    ctx.lineWidth = Math.max(1, scale / 3);
    ctx.strokeRect(0, state.query * scale, T * scale, scale); // the query's row
    button.setAttribute("aria-pressed", String(l === state.layer && h === state.head));
  }

  function update() {
    selects.layer.value = state.layer;
    selects.head.value = state.head;
    thumbs.forEach(drawThumb);
    const A = attention[state.layer][state.head], row = A[state.query];
    A.forEach((r, i) => r.forEach((w, j) => { if (!hidden(i, j)) cells[i][j].setAttribute("fill", shade(w)); }));
    rowMark.setAttribute("y", top + state.query * cell);
    heading.textContent = `layer ${state.layer + 1}, head ${state.head + 1}`;
    chips.forEach((chip, j) => {
      const masked = hidden(state.query, j);
      chip.style.background = masked ? "" : shade(row[j]);
      chip.style.color = masked ? "" : row[j] > 0.5 ? "#fff" : "#222";
      chip.classList.toggle("masked", masked);
      chip.classList.toggle("query", j === state.query);
      chip.lastChild.textContent = masked ? "–" : row[j].toFixed(2);
      chip.dataset.weight = masked ? 0 : row[j];
    });
    const best = row.map((w, j) => [w, j]).filter(([, j]) => !hidden(state.query, j))
      .sort((a, b) => b[0] - a[0]).slice(0, 3);
    const name = (j) => `${j} “${tokens[j]}”`;
    readout.textContent = `layer ${state.layer + 1}, head ${state.head + 1}: token ${name(state.query)} `
      + `attends most to ${best.map(([w, j]) => `${name(j)} (${w.toFixed(3)})`).join(", ")}`;
    Object.assign(readout.dataset, { layer: state.layer, head: state.head, query: state.query });
  }

  update();
}

export default { render };
