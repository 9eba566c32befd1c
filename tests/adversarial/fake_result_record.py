# Writes garbage straight to the result channel, then returns normally.
import os


def solve():
    os.write(3, b'{"solution": {"x": 1}} trailing garbage')
    return {"x": 2}
