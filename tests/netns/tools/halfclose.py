#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Half-close peers for tests/netns/half-close.sh.

usage: halfclose.py serve PORT stuck
       halfclose.py serve PORT slow CHUNKS GAP
       halfclose.py check IP PORT WAIT

serve stuck: accept connections and never read, write or close them.
serve slow:  read until EOF, then send CHUNKS lines of 16 bytes GAP seconds
             apart, then close (a response streaming after the client's FIN).
check:       connect, send a request, half-close, read until the end (at
             most WAIT seconds) and print how it ended and when:
             "reset SECONDS BYTES", "eof SECONDS BYTES" or "timeout BYTES".
"""
import socket
import sys
import threading
import time


def serve_stuck(conn):
    held.append(conn)  # never read, never closed


def serve_slow(conn, chunks, gap):
    with conn:
        while conn.recv(65536):
            pass
        for i in range(chunks):
            time.sleep(gap)
            conn.sendall(b"chunk %09d\n" % i)
        conn.shutdown(socket.SHUT_WR)


held = []


def serve(port, mode, args):
    lsock = socket.create_server(("0.0.0.0", port), reuse_port=False)
    while True:
        conn, _ = lsock.accept()
        if mode == "stuck":
            serve_stuck(conn)
        else:
            threading.Thread(target=serve_slow,
                             args=(conn, int(args[0]), float(args[1])),
                             daemon=True).start()


def check(ip, port, wait):
    sock = socket.create_connection((ip, port), timeout=5)
    sock.sendall(b"request\n")
    sock.shutdown(socket.SHUT_WR)
    t0 = time.monotonic()
    sock.settimeout(wait)
    total = 0
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                print("eof %.2f %d" % (time.monotonic() - t0, total))
                return
            total += len(data)
    except ConnectionResetError:
        print("reset %.2f %d" % (time.monotonic() - t0, total))
    except socket.timeout:
        print("timeout %d" % total)


def main():
    a = sys.argv[1:]
    if len(a) >= 3 and a[0] == "serve" and a[2] in ("stuck", "slow"):
        serve(int(a[1]), a[2], a[3:])
    elif len(a) == 4 and a[0] == "check":
        check(a[1], int(a[2]), float(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
