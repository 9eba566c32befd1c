# Looks for what a previous candidate planted.
import os

PLACES = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", os.path.expanduser("~"), "."]


def solve():
    return {"found": [p for p in PLACES if os.path.exists(os.path.join(p, "planted-by-candidate"))]}
