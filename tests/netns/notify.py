#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""sluiced under systemd's notify protocol (Type=notify, sd_notify(3)).

The test plays systemd: it owns a unix datagram socket, passes it to
sluiced as NOTIFY_SOCKET with WATCHDOG_USEC=4 s, and reads what arrives.
sluiced runs in a network namespace of its own (unshare -n), with --steer
and external certificates (certDir) that do not exist yet:

 1. STATUS says "starting", then "waiting: no certificate for ...", while
    /ready answers 503; no READY=1 comes (1.5 s)
 2. the certificates are written: READY=1 arrives, with STATUS "serving 1
    workload, config <generation of sluice status>"; at that moment /ready
    answers 200 and the steering table exists
 3. WATCHDOG=1 arrives every ~2 s (half of WATCHDOG_USEC)
 4. SIGHUP: RELOADING=1 with MONOTONIC_USEC (now, CLOCK_MONOTONIC), then
    READY=1 with the serving STATUS
 5. SIGTERM: STOPPING=1 with STATUS "draining ...", no WATCHDOG=1 after
    it, and sluiced exits 0

usage: notify.py SLUICED SLUICE   (root; exit 77 without namespaces)
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

NETNS_ENV = "SL_NOTIFY_IN_NETNS"
TD = "cluster.local"
WD_USEC = 4000000


