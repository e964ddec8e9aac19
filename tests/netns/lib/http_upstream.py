#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""HTTP/1.1 upstream for the L7 netns tests (tests/netns/http-l7.sh).

usage: http_upstream.py --port PORT --name NAME [--addr ADDR] [--log FILE]
                        [--fail-first N | --always-fail] [--fail-status S]
                        [--delay-ms MS [--delay-first N]]
                        [--reset-after-bytes N]

A threaded HTTP/1.1 server (one thread per connection, keep-alive,
Content-Length and chunked request bodies, "Expect: 100-continue" answered
with a 100 before the body is read).  Every request gets the body
"NAME\\n" (NAME may contain "{local}": the address the connection reached,
so one server bound to several addresses names each) and the headers
x-upstream (NAME), x-path (the request target), x-conn (connection id),
x-seq (request number on the connection, from 1).

--log FILE: one JSON line per request received, written before the
response: {"name", "conn", "seq", "peer", "local", "method", "target",
"version", "headers": [[name, value], ...], "body_len", "status"}.  A
connection that ends (EOF, reset, bad framing) inside a request that had
sent any byte logs {"incomplete": true, "raw_len", "error", ...} instead,
so "nothing was forwarded" means "no new line in the log".

--fail-first N: the first N requests (over all connections) are answered
with --fail-status (default 503); --always-fail: every request.
--delay-ms MS: wait before answering (with --delay-first N only the first
N requests); a request header "x-delay-ms" sets it for that request,
"x-status" the status of the answer.
--reset-after-bytes N: send the first N bytes of each response, then
reset the connection (SO_LINGER 0).
SIGTERM/SIGINT exit 0.
"""
import argparse
import json
import signal
import socket
import struct
import sys
import threading
import time

MAX_HEAD = 256 * 1024


class Incomplete(Exception):
    pass


class Conn:
    """buffered reader over a socket"""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.seen = 0  # bytes of the current request read so far

    def fill(self):
        try:
            d = self.sock.recv(65536)
        except ConnectionError as e:
            raise Incomplete("recv: %s" % e)
        if not d:
            raise EOFError
        self.buf += d

    def read_until(self, sep, limit):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                self.seen += len(out)
                return out
            if len(self.buf) > limit:
                raise Incomplete("no %r within %d bytes" % (sep, limit))
            self.fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.seen += n
        return out


class Server:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.count = 0
        self.conns = 0
        self.log = open(a.log, "a", buffering=1) if a.log else None

    def record(self, entry):
        if not self.log:
            return
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()

    def next_status(self):
        """(status, delay in ms) for the next request"""
        with self.lock:
            self.count += 1
            n = self.count
        delay = self.a.delay_ms
        if self.a.delay_first is not None and n > self.a.delay_first:
            delay = 0
        if self.a.always_fail or n <= self.a.fail_first:
            return self.a.fail_status, delay
        return 200, delay

    def handle(self, sock, peer):
        with self.lock:
            self.conns += 1
            cid = self.conns
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        local = sock.getsockname()[0]
        name = self.a.name.replace("{local}", local)
        c = Conn(sock)
        seq = 0
        base = {"name": name, "conn": cid, "peer": "%s:%d" % peer[:2],
                "local": local}
        try:
            while True:
                c.seen = 0
                seq += 1
                try:
                    req = read_request(c)
                except EOFError:
                    if c.seen or c.buf:
                        self.record(dict(base, seq=seq, incomplete=True,
                                         raw_len=c.seen + len(c.buf),
                                         error="eof inside the request"))
                    return
                except (Incomplete, ValueError) as e:
                    self.record(dict(base, seq=seq, incomplete=True,
                                     raw_len=c.seen + len(c.buf),
                                     error=str(e)))
                    return
                method, target, version, headers, body_len = req
                status, delay = self.next_status()
                self.record(dict(base, seq=seq, method=method, target=target,
                                 version=version, headers=headers,
                                 body_len=body_len, status=status))
                h = header(headers, "x-status")
                if h is not None:
                    status = int(h)
                h = header(headers, "x-delay-ms")
                if h is not None:
                    delay = int(h)
                if delay:
                    time.sleep(delay / 1000.0)
                conn_tokens = [t.strip().lower() for v in all_headers(
                    headers, "connection") for t in v.split(",")]
                keep = ("close" not in conn_tokens and
                        (version == "HTTP/1.1" or "keep-alive" in conn_tokens))
                body = (name + "\n").encode()
                reason = {200: "OK", 500: "Internal Server Error",
                          502: "Bad Gateway", 503: "Service Unavailable",
                          504: "Gateway Timeout"}.get(status, "Status")
                resp = ("HTTP/1.1 %d %s\r\ncontent-type: text/plain\r\n"
                        "content-length: %d\r\nx-upstream: %s\r\n"
                        "x-path: %s\r\nx-conn: %d\r\nx-seq: %d\r\n%s\r\n" % (
                            status, reason, len(body), name, target, cid,
                            seq, "" if keep else "connection: close\r\n")
                        ).encode("latin-1")
                if method != "HEAD":
                    resp += body
                if self.a.reset_after_bytes is not None:
                    sock.sendall(resp[:self.a.reset_after_bytes])
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    return
                sock.sendall(resp)
                if not keep:
                    return
        except OSError:
            return
        finally:
            sock.close()


def header(headers, name):
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def all_headers(headers, name):
    return [v for n, v in headers if n.lower() == name]


def read_request(c):
    """reads one request; (method, target, version, headers, body_len)"""
    head = c.read_until(b"\r\n\r\n", MAX_HEAD).decode("latin-1")
    lines = head[:-4].split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise Incomplete("bad request line %r" % lines[0][:200])
    method, target, version = parts
    headers = []
    for ln in lines[1:]:
        n, sep, v = ln.partition(":")
        if not sep:
            raise Incomplete("field without colon %r" % ln[:200])
        headers.append([n, v.strip(" \t")])
    if (version == "HTTP/1.1" and (header(headers, "expect") or "").lower()
            == "100-continue"):
        c.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    te = all_headers(headers, "transfer-encoding")
    cl = all_headers(headers, "content-length")
    body_len = 0
    if te:
        if te[-1].split(",")[-1].strip().lower() != "chunked":
            raise Incomplete("transfer-encoding %r" % te)
        while True:
            size_line = c.read_until(b"\r\n", 8192)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while c.read_until(b"\r\n", MAX_HEAD) != b"\r\n":
                    pass  # trailers
                break
            c.read_exact(size)
            body_len += size
            if c.read_exact(2) != b"\r\n":
                raise Incomplete("chunk data not followed by CRLF")
    elif cl:
        n = int(cl[0])
        c.read_exact(n)
        body_len = n
    return method, target, version, headers, body_len


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--addr", default="0.0.0.0")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--log")
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--always-fail", action="store_true")
    p.add_argument("--fail-status", type=int, default=503)
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--delay-first", type=int)
    p.add_argument("--reset-after-bytes", type=int)
    a = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
    srv = Server(a)
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.addr, a.port))
    ls.listen(512)
    while True:
        s, peer = ls.accept()
        threading.Thread(target=srv.handle, args=(s, peer),
                         daemon=True).start()


if __name__ == "__main__":
    main()
