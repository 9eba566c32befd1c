# 10^8 doubles: far beyond the solution size cap.
import numpy as np


def solve():
    return {"circles": np.zeros(10**8)}
