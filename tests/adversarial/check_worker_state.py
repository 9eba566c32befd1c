# Reports what a previous candidate may have poisoned.
import math
import os

import numpy


def solve():
    return {"pi": numpy.pi, "tau": math.tau, "files": os.listdir(".")}
