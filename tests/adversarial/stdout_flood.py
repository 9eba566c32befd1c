# 10 GB to stdout: the output cap must cut it long before it completes.
import sys


def solve():
    chunk = "x" * (1 << 20)
    for _ in range(10 * 1024):
        sys.stdout.write(chunk)
    return {}
