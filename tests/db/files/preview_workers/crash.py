"""A renderer that dies as pdfium did on a hostile file: a segmentation fault."""

import os
import signal
import sys

sys.stdin.buffer.read()
os.kill(os.getpid(), signal.SIGSEGV)
