# Connects to a socket the test listens on (port substituted by the test) and talks to it.
import socket


def solve():
    conn = socket.create_connection(("127.0.0.1", __PORT__), timeout=1)
    conn.sendall(b"exfiltrated")
    conn.close()
    return {"connected": True}
