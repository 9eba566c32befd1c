# Looks for the parent's secret in its own environment and in every /proc/*/environ.
import os

NAME = "THETAEVOLVE_TEST_SECRET"


def solve():
    found = [v for k, v in os.environ.items() if k == NAME]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/environ", "rb") as fh:
                    if NAME.encode() in fh.read():
                        found.append(pid)
            except OSError:
                pass
    if not found:
        raise LookupError("no secret found")
    return {"found": found}
