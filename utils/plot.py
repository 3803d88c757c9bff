"""The book's figure style, and the few figures chapters share: learning curves, image
grids, decision boundaries.

Every function draws with Matplotlib and returns what it drew on, so a chapter can
add titles or annotations afterwards.

Why a style: a figure is an image, and the web page shrinks it to the text column (about
750 px on a desktop, 360 px on a phone). Text in a 16-inch-wide figure came out about 6 px
tall at desktop width. The style keeps every figure at most ``MAX_WIDTH`` inches wide at
100 dpi, so at desktop width it is shown at (nearly) its own size and its 10-11 pt text
reads at 14-15 px; ``panels`` sizes side-by-side figures within that width. On a phone the
site lets a wide figure keep a readable width and scroll sideways (site_assets/book.css).
"""

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.ticker import MaxNLocator

MAX_WIDTH = 7.5  # inches at 100 dpi: 750 px, the text column of the book's pages
PANEL_HEIGHT = 3.2  # inches, one row of panels

BOOK_STYLE = {
    "figure.figsize": (6.4, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.title_fontsize": 10,
    "lines.linewidth": 1.8,
    "lines.markersize": 5,
    "grid.alpha": 0.3,
    "axes.prop_cycle": mpl.cycler(color=plt.get_cmap("tab10").colors),  # the widgets' palette too
}


def use_book_style():
    """Apply :data:`BOOK_STYLE` to every figure drawn from now on (``utils.env.setup`` calls it)."""
    mpl.rcParams.update(BOOK_STYLE)


def panels(ncols=1, nrows=1, height=PANEL_HEIGHT, **subplots_kwargs):
    """``plt.subplots`` with the book's sizes: ``ncols`` panels side by side in at most
    ``MAX_WIDTH`` inches, ``height`` inches per row. Returns ``(fig, axes)`` like plt.subplots."""
    if ncols < 1 or nrows < 1:
        raise ValueError(f"need at least one panel, got ncols={ncols}, nrows={nrows}")
    width = min(MAX_WIDTH, 1.0 + 3.2 * ncols)
    return plt.subplots(nrows, ncols, figsize=(width, height * nrows), **subplots_kwargs)


def plot_learning_curves(history_or_records, ax=None):
    """One panel per quantity (loss first, then each metric), train and validation per epoch.

    Takes a ``History`` or its list of per-epoch records (dicts with ``epoch`` and keys
    like ``train_loss``, ``val_loss``, ``val_acc``). ``ax`` is one Axes or a sequence with
    one Axes per panel; by default a new figure is made. Returns the list of Axes.
    """
    records = getattr(history_or_records, "records", history_or_records)
    if not records:
        raise ValueError("no records to plot: train for at least one epoch first")
    names = [key.split("_", 1)[1] for key in records[0] if key.startswith(("train_", "val_"))]
    quantities = sorted(dict.fromkeys(names), key=lambda name: name != "loss")  # loss, then the metrics
    if ax is None:
        _, ax = panels(len(quantities), squeeze=False, layout="constrained")
    axes = list(np.atleast_1d(ax).ravel())
    if len(axes) < len(quantities):
        raise ValueError(f"{len(quantities)} panels to draw ({', '.join(quantities)}), "
                         f"but {len(axes)} Axes given")
    epochs = [record["epoch"] for record in records]
    for axis, name in zip(axes, quantities):
        for prefix, style in (("train_", "-o"), ("val_", "-s")):
            values = [record.get(prefix + name) for record in records]
            if any(value is not None for value in values):
                axis.plot(epochs, [np.nan if v is None else v for v in values], style,
                          markersize=4, label=prefix.rstrip("_"))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    return axes[:len(quantities)]


def show_images(images, labels=None, ncols=8, class_names=None):
    """A grid of images, each optionally captioned; returns the figure.

    ``images``: a tensor or array [N, H, W], [N, 1, H, W] (greyscale) or [N, 3, H, W]
    (RGB, values in [0, 1]). ``labels``: one per image; integers are looked up in
    ``class_names`` when given, anything else is shown as text (e.g. "pred: Bag").
    """
    images = torch.as_tensor(images).detach().float().cpu()
    if images.dim() == 4:
        images = images.permute(0, 2, 3, 1)  # matplotlib wants height, width, channels
    if images.shape[-1] == 1:
        images = images[..., 0]
    images = images.numpy()
    nrows = max(1, -(-len(images) // ncols))
    side = min(1.3, MAX_WIDTH / ncols)  # inches per image: the grid fits the text column
    fig, axes = plt.subplots(nrows, ncols, figsize=(side * ncols, (side + 0.2) * nrows), squeeze=False,
                             layout="constrained")
    for i, axis in enumerate(axes.flat):
        axis.axis("off")
        if i >= len(images):
            continue
        if images.ndim == 3:
            axis.imshow(images[i], cmap="gray")
        else:
            axis.imshow(images[i].clip(0, 1))
        if labels is not None:
            axis.set_title(_caption(labels[i], class_names), fontsize=9)
    return fig


def _caption(label, class_names):
    if isinstance(label, torch.Tensor):
        label = label.item()
    if class_names is not None and isinstance(label, (int, np.integer)):
        return class_names[label]
    return str(label)


def plot_decision_boundary(predict_fn, X, y, ax=None, resolution=200):
    """Colour the plane by the class ``predict_fn`` assigns, with the data points on top.

    ``predict_fn`` takes a float32 CPU tensor [M, 2] of points and returns class indices
    [M] (integers or booleans) or one score per class [M, C] (the largest wins); move the
    points to your model's device inside it if needed. Returns the Axes.
    """
    X, y = torch.as_tensor(X).cpu().float(), torch.as_tensor(y).cpu().reshape(-1)
    margin = 0.1 * (X.max(0).values - X.min(0).values) + 1e-3
    low, high = X.min(0).values - margin, X.max(0).values + margin
    xs = torch.linspace(low[0], high[0], resolution)
    ys = torch.linspace(low[1], high[1], resolution)
    grid_x, grid_y = torch.meshgrid(xs, ys, indexing="xy")
    with torch.no_grad():
        predicted = torch.as_tensor(predict_fn(torch.stack([grid_x.ravel(), grid_y.ravel()], dim=1))).cpu()
    if predicted.dim() == 2 and predicted.shape[1] > 1:
        predicted = predicted.argmax(1)
    elif predicted.is_floating_point():
        raise ValueError("predict_fn returned one float per point; return class indices instead, "
                         "e.g. (logits > 0).long() for a single logit")
    n_classes = int(max(predicted.max(), y.max())) + 1
    colours = ListedColormap(plt.get_cmap("tab10").colors[:n_classes])
    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.contourf(grid_x.numpy(), grid_y.numpy(), predicted.reshape(grid_x.shape).numpy(),
                levels=np.arange(n_classes + 1) - 0.5, cmap=colours, alpha=0.3)
    ax.scatter(X[:, 0].numpy(), X[:, 1].numpy(), c=y.numpy(), cmap=colours, vmin=-0.5, vmax=n_classes - 0.5,
               s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax
