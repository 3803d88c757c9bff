// The book's own script, on every page (_config.yml: html_js_files).
//
// Narrow screens: sphinx-book-theme puts its visible "Toggle primary sidebar" and page-contents
// buttons in the article header, but pydata-sphinx-theme (its base) wires its sidebar dialogs
// only to the FIRST .primary-toggle and .secondary-toggle of the page: the header's buttons,
// which the book theme hides. Below 992 px the visible buttons therefore did nothing, and the
// table of contents could not be opened on a phone. A tap on a visible button is passed on to
// the wired one, so the theme's own code opens its own dialog (or, on a wide screen, the book
// theme's own handler on that button collapses the sidebar, as before).
(function () {
  function forwardToggles() {
    for (const kind of ["primary", "secondary"]) {
      const [wired, ...others] = document.querySelectorAll(`.${kind}-toggle`);
      for (const button of others) {
        button.addEventListener("click", (event) => {
          event.preventDefault();
          button.blur(); // no focus ring or tooltip left behind
          wired.click();
        });
      }
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", forwardToggles);
  else forwardToggles();
})();

// Figures much wider than tall (panels side by side) are marked, so that book.css can keep
// them at a readable width on a phone and let them scroll sideways.
(function () {
  function markWideFigures() {
    for (const img of document.querySelectorAll(".cell_output img")) {
      const mark = () => {
        if (img.naturalWidth >= 600 && img.naturalWidth >= 1.6 * img.naturalHeight) img.classList.add("bw-wide-figure");
      };
      if (img.complete) mark(); else img.addEventListener("load", mark, { once: true });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", markWideFigures);
  else markWideFigures();
})();
