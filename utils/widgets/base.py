"""The base class every book widget derives from, and the shared JavaScript prelude."""

import json
import pathlib

import anywidget
import traitlets

MAX_PAYLOAD_BYTES = 200_000  # widget state is embedded in the page: keep it small
PRELUDE = pathlib.Path(__file__).with_name("prelude.js")


def widget_module(script):
    """The ES module a widget ships: the shared prelude followed by the widget's own ``script``.

    anywidget loads each widget's module on its own (a module in a page's embedded state can
    import nothing), so the helpers every widget uses (DOM, axes, palette, responsive layout:
    the ``bookUI`` object of ``prelude.js``) travel in front of each widget's code.
    """
    return PRELUDE.read_text(encoding="utf-8") + "\n" + pathlib.Path(script).read_text(encoding="utf-8")


class BookWidget(anywidget.AnyWidget):
    """An anywidget whose only input is ``data``, a small JSON payload.

    A subclass points ``_esm`` at its JavaScript file, e.g.
    ``_esm = pathlib.Path(__file__).with_name("activations.js")``, and builds ``data``
    (numbers, strings, lists, dicts) in ``__init__``. The JavaScript reads
    ``model.get("data")`` and owns every interaction, so the widget keeps working
    in a static page where no kernel runs. The class puts ``prelude.js`` in front of
    the file (see :func:`widget_module`), so the script can use ``bookUI``.
    """

    data = traitlets.Dict().tag(sync=True)

    def __init_subclass__(cls, **kwargs):
        script = cls.__dict__.get("_esm")
        if isinstance(script, pathlib.Path):
            cls._esm = widget_module(script)
        super().__init_subclass__(**kwargs)

    def __init__(self, data, **kwargs):
        size = len(json.dumps(data))
        if size > MAX_PAYLOAD_BYTES:
            raise ValueError(f"{type(self).__name__} payload is {size:,} bytes; the limit is "
                             f"{MAX_PAYLOAD_BYTES:,} so pages stay light. Send fewer points.")
        super().__init__(data=data, **kwargs)
