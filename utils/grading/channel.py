"""Messages between the grader and a student's process: framed plain data over pipes.

The student's process talks to the grader over two dedicated pipes, never over its
stdout, which the student's own ``print`` calls share. A message is

    b"DLBG" | request id (uint64) | JSON length (uint32) | buffer count (uint32) | JSON
            | buffer lengths (uint64 each) | buffers

(big-endian; the JSON and buffers are ``plain.encode``'s output). The grader numbers its
requests and a reply carries the number of the request it answers, so a reply the student's
code forged or sent twice is recognised as such instead of being taken for the answer to a
later call. The reading side checks every length against a budget before it reads, and
waits for the bytes, and decodes them, only until a deadline, so a silent, slow or
babbling process cannot stall the grader or fill its memory.
"""

import os
import select
import struct
import time

from . import plain

MAGIC = b"DLBG"
HEADER = struct.Struct(">4sQII")
LENGTH = struct.Struct(">Q")
MAX_BUFFERS = 4096
DEFAULT_MAX_BYTES = 64 * 2**20  # a reply larger than this is refused (a state_dict of 1M floats is 4 MB)


class ChannelClosed(EOFError):
    """The other side closed its end: the process ended."""


class ChannelTimeout(TimeoutError):
    """No complete message arrived before the deadline."""


def send(fd, value, deadline=None, request_id=0):
    """Write ``value`` as one message (a request numbered ``request_id``, or the reply to it).
    With a ``deadline`` (``time.monotonic()`` value) the write gives up with ``ChannelTimeout``
    rather than block on a process that stopped reading."""
    json_bytes, buffers = plain.encode(value)
    parts = [HEADER.pack(MAGIC, request_id, len(json_bytes), len(buffers)), json_bytes,
             *(LENGTH.pack(len(b)) for b in buffers), *buffers]
    for part in parts:
        _write_all(fd, memoryview(part), deadline)


def receive(fd, deadline=None, max_bytes=DEFAULT_MAX_BYTES, request_id=None):
    """Read one message and return its value (exact built-in types, see ``plain.decode``).
    With a ``request_id``, the message must be the reply to that request."""
    number, value = receive_request(fd, deadline, max_bytes)
    if request_id is not None and number != request_id:
        raise plain.ProtocolError(f"a reply to request {number} came when {request_id} was awaited")
    return value


def receive_request(fd, deadline=None, max_bytes=DEFAULT_MAX_BYTES):
    """Read one message; return ``(request id, value)``."""
    magic, number, json_length, count = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))
    if magic != MAGIC:
        raise plain.ProtocolError("a message did not start with the expected marker")
    if json_length > min(max_bytes, plain.MAX_JSON_BYTES) or count > MAX_BUFFERS:
        raise plain.ProtocolError("a message announced more data than allowed")
    json_bytes = _read_exactly(fd, json_length, deadline)
    lengths = [LENGTH.unpack(_read_exactly(fd, LENGTH.size, deadline))[0] for _ in range(count)]
    if json_length + sum(lengths) > max_bytes:
        raise plain.ProtocolError(f"a reply larger than {max_bytes // 2**20} MiB was refused")
    buffers = [_read_exactly(fd, n, deadline) for n in lengths]
    value = plain.decode(json_bytes, buffers)
    if deadline is not None and time.monotonic() > deadline:
        raise ChannelTimeout()  # decoding counts against the same deadline as reading
    return number, value


def _wait(fd, event, deadline):
    if deadline is None:
        return
    poller = select.poll()
    poller.register(fd, event)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ChannelTimeout()
        if poller.poll(left * 1000):
            return


def _read_exactly(fd, count, deadline):
    chunks = []
    while count:
        _wait(fd, select.POLLIN, deadline)
        chunk = os.read(fd, min(count, 2**20))
        if not chunk:
            raise ChannelClosed()
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def _write_all(fd, view, deadline):
    while view:
        _wait(fd, select.POLLOUT, deadline)
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            continue
        except BrokenPipeError:
            raise ChannelClosed() from None
        view = view[written:]
