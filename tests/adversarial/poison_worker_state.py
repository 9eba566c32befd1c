# Changes module state it inherited from the warm worker; the next candidate must not see it.
import math

import numpy


def solve():
    numpy.pi = 3.0
    math.tau = 0.0
    return {"poisoned": True}
