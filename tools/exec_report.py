"""Sphinx extension: write each notebook's execution record to _build/exec_times.json.

myst-nb keeps, per page, how the notebook was executed ("cache" when the run was
new or read back from the execution cache) and how long the run took. The test
suite reads this report to hold every notebook to its time budget, so each
notebook runs once per CI run: in the book build.
"""

import json
import pathlib

from myst_nb.sphinx_ import NbMetadataCollector


def write_report(app, exception):
    if exception is not None:
        return
    records = {}
    for docname, metadata in sorted(NbMetadataCollector.get_doc_data(app.env).items()):
        data = metadata.get("exec_data")
        if data:
            records[docname] = {key: data.get(key) for key in ("method", "runtime", "succeeded", "error")}
    out = pathlib.Path(app.outdir).parent / "exec_times.json"
    out.write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")


def setup(app):
    app.connect("build-finished", write_report)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
