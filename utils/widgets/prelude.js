// The shared prelude of every book widget. BookWidget (base.py) puts this text in front of
// each widget's own .js file, because anywidget loads every widget as one stand-alone ES
// module that loads no other module. Everything lives in one object, `bookUI`, so a widget's
// own top-level names never clash with the prelude's; a widget takes what it needs with
//   const { el, styled, PALETTE } = bookUI;
//
// What it gives: DOM helpers, the book's colour palette, axis ticks and number formatting,
// a canvas that scales to the width of its column (sharp on high-DPI screens), and `mount`,
// which puts the widget in a light "card" that fits any width from 360 px, in light or dark mode.

const bookUI = (() => {
  // matplotlib's tab10, the colours of the chapters' figures (utils/plot.py uses the same order)
  const PALETTE = {
    cycle: ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"],
    blue: "#1f77b4", orange: "#ff7f0e", green: "#2ca02c", red: "#d62728", purple: "#9467bd",
    ink: "#222", muted: "#666", grid: "#e3e3e3", axis: "#999", frame: "#ddd",
    good: "#2a7a2a", warn: "#d62728", caution: "#8a6d00",
  };

  /** An element with properties (className, value, textContent...) and children. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    node.append(...children);
    return node;
  }

  /** An element with inline styles and an optional text. */
  function styled(tag, style = {}, text = "") {
    const node = document.createElement(tag);
    Object.assign(node.style, style);
    if (text) node.textContent = text;
    return node;
  }

  /** An SVG element with attributes. The namespace is a name, never fetched. */
  function svgEl(tag, attrs = {}, text = "") {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text) node.textContent = text;
    return node;
  }

  /** v with `digits` decimals and a true minus sign; tiny values print as 0, not -0.00. */
  function fmt(v, digits = 2) {
    return (Math.abs(v) < 0.5 * 10 ** -digits ? 0 : v).toFixed(digits).replace("-", "\u2212");
  }

  /** About `count` round axis values (1, 2 or 5 times a power of ten) from lo to hi. */
  function niceTicks(lo, hi, count) {
    const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    return stepTicks(lo, hi, step);
  }

  /** The multiples of `step` from lo to hi. */
  function stepTicks(lo, hi, step) {
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.round(v / step) * step);
    }
    return out;
  }

  /** A canvas drawn in fixed logical units (width x height) that shrinks with its column:
   *  CSS scales it down proportionally, the backing store follows the device pixel ratio.
   *  `begin()` resets the transform and clears; `local(event)` maps a mouse event to logical units. */
  function scalableCanvas(width, height, label = "") {
    const canvas = el("canvas", { className: "bw-canvas" });
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.maxWidth = `${width}px`;
    canvas.style.aspectRatio = `${width} / ${height}`;
    if (label) {
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", label);
    }
    const ctx = canvas.getContext("2d");
    return {
      canvas, ctx, width, height,
      begin() {
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.clearRect(0, 0, width, height);
      },
      local(event) {
        const box = canvas.getBoundingClientRect();
        return [((event.clientX - box.left) / box.width) * width, ((event.clientY - box.top) / box.height) * height];
      },
    };
  }

  // The card every widget sits in: light colours whatever the page's theme (the canvases
  // are drawn for a white background), nothing wider than its column.
  const CSS = `
.bw-root { box-sizing: border-box; max-width: 100%; padding: 8px; border-radius: 4px;
  background: #fff; color: ${PALETTE.ink}; color-scheme: light; font: 13px/1.4 system-ui, sans-serif; }
.bw-root * { box-sizing: border-box; }
.bw-root .bw-row { display: flex; flex-wrap: wrap; gap: 4px 14px; margin: 4px 0; align-items: center; }
.bw-root .bw-panels { display: grid; gap: 16px;
  grid-template-columns: repeat(auto-fit, minmax(min(100%, 300px), 1fr)); align-items: start; }
.bw-root .bw-panels > * { min-width: 0; }
.bw-root canvas.bw-canvas { display: block; width: 100%; height: auto; border: 1px solid ${PALETTE.frame}; }
.bw-root svg { display: block; max-width: 100%; height: auto; }
.bw-root input[type=range] { min-width: 0; max-width: 100%; }
.bw-root code, .bw-root pre { color: ${PALETTE.ink}; background: #f3f3f3; border: 0; font-size: 12px;
  white-space: pre-wrap; overflow-wrap: anywhere; }
.bw-root button { color: ${PALETTE.ink}; background: #f3f3f3; border: 1px solid #bbb; border-radius: 3px;
  padding: 2px 10px; cursor: pointer; font: inherit; }
.bw-root select { color: ${PALETTE.ink}; background: #fff; font: inherit; max-width: 100%; }`;

  /** The widget's root: a card with class "bw-root <className>" appended to anywidget's `el`,
   *  carrying the shared style sheet and the widget's own `css`. */
  function mount(host, className, css = "") {
    const root = el("div", { className: `bw-root ${className}` }, el("style", { textContent: CSS + css }));
    host.append(root);
    return root;
  }

  return { PALETTE, el, styled, svgEl, fmt, niceTicks, stepTicks, scalableCanvas, mount };
})();

