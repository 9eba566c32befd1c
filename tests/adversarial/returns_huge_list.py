# A plain list whose JSON text exceeds the solution size cap.
def solve():
    return {"circles": [0.123456789] * (5 * 10**5)}
