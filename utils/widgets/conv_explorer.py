"""Convolution explorer: one 3x3 kernel slid over a real image, and a trained CNN's feature maps.

The first part needs no model: the payload carries a few greyscale images (bytes, base64)
and kernel presets; ``conv_explorer.js`` convolves in the browser as the reader edits the
kernel or changes stride, padding and dilation, prints the output size by the formula, and
marks the input pixels that one hovered output pixel sees (its receptive field).

The second part shows what a trained network computes: Python runs the model once on a few
test images and keeps, for every layer it is given, the maps of the channels that respond
most, scaled to bytes. The widget only draws them, so it works on the static website too.

    from utils.widgets.conv_explorer import ConvExplorer, conv_explorer_data
    ConvExplorer(conv_explorer_data(images, labels, class_names, model=cnn,
                                    layers=[("block 1", cnn[2]), ("block 2", cnn[6])]))
"""

import base64
import pathlib

import torch

from .base import BookWidget

# 3x3 kernels the reader can start from (rows top to bottom); PyTorch's convolution does not
# flip the kernel, and neither does the widget, so what you see is what F.conv2d computes.
PRESETS = {
    "identity": [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
    "vertical edges": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "horizontal edges": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "blur": [[0.0625, 0.125, 0.0625], [0.125, 0.25, 0.125], [0.0625, 0.125, 0.0625]],
    "sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "outline": [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
}
MAX_IMAGES = 8
MAX_CHANNELS = 16


def to_bytes(values):
    """A float tensor scaled to 0..255 by its own maximum (0 stays 0; negatives clip) as base64 text."""
    values = torch.as_tensor(values).detach().float().cpu()
    top = values.max().item()
    scaled = (values.clamp(min=0) / top * 255) if top > 0 else torch.zeros_like(values)
    return base64.b64encode(scaled.round().to(torch.uint8).numpy().tobytes()).decode("ascii")


@torch.no_grad()
def feature_maps(model, images, layers):
    """The outputs of each module in ``layers`` (a list of ``(name, module)`` inside ``model``)
    for ``images`` [N, C, H, W], in evaluation mode: ``{name: tensor [N, channels, h, w]}``."""
    captured, hooks = {}, []
    for name, module in layers:
        hooks.append(
            module.register_forward_hook(
                lambda _module, _inputs, output, name=name: captured.__setitem__(name, output.detach().cpu())
            )
        )
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        logits = model(images.to(device)).cpu()
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    missing = [name for name, _ in layers if name not in captured]
    if missing:
        raise ValueError(f"layers {missing} did not run in the model's forward pass")
    return captured, logits


def conv_explorer_data(images, labels, class_names, model=None, layers=(), channels=8, model_name=""):
    """The payload of :class:`ConvExplorer`.

    ``images``: greyscale images [N, 1, H, W] (or [N, H, W]) in [0, 1], at most ``MAX_IMAGES``;
    ``labels``: their classes, named by ``class_names``. With a ``model`` and ``layers``
    (``(name, module)`` pairs, input side first), the payload also holds, per image and layer,
    the ``channels`` channels with the largest mean activation over the shown images, and the
    model's prediction. ``images`` are what the model takes, apart from the shape: they are
    sent to the model unchanged.
    """
    images = torch.as_tensor(images).detach().float().cpu()
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"need greyscale images [N, 1, H, W], got {tuple(images.shape)}")
    if not 1 <= len(images) <= MAX_IMAGES:
        raise ValueError(f"between 1 and {MAX_IMAGES} images, got {len(images)}")
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not 1 <= channels <= MAX_CHANNELS:
        raise ValueError(f"channels must be 1..{MAX_CHANNELS}, got {channels}")
    low, high = images.min().item(), images.max().item()
    shown = (images - low) / (high - low) if high > low else torch.zeros_like(images)
    data = {
        "size": int(images.shape[-1]),
        # the image's own grey levels (0 black .. 255 white), not scaled by its maximum
        "images": [
            {
                "label": class_names[int(y)],
                "pixels": base64.b64encode((img[0] * 255).round().to(torch.uint8).numpy().tobytes()).decode(
                    "ascii"
                ),
            }
            for img, y in zip(shown, labels)
        ],
        "presets": PRESETS,
        "layers": [],
        "model": str(model_name),
    }
    if model is None:
        return data
    if not layers:
        raise ValueError("a model needs layers=[(name, module), ...] to show")
    maps, logits = feature_maps(model, images, list(layers))
    probabilities = logits.softmax(dim=1)
    for item, p in zip(data["images"], probabilities):
        item["predicted"] = class_names[int(p.argmax())]
        item["confidence"] = round(float(p.max()), 3)
    for name, _ in layers:
        out = maps[name]
        if out.dim() != 4:
            raise ValueError(f"layer {name!r} gives shape {tuple(out.shape)}, not [N, C, H, W]")
        keep = out.mean(dim=(0, 2, 3)).argsort(descending=True)[:channels]
        data["layers"].append(
            {
                "name": str(name),
                "shape": list(out.shape[1:]),
                "channels": [int(c) for c in keep],
                # per image: the kept channels' maps, each scaled by its own maximum
                "maps": [[to_bytes(out[i, c]) for c in keep] for i in range(len(images))],
            }
        )
    return data


class ConvExplorer(BookWidget):
    """Edit a kernel over a real image (stride, padding, dilation, receptive field of a hovered
    pixel) and browse a trained CNN's feature maps; ``data`` from :func:`conv_explorer_data`."""

    _esm = pathlib.Path(__file__).with_name("conv_explorer.js")

    def __init__(self, data, **kwargs):
        missing = {"size", "images", "presets", "layers"} - set(data)
        if missing:
            raise ValueError(f"not a conv_explorer_data payload: missing {sorted(missing)}")
        super().__init__(data, **kwargs)
