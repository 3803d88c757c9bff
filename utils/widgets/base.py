"""The base class every book widget derives from."""

import json

import anywidget
import traitlets

MAX_PAYLOAD_BYTES = 200_000  # widget state is embedded in the page: keep it small


class BookWidget(anywidget.AnyWidget):
    """An anywidget whose only input is ``data``, a small JSON payload.

    A subclass points ``_esm`` at its JavaScript file, e.g.
    ``_esm = pathlib.Path(__file__).with_name("activations.js")``, and builds ``data``
    (numbers, strings, lists, dicts) in ``__init__``. The JavaScript reads
    ``model.get("data")`` and owns every interaction, so the widget keeps working
    in a static page where no kernel runs.
    """

    data = traitlets.Dict().tag(sync=True)

    def __init__(self, data, **kwargs):
        size = len(json.dumps(data))
        if size > MAX_PAYLOAD_BYTES:
            raise ValueError(f"{type(self).__name__} payload is {size:,} bytes; the limit is "
                             f"{MAX_PAYLOAD_BYTES:,} so pages stay light. Send fewer points.")
        super().__init__(data=data, **kwargs)
