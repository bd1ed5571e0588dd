#!/usr/bin/env python3
# A WebSocket client for the shell tests, written against RFC 6455 by hand
# (no library: what the server must accept and send is the point).
#   ws_client.py URL [--cookie C] [--origin O] [--send TEXT] [--expect TEXT] [--wait S] [--tick S] [--until TEXT]
# Prints "status N", then for a 101 the text it received ("output: ..."), and
# "close CODE REASON" when the server closed.  --send is sent (as keystrokes)
# (with \n, \r escapes) once --expect has been seen (or at once without it); it waits for the close
# at most --wait seconds.
import argparse, base64, os, socket, struct, sys, time
from urllib.parse import urlsplit

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("--cookie")
ap.add_argument("--origin")
ap.add_argument("--send")
ap.add_argument("--expect")
ap.add_argument("--wait", type=float, default=20)
ap.add_argument("--until")  # leave as soon as this text came (after --send)
ap.add_argument("--tick", type=float, default=0)  # an empty keystroke frame this often: never idle
a = ap.parse_args()
if a.send is not None:  # "node().\n": the escapes a shell's $'...' would give
    a.send = a.send.encode().decode("unicode_escape")
u = urlsplit(a.url)
s = socket.create_connection((u.hostname, u.port))
key = base64.b64encode(os.urandom(16)).decode()
req = [f"GET {u.path}{'?' + u.query if u.query else ''} HTTP/1.1", f"Host: {u.netloc}",
       "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
       "Sec-WebSocket-Version: 13"]
if a.origin:
    req.append(f"Origin: {a.origin}")
if a.cookie:
    req.append(f"Cookie: {a.cookie}")
s.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
s.settimeout(a.wait)
data = b""
while b"\r\n\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
head, _, rest = data.partition(b"\r\n\r\n")
status = int(head.split(b" ")[1]) if head else 0
print(f"status {status}")
if status != 101:
    sys.exit(0)

def frame(opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    h = bytes([0x80 | opcode])
    h += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n)
    return h + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

out, sent, deadline = b"", a.send is None, time.time() + a.wait
if a.send is not None and a.expect is None:
    s.sendall(frame(1, a.send.encode()))
    sent = True
buf = rest
while time.time() < deadline:
    while len(buf) >= 2:
        op, n, hl = buf[0] & 15, buf[1] & 127, 2
        if n == 126:
            if len(buf) < 4: break
            n, hl = struct.unpack(">H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10: break
            n, hl = struct.unpack(">Q", buf[2:10])[0], 10
        if len(buf) < hl + n:
            break
        payload, buf = buf[hl:hl + n], buf[hl + n:]
        if op == 8:
            code = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else 0
            print("output: " + out.decode(errors="replace").replace("\r", "").replace("\n", "\\n"))
            print(f"close {code} {payload[2:].decode(errors='replace')}")
            sys.exit(0)
        out += payload
        if sent and a.until and a.until.encode() in out:
            print("output: " + out.decode(errors="replace").replace("\r", "").replace("\n", "\\n"))
            print("left")
            sys.exit(0)
        if not sent and a.expect and a.expect.encode() in out:
            s.sendall(frame(1, a.send.encode()))
            sent = True
    if a.tick:
        s.settimeout(a.tick)
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        if a.tick and time.time() < deadline:
            s.sendall(frame(1, b""))
            continue
        break
    if not chunk:
        break
    buf += chunk
print("output: " + out.decode(errors="replace").replace("\r", "").replace("\n", "\\n"))
print("no close")
