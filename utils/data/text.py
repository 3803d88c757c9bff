"""Text corpora for the sequence chapters: one that every Python has, one that is downloaded."""

import pathlib

from utils.data.files import CorruptFileError, DataNotFoundError, fetch, user_cache_dir

TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
TINY_SHAKESPEARE_BYTES = 1_115_394  # the canonical file's size; it is plain ASCII


def load_text_corpus(name="python-docs", url=None):
    """A text corpus as one string.

    ``"python-docs"`` (the default, always offline): the Python Language Reference as
    ``help()`` shows it, from the standard library's ``pydoc_data.topics``, every topic
    in name order. About 465,000 characters of English prose with code and grammar
    rules, and about 100 distinct characters. The text comes with the interpreter, so it is
    identical on every machine with the same Python version (it changes a little between
    versions). Copyright the Python Software Foundation, under the PSF License Agreement.

    ``"shakespeare"``: Tiny Shakespeare, 1,115,394 characters of Shakespeare's plays
    (public domain) as compiled by Andrej Karpathy for char-rnn. Downloaded once from
    ``url`` (default ``TINY_SHAKESPEARE_URL``) into ``~/.cache/dl-book/text`` and
    checked by its size; it needs a network the first time.
    """
    if name == "python-docs":
        return _python_reference()
    if name == "shakespeare":
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
    return _checked_shakespeare(path)


def _checked_shakespeare(path: pathlib.Path):
    data = path.read_bytes()
    if len(data) != TINY_SHAKESPEARE_BYTES or not data.isascii():
        path.unlink()
        raise CorruptFileError(f"{path} has {len(data):,} bytes, not the canonical "
                               f"{TINY_SHAKESPEARE_BYTES:,} ASCII bytes: it was deleted; run again to "
                               "download it afresh.")
    return data.decode("ascii")
