"""The few figures chapters share: learning curves, image grids, decision boundaries.

Every function draws with Matplotlib and returns what it drew on, so a chapter can
add titles or annotations afterwards.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.ticker import MaxNLocator


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
        _, ax = plt.subplots(1, len(quantities), figsize=(4.5 * len(quantities), 3.2), squeeze=False,
                             layout="constrained")
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
                          markersize=3, label=prefix.rstrip("_"))
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
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    for i, axis in enumerate(axes.flat):
        axis.axis("off")
        if i >= len(images):
            continue
        if images.ndim == 3:
            axis.imshow(images[i], cmap="gray")
        else:
            axis.imshow(images[i].clip(0, 1))
        if labels is not None:
            axis.set_title(_caption(labels[i], class_names), fontsize=8)
    fig.tight_layout()
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
        _, ax = plt.subplots(figsize=(4.5, 4))
    ax.contourf(grid_x.numpy(), grid_y.numpy(), predicted.reshape(grid_x.shape).numpy(),
                levels=np.arange(n_classes + 1) - 0.5, cmap=colours, alpha=0.3)
    ax.scatter(X[:, 0].numpy(), X[:, 1].numpy(), c=y.numpy(), cmap=colours, vmin=-0.5, vmax=n_classes - 0.5,
               s=12, edgecolors="k", linewidths=0.3)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return ax
