#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Raw-socket HTTP/1.1 client for the L7 netns tests: what curl cannot do.

usage:
  http_client.py keepalive IP PORT N [-H 'Name: value']... [--path P]
      N requests one after the other on ONE connection.  Prints
      {"sent", "responses", "bodies": {body: count}, "statuses":
      {status: count}, "closed", "error"}; exit 0 only if N responses came
      back and the connection stayed open.
  http_client.py pipeline IP PORT N [-H ...] [--alt-header 'Name: value']
                 [--delay-step-ms D]
      N requests for /p/0 .. /p/N-1 written in ONE send; the odd ones also
      carry --alt-header (so they may be routed elsewhere), request i asks
      the upstream (header x-delay-ms) to wait (N-i)*D ms, so later ones are
      ready first.  Prints {"order_ok", "paths" (x-path of each response
      in the order received), "bodies", "statuses", "error"}; exit 0 only
      if every response came back in the order sent.
  http_client.py raw IP PORT DATA [--file F] [--wait S] [--count N]
      send DATA (Python backslash escapes: \\r \\n \\x00 ...) or the bytes
      of F, read N responses (default 1).  Prints {"statuses" (of each),
      "status", "status_line", "headers" (of the last), "connection_close"
      (the last has a Connection: close field), "closed" ("eof", "reset"
      or "open" S seconds after it), "extra_len" (bytes after it),
      "bodies" (of each, Latin-1), "error"}; exit 0 if N responses came.  --brief: first a line
      "STATUSES CONNECTION_CLOSE CLOSED EXTRA_LEN" ("200,400 True eof 0").
