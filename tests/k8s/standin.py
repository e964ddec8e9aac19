"""Test-side helpers for apiserver.py: start it, drive its control port,
read watch streams byte by byte.  Standard library only."""

import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")


def make_cert(directory):
    """A self-signed certificate for 127.0.0.1 (openssl CLI); returns
    (cert, key) paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
         "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


class StandIn:
    """One apiserver.py process.  args: extra command-line arguments."""

    def __init__(self, args=(), tls=False, host="127.0.0.1",
                 start_timeout=5):
        self.dir = tempfile.TemporaryDirectory(prefix="sl-k8s-")
        self.cert = self.key = None
        cmd = [sys.executable, os.path.join(HERE, "apiserver.py"),
               "--ports-file", os.path.join(self.dir.name, "ports"),
               "--listen", f"[{host}]:0" if ":" in host else f"{host}:0"]
        self.host = host
        if tls:
            self.cert, self.key = make_cert(self.dir.name)
            cmd += ["--tls-cert", self.cert, "--tls-key", self.key]
        cmd += list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        ports = os.path.join(self.dir.name, "ports")
        for _ in range(int(start_timeout * 40)):
            if os.path.exists(ports):
                break
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"apiserver.py exited {self.proc.returncode}")
            time.sleep(0.025)
        else:
            raise RuntimeError(
                f"apiserver.py did not start in {start_timeout} s")
        with open(ports) as f:
            p = json.load(f)
        self.port = p["api"]
        self.cport = p["control"]
        self.scheme = "https" if tls else "http"
        h = f"[{host}]" if ":" in host else host
        self.url = f"{self.scheme}://{h}:{self.port}"

    def close(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.dir.cleanup()

    # -- control

    def ctl(self, path, body=None, method=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.cport}{path}", data=data,
            method=method or ("POST" if data is not None else "GET"))
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            raise AssertionError(f"control {path}: {e.code} {e.read()!r}")

    def state(self):
        return self.ctl("/state")

    def put(self, obj, namespace=None):
        body = {"object": obj}
        if namespace:
            body["namespace"] = namespace
        return self.ctl("/objects", body)

    def delete(self, api_version, kind, namespace, name):
        return self.ctl("/delete", {"apiVersion": api_version, "kind": kind,
                                    "namespace": namespace, "name": name})

    def wait_watchers(self, n, timeout=5):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.state()["watchers"] >= n:
                return
            time.sleep(0.02)
        raise AssertionError(f"{n} watchers not seen in {timeout} s")

    # -- API

    def context(self):
        if not self.cert:
            return None
        ctx = ssl.create_default_context(cafile=self.cert)
        return ctx

    def get(self, path, token=None, headers=None):
        """(status, headers, parsed JSON or text) of a GET."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=10,
                                        context=self.context()) as r:
                return r.status, r.headers, decode(r)
        except urllib.error.HTTPError as e:
            return e.code, e.headers, decode(e)

    def watch(self, path, token=None, timeout=10):
        return RawWatch(self, path, token, timeout)


def decode(r):
    body = r.read()
    if (r.headers.get("Content-Type") or "").startswith("application/json"):
        return json.loads(body)
    return body.decode()


class RawWatch:
    """A watch request read by hand off the socket, so a test sees the
    chunked framing itself: events(), then how the stream ended."""

    def __init__(self, si, path, token, timeout):
        sock = socket.create_connection((si.host, si.port), timeout)
        if si.cert:
            sock = si.context().wrap_socket(sock, server_hostname="127.0.0.1")
        self.sock = sock
        req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if token:
            req += f"Authorization: Bearer {token}\r\n"
        req += "Accept: application/json\r\n\r\n"
        sock.sendall(req.encode())
        self.buf = b""
        self.eof = False
        head = self._until(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in
                        (ln.split(":", 1) for ln in lines[1:] if ln)}
        self.data = b""       # the de-chunked body so far
        self.clean = False    # the terminating zero chunk was seen

    def _fill(self):
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            d = b""
        if not d:
            self.eof = True
        self.buf += d

    def _until(self, sep):
        while sep not in self.buf:
            if self.eof:
                raise EOFError(f"stream ended before {sep!r}")
            self._fill()
        out, self.buf = self.buf.split(sep, 1)
        return out

    def _chunk(self):
        """One chunk's data; None at the zero chunk; EOFError if the
        stream ends inside the framing."""
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            self._until(b"\r\n")
            return None
        while len(self.buf) < size + 2:
            if self.eof:
                self.data += self.buf[:size]
                self.buf = b""
                raise EOFError("stream ended inside a chunk")
            self._fill()
        d, self.buf = self.buf[:size], self.buf[size + 2:]
        return d

    def next_event(self):
        """The next complete event, or None when the stream has ended
        (self.clean tells whether with the zero chunk)."""
        while b"\n" not in self.data:
            try:
                d = self._chunk()
            except EOFError:
                return None
            if d is None:
                self.clean = True
                return None
            self.data += d
        ln, self.data = self.data.split(b"\n", 1)
        return json.loads(ln)

    def events(self, n=None):
        out = []
        while n is None or len(out) < n:
            ev = self.next_event()
            if ev is None:
                break
            out.append(ev)
        return out

    def close(self):
        self.sock.close()


def status_ok(st, code, reason):
    """Whether st is a Status object for this code and reason, in the
    apiserver's exact shape."""
    return (isinstance(st, dict) and st.get("kind") == "Status" and
            st.get("apiVersion") == "v1" and st.get("status") == "Failure" and
            st.get("code") == code and st.get("reason") == reason and
            isinstance(st.get("message"), str) and "metadata" in st)


def pod(name, ns="default", node="node-a", labels=None, sa="default"):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns,
                         "labels": labels or {"app": name}},
            "spec": {"nodeName": node, "serviceAccountName": sa,
                     "containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "podIP": "198.18.0.10",
                       "podIPs": [{"ip": "198.18.0.10"}]}}


def http_connection(si):
    if si.cert:
        return http.client.HTTPSConnection(si.host, si.port, timeout=10,
                                           context=si.context())
    return http.client.HTTPConnection(si.host, si.port, timeout=10)
