#!/usr/bin/env python3
"""k8s-reflector: sluice's Kubernetes source (k8s/, through sl-k8s-view)
against the stand-in API server: lists in pages, watches, 410 relists,
streams cut mid-event, a server restart that lost its history, token
rotation, 403, namespace gating, resources sluice rejects left out while
the rest serves, the real fixtures (Kubernetes' and Istio's), and the
Kubernetes Events posted for rejected resources (k8s/events.c).

usage: test_source.py path/to/sl-k8s-view"""

import contextlib
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin import FIXTURES, StandIn  # noqa: E402

VIEW = None
TOKEN = "tok-one"


def ns_obj(name, meshed=True, label=("istio.io/dataplane-mode", "ambient")):
    md = {"name": name}
    if meshed:
        md["labels"] = {label[0]: label[1]}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": md}


def pod_obj(ns, name, ip, labels=None, sa="default", node="node-a",
            phase="Running", extra_ips=(), host_network=False):
    spec = {"nodeName": node, "serviceAccountName": sa,
            "containers": [{"name": "c", "image": "busybox"}]}
    if host_network:
        spec["hostNetwork"] = True
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns,
                         "labels": labels or {"app": name}},
            "spec": spec,
            "status": {"phase": phase, "podIP": ip,
                       "podIPs": [{"ip": i} for i in (ip,) + extra_ips],
                       "conditions": [{"type": "Ready",
                                       "status": "True"}]}}


def svc_obj(ns, name, ip, port=80, selector=None):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"type": "ClusterIP", "clusterIP": ip,
                     "clusterIPs": [ip],
                     "ports": [{"name": "http", "port": port,
                                "protocol": "TCP", "targetPort": port}],
                     "selector": selector or {"app": name}}}


