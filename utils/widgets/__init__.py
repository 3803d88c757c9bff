"""Interactive demos that keep working on the static website.

Each widget is an anywidget: Python computes a small JSON payload once, and the
widget's JavaScript (a ``.js`` file beside its Python module) does all the
drawing and reacting in the browser. No Python callback is needed after the
widget is shown, so the demo stays live in the built HTML where no kernel runs.

Every widget derives from ``base.BookWidget``, which puts ``prelude.js`` in front of
the widget's script: the helpers all widgets share (``bookUI``: DOM and axis helpers,
the colour palette, a canvas that shrinks with its column, the light card that fits
any width from 360 px) live there once.
"""
