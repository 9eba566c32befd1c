# One enormous numpy allocation (80 GB).
import numpy as np


def solve():
    return {"x": np.ones(10**10)}
