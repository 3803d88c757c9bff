"""Plain data across a process boundary: JSON for structure, raw bytes for arrays.

The grader never unpickles or evaluates what a student's process sends back. A value is
written as one JSON document plus a list of raw byte buffers:

- ``None``, bools, ints, floats and strings are JSON scalars; a list is a JSON array;
- anything else is a JSON object with exactly one key naming its kind:
  ``{"tuple": [...]}``, ``{"dict": {...}}`` (string keys only),
  ``{"ndarray": [dtype, shape, buffer]}``, ``{"tensor": [dtype, shape, buffer]}`` and
  ``{"handle": n}`` (an object kept in the student's process, see ``Handle``).

Decoding builds fresh objects of exact built-in types from an allow-list of dtypes, so
nothing a student defined (a subclass, an ``__eq__``, a ``__reduce__``) survives the trip.
It checks the bounds before it builds anything: the size of the JSON, how many values it
holds, how deeply they nest, and that every array's shape is small enough to exist, so a
reply costs the grader at most a fraction of a second and a few hundred MB.
"""

import json
import math
import sys

import numpy as np

ARRAY_DTYPES = frozenset({"bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                          "uint64", "float16", "float32", "float64"})
TENSOR_DTYPES = ARRAY_DTYPES | {"bfloat16"}  # bfloat16 has no NumPy dtype: sent as its raw 16 bits
MAX_DEPTH = 32        # containers nested deeper than this are refused
MAX_DIMENSIONS = 32
MAX_JSON_BYTES = 8 * 2**20   # the structure; array data travels in buffers, outside the JSON
MAX_VALUES = 500_000         # numbers, strings and containers in one message's JSON
MAX_ELEMENTS = 2**32         # an array shape whose non-zero sizes multiply to more is refused

PLAIN_TYPES_TEXT = ("NumPy arrays, torch tensors, numbers, strings, bools, None, "
                    "or lists/tuples/dicts of them")


class NotPlainData(TypeError):
    """A value cannot be sent: it is not plain data (raised where the value is encoded)."""


class ProtocolError(ValueError):
    """Received bytes are not a well-formed plain-data message."""


class Handle:
    """A reference to an object that stays in the student's process (e.g. an ``nn.Module``).

    ``generation`` says which of a submission's processes holds it (set by the grader's side).
    """

    def __init__(self, number, generation=None):
        self.number = number
        self.generation = generation

    def __repr__(self):
        return f"Handle({self.number})"


def encode(value):
    """``value`` as ``(json_bytes, buffers)``; raises ``NotPlainData`` for anything else."""
    buffers = []
    tree = _to_tree(value, buffers, depth=0)
    return json.dumps(tree, allow_nan=True).encode("utf-8"), buffers


def decode(json_bytes, buffers):
    """The value that ``encode`` turned into ``(json_bytes, buffers)``, as exact built-in types."""
    if len(json_bytes) > MAX_JSON_BYTES:
        raise ProtocolError(f"more than {MAX_JSON_BYTES // 2**20} MiB of JSON")
    # Every value but the first follows a comma or an opening bracket: an upper bound, counted in C.
    values = 1 + sum(json_bytes.count(mark) for mark in (b",", b"[", b"{"))
    if values > MAX_VALUES:
        raise ProtocolError(f"more than {MAX_VALUES:,} values (send large data as an array)")
    try:
        tree = json.loads(json_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ProtocolError(f"not valid JSON: {error}") from None
    return _from_tree(tree, buffers, depth=0)


def roundtrip(value):
    """``value`` as the grader would receive it (used by the in-notebook checks)."""
    return decode(*encode(value))


# ---- encoding (runs where the student's values live) ------------------------------------

SCALARS = [((bool, np.bool_), bool), ((int, np.integer), int), ((float, np.floating), float),
           (str, str.__str__)]  # str.__str__ gives an exact str, even from a subclass; bool before int


def _to_tree(value, buffers, depth):
    if depth > MAX_DEPTH:
        raise NotPlainData(f"the value is nested more than {MAX_DEPTH} levels deep")
    if value is None:
        return None
    for types, convert in SCALARS:
        if isinstance(value, types):
            return convert(value)
    torch = sys.modules.get("torch")
    if isinstance(value, np.ndarray) or torch is not None and isinstance(value, torch.Tensor):
        return _array_to_tree(value, buffers, torch)
    if isinstance(value, Handle):
        return {"handle": int(value.number)}
    if isinstance(value, (list, tuple)):
        items = [_to_tree(item, buffers, depth + 1) for item in value]
        return items if isinstance(value, list) else {"tuple": items}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise NotPlainData("a dict with keys that are not strings")
        return {"dict": {str.__str__(key): _to_tree(item, buffers, depth + 1) for key, item in value.items()}}
    raise NotPlainData(f"a {type(value).__name__}")


def _array_to_tree(value, buffers, torch):
    if isinstance(value, np.ndarray):
        return {"ndarray": _array_to_buffer(value, buffers, ARRAY_DTYPES)}
    tensor = value.detach().cpu().contiguous().as_subclass(torch.Tensor)
    if tensor.dtype == torch.bfloat16:
        bits = tensor.view(torch.int16).numpy().view(np.uint16)
        _, shape, index = _array_to_buffer(bits, buffers, ARRAY_DTYPES)
        return {"tensor": ["bfloat16", shape, index]}
    return {"tensor": _array_to_buffer(tensor.numpy(), buffers, ARRAY_DTYPES)}


def _array_to_buffer(array, buffers, allowed):
    # ascontiguousarray turns a 0-d array into shape (1,): reshape keeps the true shape.
    array = np.ascontiguousarray(array).reshape(array.shape).view(np.ndarray)
    if array.dtype.name not in allowed:
        raise NotPlainData(f"an array of dtype {array.dtype}")
    buffers.append(array.tobytes())
    return [array.dtype.name, list(array.shape), len(buffers) - 1]


# ---- decoding (runs in the trusted grader) -----------------------------------------------

def _from_tree(tree, buffers, depth):
    if depth > MAX_DEPTH:
        raise ProtocolError(f"nested more than {MAX_DEPTH} levels deep")
    if tree is None or type(tree) in (bool, int, float, str):
        return tree
    if type(tree) is list:
        return [_from_tree(item, buffers, depth + 1) for item in tree]
    if type(tree) is not dict or len(tree) != 1:
        raise ProtocolError("a JSON object must have exactly one key naming its kind")
    (kind, body), = tree.items()
    if kind not in DECODERS:
        raise ProtocolError(f"unknown kind {kind!r}")
    return DECODERS[kind](body, buffers, depth)


def _decode_tuple(body, buffers, depth):
    if type(body) is not list:
        raise ProtocolError("a tuple must hold a list")
    return tuple(_from_tree(item, buffers, depth + 1) for item in body)


def _decode_dict(body, buffers, depth):
    if type(body) is not dict:
        raise ProtocolError("a dict must hold an object")
    return {key: _from_tree(item, buffers, depth + 1) for key, item in body.items()}


def _decode_handle(body, buffers, depth):
    if type(body) is not int:
        raise ProtocolError("a handle must be an int")
    return Handle(body)


def _buffer_to_array(body, buffers, allowed):
    if type(body) is not list or len(body) != 3:
        raise ProtocolError("an array needs [dtype, shape, buffer]")
    dtype, shape, index = body
    if type(dtype) is not str or dtype not in allowed:
        raise ProtocolError(f"dtype {dtype!r} is not allowed")
    if (type(shape) is not list or len(shape) > MAX_DIMENSIONS
            or not all(type(n) is int and n >= 0 for n in shape)
            or math.prod(max(n, 1) for n in shape) > MAX_ELEMENTS):
        raise ProtocolError("an array shape must be a short list of non-negative ints of a possible size")
    if type(index) is not int or not 0 <= index < len(buffers):
        raise ProtocolError("an array refers to a buffer that was not sent")
    numpy_dtype = np.dtype("uint16" if dtype == "bfloat16" else dtype)
    if math.prod(shape) * numpy_dtype.itemsize != len(buffers[index]):
        raise ProtocolError("an array's buffer does not match its shape and dtype")
    return np.frombuffer(buffers[index], dtype=numpy_dtype).reshape(shape).copy()


def _decode_array(body, buffers, depth):
    return _buffer_to_array(body, buffers, ARRAY_DTYPES)


def _decode_tensor(body, buffers, depth):
    import torch  # only when a tensor actually arrives

    array = _buffer_to_array(body, buffers, TENSOR_DTYPES)
    tensor = torch.from_numpy(array.view(np.int16) if body[0] == "bfloat16" else array)
    return tensor.view(torch.bfloat16) if body[0] == "bfloat16" else tensor


DECODERS = {"tuple": _decode_tuple, "dict": _decode_dict, "ndarray": _decode_array, "tensor": _decode_tensor,
            "handle": _decode_handle}
