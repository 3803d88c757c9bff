// Latent-space explorer: a VAE's 2-D latent plane. The left panel is the map (test images at
// their codes, coloured by class); drag the point and the right panel shows the decoder's image
// there. Below, pick two test images and walk the straight line between their codes. The decoded
// images were computed in Python on a regular grid (latent_explorer.py); between grid points the
// four nearest are blended bilinearly.

const { PALETTE, el, styled, scalableCanvas, mount } = bookUI; // the shared prelude (prelude.js)
const MAP = 320; // logical size of the map canvas
const IMAGE = 168; // logical size of the decoded image
const STRIP_STEPS = 8;

// ---- pure functions (exported so the tests can run them in Node) ----

/** Images packed 4 bits a pixel (base64) -> `count` arrays of `side * side` grey levels 0..15. */
export function unpackImages(text, count, side) {
  const bytes = typeof atob === "function" ? Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
    : Uint8Array.from(Buffer.from(text, "base64"));
  const pixels = side * side;
  const images = [];
  for (let i = 0; i < count; i += 1) {
    const image = new Uint8Array(pixels);
    for (let p = 0; p < pixels; p += 1) {
      const k = i * pixels + p;
      const byte = bytes[k >> 1];
      image[p] = k % 2 === 0 ? byte >> 4 : byte & 15;
    }
    images.push(image);
  }
  return images;
}

/** The grid cells and weights that blend the decoded image at latent point z = [z1, z2].
 *  Row 0 of the grid is z2 = +extent, column 0 is z1 = -extent; points outside are clamped. */
export function blendWeights(z, grid, extent) {
  const step = (2 * extent) / (grid - 1);
  const clamp = (v) => Math.min(grid - 1, Math.max(0, v));
  const col = clamp((z[0] + extent) / step);
  const row = clamp((extent - z[1]) / step);
  const c0 = Math.min(grid - 2, Math.floor(col));
  const r0 = Math.min(grid - 2, Math.floor(row));
  const fc = col - c0;
  const fr = row - r0;
  return [
    [r0 * grid + c0, (1 - fr) * (1 - fc)], [r0 * grid + c0 + 1, (1 - fr) * fc],
    [(r0 + 1) * grid + c0, fr * (1 - fc)], [(r0 + 1) * grid + c0 + 1, fr * fc],
  ].filter(([, w]) => w > 0);
}

/** The blended image (values in [0, 1]) at z. */
export function decodeAt(z, images, grid, extent) {
  const out = new Float32Array(images[0].length);
  for (const [index, weight] of blendWeights(z, grid, extent)) {
    const image = images[index];
    for (let p = 0; p < out.length; p += 1) out[p] += (weight * image[p]) / 15;
  }
  return out;
}

