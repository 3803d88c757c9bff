"""Build the site with warnings as errors, offline where the machine allows it.

    python tools/build_book.py [--online]

Offline means inside a fresh network namespace with only loopback up (the
notebook kernels talk to the build over 127.0.0.1), so a page or notebook that
reaches for the internet fails the build here instead of on a reader's machine.
That needs root and ``unshare``; otherwise the build runs normally and says so.
Each build starts from a fresh _build/html (executed notebooks still come
from the execution cache). The outcome (offline or not, seconds) goes to _build/build_info.json.

After Sphinx, :func:`finish_site` does what the theme cannot be configured to do: it removes
source maps and the theme's 1.5 MB Font Awesome script (its style sheet already draws the same
icons from web fonts), and offers each executed notebook, outputs included, in the page's
download menu beside the source notebook.
"""

import hashlib
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import nbformat
from jupyter_cache import get_cache

ROOT = pathlib.Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"


def can_go_offline():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return False
    probe = subprocess.run(["unshare", "-n", "ip", "link", "set", "lo", "up"], capture_output=True)
    return probe.returncode == 0


def forget_stale_executions():
    """Empty the execution cache when utils/ changed since the last build.

    jupyter-cache keys a notebook on its own code only, but the outputs also depend on
    utils (a widget's JavaScript is embedded in them): a change there must re-execute.
    """
    digest = hashlib.sha256()
    for path in sorted((ROOT / "utils").rglob("*")):
        if path.suffix in (".py", ".js"):
            digest.update(path.relative_to(ROOT).as_posix().encode() + path.read_bytes())
    stamp = BUILD / "utils.sha256"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return
    if (BUILD / ".jupyter_cache").exists():
        print("build_book: utils/ changed since the last build: re-executing every notebook")
        shutil.rmtree(BUILD / ".jupyter_cache")
    BUILD.mkdir(exist_ok=True)
    stamp.write_text(digest.hexdigest())


# a whole line "//# sourceMappingURL=..." or "/*# sourceMappingURL=... */" (bundles hold several)
SOURCE_MAP_COMMENT = re.compile(r"^(//# sourceMappingURL=[^\n]*|/\*# sourceMappingURL=[^\n]*?\*/)[ \t]*$\n?",
                                re.M)
FONTAWESOME_JS = re.compile(r'<(script defer src|link rel="preload" as="script" href)="[^"]*'
                            r'_static/scripts/fontawesome\.js[^"]*"[^>]*>(</script>)?\n?')
EXECUTED_DIR = "_executed"  # site folder of the executed notebooks


def drop_source_maps(html):
    """Delete the .map files and the comments that point at them: readers' browsers never need
    them, and the theme's are 3.4 MB (a browser with its developer tools open fetches them)."""
    for path in html.rglob("*.map"):
        path.unlink()
    for path in [*html.rglob("*.js"), *html.rglob("*.css")]:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        trimmed = SOURCE_MAP_COMMENT.sub("", text)
        if trimmed != text:
            path.write_text(trimmed, encoding="utf-8", errors="surrogateescape")


def drop_fontawesome_js(html):
    """Remove Font Awesome's script (1.5 MB on every page); the theme's CSS and web fonts draw the icons."""
    for page in html.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        trimmed = FONTAWESOME_JS.sub("", text)
        if trimmed != text:
            page.write_text(trimmed, encoding="utf-8")
    (html / "_static" / "scripts" / "fontawesome.js").unlink(missing_ok=True)


def offer_executed_notebooks(html, cache_dir):
    """Copy each executed notebook into the site and link it from its page's download menu.

    The theme's ".ipynb" item is the source notebook, which is stored without outputs; readers
    who download to read offline want the outputs too. They come from the execution cache (the
    copies in _build/jupyter_execute have no outputs when a notebook was taken from the cache).
    Exercise pages are not executed, so they get no second item.
    """
    cache = get_cache(cache_dir)
    for page in sorted(html.rglob("*.html")):
        relative = page.relative_to(html).with_suffix(".ipynb")
        if not (ROOT / relative).is_file():
            continue
        try:
            record = cache.match_cache_file(ROOT / relative)
        except KeyError:  # not executed by the build (exercise pages, markdown pages)
            continue
        target = html / EXECUTED_DIR / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(cache.get_cache_bundle(record.pk).nb, target)
        href = "../" * (len(relative.parts) - 1) + f"{EXECUTED_DIR}/{relative.as_posix()}"
        item = (f'<li><a href="{href}" download '
                'class="btn btn-sm btn-download-executed-button dropdown-item" '
                'title="Download the notebook with its outputs"><span class="btn__icon-container">'
                '<i class="fas fa-file-code"></i></span><span class="btn__text-container">'
                '.ipynb with outputs</span></a></li>')
        text = page.read_text(encoding="utf-8")
        source_item = re.search(r'<li><a href="[^"]*_sources/[^"]*\.ipynb".*?</a>\s*</li>', text, re.S)
        if source_item is None:
            sys.exit(f"build_book: no source-notebook download item in {page}: did the theme change?")
        page.write_text(text[:source_item.end()] + item + text[source_item.end():], encoding="utf-8")


def finish_site(html=BUILD / "html", cache_dir=BUILD / ".jupyter_cache"):
    drop_source_maps(html)
    drop_fontawesome_js(html)
    offer_executed_notebooks(html, cache_dir)


def main(argv):
    jupyter_book = pathlib.Path(sys.executable).with_name("jupyter-book")
    forget_stale_executions()
    # --all and a fresh html folder: no stale page survives; notebooks still come from the cache.
    shutil.rmtree(BUILD / "html", ignore_errors=True)
    build = [str(jupyter_book), "build", str(ROOT), "--all", "-W", "--keep-going"]
    offline = "--online" not in argv and can_go_offline()
    if offline:
        command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *build]
    else:
        print("build_book: building with network access (offline build needs root, unshare and ip)")
        command = build
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT)
    seconds = round(time.perf_counter() - start, 1)
    BUILD.mkdir(exist_ok=True)
    if result.returncode == 0:
        finish_site()
    info = {"offline": offline, "warnings_as_errors": True, "seconds": seconds, "ok": result.returncode == 0}
    (BUILD / "build_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"build_book: {'offline ' if offline else ''}build {'finished' if info['ok'] else 'FAILED'} "
          f"in {seconds} s; site in {BUILD / 'html'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
