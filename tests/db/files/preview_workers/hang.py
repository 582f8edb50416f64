"""A renderer that never finishes and uses no CPU doing it (waiting on something that never comes)."""

import sys
import time

from db.files.preview_worker import limit

limit()
sys.stdin.buffer.read()
time.sleep(3600)