Host is "IP:PORT" unless -H sets one.  --timeout S (before the command):
seconds to wait for each response, default 10.
"""
import argparse
import codecs
import json
import socket
import sys
import time


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def fill(self):
        d = self.sock.recv(65536)
        if not d:
            self.eof = True
            raise EOFError("connection closed by the peer")
        self.buf += d

    def until(self, sep):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[:i + len(sep)])
                del self.buf[:i + len(sep)]
                return out
            self.fill()

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def rest(self):
        try:
            while True:
                self.fill()
        except EOFError:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out


def read_response(r):
    """one final response: (status, status_line, headers, body)"""
    while True:
        head = r.until(b"\r\n\r\n").decode("latin-1")
        lines = head[:-4].split("\r\n")
        status_line = lines[0]
        status = int(status_line.split(" ")[1])
        headers = []
        for ln in lines[1:]:
            n, _, v = ln.partition(":")
            headers.append([n, v.strip()])
        if 100 <= status < 200 and status != 101:
            continue
        break
    h = {n.lower(): v for n, v in headers}
    if status in (204, 304) or 100 <= status < 200:
        body = b""
    elif "transfer-encoding" in h:
        body = b""
        while True:
            size = int(r.until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                while r.until(b"\r\n") != b"\r\n":
                    pass
                break
            body += r.exact(size)
            r.exact(2)
    elif "content-length" in h:
        body = r.exact(int(h["content-length"]))
    else:
        body = r.rest()
    return status, status_line, headers, body


def hval(headers, name):
    for n, v in headers:
        if n.lower() == name:
            return v
    return None


def build(ip, port, path, hdrs, extra=()):
    names = [h.split(":", 1)[0].strip().lower() for h in hdrs]
    lines = ["GET %s HTTP/1.1" % path]
    if "host" not in names:
        lines.append("Host: %s:%d" % (ip, port))
    lines += list(hdrs) + list(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


TIMEOUT = 10.0


def connect(ip, port):
    s = socket.create_connection((ip, port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def count(d, k):
    d[k] = d.get(k, 0) + 1


def cmd_keepalive(a):
    out = {"sent": 0, "responses": 0, "bodies": {}, "statuses": {},
           "closed": False, "error": None}
    s = connect(a.ip, a.port)
    r = Reader(s)
    req = build(a.ip, a.port, a.path, a.H)
    try:
        for _ in range(a.n):
            s.sendall(req)
            out["sent"] += 1
            status, _, headers, body = read_response(r)
            out["responses"] += 1
            count(out["statuses"], str(status))
            count(out["bodies"], body.decode("latin-1").strip())
            c = (hval(headers, "connection") or "").lower()
            if "close" in c:
                out["closed"] = True
                break
    except (OSError, EOFError, ValueError, IndexError) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
        out["closed"] = r.eof or isinstance(e, ConnectionError)
    print(json.dumps(out, sort_keys=True))
    return 0 if out["responses"] == a.n and not out["closed"] else 1


def cmd_pipeline(a):
    out = {"order_ok": False, "paths": [], "bodies": [], "statuses": [],
           "error": None}
    s = connect(a.ip, a.port)
    r = Reader(s)
    data = b""
    for i in range(a.n):
        extra = ["x-delay-ms: %d" % ((a.n - i) * a.delay_step_ms)]
        if a.alt_header and i % 2 == 1:
            extra.append(a.alt_header)
        data += build(a.ip, a.port, "/p/%d" % i, a.H, extra)
    s.sendall(data)
    try:
        for _ in range(a.n):
            status, _, headers, body = read_response(r)
            out["statuses"].append(status)
            out["paths"].append(hval(headers, "x-path"))
            out["bodies"].append(body.decode("latin-1").strip())
    except (OSError, EOFError, ValueError, IndexError) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    out["order_ok"] = out["paths"] == ["/p/%d" % i for i in range(a.n)]
    print(json.dumps(out, sort_keys=True))
    return 0 if out["order_ok"] else 1


def cmd_raw(a):
    if a.file:
        with open(a.file, "rb") as f:
            data = f.read()
    else:
        data = codecs.escape_decode(a.data.encode("latin-1"))[0]
    out = {"status": None, "status_line": None, "headers": [], "statuses": [],
           "bodies": [], "connection_close": False, "closed": "open",
           "extra_len": 0, "error": None}
    s = connect(a.ip, a.port)
    r = Reader(s)
    try:
        s.sendall(data)
        for _ in range(a.count):
            status, line, headers, body = read_response(r)
            out["statuses"].append(status)
            out["bodies"].append(body.decode("latin-1"))
            out.update(status=status, status_line=line, headers=headers)
        out["connection_close"] = any(
            "close" in [t.strip().lower() for t in v.split(",")]
            for n, v in headers if n.lower() == "connection")
    except (OSError, EOFError, ValueError, IndexError) as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    # how the connection ends: wait for EOF or reset
    s.settimeout(0.1)
    end = time.monotonic() + a.wait
    extra = len(r.buf)
    while time.monotonic() < end and out["error"] is None:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            out["closed"] = "reset"
            break
        if not d:
            out["closed"] = "eof"
            break
        extra += len(d)
    if r.eof:
        out["closed"] = "eof"
    out["extra_len"] = extra
    if a.brief:
        print(",".join(map(str, out["statuses"])) or "-",
              out["connection_close"], out["closed"], out["extra_len"])
    print(json.dumps(out, sort_keys=True))
    return 0 if len(out["statuses"]) == a.count else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("keepalive", "pipeline", "raw"):
        q = sub.add_parser(name)
        q.add_argument("ip")
        q.add_argument("port", type=int)
        if name == "raw":
            q.add_argument("data", nargs="?", default="")
            q.add_argument("--file")
            q.add_argument("--wait", type=float, default=2.0)
            q.add_argument("--count", type=int, default=1)
            q.add_argument("--brief", action="store_true")
        else:
            q.add_argument("n", type=int)
            q.add_argument("-H", action="append", default=[])
        if name == "keepalive":
            q.add_argument("--path", default="/")
        if name == "pipeline":
            q.add_argument("--alt-header")
            q.add_argument("--delay-step-ms", type=int, default=0)
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to wait for a response (default 10)")
    a = p.parse_args()
    global TIMEOUT
    TIMEOUT = a.timeout
    return {"keepalive": cmd_keepalive, "pipeline": cmd_pipeline,
            "raw": cmd_raw}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
