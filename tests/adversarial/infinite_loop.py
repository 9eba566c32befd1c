# Burns CPU forever: must end as TIMEOUT at the deadline.
def solve():
    while True:
        pass
