# Reads the database in the run directory and plants a file there (path substituted).
import os

RUN_DIR = "__RUN_DIR__"


def solve():
    with open(os.path.join(RUN_DIR, "programs.sqlite"), "rb") as fh:
        stolen = fh.read().decode()
    with open(os.path.join(RUN_DIR, "planted.txt"), "w") as fh:
        fh.write("owned")
    return {"stolen": stolen}
