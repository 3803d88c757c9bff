"""Fashion-MNIST, found offline first and downloaded (with checksums) only as a last resort.

Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando Research, 2017; arXiv:1708.07747) is
70,000 greyscale 28x28 photos of clothing in 10 classes, a drop-in replacement for
MNIST that is harder to solve. Licence: MIT. Canonical source:
https://github.com/zalandoresearch/fashion-mnist, files served from ``DEFAULT_URL``.
"""

import os
import pathlib
from typing import NamedTuple

import torch

from utils.data.files import (
    CorruptFileError,
    DataNotFoundError,
    ensure_writable,
    fetch,
    md5_of,
    read_idx,
    remove_bad_file,
    user_cache_dir,
)

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

PATH_ENV_VAR = "FASHION_MNIST_DIR"  # a folder holding the four files
URL_ENV_VAR = "FASHION_MNIST_URL"  # a mirror to download from instead of DEFAULT_URL
# Amazon S3 website endpoints serve plain HTTP only; the MD5 check is what guarantees the files.
DEFAULT_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
DEBIAN_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")  # `apt install dataset-fashion-mnist`

# MD5s of the files as the canonical source serves them; downloads, and the cache they fill,
# must match. Debian ships the files recompressed (its .gz files have other MD5s), so other
# files found on disk are checked by their structure instead: gzip CRC, IDX header and length.
CANONICAL_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}


class FashionMNIST(NamedTuple):
    """The dataset as four tensors: images float32 [N, 1, 28, 28] in [0, 1], labels int64 [N]."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def as_datasets(self):
        """``(train, test)`` as ``TensorDataset``s, for readers who use ``torch.utils.data.DataLoader``."""
        return (torch.utils.data.TensorDataset(self.train_x, self.train_y),
                torch.utils.data.TensorDataset(self.test_x, self.test_y))


def load_fashion_mnist(path=None, device="cpu", download=True, base_url=None):
    """Load Fashion-MNIST as tensors on ``device`` (the whole set fits: 220 MB as float32).

    Where the files are looked for, in order:

    1. ``path``, else the folder named by ``$FASHION_MNIST_DIR``. When either is given it is
       the only place used, so a typo is an error rather than a silent fallback.
    2. ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist`` package).
    3. The user cache, ``~/.cache/dl-book/fashion-mnist`` (``$DLBOOK_CACHE_DIR`` or
       ``$XDG_CACHE_HOME`` move it); its files are MD5-checked, like downloads.
    4. If ``download`` is true, the files missing from the cache are downloaded there from
       ``base_url`` (default ``$FASHION_MNIST_URL``, else ``DEFAULT_URL``) and MD5-checked.

    Each file may be gzipped (``name.gz``) or not (``name``). Raises ``DataNotFoundError``
    saying how to get the data, and ``CorruptFileError`` naming a bad file.
    """
    folder = _find_folder(path, download, base_url)
    tensors = []
    for split in ("train", "t10k"):
        images = _read(folder, f"{split}-images-idx3-ubyte", ndim=3)
        labels = _read(folder, f"{split}-labels-idx1-ubyte", ndim=1)
        if len(images) != len(labels):
            raise CorruptFileError(f"{folder}: the {split} files hold {len(images)} images but "
                                   f"{len(labels)} labels; they do not belong together.")
        tensors += [_to_float_images(images, device), labels.to(device, torch.int64)]
    return FashionMNIST(*tensors)


def _to_float_images(images, device):
    # Convert after the move: on a GPU the uint8 copy is 4x smaller and the division runs there.
    return images.to(device).unsqueeze(1).float().div_(255)


def _read(folder, stem, ndim):
    return read_idx(_locate(folder, stem + ".gz"), ndim)


def _locate(folder, name):
    """``folder/name``, or its uncompressed twin, or None."""
    for candidate in (folder / name, folder / name.removesuffix(".gz")):
        if candidate.is_file():
            return candidate
    return None


def _missing(folder):
    return [name for name in CANONICAL_MD5 if _locate(folder, name) is None]


def _cache_is_complete(cache):
    """True if the cache holds the four files as downloaded. One whose MD5 is wrong (changed or
    damaged since) is deleted, raising CorruptFileError: it would otherwise load silently."""
    for name, md5 in CANONICAL_MD5.items():
        path = cache / name
        if path.is_file() and (actual := md5_of(path)) != md5:
            remove_bad_file(path, f"has MD5 {actual}, not the canonical {md5} it was downloaded with")
    return all((cache / name).is_file() for name in CANONICAL_MD5)


def _find_folder(path, download_allowed, base_url):
    if path is None and os.environ.get(PATH_ENV_VAR):
        path = os.environ[PATH_ENV_VAR]
    if path is not None:
        folder = pathlib.Path(path).expanduser()
        if missing := _missing(folder):
            raise DataNotFoundError(f"Fashion-MNIST: {folder} lacks {', '.join(missing)}. Put the four "
                                    f"files there, or unset ${PATH_ENV_VAR} / drop path= to use the "
                                    "Debian package, the cache or a download.")
        return folder
    if not _missing(DEBIAN_DIR):
        return DEBIAN_DIR
    cache = user_cache_dir("fashion-mnist")
    if _cache_is_complete(cache):
        return cache
    problem = "downloading was not allowed (download=False)"
    if download_allowed:
        ensure_writable(cache)
        base_url = base_url or os.environ.get(URL_ENV_VAR) or DEFAULT_URL
        try:
            for name in [name for name in CANONICAL_MD5 if not (cache / name).is_file()]:
                print(f"Downloading {name} from {base_url} into {cache}")
                fetch(base_url.rstrip("/") + "/" + name, cache / name, md5=CANONICAL_MD5[name])
            return cache
        except OSError as exc:  # no network, DNS failure, HTTP error, refused connection...
            problem = f"downloading from {base_url} failed: {exc}"
    raise DataNotFoundError(
        f"Fashion-MNIST was not found in {DEBIAN_DIR} or {cache}, and {problem}.\n"
        "Get it one of these ways:\n"
        "  - Debian/Ubuntu: sudo apt install dataset-fashion-mnist\n"
        f"  - put the four .gz files in a folder and set {PATH_ENV_VAR}=/that/folder (or pass path=)\n"
        f"  - go online and run this again: the files (30 MB) are downloaded into {cache}")
