# Each of 8 children stays under the per-process address-space limit, but together they take
# several times the memory limit.
import os
import time


def solve():
    for _ in range(8):
        if os.fork() == 0:
            hoard = bytearray(400 << 20)  # zero-filled: every page is touched
            time.sleep(60)
            os._exit(len(hoard) & 1)
    time.sleep(60)
