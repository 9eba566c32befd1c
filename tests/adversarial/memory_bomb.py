# Grabs memory in 64 MiB chunks, touching every page, until something stops it.
def solve():
    hoard = []
    while True:
        hoard.append(bytearray(64 << 20))
