# Counts how many children it can start before the process cap refuses one.
import os
import time


def solve():
    forked = 0
    try:
        while forked < 500:
            if os.fork() == 0:
                time.sleep(30)
                os._exit(0)
            forked += 1
    except OSError:
        pass
    return {"forked": forked}