class Viewer:
    """sl-k8s-view on a kubeconfig for the stand-in; its lines queued."""

    def __init__(self, si, token=TOKEN, token_file=None, args=()):
        self.dir = tempfile.TemporaryDirectory(prefix="sl-k8s-view-")
        kc = os.path.join(self.dir.name, "kubeconfig")
        user = (f"tokenFile: {token_file}" if token_file
                else f"token: {token}")
        with open(kc, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
current-context: t
contexts:
- name: t
  context: {{cluster: c, user: u}}
clusters:
- name: c
  cluster:
    server: {si.url}
""" + (f"    certificate-authority: {si.cert}\n" if si.cert else "") + f"""
users:
- name: u
  user:
    {user}
""")
        self.err = open(os.path.join(self.dir.name, "stderr"), "w+")
        self.proc = subprocess.Popen(
            [VIEW, "--kubeconfig", kc, "--backoff-max-ms", "1000",
             "--watch-timeout", "20"] + list(args),
            stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.q = queue.Queue()
        self.views = []
        self.status = None
        self.events = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.q.put(json.loads(line))
        self.q.put(None)

    def _pump(self, timeout):
        try:
            m = self.q.get(timeout=timeout)
        except queue.Empty:
            return
        if m is None:
            raise AssertionError("sl-k8s-view exited: " + self.stderr())
        if m["kind"] == "view":
            self.views.append(m)
        else:
            self.status = m["resources"]
            self.events = m.get("events")

    def stderr(self):
        self.err.flush()
        self.err.seek(0)
        return self.err.read()[-3000:]

    def wait(self, pred, what, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.views and pred(self.views[-1]):
                return self.views[-1]
            self._pump(0.05)
        last = self.views[-1] if self.views else None
        raise AssertionError(
            f"not seen in {timeout} s: {what}\nlast view: "
            f"{json.dumps(last)[:3000]}\nits errors and rejected: "
            f"{last and (last['errors'], last['rejected'])}\nstatus: {json.dumps(self.status)}"
            f"\nstderr: {self.stderr()}")

    def wait_status(self, pred, what, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.status and pred(self.status):
                return self.status
            self._pump(0.05)
        raise AssertionError(f"status not seen in {timeout} s: {what}\n"
                             f"status: {json.dumps(self.status)}\n"
                             f"stderr: {self.stderr()}")

    def wait_events(self, pred, what, timeout=10):
        """the Events' counters (sl_k8s_events_status) until @pred"""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.events and pred(self.events):
                return self.events
            self._pump(0.05)
        raise AssertionError(f"events not seen in {timeout} s: {what}\n"
                             f"events: {json.dumps(self.events)}\n"
                             f"stderr: {self.stderr()}")

    def settle(self, seconds=0.5):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._pump(0.05)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.err.close()
        self.dir.cleanup()


def doc(view, path):
    d = view["docs"].get(path)
    return json.loads(d) if d is not None else None


def has(path):
    return lambda v: path in v["docs"]


def lacks(path):
    return lambda v: path not in v["docs"]


def standin(*args, tls=False):
    si = StandIn(["--token", TOKEN] + list(args), tls=tls)
    return si


def base_objects(si):
    si.put(ns_obj("mesh"))
    si.put(ns_obj("plain", meshed=False))
    si.put(ns_obj("mesh2", label=("sluice.io/mesh", "enabled")))
    for i in range(5):
        si.put(pod_obj("mesh", f"p{i}", f"198.18.1.{10 + i}",
                       labels={"app": "web"}, sa="web"))
    si.put(pod_obj("mesh", "optout", "198.18.1.30",
                   labels={"app": "web",
                           "istio.io/dataplane-mode": "none"}))
    si.put(pod_obj("mesh", "hostnet", "198.18.0.1", host_network=True))
    si.put(pod_obj("mesh", "done", "198.18.1.31", phase="Succeeded"))
    si.put(pod_obj("mesh", "dual", "198.18.1.32",
                   extra_ips=("fd00:5a1c::32",)))
    nr = pod_obj("mesh", "notready", "198.18.1.33", labels={"app": "web"})
    nr["status"]["conditions"][0]["status"] = "False"
    si.put(nr)
    si.put(pod_obj("plain", "q0", "198.18.2.10"))
    si.put(pod_obj("mesh2", "r0", "198.18.3.10", sa="r"))
    si.put(svc_obj("mesh", "web", "198.18.100.1", selector={"app": "web"}))
    si.put(svc_obj("plain", "other", "198.18.100.2"))


@contextlib.contextmanager
def started(viewer_args=(), first=None):
    """The stand-in with base_objects(), sl-k8s-view on it, its first view
    (with pod p0, or @first's path) in and every watch open"""
    si = standin()
    try:
        base_objects(si)
        v = Viewer(si, args=viewer_args)
        try:
            v.wait(has(first or "kubernetes:pods/mesh/p0"), "first view")
            si.wait_watchers(11)
            yield si, v
        finally:
            v.close()
    finally:
        si.close()


# ---- tests ---------------------------------------------------------------

def test_sync_pages_and_gating():
    si = standin()
    try:
        base_objects(si)
        v = Viewer(si, args=["--page-size", "2"])
        try:
            view = v.wait(lambda v: True, "a first view")
            docs = view["docs"]
            want = {f"kubernetes:pods/mesh/p{i}" for i in range(5)} | {
                "kubernetes:pods/mesh/dual", "kubernetes:pods/mesh/dual--ip2",
                "kubernetes:pods/mesh2/r0", "kubernetes:services/mesh/web",
                "kubernetes:pods/mesh/notready"}
            assert set(docs) == want, sorted(docs)
            assert view["config"] == "ok", view["errors"]
            assert view["rejected"] == [], view["rejected"]
            assert view["workloads"] == 9, view["workloads"]
            we = doc(view, "kubernetes:pods/mesh/p3")
            assert we == {
                "apiVersion": "networking.istio.io/v1",
                "kind": "WorkloadEntry",
                "metadata": {"name": "p3", "namespace": "mesh"},
                "spec": {"address": "198.18.1.13",
                         "labels": {"app": "web",
                                    "kubernetes.io/hostname": "node-a"},
                         "serviceAccount": "web"}}, we
            # not Ready: labelled, still a workload
            nr = doc(view, "kubernetes:pods/mesh/notready")
            assert nr["spec"]["labels"] == {
                "app": "web", "kubernetes.io/hostname": "node-a",
                "sluice.io/ready": "false"}, nr
            we2 = doc(view, "kubernetes:pods/mesh/dual--ip2")
            assert we2["spec"]["address"] == "fd00:5a1c::32", we2
            assert we2["metadata"]["name"] == "dual--ip2", we2
            svc = doc(view, "kubernetes:services/mesh/web")
            assert svc["spec"]["clusterIP"] == "198.18.100.1", svc
            assert "status" not in svc, svc
            st = v.status
            # pods came in pages of 2: one list, several requests
            st = v.wait_status(lambda s: s["pods"]["synced"], "pods synced")
            assert st["pods"]["objects"] == 10, st
            assert st["pods"]["lists"] == 1, st
        finally:
            v.close()
    finally:
        si.close()


def test_whole_list_streamed():
    """A resourceVersion=0 list answered whole (as an API server's watch
    cache does, whatever the limit): read as it arrives, every item
    intact, strings with JSON's own characters included"""
    si = standin("--rv0-unpaged")
    try:
        si.put(ns_obj("mesh"))
        odd = 'x}]"\\{[\u00e9'
        for i in range(400):
            si.put(pod_obj("mesh", f"w{i}", f"198.18.{4 + i // 250}.{i % 250}",
                           labels={"app": "web", "odd": odd, "n": str(i)}))
        v = Viewer(si, args=["--page-size", "7"])
        try:
            view = v.wait(lambda v: True, "a first view")
            pods = [p for p in view["docs"] if p.startswith("kubernetes:pods/")]
            assert len(pods) == 400, (len(pods), v.status, v.stderr())
            we = doc(view, "kubernetes:pods/mesh/w399")
            assert we["spec"]["labels"]["odd"] == odd, we
            assert we["spec"]["labels"]["n"] == "399", we
            st = v.wait_status(lambda s: s["pods"]["synced"], "synced")
            assert st["pods"]["lists"] == 1 and st["pods"]["errors"] == 0, st
        finally:
            v.close()
    finally:
        si.close()


def test_watch_events():
    with started() as (si, v):
        si.put(pod_obj("mesh", "new", "198.18.1.50"))
        v.wait(has("kubernetes:pods/mesh/new"), "an added pod")
        si.put(pod_obj("mesh", "new", "198.18.1.51",
                       labels={"app": "new", "version": "v2"}))
        view = v.wait(
            lambda v: "198.18.1.51" in v["docs"].get(
                "kubernetes:pods/mesh/new", ""), "a modified pod")
        assert doc(view, "kubernetes:pods/mesh/new")["spec"]["labels"][
            "version"] == "v2"
        # a change sluice does not use publishes nothing: the next
        # view after it comes from the change that follows
        serial = view["serial"]
        p = pod_obj("mesh", "new", "198.18.1.51",
                    labels={"app": "new", "version": "v2"})
        p["status"]["conditions"].append(
            {"type": "ContainersReady", "status": "True"})
        p["status"]["startTime"] = "2026-12-07T10:00:00Z"
        si.put(p)
        v.settle(0.5)
        assert v.views[-1]["serial"] == serial, v.views[-1]["serial"]
        si.delete("v1", "Pod", "mesh", "new")
        view = v.wait(lacks("kubernetes:pods/mesh/new"), "deleted pod")
        assert view["serial"] == serial + 1, (view["serial"], serial)
        # readiness is used: Ready False labels it
        si.put(pod_obj("mesh", "p2", "198.18.1.12", labels={"app": "web"},
                       sa="web"))
        p2 = pod_obj("mesh", "p2", "198.18.1.12", labels={"app": "web"},
                     sa="web")
        p2["status"]["conditions"][0]["status"] = "False"
        si.put(p2)
        v.wait(lambda v: "sluice.io/ready" in v["docs"].get(
            "kubernetes:pods/mesh/p2", ""), "a pod no longer Ready")
        # a namespace joins the mesh: its pods and services appear
        si.put(ns_obj("plain"))
        v.wait(lambda v: has("kubernetes:pods/plain/q0")(v) and
               has("kubernetes:services/plain/other")(v),
               "the pods of a namespace labelled ambient")
        # and leaves it
        si.put(ns_obj("plain", meshed=False))
        v.wait(lacks("kubernetes:pods/plain/q0"), "namespace unlabelled")
        # a pod opts out
        si.put(pod_obj("mesh", "p1", "198.18.1.11",
                       labels={"app": "web",
                               "sluice.io/mesh": "disabled"}))
        v.wait(lacks("kubernetes:pods/mesh/p1"), "a pod opting out")
        assert v.status["pods"]["relists_gone"] == 0, v.status
        assert v.status["pods"]["lists"] == 1, v.status


def eps_obj(ns, name, svc, addrs, managed_by=None, ready=True):
    labels = {"kubernetes.io/service-name": svc, "team": "db"}
    if managed_by:
        labels["endpointslice.kubernetes.io/managed-by"] = managed_by
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns, "labels": labels,
                         "uid": "u-" + name, "generation": 1},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [a], "conditions": {"ready": ready},
                           "targetRef": {"kind": "Pod", "name": "x"}}
                          for a in addrs],
            "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}


