// GAN training playback on a 2-D toy: eight Gaussians on a circle (crosses), the generator's
// samples for one fixed batch of noise (blue dots) and the discriminator's surface (shaded green
// where it says "real", red where it says "fake"), frame by frame, for several losses. The
// frames were recorded while the GANs trained in Python (gan_playback.py); this file plays them.

const { PALETTE, el, styled, scalableCanvas, mount } = bookUI; // the shared prelude (prelude.js)
const SIZE = 360; // logical size of the canvas
const PLAY_MS = 350; // time per frame when playing

// ---- pure functions (exported so the tests can run them in Node) ----

/** Plane coordinates -> canvas pixels, for a square plot of [-extent, extent]^2 of `size` pixels. */
export function toPixels(point, extent, size) {
  return [((point[0] + extent) / (2 * extent)) * size, ((extent - point[1]) / (2 * extent)) * size];
}

/** The shade of a surface level 0..99: red (fake, 0) through white (50) to green (real, 99). */
export function surfaceColour(level) {
  const t = Math.max(0, Math.min(99, level)) / 99;
  const mix = (a, b, u) => Math.round(a + (b - a) * u);
  if (t < 0.5) {
    const u = t / 0.5;
    return `rgb(${mix(244, 255, u)},${mix(199, 255, u)},${mix(195, 255, u)})`;
  }
  const u = (t - 0.5) / 0.5;
  return `rgb(${mix(255, 190, u)},${mix(255, 230, u)},${mix(255, 190, u)})`;
}

/** A flat list of hundredths x1, y1, x2, y2, ... -> points [[x1, y1], ...]. */
export function decodePoints(flat) {
  const points = [];
  for (let i = 0; i + 1 < flat.length; i += 2) points.push([flat[i] / 100, flat[i + 1] / 100]);
  return points;
}

/** A string of two-digit levels "0599..." -> [5, 99, ...]. */
export function decodeLevels(text) {
  const levels = [];
  for (let i = 0; i + 1 < text.length; i += 2) levels.push(Number(text.slice(i, i + 2)));
  return levels;
}

/** The next frame when playing: one step on, and back to 0 after the last. */
export function nextFrame(frame, count) {
  return frame + 1 >= count ? 0 : frame + 1;
}

// ---- the widget ----

function render({ model, el: host }) {
  const data = model.get("data");
  const real = decodePoints(data.real);
  const state = { variant: 0, frame: 0, timer: null };
  const root = mount(host, "dlb-gan", `.dlb-gan { max-width: ${SIZE + 40}px; }
.dlb-gan .readout { font-variant-numeric: tabular-nums; font-weight: 600; }
.dlb-gan button[aria-pressed=true] { font-weight: 700; border-color: ${PALETTE.ink}; }`);

  const buttons = data.variants.map((variant, i) => {
    const button = el("button", { textContent: variant.label, type: "button" });
    button.addEventListener("click", () => { state.variant = i; clampFrame(); draw(); });
    return button;
  });
  root.append(el("div", { className: "bw-row" }, styled("span", {}, "Loss:"), ...buttons));

  const play = el("button", { textContent: "\u25b6 play", type: "button", name: "play" });
  const slider = el("input", { type: "range", name: "frame", min: "0", step: "1", value: "0" });
  slider.style.flex = "1";
  root.append(el("div", { className: "bw-row" }, play, slider));
  const plot = scalableCanvas(SIZE, SIZE, "generator samples over the discriminator's surface");
  const readout = el("div", { className: "readout" });
  const note = styled("div", { fontSize: "12px", color: PALETTE.muted, marginTop: "4px" },
    "Crosses: the eight real modes (grey dots: real samples). Blue: the generator's samples for one fixed batch " +
    "of noise. Shading: the discriminator's belief, green = real, red = fake (for WGAN-GP the critic's score, " +
    "scaled to the frame's range). A mode counts as covered when it holds a quarter of its fair share of the samples.");
  root.append(plot.canvas, readout, note);

  const frames = () => data.variants[state.variant].frames;
  function clampFrame() {
    slider.max = String(frames().length - 1);
    state.frame = Math.min(state.frame, frames().length - 1);
    slider.value = String(state.frame);
  }

  function draw() {
    const { ctx } = plot;
    const frame = frames()[state.frame];
    plot.begin();
    const cell = SIZE / data.grid;
    decodeLevels(frame.surface).forEach((level, i) => {
      ctx.fillStyle = surfaceColour(level);
      ctx.fillRect((i % data.grid) * cell, Math.floor(i / data.grid) * cell, cell + 0.5, cell + 0.5);
    });
    ctx.fillStyle = "#999";
    for (const p of real) {
      const [x, y] = toPixels(p, data.extent, SIZE);
      ctx.fillRect(x - 1, y - 1, 2, 2);
    }
    ctx.strokeStyle = PALETTE.ink; ctx.lineWidth = 1.5;
    for (const c of data.centres) {
      const [x, y] = toPixels(c, data.extent, SIZE);
      ctx.beginPath(); ctx.moveTo(x - 5, y - 5); ctx.lineTo(x + 5, y + 5); ctx.moveTo(x + 5, y - 5); ctx.lineTo(x - 5, y + 5); ctx.stroke();
    }
    ctx.lineWidth = 1;
    ctx.fillStyle = PALETTE.blue;
    for (const p of decodePoints(frame.points)) {
      const [x, y] = toPixels(p, data.extent, SIZE);
      if (x < -4 || y < -4 || x > SIZE + 4 || y > SIZE + 4) continue;
      ctx.beginPath(); ctx.arc(x, y, 2.2, 0, 2 * Math.PI); ctx.fill();
    }
    const variant = data.variants[state.variant];
    readout.textContent = `${variant.label}: step ${frame.step} of ${data.steps} \u00b7 modes covered ${frame.covered} of ${data.modes}`;
    readout.dataset.step = String(frame.step);
    readout.dataset.covered = String(frame.covered);
    readout.dataset.variant = variant.name;
    buttons.forEach((b, i) => b.setAttribute("aria-pressed", i === state.variant ? "true" : "false"));
  }

  function stop() {
    clearInterval(state.timer);
    state.timer = null;
    play.textContent = "\u25b6 play";
  }
  play.addEventListener("click", () => {
    if (state.timer !== null) { stop(); return; }
    play.textContent = "\u275a\u275a pause";
    state.timer = setInterval(() => {
      state.frame = nextFrame(state.frame, frames().length);
      slider.value = String(state.frame);
      draw();
      if (state.frame === frames().length - 1) stop();
    }, PLAY_MS);
  });
  slider.addEventListener("input", () => { stop(); state.frame = Number(slider.value); draw(); });
  clampFrame();
  draw();
}

export default { render };
