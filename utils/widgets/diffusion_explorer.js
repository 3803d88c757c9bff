// Noising and denoising explorer (chapter 14). Python trained the model and precomputed its
// outputs (diffusion_explorer.py); this file rebuilds the two noise schedules, noises the
// chosen test image at any step t, and shows the stored model estimates, reverse
// trajectories and guided samples.

const { PALETTE, el, styled, fmt, mount } = bookUI; // the shared prelude (prelude.js)

// ---- pure functions (exported so the tests can run them in Node) ----

/** The bytes of one stored image (a base64 string of uint8 grey levels). */
export function decodeImage(text) {
  const raw = atob(text);
  const bytes = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  return bytes;
}

function cumprodOneMinus(betas) {
  const out = new Float64Array(betas.length);
  let product = 1;
  betas.forEach((b, i) => { product *= 1 - b; out[i] = product; });
  return out;
}

/** alpha_bar of DDPM's linear schedule: betas from 1e-4 to 0.02 in T steps. */
export function linearAlphaBar(T, start = 1e-4, end = 0.02) {
  const betas = Array.from({ length: T }, (_, i) => start + (T === 1 ? 0 : (i * (end - start)) / (T - 1)));
  return cumprodOneMinus(betas);
}

/** alpha_bar of the cosine schedule (Nichol and Dhariwal, 2021), betas capped at 0.999. */
export function cosineAlphaBar(T, offset = 0.008, maxBeta = 0.999) {
  const f = Array.from({ length: T + 1 }, (_, i) => Math.cos(((i / T + offset) / (1 + offset)) * Math.PI / 2) ** 2);
  const betas = Array.from({ length: T }, (_, i) => Math.min(1 - f[i + 1] / f[i], maxBeta));
  return cumprodOneMinus(betas);
}

/** Grey levels (0-255) of x_t = sqrt(a) x0 + sqrt(1 - a) noise, clipped to the image range [-1, 1]. */
export function noisyLevels(x0Bytes, noiseBytes, alphaBar, noiseRange) {
  const out = new Uint8ClampedArray(x0Bytes.length);
  const signal = Math.sqrt(alphaBar), spread = Math.sqrt(1 - alphaBar);
  for (let i = 0; i < x0Bytes.length; i++) {
    const x0 = (x0Bytes[i] / 255) * 2 - 1;
    const noise = (noiseBytes[i] / 255) * 2 * noiseRange - noiseRange;
    out[i] = Math.round(((signal * x0 + spread * noise + 1) / 2) * 255);
  }
  return out;
}

/** The index of the value in `steps` nearest to t (the first on a tie). */
export function nearestIndex(steps, t) {
  let best = 0;
  steps.forEach((s, i) => { if (Math.abs(s - t) < Math.abs(steps[best] - t)) best = i; });
  return best;
}

/** Signal-to-noise ratio as text, in powers of ten when it is far from 1. */
export function formatSnr(alphaBar) {
  const snr = alphaBar / (1 - alphaBar);
  if (!Number.isFinite(snr)) return "\u221e";
  if (snr >= 0.01 && snr < 1000) return snr.toPrecision(2);
  return snr.toExponential(1).replace("e+", "e");
}

// ---- the widget ----

function pixelCanvas(side, size, label) {
  const canvas = el("canvas", { width: side, height: side });
  Object.assign(canvas.style, { width: `${size}px`, height: `${size}px`, imageRendering: "pixelated",
    border: `1px solid ${PALETTE.frame}`, background: "#000" });
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", label);
  return canvas;
}