def skip(why):
    if os.environ.get("SL_NO_SKIP") == "1":
        print(f"FAIL (SL_NO_SKIP=1, would skip): {why}", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {why}", file=sys.stderr)
    sys.exit(77)


def fail(why, log=None):
    print(f"FAIL: {why}", file=sys.stderr)
    if log and os.path.exists(log):
        with open(log, errors="replace") as f:
            sys.stderr.write("--- sluiced log (tail)\n" + "".join(f.readlines()[-40:]))
    sys.exit(1)


def ok(what):
    print(f"ok - {what}", flush=True)


class Systemd:
    """The notify socket: every datagram, parsed, with its arrival time."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.msgs = []  # (monotonic time, {key: value}, raw)
        self.cond = threading.Condition()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done:
            try:
                data = self.sock.recv(4096)
            except OSError:
                return
            now = time.monotonic()
            raw = data.decode()
            kv = dict(line.split("=", 1) for line in raw.split("\n") if "=" in line)
            with self.cond:
                self.msgs.append((now, kv, raw))
                self.cond.notify_all()

    def wait(self, pred, timeout, start=0):
        """the index of the first message from @start for which pred(kv)"""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.msgs)):
                    if pred(self.msgs[i][1]):
                        return i
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def snapshot(self):
        with self.cond:
            return list(self.msgs)


def get(path):
    c = http.client.HTTPConnection("127.0.0.1", 15020, timeout=3)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read().decode()
    except OSError as e:
        return None, str(e)
    finally:
        c.close()


def admin(sock_path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sock_path)
    s.sendall((cmd + "\n").encode())
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
    s.close()
    return out.decode()


def write_config(d, certs, ca):
    os.makedirs(d)
    with open(os.path.join(d, "node.yaml"), "w") as f:
        f.write(f"""apiVersion: sluice.io/v1alpha1
kind: Node
metadata:
  name: node-a
spec:
  trustDomain: {TD}
  certDir: {certs}
  trustBundle: {ca}/ca.crt
""")
    with open(os.path.join(d, "workloads.yaml"), "w") as f:
        f.write("""apiVersion: networking.istio.io/v1beta1
kind: WorkloadEntry
metadata:
  name: pod11
  namespace: default
spec:
  address: 198.18.1.11
  serviceAccount: client
  labels:
    app: client
    kubernetes.io/hostname: node-a
""")


def issue(sluice, ca, certs, sa):
    out = os.path.join(certs, sa)
    subprocess.run([sluice, "ca", "issue", "--ca", ca, "--ns", "default",
                    "--sa", sa, "--out", out], check=True, stdout=subprocess.DEVNULL)
    # write the pair elsewhere and rename: sluiced never sees half a file
    tmp = os.path.join(certs, "tmp-" + sa)
    os.makedirs(tmp)
    shutil.copy(out + ".crt", os.path.join(tmp, "cert.pem"))
    shutil.copy(out + ".key", os.path.join(tmp, "key.pem"))
    shutil.copy(os.path.join(ca, "ca.crt"), os.path.join(tmp, "ca.pem"))
    os.makedirs(os.path.join(certs, "default"), exist_ok=True)
    os.rename(tmp, os.path.join(certs, "default", sa))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    sluiced, sluice = map(os.path.abspath, sys.argv[1:3])
    if os.environ.get(NETNS_ENV) != "1":
        if os.geteuid() != 0:
            skip("needs root for a network namespace (unshare -n)")
        if not shutil.which("unshare") or not shutil.which("ip"):
            skip("unshare(1) or ip(8) not installed")
        env = dict(os.environ, **{NETNS_ENV: "1"})
        r = subprocess.run(["unshare", "-n", "true"])
        if r.returncode != 0:
            skip("cannot create a network namespace")
        os.execvpe("unshare", ["unshare", "-n", sys.executable] + sys.argv, env)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    steer = shutil.which("nft") is not None
    if not steer:
        skip("nft(8) not installed")

    tmp = tempfile.mkdtemp(prefix="sl-notify-")
    proc = None
    try:
        proc = run(sluiced, sluice, tmp)
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def run(sluiced, sluice, tmp):
    ca = os.path.join(tmp, "ca")
    certs = os.path.join(tmp, "certs")
    cfg = os.path.join(tmp, "cfg")
    log = os.path.join(tmp, "sluiced.log")
    asock = os.path.join(tmp, "admin.sock")
    subprocess.run([sluice, "ca", "init", ca, "--trust-domain", TD], check=True,
                   stdout=subprocess.DEVNULL)
    os.makedirs(certs)
    write_config(cfg, certs, ca)
    sd = Systemd(os.path.join(tmp, "notify.sock"))

    env = dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "notify.sock"),
               WATCHDOG_USEC=str(WD_USEC))
    env.pop("WATCHDOG_PID", None)
    with open(log, "w") as lf:
        proc = subprocess.Popen(
            [sluiced, "--config", cfg, "--node", "node-a", "--workers", "2",
             "--admin-socket", asock, "--ktls", "off", "--steer",
             "--grace", "1s", "--access-log-rate", "0", "--log-level", "info"],
            env=env, stdout=lf, stderr=subprocess.STDOUT)

    # ---- 1. starting, waiting for the certificates: no READY=1 ----------
    if sd.wait(lambda m: m.get("STATUS", "").startswith("starting"), 10) is None:
        fail("no STATUS=starting...", log)
    end = time.monotonic() + 10
    while True:
        status, body = get("/ready")
        if status == 503 and "no certificate for" in body:
            break
        if time.monotonic() > end:
            fail(f"/ready never said 'no certificate': {status} {body!r}", log)
        if proc.poll() is not None:
            fail(f"sluiced exited with {proc.returncode}", log)
        time.sleep(0.1)
    i = sd.wait(lambda m: m.get("STATUS", "").startswith("waiting: no certificate for spiffe://"), 5)
    if i is None:
        fail(f"no STATUS=waiting: no certificate...: {sd.snapshot()}", log)
    time.sleep(1.5)
    for _, kv, raw in sd.snapshot():
        if "READY" in kv:
            fail(f"READY=1 while /ready says not ready: {raw!r}", log)
    status, body = get("/ready")
    if status != 503:
        fail(f"/ready without certificates: {status} {body!r}", log)
    ok("STATUS starting, then waiting (no certificate), no READY=1 while /ready is 503")

    # ---- 2. certificates: READY=1, /ready 200, the table in place -----------
    n0 = len(sd.snapshot())
    t_certs = time.monotonic()
    issue(sluice, ca, certs, "client")
    i = sd.wait(lambda m: m.get("READY") == "1", 10, n0)
    if i is None:
        fail(f"no READY=1 after the certificates: {sd.snapshot()[n0:]}", log)
    t_ready, kv, raw = sd.snapshot()[i]
    status, body = get("/ready")
    if status != 200:
        fail(f"READY=1 sent but /ready says {status} {body!r}", log)
    if t_ready < t_certs:
        fail("READY=1 came before the certificates existed", log)
    r = subprocess.run(["nft", "list", "table", "inet", "sluice"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        fail("READY=1 sent but no steering table", log)
    gen = json.loads(admin(asock, "status"))["config_generation"]
    want = f"serving 1 workload, config {gen}"
    if kv.get("STATUS") != want:
        fail(f"STATUS with READY=1: {kv.get('STATUS')!r}, want {want!r}", log)
    ok(f"READY=1 after /ready said ready and the table exists; STATUS={want}")

    # ---- 3. the watchdog --------------------------------------------------------
    time.sleep(5)
    pings = [t for t, kv, _ in sd.snapshot() if kv.get("WATCHDOG") == "1" and t > t_ready]
    if len(pings) < 2:
        fail(f"{len(pings)} WATCHDOG=1 in 5 s after READY=1 (WATCHDOG_USEC=4 s): want 2", log)
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    if any(g < 1.0 or g > 3.5 for g in gaps):
        fail(f"WATCHDOG=1 gaps {gaps}: want ~2 s (half of WATCHDOG_USEC)", log)
    ok(f"WATCHDOG=1 every ~2 s ({len(pings)} in 5 s)")

    # ---- 4. SIGHUP: RELOADING=1 + MONOTONIC_USEC, then READY=1 ----------------------
    n0 = len(sd.snapshot())
    t_hup = time.clock_gettime(time.CLOCK_MONOTONIC)
    proc.send_signal(signal.SIGHUP)
    i = sd.wait(lambda m: m.get("RELOADING") == "1", 5, n0)
    if i is None:
        fail(f"no RELOADING=1 after SIGHUP: {sd.snapshot()[n0:]}", log)
    kv = sd.snapshot()[i][1]
    try:
        mono = int(kv["MONOTONIC_USEC"]) / 1e6
    except (KeyError, ValueError):
        fail(f"RELOADING=1 without a MONOTONIC_USEC: {kv}", log)
    if not t_hup - 0.1 <= mono <= t_hup + 5:
        fail(f"MONOTONIC_USEC {mono:.3f} s is not the time of the reload ({t_hup:.3f} s)", log)
    j = sd.wait(lambda m: m.get("READY") == "1", 10, i + 1)
    if j is None:
        fail(f"no READY=1 after RELOADING=1: {sd.snapshot()[i:]}", log)
    if sd.snapshot()[j][1].get("STATUS") != want:
        fail(f"STATUS after the reload: {sd.snapshot()[j][1]}", log)
    ok("SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 and the serving STATUS")

    # ---- 5. SIGTERM: STOPPING=1, exit 0 ------------------------------------------------
    n0 = len(sd.snapshot())
    proc.send_signal(signal.SIGTERM)
    i = sd.wait(lambda m: m.get("STOPPING") == "1", 5, n0)
    if i is None:
        fail(f"no STOPPING=1 after SIGTERM: {sd.snapshot()[n0:]}", log)
    if not sd.snapshot()[i][1].get("STATUS", "").startswith("draining "):
        fail(f"STATUS with STOPPING=1: {sd.snapshot()[i][1]}", log)
    try:
        rc = proc.wait(15)
    except subprocess.TimeoutExpired:
        fail("sluiced did not exit within 15 s of SIGTERM", log)
    if rc != 0:
        fail(f"sluiced exited with {rc}", log)
    late = [raw for _, kv, raw in sd.snapshot()[i + 1:] if "WATCHDOG" in kv or "READY" in kv]
    if late:
        fail(f"sent after STOPPING=1: {late}", log)
    ok("SIGTERM: STOPPING=1 with STATUS draining, nothing after it, exit 0")
    sd.done = True
    return proc


if __name__ == "__main__":
    sys.exit(main())
