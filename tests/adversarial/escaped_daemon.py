# Double-forks a daemon in its own session (out of reach of killpg), then returns normally.
# The daemon must not survive to see or touch the next candidate.
import os
import time


def solve():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                time.sleep(0.05)
        os._exit(0)
    return {"daemon": "started"}