def test_endpointslices():
    """The slices of a Service without a selector: watched without the
    controller's (a label selector on the request), gated by namespace,
    passed on with their endpoints and the two labels sluice reads"""
    with started() as (si, v):
        db = svc_obj("mesh", "db", "198.18.100.5", port=5432)
        del db["spec"]["selector"]
        db["spec"]["ports"][0]["name"] = "sql"
        si.put(db)
        si.put(eps_obj("mesh", "db-1", "db", ["198.18.1.10", "198.18.9.9"]))
        si.put(eps_obj("mesh", "web-ctl", "web", ["198.18.1.10"],
                       managed_by="endpointslice-controller.k8s.io"))
        si.put(eps_obj("mesh", "db-mirror", "db", ["198.18.9.8"],
                       managed_by="endpointslicemirroring-controller.k8s.io"))
        si.put(eps_obj("plain", "other-1", "other", ["198.18.9.7"]))
        view = v.wait(has("kubernetes:discovery.k8s.io/endpointslices/mesh/db-mirror"),
                      "the slices of db")
        e = doc(view, "kubernetes:discovery.k8s.io/endpointslices/mesh/db-1")
        assert e == {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "db-1", "namespace": "mesh",
                         "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["198.18.1.10"],
                           "conditions": {"ready": True},
                           "targetRef": {"kind": "Pod", "name": "x"}},
                          {"addresses": ["198.18.9.9"],
                           "conditions": {"ready": True},
                           "targetRef": {"kind": "Pod", "name": "x"}}],
            "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}, e
        assert "kubernetes:discovery.k8s.io/endpointslices/mesh/web-ctl" \
            not in view["docs"], sorted(view["docs"])
        assert "kubernetes:discovery.k8s.io/endpointslices/plain/other-1" \
            not in view["docs"], sorted(view["docs"])
        assert view["config"] == "ok", view["errors"]
        # the controller's slices are not even sent: the watch asks
        sel = si.state()["watch_selectors"]
        assert sel.get("endpointslices.discovery.k8s.io") == \
            "endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io", sel
        st = v.wait_status(
            lambda s: s["discovery.k8s.io/endpointslices"]["objects"] == 3,
            "three slices held (db-1, db-mirror, other-1)")
        # a slice's endpoint no longer ready: a new view says so
        si.put(eps_obj("mesh", "db-1", "db", ["198.18.1.10"], ready=False))
        v.wait(lambda v: '"ready":false' in v["docs"].get(
            "kubernetes:discovery.k8s.io/endpointslices/mesh/db-1", ""),
            "an endpoint no longer ready")
        si.delete("discovery.k8s.io/v1", "EndpointSlice", "mesh", "db-1")
        v.wait(lacks("kubernetes:discovery.k8s.io/endpointslices/mesh/db-1"),
               "a deleted slice")
        assert st["discovery.k8s.io/endpointslices"]["lists"] == 1, st


