# A grandchild inherits stdout/stderr/result and sleeps; the candidate itself then dies.
# A runner that waits for EOF on the pipes would hang until the grandchild exits.
import os
import subprocess


def solve():
    subprocess.Popen(["sleep", "987654"])
    print("started the grandchild", flush=True)
    os._exit(3)
