# Looks for a SysV shared-memory segment a previous candidate left.
def solve():
    with open("/proc/sysvipc/shm") as fh:
        rows = fh.read().splitlines()[1:]
    return {"segments": len(rows)}