def test_cut_resumes_without_relist():
    with started() as (si, v):
        # the next event is cut off mid-line: the reflector must resume
        # from the last complete event and get it again
        si.ctl("/cut", {"mode": "next"})
        si.put(pod_obj("mesh", "c1", "198.18.1.60"))
        v.wait(has("kubernetes:pods/mesh/c1"), "the event cut off")
        si.ctl("/cut", {"mode": "now"})
        si.put(pod_obj("mesh", "c2", "198.18.1.61"))
        v.wait(has("kubernetes:pods/mesh/c2"), "an event after a cut")
        st = v.status
        assert st["pods"]["relists_gone"] == 0, st
        assert st["pods"]["lists"] == 1, st
        assert st["pods"]["watches"] >= 3, st


def test_gone_relists():
    with started() as (si, v):
        # history forgotten while the streams are cut: resuming from
        # the old resourceVersion gets 410, and a relist
        si.ctl("/cut", {"mode": "now"})
        si.delete("v1", "Pod", "mesh", "p0")
        si.put(pod_obj("mesh", "g1", "198.18.1.70"))
        si.ctl("/compact", {})
        v.wait(lambda v: lacks("kubernetes:pods/mesh/p0")(v) and
               has("kubernetes:pods/mesh/g1")(v), "state after a 410")
        v.wait_status(lambda s: s["pods"]["relists_gone"] >= 1 and
                      s["pods"]["lists"] >= 2, "a relist after 410")


def test_restart_without_history():
    with started() as (si, v):
        si.ctl("/restart", {"down_seconds": 1, "keep_history": False})
        si.put(pod_obj("mesh", "after", "198.18.1.80"))
        v.wait(has("kubernetes:pods/mesh/after"), "a change made while "
               "the server was down", timeout=20)
        # everything synced again, nothing lost
        view = v.views[-1]
        assert has("kubernetes:pods/mesh/p4")(view)
        assert view["config"] == "ok", view["errors"]


