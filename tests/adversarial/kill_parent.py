# Tries to kill its parent (the worker) and the process that runs the evaluation.
import os
import signal


def solve():
    os.kill(os.getppid(), signal.SIGKILL)
    os.kill(__HOST_PID__, signal.SIGKILL)
    return {"killed": True}
