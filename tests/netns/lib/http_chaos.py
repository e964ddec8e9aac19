#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Adversarial HTTP/1.1 clients and upstreams for tests/netns/http-chaos.sh.

usage: http_chaos.py upstream --port PORT [--seed N]
       http_chaos.py client --vip IP [--vip IP ...] --seconds S
                            [--threads N] [--seed N]
       http_chaos.py one MODE VIP   (one client case, for a reproduction)

upstream: a threaded server that misbehaves per request.  The target
"/x/MODE..." picks the behaviour (MODE "rand": one drawn per request from
the seeded generator); anything else gets a plain 200 "ok\\n" keep-alive.
Modes (UP_MODES): ok, close_before, rst_before, close_mid, rst_mid,
garbage, early (a response before reading the body, then close), two (two
responses at once), flood1xx (a flood of 100 Continue, then a 200),
unasked101, never (holds the connection, answers nothing), cl_short
(Content-Length shorter than the body sent), cl_long (longer, then close),
chunk_garbage, idle_close (a keep-alive 200, then close 30 ms later while
idle), huge_head (a response head over 64 KiB), trickle (the response one
byte at a time), rst_after (a whole response, then a reset), chunked_ok.

client: THREADS threads for SECONDS seconds, each in a loop: a new
connection to a random VIP, a random case of CASES (valid and invalid
requests, the smuggling table, huge and slow heads, pipelined bursts,
bodies that stop early, bad chunk sizes, half-closes, resets, random
cut-off points), then an ending (close, reset with SO_LINGER 0, or
shutdown(SHUT_WR) and read).  Every socket operation has a short timeout;
errors are expected and counted.  Prints one JSON line: cases run and
connections made.  Deterministic for a seed, up to thread scheduling.
"""
import argparse
import json
import random
import socket
import struct
import sys
import threading
import time

# ---- upstream ----------------------------------------------------------------

UP_MODES = ["ok", "close_before", "rst_before", "close_mid", "rst_mid",
            "garbage", "early", "two", "flood1xx", "unasked101", "never",
            "cl_short", "cl_long", "chunk_garbage", "idle_close",
            "huge_head", "trickle", "rst_after", "chunked_ok"]


def rst(s):
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                     struct.pack("ii", 1, 0))
    except OSError:
        pass
    s.close()


class UpConn:
    def __init__(self, s, rng):
        self.s = s
        self.buf = b""
        self.rng = rng

    def fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 256 * 1024:
                raise EOFError
            self.fill()
        h, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return h

    def body(self, h):
        lines = h.split(b"\r\n")
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        if b"content-length" in hdrs:
            n = int(hdrs[b"content-length"])
            while len(self.buf) < n:
                self.fill()
            self.buf = self.buf[n:]
        elif hdrs.get(b"transfer-encoding", b"").lower() == b"chunked":
            # good enough for what the engine forwards (checked chunks)
            while b"0\r\n\r\n" not in self.buf:
                self.fill()
            self.buf = self.buf.split(b"0\r\n\r\n", 1)[1]


def up_serve(s, rng):
    c = UpConn(s, rng)
    s.settimeout(3)
    try:
        while True:
            h = c.head()
            line = h.split(b"\r\n", 1)[0].split(b" ")
            target = line[1] if len(line) > 1 else b"/"
            mode = "ok"
            if target.startswith(b"/x/"):
                mode = target[3:].split(b"/")[0].split(b"?")[0].decode(
                    "ascii", "replace")
                if mode == "rand":
                    mode = rng.choice(UP_MODES)
                if mode not in UP_MODES + ["flood1xx_huge"]:
                    mode = "ok"
            if mode not in ("early", "never", "close_before", "rst_before",
                            "two"):
                c.body(h)
            if not up_mode(c, s, mode):
                return
    except (OSError, EOFError, ValueError):
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"


def up_mode(c, s, mode):
    """answer one request; False: the connection is over"""
    rng = c.rng
    if mode == "ok":
        s.sendall(OK)
        return True
    if mode == "chunked_ok":
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nok\n\r\n0\r\n\r\n")
        return True
    if mode == "close_before":
        s.close()
        return False
    if mode == "rst_before":
        rst(s)
        return False
    if mode == "close_mid":
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" +
                  b"m" * rng.randrange(0, 999))
        s.close()
        return False
    if mode == "rst_mid":
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
        rst(s)
        return False
    if mode == "garbage":
        s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
        s.close()
        return False
    if mode == "early":
        s.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n"
                  b"Connection: close\r\n\r\n")
        time.sleep(0.05)
        s.close()
        return False
    if mode == "two":
        s.sendall(OK + OK)
        return True
    if mode == "flood1xx":
        s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n" * rng.choice([1, 50, 5000]) +
                  OK)
        return True
    if mode == "flood1xx_huge":
        # 16 MiB of interim responses, then the answer
        s.sendall(b"HTTP/1.1 100 \r\n\r\n" * 1048576 + OK)
        return True
    if mode == "unasked101":
        s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\n\r\nraw bytes")
        time.sleep(0.05)
        s.close()
        return False
    if mode == "never":
        time.sleep(2.5)
        s.close()
        return False
    if mode == "cl_short":
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" + b"s" * 40)
        return True
    if mode == "cl_long":
        s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"l" * 20)
        time.sleep(0.1)
        s.close()
        return False
    if mode == "chunk_garbage":
        s.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"3\r\nok\n\r\nzz\r\nnope\r\n")
        time.sleep(0.05)
        s.close()
        return False
    if mode == "idle_close":
        s.sendall(OK)
        time.sleep(0.03)
        s.close()
        return False
    if mode == "huge_head":
        s.sendall(b"HTTP/1.1 200 OK\r\nX-Big: " + b"b" * 70000 +
                  b"\r\nContent-Length: 3\r\n\r\nok\n")
        return True
    if mode == "trickle":
        for ch in OK:
            s.sendall(bytes([ch]))
            time.sleep(0.002)
        return True
    if mode == "rst_after":
        s.sendall(OK)
        time.sleep(0.01)
        rst(s)
        return False
    s.sendall(OK)
    return True


def upstream(a):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", a.port))
    ls.listen(512)
    n = 0
    while True:
        s, _ = ls.accept()
        n += 1
        rng = random.Random(a.seed * 1000003 + n)
        threading.Thread(target=up_serve, args=(s, rng), daemon=True).start()


# ---- client ------------------------------------------------------------------

def req(path, host="chaos", extra=b"", method=b"GET", body=b""):
    h = method + b" " + path.encode() + b" HTTP/1.1\r\nHost: " + \
        host.encode() + b"\r\n" + extra
    if body:
        h += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    return h + b"\r\n" + body


# the refused-input table of docs/HTTP.md (requests): each one must be
# refused whole, nothing of it forwarded
SMUGGLE = [
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Length: 4\r\n\r\n0\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nContent-Length: 5\r\n"
    b"Content-Length: 5\r\n\r\nhello",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nContent-Length: 5, 5\r\n\r\nhello",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nContent-Length:\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nContent-Length: +5\r\n\r\nhello",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nContent-Length: -1\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nContent-Length: 0x10\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: gzip\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked,\r\n\r\n",
    b"POST /x/ok HTTP/1.0\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost: c\r\nX-A: b\r\n  folded\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost : c\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost: c\r\nX-A: a\x00b\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost: c\r\nX-A: a\rb\r\n\r\n",
    b"GET /x/ok HTTP/1.1\nHost: c\n\n",
    b"GET /x/ok HTTP/1.1\r\nHost: c\r\n: empty\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost: c\r\nX(A): b\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost: c\r\nno colon\r\n\r\n",
    b"\r\nGET /x/ok HTTP/1.1\r\nHost: c\r\n\r\n",
    b"GET  HTTP/1.1\r\nHost: c\r\n\r\n",
    b"GET * HTTP/1.1\r\nHost: c\r\n\r\n",
    b"GET /x/ok HTTP/1.10\r\nHost: c\r\n\r\n",
    b"GET /x/ok HTTP/2.0\r\nHost: c\r\n\r\n",
    b"GET http://a:80/x/ok HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost: c\r\nHost: c\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost: a b\r\n\r\n",
    b"GET /x/ok HTTP/1.1\r\nHost: c\r\nConnection: a b\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"10000000000000000\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5 \r\nhello\r\n0\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;\r\nhello\r\n0\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhelloXX0\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\nhello\r\n0\r\n\r\n",
    b"POST /x/ok HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\nX : y\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    b"\x00\x01\x02 not http\r\n\r\n",
]


def chunked(body, rng):
    out = b""
    i = 0
    while i < len(body):
        n = rng.randrange(1, 5000)
        out += b"%x\r\n" % len(body[i:i + n]) + body[i:i + n] + b"\r\n"
        i += n
    return out + b"0\r\n\r\n"


def upath(rng):
    return "/x/" + rng.choice(UP_MODES + ["rand"] * 4) + "/%d" % rng.randrange(1 << 30)


def c_case(rng, s, name):
    """send the case NAME on the connected socket s"""
    p = upath(rng)
    if name == "get":
        s.sendall(req(p))
    elif name == "keepalive":
        for _ in range(rng.randrange(1, 6)):
            s.sendall(req(upath(rng)))
            s.recv(65536)
    elif name == "pipeline":
        s.sendall(b"".join(req(upath(rng)) for _ in range(rng.randrange(2, 40))))
    elif name == "pipeline_mixed":
        parts = [req(upath(rng)) for _ in range(rng.randrange(1, 10))]
        parts.insert(rng.randrange(len(parts) + 1), rng.choice(SMUGGLE))
        s.sendall(b"".join(parts))
    elif name == "smuggle":
        s.sendall(rng.choice(SMUGGLE))
    elif name == "huge_head":
        s.sendall(req(p, extra=b"X-Big: " + b"a" * rng.choice([8000, 61000, 70000, 200000]) + b"\r\n"))
    elif name == "many_headers":
        s.sendall(req(p, extra=b"".join(b"X-%d: v\r\n" % i for i in range(rng.choice([99, 101, 500])))))
    elif name == "long_line":
        s.sendall(b"GET /" + b"a" * rng.choice([8100, 9000, 70000]) + b" HTTP/1.1\r\nHost: c\r\n\r\n")
    elif name == "slow_head":
        r = req(p)
        for i in range(0, rng.randrange(1, len(r))):
            s.sendall(r[i:i + 1])
            time.sleep(0.01)
    elif name == "body":
        s.sendall(req(p, method=b"POST", body=b"b" * rng.choice([0, 1, 1000, 70000, 300000])))
    elif name == "body_early_stop":
        n = rng.choice([100, 70000, 300000])
        s.sendall(req(p, method=b"POST", extra=b"Content-Length: %d\r\n" % n) +
                  b"e" * rng.randrange(0, n))
    elif name == "chunked":
        s.sendall(req(p, method=b"POST", extra=b"Transfer-Encoding: chunked\r\n") +
                  chunked(b"c" * rng.choice([0, 10, 70000, 200000]), rng))
    elif name == "chunked_bad_later":
        # good chunks first (past the 64 KiB buffer), then a bad size
        s.sendall(req(p, method=b"POST", extra=b"Transfer-Encoding: chunked\r\n") +
                  chunked(b"c" * rng.choice([10, 70000]), rng)[:-5] +
                  rng.choice([b"zz\r\n", b"fffffffffffffffffff\r\n", b"-1\r\n", b"5\r\nabcdefgh\r\n"]))
    elif name == "expect":
        s.sendall(req(p, method=b"POST", extra=b"Expect: 100-continue\r\nContent-Length: 70000\r\n"))
        s.recv(4096)
        s.sendall(b"x" * rng.choice([10, 70000]))
    elif name == "upgrade":
        s.sendall(req(p, extra=b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
                      b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n") + b"after-upgrade")
    elif name == "connect":
        s.sendall(b"CONNECT chaos:80 HTTP/1.1\r\nHost: chaos:80\r\n\r\nraw")
    elif name == "head":
        s.sendall(req(p, method=b"HEAD"))
    elif name == "http10":
        s.sendall(b"GET " + p.encode() + b" HTTP/1.0\r\n\r\n")
    elif name == "random_bytes":
        s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000))))
    elif name == "cut":
        r = req(p, method=b"POST", body=b"z" * rng.randrange(0, 5000))
        s.sendall(r[:rng.randrange(1, len(r))])
    elif name == "absolute":
        s.sendall(b"GET http://chaos" + p.encode() + b" HTTP/1.1\r\nHost: chaos\r\n\r\n")
    elif name == "close_hdr":
        s.sendall(req(p, extra=b"Connection: close\r\n") + req(upath(rng)))
    elif name == "hop":
        s.sendall(req(p, extra=b"Connection: x-a, keep-alive, te\r\nX-A: 1\r\n"
                      b"TE: trailers\r\nTraceparent: 00-zz-yy-01\r\n"
                      b"X-Request-Id: " + b"r" * 5000 + b"\r\n"))
    elif name == "nothing":
        pass


CASES = ["get", "keepalive", "pipeline", "pipeline_mixed", "smuggle",
         "smuggle", "huge_head", "many_headers", "long_line", "slow_head",
         "body", "body_early_stop", "chunked", "chunked_bad_later",
         "expect", "upgrade", "connect", "head", "http10", "random_bytes",
         "cut", "cut", "absolute", "close_hdr", "hop", "nothing"]
ENDINGS = ["read_close", "close", "rst", "shut_wr", "rst_now", "shut_wr_now"]


def drain(s, limit):
    end = time.monotonic() + limit
    n = 0
    while time.monotonic() < end:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
    return n


def client_one(rng, vip, name, ending):
    s = socket.socket()
    s.settimeout(rng.choice([0.2, 0.5, 1.0]))
    try:
        s.connect((vip, 80))
        if ending == "rst_now" and rng.random() < 0.5:
            rst(s)
            return
        c_case(rng, s, name)
        if ending == "rst_now":
            rst(s)
            return
        if ending == "shut_wr_now":
            s.shutdown(socket.SHUT_WR)
            drain(s, 1.0)
        elif ending == "read_close":
            drain(s, rng.choice([0.05, 0.3, 1.0]))
        elif ending == "rst":
            if rng.random() < 0.5:
                s.recv(rng.randrange(1, 100))
            rst(s)
            return
        elif ending == "shut_wr":
            s.recv(rng.randrange(1, 100))
            s.shutdown(socket.SHUT_WR)
            drain(s, 0.5)
    except OSError:
        pass
    finally:
        try:
            s.close()
        except OSError:
            pass


def client(a):
    end = time.monotonic() + a.seconds
    counts = {}
    lock = threading.Lock()

    def worker(i):
        rng = random.Random(a.seed * 7919 + i)
        while time.monotonic() < end:
            name = rng.choice(CASES)
            ending = rng.choice(ENDINGS)
            client_one(rng, rng.choice(a.vip), name, ending)
            with lock:
                counts[name] = counts.get(name, 0) + 1

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(a.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(json.dumps({"connections": sum(counts.values()), "cases": counts}))


def one(a):
    rng = random.Random(a.seed)
    client_one(rng, a.vip[0], a.mode, a.ending)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["upstream", "client", "one"])
    p.add_argument("mode", nargs="?")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--vip", action="append", default=[])
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("--threads", type=int, default=32)
    p.add_argument("--seed", type=int, default=26)
    p.add_argument("--ending", default="read_close")
    a = p.parse_args()
    if a.role == "upstream":
        upstream(a)
    elif a.role == "client":
        client(a)
    else:
        one(a)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
