"""Reading and fetching dataset files: the user cache, checked downloads, IDX parsing.

Everything here fails loudly. A download whose MD5 is wrong is deleted, and a file
that is truncated, corrupt or not what it claims to be raises ``CorruptFileError``
naming the file, so a bad file never turns into silently wrong tensors.
"""

import gzip
import hashlib
import os
import pathlib
import urllib.request
import zlib

import torch

DOWNLOAD_TIMEOUT_S = 60
IDX_UNSIGNED_BYTE = 0x08  # the IDX type code of uint8 data, the only type the datasets use


class DataNotFoundError(FileNotFoundError):
    """A dataset is in none of the places looked at and could not be downloaded."""


class CorruptFileError(ValueError):
    """A dataset file exists but its contents are wrong (truncated, corrupt, bad checksum)."""


CACHE_ENV_VAR = "DLBOOK_CACHE_DIR"  # where downloads go, instead of ~/.cache/dl-book


def user_cache_dir(name):
    """``$DLBOOK_CACHE_DIR/<name>`` if set, else ``$XDG_CACHE_HOME/dl-book/<name>``, by default
    ``~/.cache/dl-book/<name>``."""
    if os.environ.get(CACHE_ENV_VAR):
        return pathlib.Path(os.environ[CACHE_ENV_VAR]).expanduser() / name
    root = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(root) / "dl-book" / name


def ensure_writable(folder):
    """Create ``folder`` if needed and check a file can be written there; raise DataNotFoundError if not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise DataNotFoundError(f"The cache folder {folder} is not writable ({exc.strerror or exc}), so "
                                f"nothing can be downloaded into it. Choose another: set ${CACHE_ENV_VAR}="
                                "/a/writable/folder (or $XDG_CACHE_HOME), or pass path= to use files you "
                                "already have.") from exc


def remove_bad_file(path, problem):
    """Delete a cached file that failed its check, and raise CorruptFileError saying so (or why not)."""
    try:
        path.unlink()
        done = "it was deleted; run this again to download it afresh."
    except OSError as exc:
        done = (f"it could not be deleted ({exc.strerror or exc}): delete it by hand, or set "
                f"${CACHE_ENV_VAR} to a writable folder.")
    raise CorruptFileError(f"{path} {problem}: {done}")


def md5_of(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url, destination, md5=None):
    """Fetch ``url`` into ``destination``, checking its MD5 when one is given.

    The data goes to a ``.part`` file first and is renamed only once complete and
    verified, so an interrupted or bad download never leaves a file that looks valid.
    Network failures raise ``OSError`` (``urllib.error.URLError`` is one).
    """
    destination = pathlib.Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(partial, "wb") as f:
            while chunk := response.read(1 << 20):
                f.write(chunk)
        if md5 is not None and (actual := md5_of(partial)) != md5:
            raise CorruptFileError(f"{destination.name} downloaded from {url} has MD5 {actual}, expected "
                                   f"{md5}: the download is corrupt or the server sent another file. "
                                   "Nothing was kept; try again or use another source.")
        partial.replace(destination)
    finally:
        partial.unlink(missing_ok=True)
    return destination


def read_bytes(path):
    """The contents of ``path``, gunzipped when its name ends in ``.gz``."""
    path = pathlib.Path(path)
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()  # gzip checks the CRC and length stored at the end of the file
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptFileError(f"{path} cannot be decompressed ({exc}): the file is truncated or "
                               "corrupt. Delete it and get it again.") from exc


def read_idx(path, ndim):
    """An IDX file of unsigned bytes (the MNIST family's format) as a uint8 tensor.

    The format: two zero bytes, a type code, the number of dimensions, one big-endian
    int32 per dimension, then the data. Every part is checked against ``ndim`` and
    the file's length.
    """
    data = read_bytes(path)
    magic = bytes([0, 0, IDX_UNSIGNED_BYTE, ndim])
    if data[:4] != magic:
        raise CorruptFileError(f"{path} does not start with the IDX magic number {magic.hex()} "
                               f"(found {data[:4].hex() or 'nothing'}): it is not a {ndim}-d IDX file "
                               "of bytes. Is it the right file?")
    header_size = 4 + 4 * ndim
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    expected_size = header_size + torch.Size(shape).numel()
    if len(data) != expected_size:
        raise CorruptFileError(f"{path} holds {len(data):,} bytes, but its header (shape {shape}) "
                               f"needs {expected_size:,}: the file is truncated or corrupt.")
    return torch.frombuffer(bytearray(data[header_size:]), dtype=torch.uint8).reshape(shape)
