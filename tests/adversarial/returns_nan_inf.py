# Numbers the trusted verifier must reject; the sandbox hands them back as data.
import numpy as np


def solve():
    circles = np.full((26, 3), 0.1)
    circles[0, 0] = np.nan
    circles[1, 2] = np.inf
    return {"circles": circles}
