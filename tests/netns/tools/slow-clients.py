#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Slow local clients against sluiced's telemetry port and admin socket
(tests/netns/slow-clients.sh, issue 24).

usage: slow-clients.py http PORT
       slow-clients.py admin SOCKET SLUICE

http: 20 clients that send nothing and 10 that trickle a request head one
byte per 200 ms; GET /healthz must be answered 200 within 1 s; 100 more
silent clients (over the server's cap of 64); /healthz again within 1 s;
then every slow client must be closed by the server within the 2 s head
deadline + 1.5 s.

admin: 200 connections that send nothing; `SLUICE -s SOCKET status` must
succeed within 2 s; a request of one NUL byte is answered with an error
naming it; every idle connection must be closed within the 5 s idle
deadline + 1.5 s.

Prints "ok - ..." lines; exits 1 with the reason on the first failure.
"""
import select
import socket
import subprocess
import sys
import threading
import time

HEAD_S, ADMIN_IDLE_S = 2.0, 5.0


def fail(msg):
    print("not ok - " + msg, flush=True)
    sys.exit(1)


def healthz(port):
    t0 = time.monotonic()
    data = b""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1.0)
    except OSError as e:
        fail("/healthz: connect: %s after %.2f s" % (e, time.monotonic() - t0))
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        while True:
            b = s.recv(4096)
            if not b:
                break
            data += b
    except OSError as e:
        fail("/healthz: %s after %.2f s" % (e, time.monotonic() - t0))
    finally:
        s.close()
    dt = time.monotonic() - t0
    if dt > 1.0 or not data.startswith(b"HTTP/1.1 200 OK\r\n"):
        fail("/healthz: %r after %.2f s" % (data[:40], dt))
    return dt


def silent(family, addr, n):
    out = []
    for _ in range(n):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(addr)
        except BlockingIOError:
            pass
        out.append(s)
    return out


def wait_closed(socks, limit, what):
    """every socket in socks closed by the peer (EOF or reset) by limit"""
    left = set(socks)
    while left and time.monotonic() < limit:
        r, _, _ = select.select(list(left), [], [], 0.1)
        for s in r:
            try:
                if not s.recv(4096):
                    left.discard(s)
            except BlockingIOError:
                pass
            except OSError:
                left.discard(s)
    if left:
        fail("%d of %d %s still open" % (len(left), len(socks), what))


def http(port):
    addr = ("127.0.0.1", port)
    quiet = silent(socket.AF_INET, addr, 20)
    trick = silent(socket.AF_INET, addr, 10)
    stop = threading.Event()

    def trickle():
        head = b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 64
        i = 0
        while not stop.is_set() and i < len(head):
            for s in trick:
                try:
                    s.send(head[i:i + 1])
                except OSError:
                    pass
            i += 1
            stop.wait(0.2)

    th = threading.Thread(target=trickle)
    th.start()
    time.sleep(0.3)
    dt = healthz(port)
    print("ok - /healthz in %.3f s with 30 slow clients" % dt, flush=True)
    more = silent(socket.AF_INET, addr, 100)
    time.sleep(0.3)
    dt = healthz(port)
    print("ok - /healthz in %.3f s with 130 slow clients (cap 64)" % dt,
          flush=True)
    wait_closed(quiet + trick + more, time.monotonic() + HEAD_S + 1.5,
                "slow telemetry clients")
    stop.set()
    th.join()
    print("ok - every slow telemetry client closed by the deadline",
          flush=True)


def admin(path, sluice):
    idle = []
    for _ in range(200):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.setblocking(False)
        idle.append(s)
    t_idle = time.monotonic()
    t0 = time.monotonic()
    try:
        r = subprocess.run([sluice, "-s", path, "status"], timeout=2.0,
                           capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        fail("sluice status with 200 idle admin connections: no answer in 2 s")
    if r.returncode != 0:
        fail("sluice status with 200 idle admin connections: exit %d: %s" %
             (r.returncode, r.stderr.strip()))
    print("ok - sluice status in %.3f s with 200 idle admin connections" %
          (time.monotonic() - t0), flush=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    s.connect(path)
    s.sendall(b"\0")
    s.shutdown(socket.SHUT_WR)
    ans = b""
    try:
        while True:
            b = s.recv(4096)
            if not b:
                break
            ans += b
    except OSError as e:
        fail("NUL request: %s" % e)
    s.close()
    if ans != b'{"error":"request contains a NUL byte"}\n':
        fail("NUL request answered %r" % ans)
    print("ok - a NUL request is answered with an error", flush=True)
    wait_closed(idle, t_idle + ADMIN_IDLE_S + 1.5, "idle admin connections")
    print("ok - every idle admin connection closed by the deadline",
          flush=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "http":
        http(int(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "admin":
        admin(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
