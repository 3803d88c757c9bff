"""Text corpora for the sequence chapters: one that every Python has, one that is downloaded."""

import hashlib
import os
import pathlib

from utils.data.files import CorruptFileError, DataNotFoundError, fetch, remove_bad_file, user_cache_dir

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_BYTES = 1_115_394  # the canonical file's size; it is plain ASCII
TINY_SHAKESPEARE_START = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
# SHA-256 of the canonical file, as recorded for the same URL by the Hugging Face `datasets`
# loader (datasets/tiny_shakespeare: dataset_infos.json and urls_checksums/checksums.txt).
TINY_SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
SHAKESPEARE_ENV_VAR = "TINY_SHAKESPEARE_PATH"  # a copy of the file already on disk


def load_text_corpus(name="python-docs", url=None, path=None):
    """A text corpus as one string.

    ``"python-docs"`` (the default, always offline): the Python Language Reference as
    ``help()`` shows it, from the standard library's ``pydoc_data.topics``, every topic
    in name order. About 465,000 characters of English prose with code and grammar
    rules, and about 100 distinct characters. The text comes with the interpreter, so it is
    identical on every machine with the same Python version (it changes a little between
    versions). Copyright the Python Software Foundation, under the PSF License Agreement.

    ``"shakespeare"``: Tiny Shakespeare, 1,115,394 characters of Shakespeare's plays
    (public domain) as compiled by Andrej Karpathy for char-rnn. Read from ``path`` (or
    ``$TINY_SHAKESPEARE_PATH``) when given; otherwise downloaded once from ``url`` (default
    ``TINY_SHAKESPEARE_URL``) into ``~/.cache/dl-book/text`` (``$DLBOOK_CACHE_DIR`` moves
    it), which needs a network the first time. Checked by its size, its bytes (ASCII), its
    first lines and its SHA-256; a bad file in the cache is deleted, the reader's own file never.
    """
    if name == "python-docs":
        return _python_reference()
    if name == "shakespeare":
        path = path or os.environ.get(SHAKESPEARE_ENV_VAR)
        if path is not None:
            return _checked_shakespeare(pathlib.Path(path).expanduser(), cached=False)
        return _tiny_shakespeare(url or TINY_SHAKESPEARE_URL)
    raise ValueError(f"unknown corpus {name!r}: choose 'python-docs' or 'shakespeare'")


def _python_reference():
    try:
        from pydoc_data.topics import topics  # noqa: PLC0415 (some trimmed Pythons lack it)
    except ImportError as exc:
        raise DataNotFoundError("This Python has no pydoc_data module (a trimmed installation); "
                                "use load_text_corpus('shakespeare') online instead.") from exc
    return "\n\n".join(topics[key].strip() for key in sorted(topics)) + "\n"


def _tiny_shakespeare(url):
    path = user_cache_dir("text") / "tinyshakespeare.txt"
    if not path.is_file():
        try:
            fetch(url, path)
        except OSError as exc:
            raise DataNotFoundError(f"Tiny Shakespeare is not in {path.parent} and downloading it from "
                                    f"{url} failed ({exc}). Go online, or use the offline corpus "
                                    "load_text_corpus('python-docs').") from exc
    return _checked_shakespeare(path, cached=True)


def _checked_shakespeare(path: pathlib.Path, cached):
    """The file's text if it is Tiny Shakespeare; else CorruptFileError (and a cached copy is deleted)."""
    data = path.read_bytes()
    if len(data) != TINY_SHAKESPEARE_BYTES:
        problem = f"has {len(data):,} bytes, not the canonical {TINY_SHAKESPEARE_BYTES:,}"
    elif not data.isascii():
        problem = f"is not plain ASCII (byte {next(i for i, b in enumerate(data) if b > 127):,} is not)"
    elif not data.startswith(TINY_SHAKESPEARE_START):
        problem = f"does not start with the play's first lines ({TINY_SHAKESPEARE_START[:14]!r}...)"
    elif (digest := hashlib.sha256(data).hexdigest()) != TINY_SHAKESPEARE_SHA256:
        problem = (f"has the canonical size and first lines but its SHA-256 is {digest[:12]}..., "
                   f"not {TINY_SHAKESPEARE_SHA256[:12]}... (some text differs)")
    else:
        return data.decode("ascii")
    if cached:
        remove_bad_file(path, f"{problem}; it is not Tiny Shakespeare")
    raise CorruptFileError(f"{path} {problem}; it is not Tiny Shakespeare.")
