"""Checking a student's results: convert to an exact type, then compare.

Both kinds of tests use these helpers: the visible tests that ``check()`` runs in the
student's notebook and the hidden tests the grader runs in its own process. Every
helper raises ``Failure`` with a message written for the student. Messages say what is
wrong (shape, dtype, how many values differ and by how much) without printing the
expected values, which for a hidden test would give the answer away.

The converters return *exact* built-in types (``type(x) is np.ndarray``, ``float``,
``int``...), never a subclass a student might have written, so a comparison made
afterwards runs the library's code and not theirs.
"""

import math
import sys

import numpy as np

KINDS = {"int": "iub", "float": "iubf", "bool": "b"}  # the dtype kinds each `kind=` accepts


class Failure(AssertionError):
    """A test found a wrong result; the message is shown to the student."""


class StudentError(Exception):
    """The student's code raised an exception while a test called it.

    ``type_name`` is the exception's class name (``"NotImplementedError"``, ``"ValueError"``...),
    ``message`` its text. Raised by the ``student`` proxy in both visible and hidden tests.
    """

    def __init__(self, type_name, message):
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.message = message

    @property
    def not_implemented(self):
        return self.type_name == "NotImplementedError"


def fail(message):
    raise Failure(message)


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    return f"a {type(value).__name__}"


def _is_tensor(value):
    torch = _torch_if_loaded()
    return torch is not None and isinstance(value, torch.Tensor)


def _torch_if_loaded():
    """torch, if something already imported it (a tensor can only exist if so)."""
    return sys.modules.get("torch")


def _shape_matches(shape, expected):
    if len(shape) != len(expected):
        return False
    return all(e is None or s == e for s, e in zip(shape, expected, strict=True))


def _shape_text(shape):
    """``(2, any)`` for ``(2, None)``; ``(3,)`` for ``(3,)``."""
    inner = ", ".join("any" if s is None else str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def as_array(value, what, shape=None, kind=None):
    """``value`` as an exact ``np.ndarray`` (a copy), checked for shape and dtype kind.

    Accepts arrays, tensors (moved to the CPU), lists/tuples of numbers and plain numbers.
    ``shape`` may contain ``None`` for "any size"; ``kind`` is ``"int"``, ``"float"`` or ``"bool"``.
    """
    if _is_tensor(value):
        try:
            value = value.detach().cpu().numpy()
        except TypeError:  # a dtype NumPy lacks, such as bfloat16
            fail(f"{what} should be an array of numbers, but it is a tensor of dtype {value.dtype}")
    if isinstance(value, np.ndarray):
        array = np.array(value, copy=True).view(np.ndarray)
    elif isinstance(value, (list, tuple, int, float, bool)) and not isinstance(value, str):
        try:
            array = np.array(value)
        except ValueError as error:
            fail(f"{what}: could not read it as an array ({error})")
    else:
        fail(f"{what} should be an array, but it is {_describe(value)}")
    if array.dtype.kind not in "biuf":
        fail(f"{what} should hold numbers, but its dtype is {array.dtype}")
    if shape is not None and not _shape_matches(array.shape, shape):
        fail(f"{what} should have shape {_shape_text(shape)}, but it has shape {array.shape}")
    if kind is not None and array.dtype.kind not in KINDS[kind]:
        fail(f"{what} should hold {kind} values, but its dtype is {array.dtype}")
    return array


def as_tensor(value, what, shape=None):
    """``value`` as an exact ``torch.Tensor`` on the CPU, detached, checked for shape."""
    import torch

    if not isinstance(value, torch.Tensor):
        fail(f"{what} should be a torch tensor, but it is {_describe(value)}")
    tensor = value.detach().cpu().clone().as_subclass(torch.Tensor)  # exact class, whatever came in
    if shape is not None and not _shape_matches(tuple(tensor.shape), shape):
        fail(f"{what} should have shape {_shape_text(shape)}, but it has shape {tuple(tensor.shape)}")
    return tensor


def as_int(value, what):
    """``value`` as an exact ``int`` (an integer-valued NumPy scalar or 0-d array is fine too)."""
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        fail(f"{what} should be an integer, but it is {_describe(value)}")
    return int(value)


def as_float(value, what):
    """``value`` as an exact ``float``; ints are fine, NaN and infinity are not."""
    if (isinstance(value, np.ndarray) or _is_tensor(value)) and tuple(value.shape) in ((), (1,)):
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        fail(f"{what} should be a number, but it is {_describe(value)}")
    number = float(value)
    if not math.isfinite(number):
        fail(f"{what} should be a finite number, but it is {number}")
    return number


def as_list(value, what, length=None):
    """``value`` as an exact ``list`` (tuples are fine), optionally of a given length."""
    if not isinstance(value, (list, tuple)):
        fail(f"{what} should be a list, but it is {_describe(value)}")
    items = list(value)
    if length is not None and len(items) != length:
        fail(f"{what} should have {length} items, but it has {len(items)}")
    return items


def as_dict(value, what, keys=None):
    """``value`` as an exact ``dict``, optionally with exactly the given keys."""
    if not isinstance(value, dict):
        fail(f"{what} should be a dict, but it is {_describe(value)}")
    result = dict(value)
    if keys is not None and sorted(result) != sorted(keys):
        fail(f"{what} should have the keys {sorted(keys)}, but it has {sorted(result)}")
    return result


def expect_close(got, want, what, rtol=1e-5, atol=1e-8):
    """``got`` matches the array ``want`` in shape and, element by element, within tolerance."""
    want = np.asarray(want, dtype=np.float64)
    got = as_array(got, what, shape=want.shape).astype(np.float64)
    if not np.isfinite(got).all():
        fail(f"{what} contains NaN or infinite values")
    wrong = ~np.isclose(got, want, rtol=rtol, atol=atol)
    if wrong.any():
        error = np.abs(got - want)
        worst = np.unravel_index(int(np.argmax(error)), error.shape) if error.ndim else ()
        fail(f"{what}: {int(wrong.sum())} of {wrong.size} values differ from the reference "
             f"(largest difference {float(error.max()):.3g}" + (f" at index {worst})" if worst else ")"))


def expect_equal(got, want, what):
    """``got`` equals ``want`` exactly: an integer or bool array (same shape), an int, or a str."""
    if isinstance(want, np.ndarray):
        got = as_array(got, what, shape=want.shape, kind="int" if want.dtype.kind in "iub" else None)
        wrong = got != want
        if wrong.any():
            fail(f"{what}: {int(wrong.sum())} of {wrong.size} values are wrong")
    elif isinstance(want, int) and not isinstance(want, bool):
        if as_int(got, what) != want:
            fail(f"{what} is {as_int(got, what)}, which is not right")
    elif type(got) is not type(want) or got != want:
        fail(f"{what} is not right")


def expect_raises(call, type_name, what):
    """``call()`` (a call into the student's code) raises an exception named ``type_name``."""
    try:
        call()
    except StudentError as error:
        if error.not_implemented:
            raise
        if error.type_name != type_name:
            fail(f"{what}: expected a {type_name}, but your code raised {error.type_name}: {error.message}")
        return error
    fail(f"{what}: expected your code to raise a {type_name}, but it returned normally")
