// Attention heatmap viewer: choose a layer and a head; point at a token or a row of the
// map to see what that token attends to, with the weights. Everything runs here, from the
// payload attention.py builds, so the demo also works on the static website.

const { el, svgEl, mount } = bookUI;
const INK = [8, 48, 107]; // the colour of weight 1; weight 0 is white

/** The fill for an attention weight w in [0, 1]: white to dark blue, linearly. */
function shade(w) {
  const [r, g, b] = INK.map((c) => Math.round(255 - w * (255 - c)));
  return `rgb(${r}, ${g}, ${b})`;
}

const CSS = `
.bw-att svg { width: 100%; }
.bw-att svg text { font: 12px system-ui, sans-serif; fill: #333; }
.bw-att .strip { display: flex; flex-wrap: wrap; gap: 3px; margin-top: 8px; }
.bw-att .chip { text-align: center; min-width: 26px; padding: 2px 3px; border: 1px solid #ccc;
  border-radius: 3px; cursor: default; font-variant-numeric: tabular-nums; }
.bw-att .chip small { display: block; font-size: 10px; }
.bw-att .chip.query { border: 2px solid #d62728; }`;

function render({ model, el: root }) {
  const { tokens, attention, title, layer, head } = model.get("data");
  const T = tokens.length;
  const state = { layer, head, query: T - 1 };
  const focus = (i) => () => { state.query = i; update(); }; // a mouseenter handler for query i

  const select = (name, count) => {
    const node = el("select", { name }, ...Array.from({ length: count }, (_, i) =>
      el("option", { value: i, textContent: `${i + 1} of ${count}` })));
    node.value = state[name];
    node.addEventListener("change", () => { state[name] = Number(node.value); update(); });
    return el("label", {}, `${name} `, node);
  };

  // geometry: one square cell per (query, key); query labels on the left, key labels on top
  const cell = Math.max(12, Math.min(30, Math.floor(420 / T)));
  const side = T * cell;
  const labelSize = 14 + 7 * Math.max(...tokens.map((t) => t.length));
  const left = labelSize + 22, top = labelSize + 22;
  // a viewBox, so the map scales down to the column's width on a phone instead of being cut off
  const svg = svgEl("svg", { viewBox: `0 0 ${left + side + 4} ${top + side + 4}`,
    style: `max-width: ${left + side + 4}px` });
  svg.append(
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
      rect.addEventListener("mouseenter", focus(i));
      svg.append(rect);
      return rect;
    });
  });
  const rowMark = svgEl("rect", { x: left - 1, width: side + 2, height: cell, fill: "none", stroke: "#d62728",
    "stroke-width": 2, "pointer-events": "none" });
  const frame = svgEl("rect", { x: left, y: top, width: side, height: side, fill: "none", stroke: "#999" });
  svg.append(frame, rowMark);

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
    el("div", { className: "bw-row" },
      select("layer", attention.length), select("head", attention[0].length)),
    svg,
    el("div", { textContent: "Hover over a token or a row: the shading below shows how much that token "
      + "attends to each token (its row of the map)." }),
    strip, readout);

  function update() {
    const A = attention[state.layer][state.head], row = A[state.query];
    A.forEach((r, i) => r.forEach((w, j) => cells[i][j].setAttribute("fill", shade(w))));
    rowMark.setAttribute("y", top + state.query * cell);
    chips.forEach((chip, j) => {
      chip.style.background = shade(row[j]);
      chip.style.color = row[j] > 0.5 ? "#fff" : "#222";
      chip.classList.toggle("query", j === state.query);
      chip.lastChild.textContent = row[j].toFixed(2);
      chip.dataset.weight = row[j];
    });
    const best = row.map((w, j) => [w, j]).sort((a, b) => b[0] - a[0]).slice(0, 3);
    const name = (j) => `${j} “${tokens[j]}”`;
    readout.textContent = `layer ${state.layer + 1}, head ${state.head + 1}: token ${name(state.query)} `
      + `attends most to ${best.map(([w, j]) => `${name(j)} (${w.toFixed(3)})`).join(", ")}`;
    Object.assign(readout.dataset, { layer: state.layer, head: state.head, query: state.query });
  }

  update();
}

export default { render };