def test_token_rotation():
    si = standin(tls=True)
    d = tempfile.TemporaryDirectory(prefix="sl-k8s-tok-")
    try:
        tf = os.path.join(d.name, "token")
        with open(tf, "w") as f:
            f.write(TOKEN + "\n")
        base_objects(si)
        v = Viewer(si, token_file=tf)
        try:
            v.wait(has("kubernetes:pods/mesh/p0"), "first view over HTTPS")
            si.wait_watchers(10)
            # the kubelet writes a new token; the old one stops working
            # and every connection is dropped
            tmp = tf + ".new"
            with open(tmp, "w") as f:
                f.write("tok-two\n")
            os.rename(tmp, tf)
            si.ctl("/tokens", {"tokens": {"tok-two": {"allow": ["*"]}},
                               "drop_connections": True})
            si.put(pod_obj("mesh", "rot", "198.18.1.90"))
            v.wait(has("kubernetes:pods/mesh/rot"), "a change after the "
                   "token rotated", timeout=15)
            assert "changed: using the new token" in v.stderr(), v.stderr()
        finally:
            v.close()
    finally:
        si.close()
        d.cleanup()


def test_forbidden_is_reported_and_not_published():
    res = ("namespaces,pods,nodes,networking.istio.io/virtualservices,"
           "networking.istio.io/destinationrules,"
           "networking.istio.io/serviceentries,"
           "networking.istio.io/workloadentries,"
           "security.istio.io/peerauthentications,"
           "security.istio.io/authorizationpolicies")
    si = StandIn(["--token", f"limited={res}"])
    try:
        base_objects(si)
        v = Viewer(si, token="limited")
        try:
            st = v.wait_status(
                lambda s: s["services"]["errors"] >= 1 and
                s["pods"]["synced"], "services forbidden")
            assert "403" in st["services"]["last_error"], st["services"]
            assert "forbidden" in st["services"]["last_error"], st
            assert not st["services"]["synced"], st
            v.settle(1)
            assert v.views == [], "a view published without services"
        finally:
            v.close()
    finally:
        si.close()


def test_rejected_resource_left_out():
    si = standin()
    try:
        base_objects(si)
        good = {"apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "web", "namespace": "mesh"},
                "spec": {"hosts": ["web"],
                         "http": [{"timeout": "2s",
                                   "route": [{"destination":
                                              {"host": "web"}}]}]}}
        bad = json.loads(json.dumps(good))
        bad["metadata"]["name"] = "bad"
        bad["spec"]["hosts"] = ["api"]
        bad["spec"]["http"][0]["route"][0]["destination"]["host"] = "api"
        bad["spec"]["http"][0]["timeout"] = "soon"
        si.put(svc_obj("mesh", "api", "198.18.100.3",
                       selector={"app": "web"}))
        si.put(good)
        si.put(bad)
        v = Viewer(si)
        try:
            path = "kubernetes:networking.istio.io/virtualservices/mesh/bad"
            view = v.wait(lambda v: v["rejected"], "a rejected resource")
            assert view["config"] == "ok", view["errors"]
            assert view["n_rejected"] == 1, view
            assert all(r.startswith(path + ":") for r in view["rejected"]), \
                view["rejected"]
            assert "spec.http[0].timeout" in view["rejected"][0], view
            assert view["workloads"] == 9, view
            # fixed: loaded, nothing rejected
            bad["spec"]["http"][0]["timeout"] = "3s"
            si.put(bad)
            view = v.wait(lambda v: not v["rejected"] and "3s" in v["docs"][
                path], "the fixed resource")
            assert view["config"] == "ok", view["errors"]
            # a second VirtualService for one host: the conflict names both
            dup = json.loads(json.dumps(good))
            dup["metadata"]["name"] = "zdup"
            si.put(dup)
            view = v.wait(lambda v: v["rejected"], "a conflict")
            assert view["config"] == "ok", view["errors"]
            assert view["rejected"][0].startswith(
                "kubernetes:networking.istio.io/virtualservices/mesh/zdup:"),\
                view["rejected"]
            assert "virtualservices/mesh/web" in view["rejected"][0], \
                view["rejected"]
        finally:
            v.close()
    finally:
        si.close()


# ---- Kubernetes Events for rejected resources (k8s/events.c) -------------

EVENTS = "/apis/events.k8s.io/v1/events"


def bad_vs(si, name="bad", timeout="soon"):
    """a Service "api" and a VirtualService for it that sluice rejects (its
    timeout is not a duration)"""
    si.put(svc_obj("mesh", "api", "198.18.100.3", selector={"app": "web"}))
    vs = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
          "metadata": {"name": name, "namespace": "mesh"},
          "spec": {"hosts": ["api"],
                   "http": [{"timeout": timeout,
                             "route": [{"destination": {"host": "api"}}]}]}}
    si.put(vs)
    return vs


