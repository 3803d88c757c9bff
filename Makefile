# The two commands a reader needs:   make book   (build the site)   make test   (run every check)
PY := .venv/bin/python

.PHONY: setup book test lint exercises sync models clean

# Python packages, Debian packages (as root) and the widget JavaScript from npm.
setup: .venv/.installed _widget_js/.vendored

.venv/.installed: requirements-lock.txt tools/setup.sh
	tools/setup.sh

node_modules/.package-lock.json: package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: apt-get install npm (or install Node.js 18+)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

_widget_js/.vendored: node_modules/.package-lock.json tools/vendor_widget_js.py .venv/.installed
	$(PY) tools/vendor_widget_js.py
	touch $@

book: setup
	$(PY) tools/build_book.py

test: book
	$(PY) -m pytest

lint: setup
	.venv/bin/ruff check .

exercises: setup
	$(PY) tools/make_exercises.py

sync: setup
	$(PY) -m tools.notebooks sync

# Retrain the book models into models/ (slow: up to ~30 min each on a CPU). All of them, or
# some: make models MODELS="fashion_classifier". See "Book models" in CONTRIBUTING.md.
models: setup
	$(PY) -m tools.train_models $(MODELS)

clean:
	rm -rf _build _widget_js
