"""A TCP proxy that counts the bytes it carries each way (bench only).

    python3 bench/byte_proxy.py LISTEN_PORT TARGET_PORT COUNTS_FILE

Every connection's totals are added to COUNTS_FILE as "up down" lines.
"""
import socket
import sys
import threading

listen_port, target_port, counts = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()


def pump(src, dst, total):
    while True:
        data = src.recv(65536)
        if not data:
            break
        total[0] += len(data)
        dst.sendall(data)
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(client):
    upstream = socket.create_connection(("127.0.0.1", target_port))
    up, down = [0], [0]
    t = threading.Thread(target=pump, args=(client, upstream, up))
    t.start()
    pump(upstream, client, down)
    t.join()
    client.close()
    upstream.close()
    with lock, open(counts, "a") as f:
        f.write("%d %d\n" % (up[0], down[0]))


server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen_port))
server.listen(64)
while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