def events_of(si):
    code, _, body = si.get(EVENTS, TOKEN)
    assert code == 200, body
    return body["items"]


def wait_for(pred, what, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"not seen in {timeout} s: {what}")


def fnv1a(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def node_obj(name):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "Hostname",
                                      "address": name}]}}


def test_event_for_rejected_resource():
    """one Event, every field as the API wants it, posted once while the
    rejection lasts"""
    si = standin()
    try:
        base_objects(si)
        bad_vs(si)
        v = Viewer(si, args=["--report-rejected", "--node", "node-a"])
        try:
            view = v.wait(lambda v: v["rejected"], "the rejected resource")
            evs = wait_for(lambda: events_of(si), "an Event")
            assert len(evs) == 1, evs
            ev = evs[0]
            # the note: "left out of the mesh: <field>: <sluice's error>"
            rej = view["rejected"][0]
            err = rej.split("left out of the mesh: ", 1)[1]
            note = "left out of the mesh: spec.http[0].timeout: " + err
            h = fnv1a(b"VirtualService\0mesh\0bad\0" + note.encode())
            assert ev["metadata"]["name"] == f"bad.sluice-{h:016x}"[:23], ev
            assert ev["metadata"]["namespace"] == "mesh", ev
            for k, want in (("type", "Warning"), ("reason", "Rejected"),
                            ("action", "Validate"),
                            ("reportingController", "sluice.io/sluiced"),
                            ("reportingInstance", "sluiced-node-a"),
                            ("note", note)):
                assert ev.get(k) == want, (k, ev)
            assert ev["regarding"] == {
                "apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService", "namespace": "mesh",
                "name": "bad"}, ev
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",
                                ev["eventTime"]), ev
            st = v.wait_events(lambda e: e["posted"] == 1, "posted")
            assert st["reporter"] and not st["forbidden"], st
            assert st["pending"] == 0 and st["already"] == 0, st
            # another view with the same rejection: nothing posted again
            serial = v.views[-1]["serial"]
            si.put(pod_obj("mesh", "p9", "198.18.1.40"))
            v.wait(lambda x: x["serial"] > serial, "a new view")
            v.settle(0.5)
            assert si.state()["posts"] == 1, si.state()
            assert v.events["posted"] == 1, v.events
        finally:
            v.close()
    finally:
        si.close()


def test_event_long_name_and_note():
    """an object's name of 243 characters: the Event's name cut to 253,
    still a DNS-1123 subdomain; an error longer than the API's 1,024 bytes
    for note: cut, not inside a UTF-8 character (the 1,024th byte falls
    inside an "\u00e9"; the stand-in refuses both otherwise: 422, 400)"""
    si = standin()
    try:
        base_objects(si)
        name = ".".join(["n" * 60] * 4) + "-x"
        bad_vs(si, name=name, timeout="soonx" + "\u00e9" * 700)
        v = Viewer(si, args=["--report-rejected"])
        try:
            e = v.wait_events(lambda e: e["posted"] + e["failed"] >= 1,
                              "posted")
            assert e["posted"] == 1 and e["failed"] == 0, e
            ev = events_of(si)[0]
            n = ev["metadata"]["name"]
            assert len(n) == 253, n
            assert re.fullmatch(r"n{60}\.n{60}\.n{60}\.n{50}\.sluice-"
                                r"[0-9a-f]{12}", n), n
            note = ev["note"].encode()
            assert 1020 <= len(note) <= 1024, len(note)
            assert ev["note"].startswith(
                "left out of the mesh: spec.http[0].timeout: "), ev["note"]
            assert ev["regarding"]["name"] == name, ev
        finally:
            v.close()
    finally:
        si.close()


def test_event_rate_bounded():
    """more rejections than the token bucket's burst (10): 10 posted at
    once, the rest wait for the refill (one per 5 s)"""
    si = standin()
    try:
        base_objects(si)
        for i in range(12):
            bad_vs(si, name=f"bad{i:02}", timeout=f"soon{i}")
        v = Viewer(si, args=["--report-rejected"])
        try:
            v.wait(lambda x: len(x["rejected"]) >= 12, "12 rejected")
            e = v.wait_events(lambda e: e["posted"] == 10, "10 posted")
            v.settle(1.5)
            assert v.events["posted"] == 10, v.events
            assert v.events["pending"] >= 2, v.events
            assert si.state()["posts"] == 10, si.state()
        finally:
            v.close()
    finally:
        si.close()


