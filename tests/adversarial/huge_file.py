# Writes a 10 GB file in its working directory: the file-size limit must stop it.
def solve():
    chunk = b"\0" * (1 << 20)
    with open("huge.bin", "wb") as fh:
        for _ in range(10 * 1024):
            fh.write(chunk)
    return {}