function paint(canvas, levels) {
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(canvas.width, canvas.height);
  for (let i = 0; i < levels.length; i++) {
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = levels[i];
    image.data[4 * i + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

function figure(canvas, caption) {
  // as wide as its image: a long caption wraps instead of widening the grid
  const box = styled("figure", { margin: "0", display: "flex", flexDirection: "column", alignItems: "center",
    gap: "2px", width: canvas.style.width });
  box.append(canvas, styled("figcaption", { fontSize: "11px", lineHeight: "1.2", color: PALETTE.muted,
    textAlign: "center", overflowWrap: "normal", wordBreak: "normal", hyphens: "manual" }, caption));
  return box;
}

function heading(text) {
  return styled("div", { fontWeight: "600", margin: "10px 0 4px" }, text);
}

function slider(name, max, value, label, onInput) {
  const row = styled("label", { display: "flex", gap: "8px", alignItems: "center", margin: "4px 0" });
  const input = el("input", { type: "range", name, min: "0", max: String(max), step: "1", value: String(value) });
  input.style.flex = "1";
  input.style.minWidth = "100px";
  input.addEventListener("input", () => onInput(Number(input.value)));
  row.append(styled("span", { minWidth: "64px" }, label), input);
  return { row, input };
}

function render({ model, el: host }) {
  const data = model.get("data");
  const side = data.side;
  const root = mount(host, "dlb-diffusion", ".dlb-diffusion { font-size: 14px; max-width: 620px; }");
  const schedules = { linear: linearAlphaBar(data.T), cosine: cosineAlphaBar(data.T) };
  const examples = data.examples.map((e) => ({ ...e, x0Bytes: decodeImage(e.x0), noiseBytes: decodeImage(e.noise) }));
  const state = { example: 0, t: Math.round(data.T / 2) - 1 };

  // ---- noising ----
  root.append(heading("Noising: x\u209c at any step, and the model\u2019s estimate of x\u2080"));
  const buttons = styled("div", { display: "flex", flexWrap: "wrap", gap: "5px", margin: "3px 0" });
  const exampleButtons = examples.map((e, i) => {
    const button = el("button", {}, e.label);
    button.addEventListener("click", () => { state.example = i; drawNoising(); });
    buttons.append(button);
    return button;
  });
  root.append(buttons);
  const tSlider = slider("t", data.T - 1, state.t, "Step t:", (v) => { state.t = v; drawNoising(); });
  root.append(tSlider.row);
  const grid = styled("div", { display: "grid", gridTemplateColumns: "repeat(2, max-content)", gap: "6px 14px",
    justifyContent: "start" });
  const views = {};
  for (const name of ["linear", "cosine"]) {
    views[name] = { noisy: pixelCanvas(side, 112, `${name} schedule: x_t`), estimate: pixelCanvas(side, 112,
      `${name} schedule: the model's estimate of x_0`) };
    views[name].noisyCaption = figure(views[name].noisy, "");
    views[name].estimateCaption = figure(views[name].estimate, "");
    grid.append(views[name].noisyCaption, views[name].estimateCaption);
  }
  const noisingReadout = styled("div", { fontVariantNumeric: "tabular-nums", fontSize: "13px", marginTop: "4px" });
  noisingReadout.className = "noising-readout";
  root.append(grid, noisingReadout);

  function drawNoising() {
    const example = examples[state.example];
    exampleButtons.forEach((b, i) => b.setAttribute("aria-pressed", String(i === state.example)));
    const k = nearestIndex(data.prediction_steps, state.t);
    const lines = [];
    for (const name of ["linear", "cosine"]) {
      const ab = schedules[name][state.t];
      paint(views[name].noisy, noisyLevels(example.x0Bytes, example.noiseBytes, ab, data.noise_range));
      paint(views[name].estimate, decodeImage(data.predictions[name][state.example][k]));
      views[name].noisyCaption.lastChild.textContent = `${name}: x\u209c`;
      views[name].estimateCaption.lastChild.textContent = `estimate (t = ${data.prediction_steps[k] + 1})`;
      lines.push(`${name}: \u0101 = ${fmt(ab, 4)}, SNR ${formatSnr(ab)}`);
    }
    noisingReadout.textContent = `t = ${state.t + 1} of ${data.T}. ${lines.join("; ")}.`;
    noisingReadout.dataset.t = String(state.t);
    noisingReadout.dataset.prediction = String(data.prediction_steps[k]);
  }

  // ---- denoising ----
  const trajectory = data.trajectory;
  const frameCount = trajectory.ddpm[0].length;
  root.append(heading(`Denoising: DDPM and DDIM, ${trajectory.steps} steps from the same noise`));
  const frameState = { frame: 0 };
  const frameSlider = slider("frame", frameCount - 1, 0, "Frame:", (v) => { frameState.frame = v; drawFrames(); });
  root.append(frameSlider.row);
  const frameGrid = styled("div", { display: "grid", gridTemplateColumns: `repeat(${2 * trajectory.labels.length}, max-content)`,
    gap: "6px 8px", justifyContent: "start" });
  const frameCanvases = [];
  trajectory.labels.forEach((label, i) => {
    for (const sampler of ["ddpm", "ddim"]) {
      const canvas = pixelCanvas(side, 64, `${sampler} trajectory of a ${label}`);
      frameCanvases.push({ canvas, sampler, i });
      frameGrid.append(figure(canvas, `${sampler.toUpperCase()}: ${label}`));
    }
  });
  const frameReadout = styled("div", { fontVariantNumeric: "tabular-nums", fontSize: "13px", marginTop: "4px" });
  frameReadout.className = "frame-readout";
  root.append(frameGrid, frameReadout);

  function drawFrames() {
    for (const { canvas, sampler, i } of frameCanvases) paint(canvas, decodeImage(trajectory[sampler][i][frameState.frame]));
    const step = trajectory.frame_steps[frameState.frame];
    frameReadout.textContent = step < 0 ? "Final images (x\u2080)." : `Images at step t = ${step + 1} on the way down.`;
    frameReadout.dataset.frame = String(frameState.frame);
  }

  // ---- guidance ----
  let drawGuidance = () => {};
  if (data.guidance) {
    const guidance = data.guidance;
    root.append(heading("Classifier-free guidance: one sample of each class"));
    const guidanceState = { index: 0 };
    const guidanceSlider = slider("guidance", guidance.scales.length - 1, 0, "Scale w:", (v) => {
      guidanceState.index = v; drawGuidance();
    });
    root.append(guidanceSlider.row);
    const sampleGrid = styled("div", { display: "grid", gridTemplateColumns: "repeat(5, max-content)",
      gap: "4px 8px", justifyContent: "start" });
    const sampleCanvases = guidance.classes.map((name) => {
      const canvas = pixelCanvas(side, 56, `a guided sample of ${name}`);
      sampleGrid.append(figure(canvas, name));
      return canvas;
    });
    const guidanceReadout = styled("div", { fontVariantNumeric: "tabular-nums", fontSize: "13px", marginTop: "4px" });
    guidanceReadout.className = "guidance-readout";
    root.append(sampleGrid, guidanceReadout);
    drawGuidance = () => {
      const i = guidanceState.index;
      sampleCanvases.forEach((canvas, c) => paint(canvas, decodeImage(guidance.samples[i][c])));
      let text = `w = ${guidance.scales[i]}`;
      if (guidance.frechet) {
        text += `: Fr\u00e9chet distance ${fmt(guidance.frechet[i], 1)}, class accuracy ${fmt(100 * guidance.accuracy[i], 0)}% (measured on the book model's samples).`;
      }
      guidanceReadout.textContent = text;
      guidanceReadout.dataset.scale = String(guidance.scales[i]);
    };
  }

  root.append(styled("div", { fontSize: "12px", color: PALETTE.muted, marginTop: "8px" },
    `The model was trained with the ${data.model_schedule} schedule; for the other it is asked at the step ` +
    "with the same signal share \u0101, since the noise level is all it needs. Estimates are stored at a few " +
    "steps; the nearest is shown."));
  drawNoising();
  drawFrames();
  drawGuidance();
}

export default { render };