def test_event_retried_after_500():
    """a 500: kept, retried with backoff, posted"""
    si = standin()
    try:
        base_objects(si)
        si.ctl("/config", {"fail_posts": 2})
        bad_vs(si)
        v = Viewer(si, args=["--report-rejected"])
        try:
            e = v.wait_events(lambda e: "HTTP 500" in e["last_error"],
                              "a 500")
            assert e["pending"] == 1 and e["failed"] == 0, e
            e = v.wait_events(lambda e: e["posted"] == 1, "posted", 15)
            assert e["failed"] == 0 and e["pending"] == 0, e
            assert si.state()["posts"] == 3, si.state()
            assert len(events_of(si)) == 1
        finally:
            v.close()
    finally:
        si.close()


def test_event_two_reporters_one_event():
    """two nodes report the same rejection: one Event, the second's 409
    counted as already reported"""
    si = standin()
    try:
        base_objects(si)
        bad_vs(si)
        a = Viewer(si, args=["--report-rejected", "--node", "node-a"])
        b = Viewer(si, args=["--report-rejected", "--node", "node-b"])
        try:
            ea = a.wait_events(lambda e: e["posted"] + e["already"] == 1,
                               "node-a reported")
            eb = b.wait_events(lambda e: e["posted"] + e["already"] == 1,
                               "node-b reported")
            assert ea["posted"] + eb["posted"] == 1, (ea, eb)
            assert ea["already"] + eb["already"] == 1, (ea, eb)
            assert ea["failed"] == eb["failed"] == 0, (ea, eb)
            assert ea["pending"] == eb["pending"] == 0, (ea, eb)
            assert si.state()["posts"] == 2, si.state()
            evs = events_of(si)
            assert len(evs) == 1, evs
        finally:
            a.close()
            b.close()
    finally:
        si.close()


def test_event_only_first_three_nodes():
    """node-d is not among the first 3 Nodes: it posts nothing, until a
    Node before it goes"""
    si = standin()
    try:
        base_objects(si)
        for n in ("node-c", "node-a", "node-d", "node-b"):
            si.put(node_obj(n))
        bad_vs(si)
        v = Viewer(si, args=["--report-rejected", "--node", "node-d"])
        try:
            v.wait(lambda v: v["rejected"], "the rejected resource")
            e = v.wait_events(lambda e: e["pending"] == 1 and
                              not e["reporter"], "not a reporter")
            v.settle(1.5)
            assert si.state()["posts"] == 0, si.state()
            assert v.events["posted"] == 0, v.events
            si.delete("v1", "Node", None, "node-b")
            e = v.wait_events(lambda e: e["posted"] == 1, "posted")
            assert e["reporter"] and e["pending"] == 0, e
            assert len(events_of(si)) == 1
        finally:
            v.close()
    finally:
        si.close()


def test_event_forbidden_stops_posting():
    """RBAC without create on events: one 403, shown and logged once, and
    nothing posted after it"""
    res = ("namespaces,pods,services,nodes,"
           "discovery.k8s.io/endpointslices,"
           "networking.istio.io/virtualservices,"
           "networking.istio.io/destinationrules,"
           "networking.istio.io/serviceentries,"
           "networking.istio.io/workloadentries,"
           "security.istio.io/peerauthentications,"
           "security.istio.io/authorizationpolicies")
    si = StandIn(["--token", f"limited={res}", "--token", TOKEN])
    try:
        base_objects(si)
        bad_vs(si)
        v = Viewer(si, token="limited", args=["--report-rejected"])
        try:
            e = v.wait_events(lambda e: e["forbidden"], "forbidden")
            assert "403" in e["last_error"], e
            assert 'cannot create resource "events" in API group ' \
                '"events.k8s.io"' in e["last_error"], e
            assert e["posted"] == 0 and e["pending"] == 1, e
            assert si.state()["posts"] == 1, si.state()
            # a second rejection: still nothing posted
            bad_vs(si, name="bad2")
            v.wait(lambda x: len(x["rejected"]) == 2, "two rejected")
            v.settle(1.5)
            assert si.state()["posts"] == 1, si.state()
            assert v.events["pending"] == 2 and v.events["forbidden"], \
                v.events
            assert v.stderr().count("cannot post Events") == 1, v.stderr()
            assert events_of(si) == []
        finally:
            v.close()
    finally:
        si.close()


