// Latent-space explorer: a VAE's 2-D latent plane. The left panel is the map (test images at
// their codes, coloured by class); drag the point and the right panel shows the decoder's image
// there. Below, tap two of a few dozen test images (A and B) and walk the straight line between
// their codes. The decoded images were computed in Python on a regular grid (latent_explorer.py);
// between grid points the four nearest are blended bilinearly.

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
  const { grid, extent, side, picks } = data;
  const images = unpackImages(data.decoded, grid * grid, side);
  const pickImages = unpackImages(data.pick_images, picks.length, side);
  const other = picks.findIndex((p) => p.label !== picks[0].label);
  const state = { z: [0, 0], ends: [0, Math.max(0, other)], slot: 0, t: 0, onPath: false };
  // thumbnails: 8 a row (two classes) on a phone, 20 (five classes) where there is room
  const root = mount(host, "dlb-latent", `.dlb-latent { max-width: 760px; container-type: inline-size; }
.dlb-latent .readout { font-variant-numeric: tabular-nums; }
.dlb-latent .picks { display: grid; grid-template-columns: repeat(8, 1fr); gap: 3px; margin: 6px 0; }
@container (min-width: 700px) { .dlb-latent .picks { grid-template-columns: repeat(20, 1fr); } }
.dlb-latent .picks button, .dlb-latent .ends button { position: relative; padding: 0; background: #fff;
  border: 1px solid ${PALETTE.frame}; border-radius: 3px; line-height: 0; }
.dlb-latent .picks button { min-height: 36px; border-bottom-width: 4px; }
.dlb-latent .picks canvas, .dlb-latent .ends canvas { width: 100%; image-rendering: pixelated; }
.dlb-latent .picks button[data-end] { outline: 2px solid ${PALETTE.ink}; outline-offset: -1px; }
.dlb-latent .picks button[data-end]::after { content: attr(data-end); position: absolute; top: 1px; left: 2px;
  font: 700 11px/1 system-ui, sans-serif; color: #fff; background: ${PALETTE.ink}; padding: 1px 2px; }
.dlb-latent .ends { display: flex; gap: 10px; align-items: stretch; margin-top: 6px; }
.dlb-latent .ends button { width: 72px; line-height: 1.2; font-size: 11px; }
.dlb-latent .ends button[aria-pressed=true] { border: 2px solid ${PALETTE.red}; }
.dlb-latent .ends .hint { flex: 1; font-size: 12px; color: ${PALETTE.muted}; align-self: center; }`);

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

  // interpolation between two test images: A and B, chosen from the thumbnails
  const tinyCanvas = (levels) => {
    const canvas = el("canvas", { width: side, height: side });
    drawImage(canvas.getContext("2d"), Array.from(levels, (v) => v / 15), side, 0, 0, side);
    return canvas;
  };
  const endButtons = ["A", "B"].map((name, k) => {
    const button = el("button", { type: "button", name: `end-${name}` });
    button.addEventListener("click", () => { state.slot = k; drawEnds(); });
    return button;
  });
  const hint = el("div", { className: "hint" });
  const thumbs = picks.map((p, i) => {
    const name = `${data.classes[p.label]}, test image ${p.index}`;
    const button = el("button", { type: "button", title: name }, tinyCanvas(pickImages[i]));
    button.setAttribute("aria-label", name);
    button.dataset.pick = String(i);
    button.style.borderBottomColor = PALETTE.cycle[p.label % 10];
    button.addEventListener("click", () => choose(i));
    return button;
  });
  const slider = el("input", { type: "range", name: "t", min: "0", max: "1", step: "0.01", value: "0" });
  slider.style.flex = "1";
  const strip = scalableCanvas(STRIP_STEPS * 60 + 2 * 60, 60, "decoded images along the line between the two codes");
  const sliderRow = el("div", { className: "bw-row" }, el("span", { textContent: "walk the line A \u2192 B:" }), slider);
  const note = styled("div", { fontSize: "12px", color: PALETTE.muted, marginTop: "4px" },
    `Drag on the map to decode any point of [\u2212${extent}, ${extent}]\u00b2. The strip shows test images A and B ` +
    `(ends) and ${STRIP_STEPS} decodings along the straight line between their codes (dashed on the map). ` +
    `Images between the ${grid} \u00d7 ${grid} decoded grid points are blended from the four nearest.`);
  root.append(el("div", { className: "ends" }, ...endButtons, hint),
    el("div", { className: "picks" }, ...thumbs), sliderRow, strip.canvas, note);

  const toCanvas = (z) => [((z[0] + extent) / (2 * extent)) * MAP, ((extent - z[1]) / (2 * extent)) * MAP];
  const toLatent = ([x, y]) => [(x / MAP) * 2 * extent - extent, extent - (y / MAP) * 2 * extent];
  const endZ = (k) => picks[state.ends[k]].z;

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
    const [a, b] = [toCanvas(endZ(0)), toCanvas(endZ(1))];
    ctx.strokeStyle = PALETTE.ink; ctx.setLineDash([4, 3]);
    ctx.beginPath(); ctx.moveTo(...a); ctx.lineTo(...b); ctx.stroke();
    ctx.setLineDash([]);
    ctx.font = "700 11px system-ui, sans-serif";
    [a, b].forEach(([x, y], k) => {
      ctx.fillStyle = "#fff"; ctx.strokeStyle = PALETTE.ink;
      ctx.beginPath(); ctx.arc(x, y, 4, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
      ctx.fillStyle = PALETTE.ink;
      ctx.fillText("AB"[k], x + 6, y - 5);
    });
    const [px, py] = toCanvas(state.z);
    ctx.strokeStyle = PALETTE.red; ctx.lineWidth = 2;
    ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.stroke();
    ctx.lineWidth = 1;
    ctx.fillStyle = PALETTE.muted; ctx.font = "11px system-ui, sans-serif";
    ctx.fillText("z\u2081 \u2192", MAP - 34, MAP - 6);
    ctx.fillText("z\u2082 \u2191", 4, 12);
    map.canvas.dataset.line = [...endZ(0), ...endZ(1)].join(" "); // for the tests
  }

  function drawPicture() {
    picture.begin();
    drawImage(picture.ctx, decodeAt(state.z, images, grid, extent), side, 0, 0, IMAGE);
  }

  function drawStrip() {
    const { ctx } = strip;
    strip.begin();
    const cell = 60;
    const original = (k) => Array.from(pickImages[state.ends[k]], (v) => v / 15);
    drawImage(ctx, original(0), side, 0, 0, cell - 4);
    for (let k = 0; k < STRIP_STEPS; k += 1) {
      const z = lerp(endZ(0), endZ(1), k / (STRIP_STEPS - 1));
      drawImage(ctx, decodeAt(z, images, grid, extent), side, (k + 1) * cell, 0, cell - 4);
    }
    drawImage(ctx, original(1), side, (STRIP_STEPS + 1) * cell, 0, cell - 4);
  }

  function drawEnds() {
    endButtons.forEach((button, k) => {
      const p = picks[state.ends[k]];
      button.replaceChildren(tinyCanvas(pickImages[state.ends[k]]), `${"AB"[k]}: ${data.classes[p.label]}`);
      button.setAttribute("aria-pressed", String(state.slot === k));
      button.setAttribute("aria-label", `${"AB"[k]}: ${data.classes[p.label]}, test image ${p.index}`);
    });
    thumbs.forEach((button, i) => {
      const end = ["A", "B"].filter((_, k) => state.ends[k] === i).join("");
      if (end) button.dataset.end = end;
      else delete button.dataset.end;
    });
    hint.textContent = `Tap a test image below to make it ${"AB"[state.slot]} (or tap A or B to choose which end moves).`;
    root.dataset.a = String(state.ends[0]);
    root.dataset.b = String(state.ends[1]);
  }

  function draw() {
    drawMap();
    drawPicture();
    const [z1, z2] = state.z;
    readout.textContent = `z = (${z1.toFixed(2)}, ${z2.toFixed(2)})` + (state.onPath ? `, t = ${state.t.toFixed(2)} of the way from A to B` : "");
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
    state.z = lerp(endZ(0), endZ(1), state.t);
    state.onPath = true;
    draw();
  }
  slider.addEventListener("input", followPath);

  /** Tapping a thumbnail makes it the end being chosen; the next tap then chooses the other end. */
  function choose(i) {
    state.ends[state.slot] = i;
    state.slot = 1 - state.slot;
    drawEnds();
    drawStrip();
    followPath();
  }
  drawEnds();
  drawStrip();
  followPath();
}

export default { render };
