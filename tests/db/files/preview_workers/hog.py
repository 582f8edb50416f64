"""A renderer that allocates without end (a decompression bomb's effect): the memory limit stops it."""

import sys

from db.files.preview_worker import limit

limit()
sys.stdin.buffer.read()
held = []
try:
    while True:
        held.append(bytearray(16 * 1024 * 1024))
except MemoryError:
    sys.exit(3)
