#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A TLS 1.3 mesh client that holds its last flight (tests/netns/pool.sh).

usage: hs-hold.py HOST PORT CERT KEY CA GO

Connects, sends the ClientHello and reads the server's flight until the
client side of the handshake is done, then prints "held" and waits for a
line from the file GO (a fifo: stdin of a background job is /dev/null) before
it sends its Certificate/CertificateVerify/Finished
flight ("sent").  The server's handshake therefore completes only when the
test says so.  Then it sends nothing (no preamble, as a pool refill) and
prints how the server ended the connection and how many seconds after
"sent": "eof 0.98", "reset 1.02", or "data N" for bytes the server sent.
"""
import socket
import ssl
import sys
import time


def main():
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    host, port, cert, key, ca, go = sys.argv[1:]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False  # a SPIFFE URI SAN, no DNS name
    ctx.load_verify_locations(ca)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["sluice/1"])
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_side=False)
    s = socket.create_connection((host, int(port)), timeout=60)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pending = out.read()
            if pending:
                s.sendall(pending)
            data = s.recv(65536)
            if not data:
                sys.exit("hs-hold: the server closed during the handshake")
            inc.write(data)
    held = out.read()
    if not held:
        sys.exit("hs-hold: no client flight to hold")
    print("held", flush=True)
    with open(go) as f:
        if not f.readline():
            sys.exit("hs-hold: %s ended before a line" % go)
    t0 = time.monotonic()
    s.sendall(held)
    print("sent", flush=True)
    got = 0
    try:
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += len(data)
    except ConnectionResetError:
        print("reset %.2f" % (time.monotonic() - t0), flush=True)
        return
    if got:
        print("data %d" % got, flush=True)
    else:
        print("eof %.2f" % (time.monotonic() - t0), flush=True)


if __name__ == "__main__":
    main()
