# Every process keeps forking; the process cap must hold it and the deadline end it.
import os


def solve():
    while True:
        try:
            os.fork()
        except OSError:
            pass
