# Dereferences a null pointer through ctypes.
import ctypes


def solve():
    ctypes.string_at(0)
    return {}