def test_event_again_after_fixed():
    """a rejection fixed, then back: posted again (409 while the first
    Event stands; a new Event once it has expired)"""
    si = standin()
    try:
        base_objects(si)
        vs = bad_vs(si)
        v = Viewer(si, args=["--report-rejected"])
        try:
            v.wait_events(lambda e: e["posted"] == 1, "posted")
            name = events_of(si)[0]["metadata"]["name"]

            def fix_and_break():
                vs["spec"]["http"][0]["timeout"] = "3s"
                si.put(vs)
                v.wait(lambda x: not x["rejected"], "fixed")
                vs["spec"]["http"][0]["timeout"] = "soon"
                si.put(vs)
                v.wait(lambda x: x["rejected"], "rejected again")
            fix_and_break()
            e = v.wait_events(lambda e: e["already"] == 1, "posted again")
            assert e["posted"] == 1 and e["pending"] == 0, e
            assert si.state()["posts"] == 2, si.state()
            # the Event expires (its TTL): the next time, a new one
            si.delete("events.k8s.io/v1", "Event", "mesh", name)
            fix_and_break()
            e = v.wait_events(lambda e: e["posted"] == 2, "a new Event")
            assert [x["metadata"]["name"] for x in events_of(si)] == [name]
        finally:
            v.close()
    finally:
        si.close()


def test_directory_and_api_conflict():
    """The directory and the API merge; one host defined by both: the
    API's resource is left out, its error names the file"""
    si = standin()
    d = tempfile.TemporaryDirectory(prefix="sl-k8s-dir-")
    try:
        base_objects(si)
        with open(os.path.join(d.name, "vs.yaml"), "w") as f:
            f.write("apiVersion: networking.istio.io/v1\n"
                    "kind: VirtualService\n"
                    "metadata: {name: web-file, namespace: mesh}\n"
                    "spec:\n  hosts: [web]\n"
                    "  tcp: [{route: [{destination: {host: web}}]}]\n")
        si.put({"apiVersion": "networking.istio.io/v1",
                "kind": "VirtualService",
                "metadata": {"name": "web-api", "namespace": "mesh"},
                "spec": {"hosts": ["web"],
                         "tcp": [{"route": [{"destination":
                                             {"host": "web"}}]}]}})
        v = Viewer(si, args=["--config", d.name])
        try:
            view = v.wait(lambda v: v["rejected"], "the conflict")
            assert view["config"] == "ok", view["errors"]
            r = view["rejected"]
            assert len(r) == 1, r
            assert r[0].startswith("kubernetes:networking.istio.io/"
                                   "virtualservices/mesh/web-api:"), r
            assert "vs.yaml" in r[0] and "web-file" in r[0], r
        finally:
            v.close()
    finally:
        si.close()
        d.cleanup()


def test_real_fixtures():
    """Kubernetes' round-trip fixtures (every field set) are read without
    error; every Istio sample (v1, v1beta1, v1alpha3) arrives whole."""
    files = [os.path.join(FIXTURES, "kubernetes", f)
             for f in ("core.v1.Pod.json", "core.v1.Service.json",
                       "core.v1.Namespace.json",
                       "discovery.k8s.io.v1.EndpointSlice.json")]
    istio = sorted(os.listdir(os.path.join(FIXTURES, "istio")))
    si = standin(*sum((["--load", f] for f in files), []))
    try:
        si.put(ns_obj("samples"))
        si.ctl("/load", {"files": [os.path.join(FIXTURES, "istio", f)
                                   for f in istio],
                         "namespace": "samples"})
        v = Viewer(si)
        try:
            view = v.wait(lambda v: True, "a first view")
            paths = set(view["docs"])
            kinds = {p.split("/")[1] for p in paths if "istio" in p}
            assert kinds == {"virtualservices", "destinationrules",
                             "serviceentries", "workloadentries",
                             "peerauthentications",
                             "authorizationpolicies"}, paths
            st = v.wait_status(lambda s: all(r["synced"] for r in s.values()),
                               "every resource synced")
            for s in st.values():
                assert s["errors"] == 0, st
            # nothing sluice cannot read: only resolution errors (hosts no
            # Service defines) may reject a sample
            for r in view["rejected"]:
                assert "REJECTED" in r, r
            assert view["config"] == "ok", view["errors"]
        finally:
            v.close()
    finally:
        si.close()


def main():
    global VIEW
    VIEW = sys.argv[1]
    failed = 0
    tests = [(k, f) for k, f in globals().items() if k.startswith("test_")]
    only = sys.argv[2:]
    for name, fn in tests:
        if only and name not in only:
            continue
        t0 = time.monotonic()
        try:
            fn()
            print(f"ok {name} ({time.monotonic() - t0:.1f} s)")
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        sys.stdout.flush()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
