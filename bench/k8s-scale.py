#!/usr/bin/env python3
"""bench/k8s-scale.py: the Kubernetes source at scale (issue 28).

A synthetic cluster (NODES nodes, PODS pods in meshed namespaces, SERVICES
Services selecting them) is loaded into the stand-in API server
(tests/k8s/apiserver.py); sl-k8s-view (the k8s/ library plus the config
load sluiced does for each view) lists and watches it.  Measured:

  first full sync   from the start of sl-k8s-view to its first view line
                    (every resource listed, the view loaded as a snapshot),
                    and the CPU sl-k8s-view spent until then (the rest is
                    the stand-in's)
  rss               sl-k8s-view's VmHWM then (peak resident set)
  change latency    pod changes put at RATE/s for SECS: from each put to
                    the first view that has it (p50, p99), and the CPU
                    sl-k8s-view used meanwhile (utime+stime / wall)

usage: bench/k8s-scale.py [--build DIR] [--pods N] [--nodes N]
                          [--services N] [--rate R] [--secs S] [--paged]
                          [--daemon] [--out F]

--daemon measures sluiced itself instead (root): --kubeconfig on the
stand-in with a --state-dir; a change is a new pod, seen when the
snapshot's workload count (admin "status") covers it.

Not a test: figures go to bench/README.md.  The stand-in is Python: at
large sizes its own listing time is part of the first sync.
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "k8s"))
from standin import StandIn  # noqa: E402


def synth(path, nodes, pods, services):
    """One JSON List with every object."""
    items = []
    for n in range(nodes):
        items.append({"apiVersion": "v1", "kind": "Node",
                      "metadata": {"name": f"node-{n}"},
                      "status": {"addresses": [
                          {"type": "InternalIP",
                           "address": f"10.{n // 250}.{n % 250}.1"}]}})
    nss = max(1, services // 100)
    for i in range(nss):
        items.append({"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": f"ns-{i}", "labels": {
                          "istio.io/dataplane-mode": "ambient"}}})
    for i in range(pods):
        app = i % max(1, services)
        ns = app % nss
        ip = 0x64000000 + i  # 100.0.0.0/8, never routed: data only
        items.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"pod-{i}", "namespace": f"ns-{ns}",
                         "labels": {"app": f"app-{app}",
                                    "pod-template-hash": "5d8f7c9b6"}},
            "spec": {"nodeName": f"node-{i % nodes}",
                     "serviceAccountName": f"sa-{app}",
                     "containers": [{"name": "c", "image": "registry/x:1"}]},
            "status": {"phase": "Running",
                       "podIP": f"{ip >> 24}.{(ip >> 16) & 255}."
                                f"{(ip >> 8) & 255}.{ip & 255}",
                       "conditions": [{"type": "Ready",
                                       "status": "True"}]}})
        items[-1]["status"]["podIPs"] = [{"ip": items[-1]["status"]["podIP"]}]
    for s in range(services):
        ns = s % nss
        vip = 0xC6130000 + s  # 198.19.0.0/16: data only
        items.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": f"app-{s}", "namespace": f"ns-{ns}"},
            "spec": {"type": "ClusterIP",
                     "clusterIP": f"198.19.{(vip >> 8) & 255}.{vip & 255}",
                     "selector": {"app": f"app-{s}"},
                     "ports": [{"name": "http", "port": 80,
                                "targetPort": 8080, "protocol": "TCP"}]}})
    with open(path, "w") as f:
        json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
    return items


def rss_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def change_figures(pid, n, lat, c0, w0):
    """the figures of @n changes with latencies @lat, measured from CPU
    time @c0 of @pid at @w0"""
    c1, w1 = cpu_s(pid), time.monotonic()
    lat.sort()
    return {
        "changes": n, "changes_seen": len(lat),
        "change_p50_s": round(lat[len(lat) // 2], 3) if lat else None,
        "change_p99_s": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 3)
        if lat else None,
        "cpu_fraction_during_changes": round((c1 - c0) / (w1 - w0), 3),
        "rss_hwm_mb_end": round(rss_hwm(pid) / 2**20, 1)}


def admin(sock, cmd):
    """one command on sluiced's admin socket: its JSON answer"""
    import socket
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(10)
    c.connect(sock)
    c.sendall(cmd.encode() + b"\n")
    buf = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        buf += b
    c.close()
    return json.loads(buf)