/** The point a fraction t of the way from a to b. */
export function lerp(a, b, t) {
  return [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
}

// ---- drawing ----

function drawImage(ctx, pixels, side, x, y, size) {
  const cell = size / side;
  for (let r = 0; r < side; r += 1) {
    for (let c = 0; c < side; c += 1) {
      const v = Math.round(255 * (1 - pixels[r * side + c])); // dark garment on white, like the book's figures
      ctx.fillStyle = `rgb(${v},${v},${v})`;
      ctx.fillRect(x + c * cell, y + r * cell, cell + 0.5, cell + 0.5);
    }
  }
}

function render({ model, el: host }) {
  const data = model.get("data");
  const { grid, extent, side } = data;
  const images = unpackImages(data.decoded, grid * grid, side);
  const anchorImages = unpackImages(data.anchor_images, data.anchors.length, side);
  const state = { z: [0, 0], from: 0, to: Math.min(1, data.anchors.length - 1), t: 0, onPath: false };
  const root = mount(host, "dlb-latent", `.dlb-latent { max-width: 760px; }
.dlb-latent .readout { font-variant-numeric: tabular-nums; }
.dlb-latent label { display: inline-flex; gap: 6px; align-items: center; }`);

  const map = scalableCanvas(MAP, MAP, "latent plane: test images at their codes, coloured by class");
  map.canvas.style.touchAction = "none";
  map.canvas.style.cursor = "crosshair";
  const picture = scalableCanvas(IMAGE, IMAGE, "the decoded image at the chosen point");
  picture.canvas.style.maxWidth = "168px";
  const readout = el("div", { className: "readout" });
  const legend = styled("div", { fontSize: "11px", display: "flex", flexWrap: "wrap", gap: "2px 10px", marginTop: "4px" });
  data.classes.forEach((name, i) => {
    const item = styled("span", {}, "");
    item.append(styled("span", { color: PALETTE.cycle[i % 10], fontWeight: "700" }, "\u25cf "), name);
    legend.append(item);
  });
  const left = el("div", {}, map.canvas, legend);
  const right = el("div", {}, styled("div", { fontWeight: "600" }, "decoded image"), picture.canvas, readout);
  root.append(el("div", { className: "bw-panels" }, left, right));

  // interpolation between two test images
  const options = () => data.anchors.map((a, i) => el("option", { value: String(i), textContent: `${data.classes[a.label]} (test image)` }));
  const fromSelect = el("select", { name: "from" }, ...options());
  const toSelect = el("select", { name: "to" }, ...options());
  fromSelect.value = String(state.from);
  toSelect.value = String(state.to);
  const slider = el("input", { type: "range", name: "t", min: "0", max: "1", step: "0.01", value: "0" });
  slider.style.flex = "1";
  const strip = scalableCanvas(STRIP_STEPS * 60 + 2 * 60, 60, "decoded images along the line between the two codes");
  const row = el("div", { className: "bw-row" },
    el("label", {}, "from", fromSelect), el("label", {}, "to", toSelect));
  const sliderRow = el("div", { className: "bw-row" }, el("span", { textContent: "walk the line:" }), slider);
  const note = styled("div", { fontSize: "12px", color: PALETTE.muted, marginTop: "4px" },
    `Drag on the map to decode any point of [\u2212${extent}, ${extent}]\u00b2. The strip shows the two test images ` +
    `(ends) and ${STRIP_STEPS} decodings along the straight line between their codes. Images between the ` +
    `${grid} \u00d7 ${grid} decoded grid points are blended from the four nearest.`);
  root.append(row, sliderRow, strip.canvas, note);

  const toCanvas = (z) => [((z[0] + extent) / (2 * extent)) * MAP, ((extent - z[1]) / (2 * extent)) * MAP];
  const toLatent = ([x, y]) => [(x / MAP) * 2 * extent - extent, extent - (y / MAP) * 2 * extent];
  const anchorZ = (i) => data.anchors[i].z;

  function drawMap() {
    const { ctx } = map;
    map.begin();
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, MAP, MAP);
    ctx.strokeStyle = PALETTE.grid;
    for (let v = -Math.floor(extent); v <= extent; v += 1) {
      const [x] = toCanvas([v, 0]);
      const [, y] = toCanvas([0, v]);
      ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x, MAP); ctx.stroke();
      ctx.beginPath(); ctx.moveTo(0, y); ctx.lineTo(MAP, y); ctx.stroke();
    }
    for (const [z1, z2, label] of data.scatter) {
      const [x, y] = toCanvas([z1, z2]);
      ctx.fillStyle = PALETTE.cycle[label % 10];
      ctx.globalAlpha = 0.55;
      ctx.fillRect(x - 1.5, y - 1.5, 3, 3);
    }
    ctx.globalAlpha = 1;
    const [ax, ay] = toCanvas(anchorZ(state.from));
    const [bx, by] = toCanvas(anchorZ(state.to));
    ctx.strokeStyle = PALETTE.ink; ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(ax, ay); ctx.lineTo(bx, by); ctx.stroke();
    ctx.setLineDash([]);
    for (const [x, y] of [[ax, ay], [bx, by]]) {
      ctx.fillStyle = "#fff"; ctx.strokeStyle = PALETTE.ink;
      ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    }
    const [px, py] = toCanvas(state.z);
    ctx.strokeStyle = PALETTE.red; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
    ctx.lineWidth = 1;
    ctx.fillStyle = PALETTE.muted; ctx.font = "11px system-ui, sans-serif";
    ctx.fillText("z\u2081 \u2192", MAP - 34, MAP - 6);
    ctx.fillText("z\u2082 \u2191", 4, 12);
  }

  function drawPicture() {
    picture.begin();
    drawImage(picture.ctx, decodeAt(state.z, images, grid, extent), side, 0, 0, IMAGE);
  }

  function drawStrip() {
    const { ctx } = strip;
    strip.begin();
    const cell = 60;
    drawImage(ctx, Array.from(anchorImages[state.from], (v) => v / 15), side, 0, 0, cell - 4);
    for (let k = 0; k < STRIP_STEPS; k += 1) {
      const z = lerp(anchorZ(state.from), anchorZ(state.to), k / (STRIP_STEPS - 1));
      drawImage(ctx, decodeAt(z, images, grid, extent), side, (k + 1) * cell, 0, cell - 4);
    }
    drawImage(ctx, Array.from(anchorImages[state.to], (v) => v / 15), side, (STRIP_STEPS + 1) * cell, 0, cell - 4);
  }

  function draw() {
    drawMap();
    drawPicture();
    const [z1, z2] = state.z;
    readout.textContent = `z = (${z1.toFixed(2)}, ${z2.toFixed(2)})` + (state.onPath ? `, t = ${state.t.toFixed(2)} of the way` : "");
    readout.dataset.z1 = z1.toFixed(4);
    readout.dataset.z2 = z2.toFixed(4);
  }

  function moveTo(event) {
    const z = toLatent(map.local(event)).map((v) => Math.max(-extent, Math.min(extent, v)));
    state.z = z;
    state.onPath = false;
    draw();
  }
  let dragging = false;
  map.canvas.addEventListener("pointerdown", (event) => { dragging = true; moveTo(event); });
  map.canvas.addEventListener("pointermove", (event) => { if (dragging) moveTo(event); });
  window.addEventListener("pointerup", () => { dragging = false; });

  function followPath() {
    state.t = Number(slider.value);
    state.z = lerp(anchorZ(state.from), anchorZ(state.to), state.t);
    state.onPath = true;
    draw();
  }
  slider.addEventListener("input", followPath);
  for (const [select, field] of [[fromSelect, "from"], [toSelect, "to"]]) {
    select.addEventListener("change", () => { state[field] = Number(select.value); drawStrip(); followPath(); });
  }
  drawStrip();
  followPath();
}

export default { render };
