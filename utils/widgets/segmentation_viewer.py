"""Segmentation viewer: a trained model's per-pixel predictions on held-out images.

Python runs the models once (chapter 9's U-Net and the same network without skips) and packs,
for a few test images, the input (grey levels 0-255), the true label map and both predicted
label maps as compact strings (one digit per pixel, row by row). ``segmentation_viewer.js``
draws input, truth, prediction and the wrong pixels side by side and computes each class's
IoU for the image shown, so the page needs no kernel:

    data = segmentation_viewer_data(images, masks, {"U-Net": pred, "no skips": pred_noskip},
                                    class_names=SHAPE_CLASSES, overall=scores)
    SegmentationViewer(data)
"""

import math
import pathlib

import torch

from .base import BookWidget

MAX_IMAGES = 24


def label_string(labels):
    """A label map [H, W] of small non-negative integers as one digit per pixel, row by row."""
    flat = torch.as_tensor(labels).flatten().tolist()
    if any(not 0 <= v <= 9 for v in flat):
        raise ValueError("labels must lie in 0..9 to be packed one digit per pixel")
    return "".join(map(str, flat))


def per_class_iou(pred, truth, num_classes):
    """IoU of every class over the pixels given; None for a class absent from both (undefined)."""
    pred, truth = torch.as_tensor(pred).flatten(), torch.as_tensor(truth).flatten()
    out = []
    for c in range(num_classes):
        union = ((pred == c) | (truth == c)).sum().item()
        out.append(None if union == 0 else ((pred == c) & (truth == c)).sum().item() / union)
    return out


def segmentation_viewer_data(images, masks, predictions, class_names, overall=None):
    """The widget's payload.

    images [N, 1, H, W] (any float range; each image is scaled to 0-255 for display), masks
    [N, H, W] true labels, predictions {model name: [N, H, W] labels} (the first is shown
    first), class_names (index 0 is the background), overall {model name: {metric: [per
    class]}} test-set scores to show beside the per-image ones (optional).
    """
    images, masks = torch.as_tensor(images), torch.as_tensor(masks)
    if images.dim() != 4 or images.shape[1] != 1 or masks.shape != images[:, 0].shape:
        raise ValueError(
            f"need images [N, 1, H, W] and masks [N, H, W], got {tuple(images.shape)} "
            f"and {tuple(masks.shape)}"
        )
    if not 1 <= len(images) <= MAX_IMAGES:
        raise ValueError(f"show between 1 and {MAX_IMAGES} images, got {len(images)}")
    if not predictions:
        raise ValueError("give at least one model's predictions")
    for name, pred in predictions.items():
        if torch.as_tensor(pred).shape != masks.shape:
            raise ValueError(
                f"predictions of {name!r} have shape {tuple(torch.as_tensor(pred).shape)}, "
                f"not {tuple(masks.shape)}"
            )
    lo = images.amin(dim=(1, 2, 3), keepdim=True)
    hi = images.amax(dim=(1, 2, 3), keepdim=True)
    grey = ((images - lo) / (hi - lo).clamp_min(1e-8) * 255).round().to(torch.int64)
    samples = []
    for i in range(len(images)):
        samples.append(
            {
                "image": grey[i, 0].flatten().tolist(),
                "truth": label_string(masks[i]),
                "pred": {name: label_string(pred[i]) for name, pred in predictions.items()},
            }
        )
    clean = {}
    for name, scores in (overall or {}).items():
        clean[name] = {
            metric: [None if v is None or math.isnan(v) else round(float(v), 4) for v in values]
            for metric, values in scores.items()
        }
    return {
        "height": int(masks.shape[1]),
        "width": int(masks.shape[2]),
        "classes": list(class_names),
        "models": list(predictions),
        "samples": samples,
        "overall": clean,
    }


class SegmentationViewer(BookWidget):
    """Pick a test image; see input, truth, a model's prediction, its errors and per-class IoU."""

    _esm = pathlib.Path(__file__).with_name("segmentation_viewer.js")

    def __init__(self, data, **kwargs):
        missing = {"height", "width", "classes", "models", "samples"} - set(data)
        if missing:
            raise ValueError(
                f"segmentation viewer data is missing {sorted(missing)}: "
                "build it with segmentation_viewer_data(...)"
            )
        super().__init__(data, **kwargs)
