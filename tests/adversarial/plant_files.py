# Tries to leave files where the next candidate (or the host) would find them.
import os

PLACES = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", os.path.expanduser("~"), "."]


def solve():
    planted = []
    for place in PLACES:
        try:
            with open(os.path.join(place, "planted-by-candidate"), "w") as fh:
                fh.write("boo")
            planted.append(place)
        except OSError:
            pass
    return {"planted": planted}
