"""The book's figure style (utils/plot.py): text in figures stays readable at the page's column width."""

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from utils.plot import BOOK_STYLE, MAX_WIDTH, panels, plot_learning_curves, show_images, use_book_style  # noqa: E402

COLUMN_PX = 752  # the text column of a chapter page at 1280 px (measured in Chromium)


def shown_px(points, fig):
    """How tall text of ``points`` pt appears once the page fits the figure's image into the column."""
    width_px = fig.get_figwidth() * fig.dpi
    return points * fig.dpi / 72 * min(1.0, COLUMN_PX / width_px)


@pytest.fixture(autouse=True)
def book_style():
    with mpl.rc_context():
        use_book_style()
        yield
    plt.close("all")


def test_style_is_applied():
    for key, value in BOOK_STYLE.items():
        if key != "axes.prop_cycle":
            assert mpl.rcParams[key] == (list(value) if isinstance(value, tuple) else value), key


@pytest.mark.parametrize("ncols", [1, 2, 3, 5])
def test_panels_fit_the_column_and_their_text_stays_readable(ncols):
    fig, axes = panels(ncols)
    assert fig.get_figwidth() <= MAX_WIDTH and len(fig.axes) == ncols
    assert shown_px(mpl.rcParams["legend.fontsize"], fig) >= 12  # it was about 6 px in a 16-inch figure
    assert shown_px(mpl.rcParams["xtick.labelsize"], fig) >= 12
    with pytest.raises(ValueError):
        panels(0)


def test_shared_figures_use_the_book_sizes():
    records = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.1 / e, "train_acc": 0.5, "val_acc": 0.6}
               for e in (1, 2, 3)]
    fig = plot_learning_curves(records)[0].figure
    assert fig.get_figwidth() <= MAX_WIDTH
    grid = show_images([[[0.0] * 4] * 4] * 16, ncols=8)
    assert grid.get_figwidth() <= MAX_WIDTH
