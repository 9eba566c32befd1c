"""Marks at 2^k - 1: every difference 2^a - 2^b is distinct, but the ruler is long (511)."""


# EVOLVE-BLOCK-START
def marks():
    return [0, 1, 3, 7, 15, 31, 63, 127, 255, 511]
# EVOLVE-BLOCK-END


def solve():
    return {"marks": marks()}