def daemon_run(a, si, kc, tmp):
    """sluiced itself (--daemon): --kubeconfig on the stand-in, with a
    --state-dir as the DaemonSet runs it.  A change is a new pod (a new
    address, 101.0.0.0/8, data only); it has reached routing when the
    snapshot's workload count covers it (admin "status", polled every
    50 ms or so: its own CPU, a few %, is in the figure)."""
    sluice = os.path.join(a.build, "cli", "sluice")
    sluiced = os.path.join(a.build, "daemon", "sluiced")
    cfg, ca = os.path.join(tmp, "cfg"), os.path.join(tmp, "ca")
    os.mkdir(cfg)
    subprocess.run([sluice, "ca", "init", ca, "--trust-domain",
                    "cluster.local"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(cfg, "node.yaml"), "w") as f:
        f.write(f"""apiVersion: sluice.io/v1alpha1
kind: Node
metadata: {{name: node-0}}
spec: {{trustDomain: cluster.local, caDir: {ca}}}
""")
    sock = os.path.join(tmp, "admin.sock")
    t0 = time.monotonic()
    proc = subprocess.Popen([sluiced, "--config", cfg, "--node", "node-0",
                             "--kubeconfig", kc, "--kube-sync-wait", "600s",
                             "--admin-socket", sock, "--workers", "2",
                             "--state-dir", os.path.join(tmp, "state"),
                             "--ktls", "off", "--log-level", "notice"],
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "sluiced.log"), "w"))
    try:
        return daemon_measure(a, si, proc, sock, t0)
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def daemon_measure(a, si, proc, sock, t0):
    """daemon_run's measures of the running sluiced @proc"""
    while not os.path.exists(sock):
        if proc.poll() is not None:
            raise SystemExit("sluiced exited: see its log")
        time.sleep(0.05)
    while True:
        try:
            st = admin(sock, "status")
            break
        except (OSError, ValueError):
            time.sleep(0.05)
    res = {"mode": "sluiced", "pods": a.pods, "nodes": a.nodes,
           "services": a.services, "start_s": round(time.monotonic() - t0, 2),
           "start_cpu_s": round(cpu_s(proc.pid), 2),
           "workloads": st["workloads"],
           "rss_hwm_mb": round(rss_hwm(proc.pid) / 2**20, 1)}
    base = st["workloads"]
    n = int(a.rate * a.secs)
    put_at = []
    c0, w0 = cpu_s(proc.pid), time.monotonic()
    seen_n = 0
    lat = []

    def poll():
        nonlocal seen_n
        w = admin(sock, "status")["workloads"] - base
        t = time.monotonic()
        while seen_n < min(w, len(put_at)):
            lat.append(t - put_at[seen_n])
            seen_n += 1
    for i in range(n):
        due = w0 + i / a.rate
        while time.monotonic() < due:
            poll()
            time.sleep(0.04)
        ip = 0x65000000 + i
        ipstr = f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"
        si.put({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"new-{i}", "namespace": "ns-0",
                             "labels": {"app": "app-0"}},
                "spec": {"nodeName": f"node-{1 + i % (a.nodes - 1)}",
                         "serviceAccountName": "sa-0",
                         "containers": [{"name": "c", "image": "x"}]},
                "status": {"phase": "Running", "podIP": ipstr,
                           "podIPs": [{"ip": ipstr}],
                           "conditions": [{"type": "Ready",
                                           "status": "True"}]}})
        put_at.append(time.monotonic())
    end = time.monotonic() + 30
    while seen_n < n and time.monotonic() < end:
        poll()
        time.sleep(0.04)
    res.update(change_figures(proc.pid, n, lat, c0, w0))
    return res


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    p.add_argument("--pods", type=int, default=10000)
    p.add_argument("--nodes", type=int, default=500)
    p.add_argument("--services", type=int, default=1000)
    p.add_argument("--rate", type=float, default=20)
    p.add_argument("--secs", type=float, default=10)
    p.add_argument("--paged", action="store_true",
                   help="the stand-in pages a resourceVersion=0 list too "
                        "(default: it answers it whole, as an API server's "
                        "watch cache does)")
    p.add_argument("--daemon", action="store_true",
                   help="measure sluiced itself (root), not sl-k8s-view")
    p.add_argument("--out")
    a = p.parse_args()
    view = os.path.join(a.build, "tests", "k8s", "sl-k8s-view")
    tmp = tempfile.TemporaryDirectory(prefix="sl-k8s-scale-")
    data = os.path.join(tmp.name, "cluster.json")
    synth(data, a.nodes, a.pods, a.services)
    t0 = time.monotonic()
    si = StandIn(([] if a.paged else ["--rv0-unpaged"]) + ["--load", data,
                  "--bookmark-interval", "60"], start_timeout=600)
    load_s = time.monotonic() - t0
    kc = os.path.join(tmp.name, "kubeconfig")
    with open(kc, "w") as f:
        f.write(f"""apiVersion: v1
kind: Config
current-context: t
contexts: [{{name: t, context: {{cluster: c}}}}]
clusters: [{{name: c, cluster: {{server: "{si.url}"}}}}]
""")
    if a.daemon:
        res = daemon_run(a, si, kc, tmp.name)
        si.close()
        print(json.dumps(res, indent=2))
        if a.out:
            with open(a.out, "w") as f:
                json.dump(res, f, indent=2)
        return
    t0 = time.monotonic()
    proc = subprocess.Popen([view, "--kubeconfig", kc, "--node", "node-0",
                             "--grep", '"rev":'],
                            stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    lines = queue.Queue()

    def reader():
        for line in proc.stdout:
            m = json.loads(line)
            if m["kind"] == "view":
                lines.put((time.monotonic(), m))
    threading.Thread(target=reader, daemon=True).start()
    t_first, first = lines.get(timeout=600)
    sync_s = t_first - t0
    hwm = rss_hwm(proc.pid)
    sync_cpu = cpu_s(proc.pid)
    res = {"pods": a.pods, "nodes": a.nodes, "services": a.services,
           "standin_load_s": round(load_s, 2),
           "first_sync_s": round(sync_s, 2),
           "first_sync_cpu_s": round(sync_cpu, 2),
           "first_view_workloads": first.get("workloads"),
           "first_view_config": first["config"],
           "rss_hwm_mb": round(hwm / 2**20, 1)}
    # changes: a label flip on existing pods at RATE/s
    lat = []
    c0, w0 = cpu_s(proc.pid), time.monotonic()
    n = int(a.rate * a.secs)
    pending = {}
    nss = max(1, a.services // 100)

    def seen(t, m):
        """the changes view @m (at @t) shows: their latencies"""
        for (pk, pm), ts in list(pending.items()):
            ns = (pk % max(1, a.services)) % nss
            d = m["docs"].get(f"kubernetes:pods/ns-{ns}/pod-{pk}", "")
            if f'"rev":"{pm}"' in d:
                lat.append(t - ts)
                del pending[(pk, pm)]
    for i in range(n):
        due = w0 + i / a.rate
        while time.monotonic() < due:
            time.sleep(0.001)
        k = (i * 7919) % a.pods
        app = k % max(1, a.services)
        ip = 0x64000000 + k
        ipstr = (f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}."
                 f"{ip & 255}")
        mark = f"v{i}"
        si.put({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"pod-{k}",
                             "namespace": f"ns-{app % nss}",
                             "labels": {"app": f"app-{app}", "rev": mark}},
                "spec": {"nodeName": f"node-{k % a.nodes}",
                         "serviceAccountName": f"sa-{app}",
                         "containers": [{"name": "c", "image": "x"}]},
                "status": {"phase": "Running", "podIP": ipstr,
                           "podIPs": [{"ip": ipstr}],
                           "conditions": [{"type": "Ready",
                                           "status": "True"}]}})
        pending[(k, mark)] = time.monotonic()
        while True:
            try:
                t, m = lines.get_nowait()
            except queue.Empty:
                break
            seen(t, m)
    end = time.monotonic() + 30
    while pending and time.monotonic() < end:
        try:
            t, m = lines.get(timeout=1)
        except queue.Empty:
            continue
        seen(t, m)
    res.update(change_figures(proc.pid, n, lat, c0, w0))
    proc.terminate()
    proc.wait(10)
    si.close()
    print(json.dumps(res, indent=2))
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
