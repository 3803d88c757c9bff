"""Build the site with warnings as errors, offline where the machine allows it.

    python tools/build_book.py [--online]

Offline means inside a fresh network namespace with only loopback up (the
notebook kernels talk to the build over 127.0.0.1), so a page or notebook that
reaches for the internet fails the build here instead of on a reader's machine.
That needs root and ``unshare``; otherwise the build runs normally and says so.
Each build starts from a fresh _build/html (executed notebooks still come
from the execution cache). The outcome (offline or not, seconds) goes to _build/build_info.json.
"""

import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

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
    info = {"offline": offline, "warnings_as_errors": True, "seconds": seconds, "ok": result.returncode == 0}
    (BUILD / "build_info.json").write_text(json.dumps(info, indent=2) + "\n")
    print(f"build_book: {'offline ' if offline else ''}build {'finished' if info['ok'] else 'FAILED'} "
          f"in {seconds} s; site in {BUILD / 'html'}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
