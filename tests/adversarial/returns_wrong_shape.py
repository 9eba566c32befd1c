# Valid JSON data, wrong shape for the task: for the verifier to reject.
def solve():
    return {"circles": [[0.5, 0.5], [0.1]]}
