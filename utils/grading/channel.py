"""Messages between the grader and a student's process: framed plain data over pipes.

The student's process talks to the grader over two dedicated pipes, never over its
stdout, which the student's own ``print`` calls share. A message is

    b"DLBG" | JSON length (uint32) | buffer count (uint32) | JSON | buffer lengths (uint64 each) | buffers

(big-endian; the JSON and buffers are ``plain.encode``'s output). The reading side
checks every length against a budget before it reads, and waits for the bytes only
until a deadline, so a silent, slow or babbling process cannot stall the grader or
fill its memory.
"""

import os
import select
import struct
import time

from . import plain

MAGIC = b"DLBG"
HEADER = struct.Struct(">4sII")
LENGTH = struct.Struct(">Q")
MAX_BUFFERS = 4096
DEFAULT_MAX_BYTES = 64 * 2**20  # a reply larger than this is refused (a state_dict of 1M floats is 4 MB)


class ChannelClosed(EOFError):
    """The other side closed its end: the process ended."""


class ChannelTimeout(TimeoutError):
    """No complete message arrived before the deadline."""


def send(fd, value, deadline=None):
    """Write ``value`` as one message. With a ``deadline`` (``time.monotonic()`` value) the
    write gives up with ``ChannelTimeout`` rather than block on a process that stopped reading."""
    json_bytes, buffers = plain.encode(value)
    parts = [HEADER.pack(MAGIC, len(json_bytes), len(buffers)), json_bytes,
             *(LENGTH.pack(len(b)) for b in buffers), *buffers]
    for part in parts:
        _write_all(fd, memoryview(part), deadline)


def receive(fd, deadline=None, max_bytes=DEFAULT_MAX_BYTES):
    """Read one message and return its value (exact built-in types, see ``plain.decode``)."""
    magic, json_length, count = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))
    if magic != MAGIC:
        raise plain.ProtocolError("a message did not start with the expected marker")
    if json_length > max_bytes or count > MAX_BUFFERS:
        raise plain.ProtocolError("a message announced more data than allowed")
    json_bytes = _read_exactly(fd, json_length, deadline)
    lengths = [LENGTH.unpack(_read_exactly(fd, LENGTH.size, deadline))[0] for _ in range(count)]
    if json_length + sum(lengths) > max_bytes:
        raise plain.ProtocolError(f"a reply larger than {max_bytes // 2**20} MiB was refused")
    buffers = [_read_exactly(fd, n, deadline) for n in lengths]
    return plain.decode(json_bytes, buffers)


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
