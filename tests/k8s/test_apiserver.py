#!/usr/bin/env python3
"""The stand-in API server (apiserver.py) against the Kubernetes API
conventions, checked with a plain HTTP client: discovery, fixtures served
as they are, list + pagination over one snapshot, 410 Expired on an old
continue token and on an old watch resourceVersion, watch from a
resourceVersion (exactly the later events, in order), selectors, bookmarks,
401/403 and token rotation, Status objects, a stream cut mid-event, a
restart, HTTPS.  Usage: test_apiserver.py [unittest args]"""

import base64
import glob
import json
import os
import socket
import sys
import time
import unittest

import yaml  # python3-yaml (packaging/install-deps)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin import (FIXTURES, StandIn, http_connection, pod,  # noqa: E402
                     status_ok)


TOKEN = "t0ken-a"


class Base(unittest.TestCase):
    args = ()
    tls = False

    def setUp(self):
        self.si = StandIn(["--token", TOKEN] + list(self.args), tls=self.tls)
        self.addCleanup(self.si.close)

    def get(self, path, token=TOKEN, **kw):
        return self.si.get(path, token, **kw)

    def watch(self, path, token=TOKEN):
        w = self.si.watch(path, token)
        self.addCleanup(w.close)
        return w

    def ok(self, path, **kw):
        code, _, body = self.get(path, **kw)
        self.assertEqual(code, 200, f"GET {path}: {body}")
        return body

    def rv(self):
        return self.si.state()["resourceVersion"]


class Discovery(Base):
    def test_discovery(self):
        self.assertEqual(self.ok("/api")["versions"], ["v1"])
        groups = {g["name"]: [v["version"] for v in g["versions"]]
                  for g in self.ok("/apis")["groups"]}
        self.assertEqual(groups, {
            "discovery.k8s.io": ["v1"],
            "events.k8s.io": ["v1"],
            "networking.istio.io": ["v1", "v1beta1", "v1alpha3"],
            "security.istio.io": ["v1", "v1beta1"]})
        core = {r["name"]: r for r in self.ok("/api/v1")["resources"]}
        self.assertEqual(set(core), {"pods", "services", "namespaces",
                                     "nodes"})
        self.assertTrue(core["pods"]["namespaced"])
        self.assertFalse(core["namespaces"]["namespaced"])
        self.assertEqual(core["pods"]["kind"], "Pod")
        self.assertIn("watch", core["pods"]["verbs"])
        for gv, names in (
                ("networking.istio.io/v1alpha3",
                 {"virtualservices", "destinationrules", "serviceentries",
                  "workloadentries"}),
                ("security.istio.io/v1beta1",
                 {"peerauthentications", "authorizationpolicies"}),
                ("discovery.k8s.io/v1", {"endpointslices"}),
                ("events.k8s.io/v1", {"events"})):
            rl = self.ok("/apis/" + gv)
            self.assertEqual(rl["kind"], "APIResourceList")
            self.assertEqual(rl["groupVersion"], gv)
            self.assertEqual({r["name"] for r in rl["resources"]}, names)
        self.assertEqual(self.ok("/apis/networking.istio.io")["kind"],
                         "APIGroup")
        self.assertIn("gitVersion", self.ok("/version"))

    def test_unknown_paths(self):
        code, hdr, body = self.get("/apis/nosuch.io/v1/things")
        self.assertEqual((code, body), (404, "404 page not found\n"))
        code, _, body = self.get("/api/v1/nosuchthings")
        self.assertEqual(code, 404)
        self.assertTrue(status_ok(body, 404, "NotFound"), body)
        self.assertEqual(body["message"],
                         "the server could not find the requested resource")
        code, _, body = self.get("/api/v1/namespaces/x/pods/nope")
        self.assertTrue(status_ok(body, 404, "NotFound"), body)
        self.assertEqual(body["message"], 'pods "nope" not found')
        self.assertEqual(body["details"], {"name": "nope", "kind": "pods"})
        code, _, body = self.get("/api/v1/pods?fieldSelector=spec.foo%3Dx")
        self.assertTrue(status_ok(body, 400, "BadRequest"), body)
        self.assertIn("field label not supported: spec.foo", body["message"])
        # writes go through the control port, not the API
        conn = http_connection(self.si)
        conn.request("POST", "/api/v1/namespaces/x/pods", body=b"{}",
                     headers={"Authorization": f"Bearer {TOKEN}",
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        self.assertEqual(r.status, 405)
        self.assertTrue(status_ok(json.load(r), 405, "MethodNotAllowed"))
        conn.close()


def event_obj(name="vs.sluice-0123456789ab", ns="mesh"):
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "eventTime": "2026-12-08T00:33:27.123456Z",
            "reportingController": "sluice.io/sluiced",
            "reportingInstance": "sluiced-node-a",
            "action": "Validate", "reason": "Rejected", "type": "Warning",
            "regarding": {"apiVersion": "networking.istio.io/v1",
                          "kind": "VirtualService", "namespace": ns,
                          "name": "vs"},
            "note": "left out of the mesh: spec.hosts: bad"}


class Events(Base):
    """POST of events.k8s.io/v1 Events: created, validated as the API
    server does, 409 on a name taken, 403 without the right, listed."""
    args = ("--token", "limited=pods,services")

    def post(self, ns, obj, token=TOKEN, path=None):
        conn = http_connection(self.si)
        conn.request("POST", path or
                     f"/apis/events.k8s.io/v1/namespaces/{ns}/events",
                     body=json.dumps(obj).encode(),
                     headers={"Authorization": f"Bearer {token}",
                              "Content-Type": "application/json"})
        r = conn.getresponse()
        body = json.load(r)
        conn.close()
        return r.status, body

    def test_create_conflict_list(self):
        self.si.put({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": "mesh"}})
        code, body = self.post("mesh", event_obj())
        self.assertEqual(code, 201, body)
        self.assertEqual(body["kind"], "Event")
        self.assertEqual(body["note"], event_obj()["note"])
        self.assertTrue(body["metadata"]["uid"])
        # the same name again: 409 AlreadyExists
        code, body = self.post("mesh", event_obj())
        self.assertTrue(status_ok(body, 409, "AlreadyExists"), body)
        self.assertEqual(body["message"], 'events.events.k8s.io '
                         '"vs.sluice-0123456789ab" already exists')
        lst = self.ok("/apis/events.k8s.io/v1/namespaces/mesh/events")
        self.assertEqual(lst["kind"], "EventList")
        self.assertEqual([e["metadata"]["name"] for e in lst["items"]],
                         ["vs.sluice-0123456789ab"])
        # another namespace in the body than in the path: 400
        code, body = self.post("mesh", event_obj(ns="other"))
        self.assertTrue(status_ok(body, 400, "BadRequest"), body)
        self.assertIn("does not match the namespace", body["message"])
        # a namespace that does not exist: 404
        code, body = self.post("nope", event_obj(ns="nope"))
        self.assertTrue(status_ok(body, 404, "NotFound"), body)
        self.assertEqual(body["message"], 'namespaces "nope" not found')
        # the token without the right: 403 as RBAC words it
        code, body = self.post("mesh", event_obj("x"), token="limited")
        self.assertTrue(status_ok(body, 403, "Forbidden"), body)
        self.assertEqual(
            body["message"], 'events.events.k8s.io is forbidden: User '
            '"sluice-test" cannot create resource "events" in API group '
            '"events.k8s.io" in the namespace "mesh"')
        # other resources stay read-only
        code, body = self.post("mesh", {}, path="/apis/networking.istio.io"
                               "/v1/namespaces/mesh/virtualservices")
        self.assertTrue(status_ok(body, 405, "MethodNotAllowed"), body)

    def test_validation(self):
        self.si.put({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": "mesh"}})
        for change, want in (
                ({"eventTime": None}, "eventTime: Required value"),
                ({"reportingController": ""},
                 "reportingController: Required value"),
                ({"reportingController": "not a name!"},
                 "reportingController: Invalid value"),
                ({"reportingInstance": "i" * 129},
                 "reportingInstance: Invalid value"),
                ({"action": ""}, "action: Required value"),
                ({"reason": ""}, "reason: Required value"),
                ({"type": "Bad"}, "type: Invalid value"),
                ({"note": "n" * 1025}, "note: Invalid value"),
                ({"regarding": {"kind": "VirtualService", "name": "vs"}},
                 "regarding.namespace: Invalid value"),
                ({"metadata": {"name": "Not_A_Name"}},
                 "metadata.name: Invalid value")):
            obj = event_obj()
            obj.update(change)
            code, body = self.post("mesh", obj)
            self.assertTrue(status_ok(body, 422, "Invalid"), (change, body))
            self.assertIn(want, body["message"], change)
        obj = event_obj()
        obj["eventTime"] = "2026-12-08T00:33:27Z"  # not a MicroTime
        code, body = self.post("mesh", obj)
        self.assertTrue(status_ok(body, 400, "BadRequest"), body)
        obj["kind"] = "Pod"
        code, body = self.post("mesh", obj)
        self.assertTrue(status_ok(body, 400, "BadRequest"), body)
        # a note of exactly 1024 bytes (UTF-8) passes
        obj = event_obj("n1024")
        obj["note"] = "\u00e9" * 512
        code, body = self.post("mesh", obj)
        self.assertEqual(code, 201, body)


def k8s_fixture(name):
    with open(os.path.join(FIXTURES, "kubernetes", name)) as f:
        return json.load(f)


class Fixtures(Base):
    def test_kubernetes_fixtures_as_they_are(self):
        files = sorted(glob.glob(os.path.join(FIXTURES, "kubernetes",
                                              "*.json")))
        files = [f for f in files if not f.endswith("Status.json")]
        r = self.si.ctl("/load", {"files": files})
        self.assertEqual(len(r["loaded"]), 4)
        for f in files:
            want = k8s_fixture(os.path.basename(f))
            md = want["metadata"]
            if want["kind"] == "Namespace":
                path = f"/api/v1/namespaces/{md['name']}"
            elif want["kind"] == "EndpointSlice":
                path = (f"/apis/discovery.k8s.io/v1/namespaces/"
                        f"{md['namespace']}/endpointslices/{md['name']}")
            else:
                path = (f"/api/v1/namespaces/{md['namespace']}/"
                        f"{want['kind'].lower()}s/{md['name']}")
            got = self.ok(path)
            # only the resourceVersion is the server's; every odd value of
            # the fixture comes back as it was
            self.assertRegex(got["metadata"].pop("resourceVersion"), r"^\d+$")
            md.pop("resourceVersion")
            self.assertEqual(got, want, f)
        # in a list, a built-in type's items carry no kind/apiVersion
        pods = self.ok("/api/v1/pods")
        self.assertEqual(pods["kind"], "PodList")
        self.assertNotIn("kind", pods["items"][0])
        want = k8s_fixture("core.v1.Pod.json")
        for k in ("kind", "apiVersion"):
            del want[k]
        del want["metadata"]["resourceVersion"]
        del pods["items"][0]["metadata"]["resourceVersion"]
        self.assertEqual(pods["items"][0], want)

    def test_istio_samples_every_version(self):
        files = sorted(glob.glob(os.path.join(FIXTURES, "istio", "*.yaml")))
        self.assertGreaterEqual(len(files), 19)
        # the validation dataset names one object alike in each version:
        # one namespace per file keeps them apart
        want = []
        for i, f in enumerate(files):
            ns = f"ns{i}"
            self.si.ctl("/load", {"files": [f], "namespace": ns})
            with open(f) as fh:
                for d in yaml.safe_load_all(fh):
                    if d:
                        want.append((ns, d))
        self.assertEqual(len(want), 24)
        plural = {"VirtualService": "virtualservices",
                  "DestinationRule": "destinationrules",
                  "ServiceEntry": "serviceentries",
                  "WorkloadEntry": "workloadentries",
                  "PeerAuthentication": "peerauthentications",
                  "AuthorizationPolicy": "authorizationpolicies"}
        for ns, d in want:
            path = (f"/apis/{d['apiVersion']}/namespaces/{ns}/"
                    f"{plural[d['kind']]}/{d['metadata']['name']}")
            got = self.ok(path)
            for k in ("resourceVersion", "uid", "creationTimestamp"):
                self.assertIn(k, got["metadata"])
                got["metadata"].pop(k)
            # as kubectl sends YAML: converted to JSON (int keys: strings)
            exp = json.loads(json.dumps(d))
            exp["metadata"]["namespace"] = ns
            self.assertEqual(got, exp, path)
        # a custom resource is served in every version of its CRD, only
        # apiVersion changing; its list items carry kind and apiVersion
        vs = self.ok("/apis/networking.istio.io/v1alpha3/virtualservices")
        self.assertEqual(vs["kind"], "VirtualServiceList")
        self.assertEqual(vs["apiVersion"], "networking.istio.io/v1alpha3")
        self.assertTrue(all(i["apiVersion"] == "networking.istio.io/v1alpha3"
                            and i["kind"] == "VirtualService"
                            for i in vs["items"]))
        self.assertEqual(len(vs["items"]),
                         sum(1 for _, d in want
                             if d["kind"] == "VirtualService"))


class List(Base):
    def fill(self):
        names = []
        for ns in ("alpha", "beta"):
            for i in range(4):
                self.si.put(pod(f"p{i}", ns, labels={"app": "web" if i % 2
                                                     else "db"}))
                names.append(f"{ns}/p{i}")
        return names

    def names(self, items):
        return [f"{i['metadata']['namespace']}/{i['metadata']['name']}"
                for i in items]

    def test_pagination_one_snapshot(self):
        names = self.fill()
        page = self.ok("/api/v1/pods?limit=3")
        rv = page["metadata"]["resourceVersion"]
        self.assertEqual(rv, str(self.rv()))
        self.assertEqual(page["metadata"]["remainingItemCount"], 5)
        got = self.names(page["items"])
        # changes after the first page are not seen by the later ones
        self.si.put(pod("p9", "beta"))
        self.si.delete("v1", "Pod", "beta", "p3")
        mod = pod("p0", "beta", labels={"changed": "yes"})
        self.si.put(mod)
        while page["metadata"].get("continue"):
            page = self.ok("/api/v1/pods?limit=3&continue=" +
                           page["metadata"]["continue"])
            self.assertEqual(page["metadata"]["resourceVersion"], rv)
            got += self.names(page["items"])
            for i in page["items"]:
                self.assertNotIn("changed", i["metadata"]["labels"])
        self.assertNotIn("remainingItemCount", page["metadata"])
        self.assertEqual(got, names)
        # a fresh list sees the new state
        now = self.names(self.ok("/api/v1/pods")["items"])
        self.assertEqual(now, [n for n in names if n != "beta/p3"] +
                         ["beta/p9"])

    def test_rv0_unpaged(self):
        names = self.fill()
        page = self.ok("/api/v1/pods?limit=3&resourceVersion=0")
        self.assertEqual(len(page["items"]), 3)
        self.si.ctl("/config", {"rv0_unpaged": True})
        page = self.ok("/api/v1/pods?limit=3&resourceVersion=0")
        self.assertEqual(self.names(page["items"]), names)
        self.assertNotIn("continue", page["metadata"])
        self.assertEqual(len(self.ok("/api/v1/pods?limit=3")["items"]), 3)

    def test_namespace_and_selectors(self):
        self.fill()
        self.si.put(pod("other", "alpha", node="node-b"))
        self.assertEqual(self.names(self.ok(
            "/api/v1/namespaces/beta/pods")["items"]),
            ["beta/p0", "beta/p1", "beta/p2", "beta/p3"])
        self.assertEqual(self.names(self.ok(
            "/api/v1/pods?labelSelector=app%3Dweb")["items"]),
            ["alpha/p1", "alpha/p3", "beta/p1", "beta/p3"])
        self.assertEqual(self.names(self.ok(
            "/api/v1/pods?labelSelector=app+in+(db,other),app!%3Ddb")
            ["items"]), ["alpha/other"])
        self.assertEqual(self.names(self.ok(
            "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-b")["items"]),
            ["alpha/other"])
        self.assertEqual(len(self.ok(
            "/api/v1/pods?fieldSelector=spec.nodeName!%3Dnode-b")["items"]),
            8)
        # paging under a selector: continue, no remainingItemCount
        page = self.ok("/api/v1/pods?labelSelector=app%3Ddb&limit=2")
        self.assertIn("continue", page["metadata"])
        self.assertNotIn("remainingItemCount", page["metadata"])

    def test_continue_too_old_is_410(self):
        self.fill()
        page = self.ok("/api/v1/pods?limit=3")
        self.si.put(pod("late"))
        self.si.ctl("/compact", {})
        code, _, st = self.get("/api/v1/pods?limit=3&continue=" +
                               page["metadata"]["continue"])
        self.assertEqual(code, 410)
        self.assertTrue(status_ok(st, 410, "Expired"), st)
        self.assertIn("continue parameter is too old", st["message"])
        tok = json.loads(base64.urlsafe_b64decode(
            st["metadata"]["continue"] + "=="))
        self.assertEqual(tok, {"v": "meta.k8s.io/v1", "rv": -1,
                               "start": "alpha/p2\u0000"})
        # ... with a token to go on, inconsistently, after the same key
        page2 = self.ok("/api/v1/pods?limit=3&continue=" +
                        st["metadata"]["continue"])
        self.assertEqual(self.names(page2["items"]),
                         ["alpha/p3", "beta/p0", "beta/p1"])
        self.assertEqual(page2["metadata"]["resourceVersion"],
                         str(self.rv()))
        code, _, st = self.get("/api/v1/pods?continue=garbage")
        self.assertTrue(status_ok(st, 400, "BadRequest"), st)


class Watch(Base):
    args = ("--bookmark-interval", "0.2")

    def test_exactly_the_later_events_in_order(self):
        self.si.put(pod("before"))
        start = self.rv()
        self.si.put(pod("a"))
        self.si.put({"apiVersion": "v1", "kind": "Service",
                     "metadata": {"name": "s", "namespace": "default"},
                     "spec": {"clusterIP": "198.18.1.1"}})
        self.si.put(pod("a", labels={"v": "2"}))
        self.si.put(pod("b", "other"))
        self.si.delete("v1", "Pod", "default", "a")
        end = self.rv()
        w = self.watch(f"/api/v1/pods?watch=true&resourceVersion={start}"
                       "&timeoutSeconds=0.3")
        self.assertEqual(w.status, 200)
        self.assertEqual(w.headers.get("transfer-encoding"), "chunked")
        self.assertEqual(w.headers.get("content-type"), "application/json")
        evs = w.events()
        self.assertTrue(w.clean, "the stream ends with the zero chunk")
        got = [(e["type"], e["object"]["metadata"]["name"]) for e in evs]
        self.assertEqual(got, [("ADDED", "a"), ("MODIFIED", "a"),
                               ("ADDED", "b"), ("DELETED", "a")])
        rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in evs]
        self.assertEqual(rvs, sorted(rvs))
        self.assertEqual(rvs[-1], end)
        self.assertTrue(all(e["object"]["kind"] == "Pod" and
                            e["object"]["apiVersion"] == "v1" for e in evs))
        self.assertEqual(evs[1]["object"]["metadata"]["labels"], {"v": "2"})
        # from the middle: only what follows
        w = self.watch(f"/api/v1/namespaces/other/pods?watch=1&"
                       f"resourceVersion={rvs[1]}&timeoutSeconds=0.3")
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"])
                          for e in w.events()], [("ADDED", "b")])

    def test_live_events_and_node_selector(self):
        self.si.put(pod("x", node="node-b"))
        start = self.rv()
        w = self.watch("/api/v1/pods?watch=true&fieldSelector=spec.nodeName"
                       f"%3Dnode-a&resourceVersion={start}&timeoutSeconds=3")
        self.si.wait_watchers(1)
        self.si.put(pod("x", node="node-a"))   # moves here: ADDED
        self.si.put(pod("y", node="node-b"))   # elsewhere: nothing
        self.si.put(pod("x", node="node-b"))   # moves away: DELETED
        got = [(e["type"], e["object"]["metadata"]["name"],
                e["object"]["spec"]["nodeName"]) for e in w.events(2)]
        self.assertEqual(got, [("ADDED", "x", "node-a"),
                               ("DELETED", "x", "node-b")])

    def test_without_resource_version_starts_with_the_state(self):
        self.si.put(pod("s1"))
        self.si.put(pod("s2"))
        w = self.watch("/api/v1/pods?watch=true&timeoutSeconds=2")
        first = w.events(2)
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"])
                          for e in first], [("ADDED", "s1"), ("ADDED", "s2")])
        self.si.wait_watchers(1)
        self.si.put(pod("s3"))
        self.assertEqual(w.events(1)[0]["object"]["metadata"]["name"], "s3")

    def test_client_going_away_ends_the_watch(self):
        ws = [self.si.watch(f"/api/v1/pods?watch=1&resourceVersion="
                            f"{self.rv()}", TOKEN) for _ in range(3)]
        self.si.wait_watchers(3)
        for w in ws:
            w.close()
        end = time.monotonic() + 3
        while self.si.state()["watchers"] and time.monotonic() < end:
            time.sleep(0.05)
        self.assertEqual(self.si.state()["watchers"], 0)

    def test_bookmarks(self):
        rv = self.rv()
        w = self.watch("/apis/networking.istio.io/v1beta1/virtualservices?"
                       f"watch=true&allowWatchBookmarks=true&resourceVersion="
                       f"{rv}&timeoutSeconds=0.7")
        evs = w.events()
        self.assertTrue(w.clean)
        self.assertGreaterEqual(len(evs), 3, evs)
        for e in evs:
            self.assertEqual(e["type"], "BOOKMARK")
            self.assertEqual(e["object"]["kind"], "VirtualService")
            self.assertEqual(e["object"]["apiVersion"],
                             "networking.istio.io/v1beta1")
            self.assertEqual(e["object"]["metadata"]["resourceVersion"],
                             str(rv))
        # a bookmark after an event of another resource moves on to it
        w = self.watch("/api/v1/pods?watch=true&allowWatchBookmarks=true&"
                       f"resourceVersion={rv}&timeoutSeconds=0.8")
        self.si.wait_watchers(1)
        self.si.put({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": "n1"}})
        for e in w.events():
            self.assertEqual(e["type"], "BOOKMARK")
        # a typed kind's bookmark is its Go zero value, nulls included
        self.assertEqual(e["object"], {
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"resourceVersion": str(rv + 1),
                         "creationTimestamp": None},
            "spec": {"containers": None}, "status": {}})
        # without allowWatchBookmarks, none
        w = self.watch(f"/api/v1/pods?watch=true&resourceVersion={rv}&"
                       "timeoutSeconds=0.6")
        self.assertEqual(w.events(), [])
        self.assertTrue(w.clean)

    def test_too_old_resource_version_is_410(self):
        self.si.put(pod("a"))
        old = self.rv()
        self.si.put(pod("b"))
        self.si.ctl("/compact", {})
        w = self.watch(f"/api/v1/pods?watch=true&resourceVersion={old}")
        self.assertEqual(w.status, 200)
        evs = w.events()
        self.assertTrue(w.clean)
        self.assertEqual(len(evs), 1, evs)
        self.assertEqual(evs[0]["type"], "ERROR")
        st = evs[0]["object"]
        self.assertTrue(status_ok(st, 410, "Expired"), st)
        self.assertRegex(st["message"], r"^too old resource version: \d+ "
                         r"\(\d+\)$")
        # the current resourceVersion still watches
        w = self.watch(f"/api/v1/pods?watch=true&resourceVersion="
                       f"{self.rv()}&timeoutSeconds=0.3")
        self.assertEqual(w.events(), [])


class History(Base):
    args = ("--history", "5")

    def test_bounded_history(self):
        start = self.rv()
        for i in range(4):
            self.si.put(pod(f"p{i}"))
        w = self.watch(f"/api/v1/pods?watch=1&resourceVersion={start}&"
                       "timeoutSeconds=0.2")
        self.assertEqual(len(w.events()), 4)
        for i in range(4, 8):
            self.si.put(pod(f"p{i}"))
        w = self.watch(f"/api/v1/pods?watch=1&resourceVersion={start}")
        evs = w.events()
        self.assertEqual(evs[0]["type"], "ERROR", evs)
        self.assertEqual(evs[0]["object"]["code"], 410)
        w = self.watch(f"/api/v1/pods?watch=1&resourceVersion={start + 3}&"
                       "timeoutSeconds=0.2")
        self.assertEqual([e["object"]["metadata"]["name"] for e in
                          w.events()], ["p3", "p4", "p5", "p6", "p7"])


class Auth(Base):
    args = ("--token", "limited=pods,networking.istio.io/virtualservices")

    def test_401_403_rotation(self):
        for tok in (None, "wrong"):
            code, _, st = self.get("/api/v1/pods", token=tok)
            self.assertEqual(code, 401)
            self.assertEqual(st, {"kind": "Status", "apiVersion": "v1",
                                  "metadata": {}, "status": "Failure",
                                  "message": "Unauthorized",
                                  "reason": "Unauthorized", "code": 401})
            code, _, _ = self.get("/apis", token=tok)
            self.assertEqual(code, 401)
        self.ok("/api/v1/pods", token="limited")
        self.ok("/apis/networking.istio.io/v1/namespaces/x/virtualservices",
                token="limited")
        code, _, st = self.get("/api/v1/namespaces/x/services",
                               token="limited")
        self.assertEqual(code, 403)
        self.assertTrue(status_ok(st, 403, "Forbidden"), st)
        self.assertEqual(st["message"],
                         'services is forbidden: User "sluice-test" cannot '
                         'list resource "services" in API group "" in the '
                         'namespace "x"')
        self.assertEqual(st["details"], {"kind": "services"})
        code, _, st = self.get("/apis/security.istio.io/v1/"
                               "peerauthentications?watch=1",
                               token="limited")
        self.assertEqual(code, 403)
        self.assertEqual(st["message"],
                         'peerauthentications.security.istio.io is '
                         'forbidden: User "sluice-test" cannot watch '
                         'resource "peerauthentications" in API group '
                         '"security.istio.io" at the cluster scope')
        w = self.watch("/api/v1/pods?watch=1", token="wrong")
        self.assertEqual(w.status, 401)
        # rotation: the old token goes, the new one works
        self.si.ctl("/tokens", {"tokens": {"t0ken-b": {}}})
        self.assertEqual(self.get("/api/v1/pods")[0], 401)
        self.ok("/api/v1/pods", token="t0ken-b")


class Faults(Base):
    def test_cut_now_mid_event(self):
        self.si.put(pod("a"))
        w1 = self.watch(f"/api/v1/pods?watch=1&resourceVersion={self.rv()}")
        w2 = self.watch("/apis/discovery.k8s.io/v1/endpointslices?watch=1&"
                        f"resourceVersion={self.rv()}")
        self.si.wait_watchers(2)
        self.si.ctl("/cut", {"mode": "now"})
        for w in (w1, w2):
            self.assertEqual(w.events(), [])
            self.assertFalse(w.clean, "no zero chunk after a cut")
            self.assertTrue(w.data, "half an event was sent")
            self.assertNotIn(b"\n", w.data)
            with self.assertRaises(ValueError):
                json.loads(w.data)
        # the server's handler threads end just after the cut
        end = time.monotonic() + 3
        while self.si.state()["watchers"] and time.monotonic() < end:
            time.sleep(0.05)
        self.assertEqual(self.si.state()["watchers"], 0)

    def test_cut_next_event(self):
        start = self.rv()
        w = self.watch(f"/api/v1/pods?watch=1&resourceVersion={start}")
        self.si.wait_watchers(1)
        self.si.ctl("/cut", {"mode": "next"})
        self.si.put(pod("lost"))
        self.assertEqual(w.events(), [])
        self.assertFalse(w.clean)
        self.assertTrue(w.data.startswith(b'{"type":"ADDED"'), w.data)
        self.assertNotIn(b"\n", w.data)
        # the client resumes from what it last saw complete: nothing lost
        w = self.watch(f"/api/v1/pods?watch=1&resourceVersion={start}&"
                       "timeoutSeconds=0.2")
        self.assertEqual([e["object"]["metadata"]["name"]
                          for e in w.events()], ["lost"])

    def restart(self, keep):
        self.si.put(pod("a"))
        start = self.rv()
        w = self.watch(f"/api/v1/pods?watch=1&resourceVersion={start}")
        self.si.wait_watchers(1)
        self.si.ctl("/restart", {"down_seconds": 0.6, "keep_history": keep})
        self.assertEqual(w.events(), [])
        self.assertFalse(w.clean, "a dropped stream, not a clean end")
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection((self.si.host, self.si.port), 2).close()
        self.assertFalse(self.si.state()["up"])
        self.si.put(pod("during"))
        for _ in range(100):
            if self.si.state()["up"]:
                break
            time.sleep(0.05)
        return start

    def test_restart_keeping_history(self):
        start = self.restart(True)
        w = self.watch(f"/api/v1/pods?watch=1&resourceVersion={start}&"
                       "timeoutSeconds=0.2")
        self.assertEqual([e["object"]["metadata"]["name"]
                          for e in w.events()], ["during"])

    def test_restart_losing_history(self):
        start = self.restart(False)
        w = self.watch(f"/api/v1/pods?watch=1&resourceVersion={start}")
        evs = w.events()
        self.assertEqual(evs[0]["type"], "ERROR")
        self.assertTrue(status_ok(evs[0]["object"], 410, "Expired"))
        # a relist sees everything, and watches on from there
        lst = self.ok("/api/v1/pods")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]],
                         ["a", "during"])


class Tls(Base):
    tls = True

    def test_https(self):
        self.assertTrue(self.si.url.startswith("https://"))
        self.si.put(pod("a"))
        self.assertEqual(len(self.ok("/api/v1/pods")["items"]), 1)
        w = self.watch("/api/v1/pods?watch=1&resourceVersion=1&"
                       "timeoutSeconds=0.3")
        self.assertEqual([e["type"] for e in w.events()], ["ADDED"])
        self.assertTrue(w.clean)
        self.assertEqual(self.get("/api/v1/pods", token="no")[0], 401)
        w = self.watch("/api/v1/pods?watch=1&resourceVersion=1")
        self.assertEqual(w.events(1)[0]["type"], "ADDED")
        self.si.wait_watchers(1)
        w.close()
        end = time.monotonic() + 3
        while self.si.state()["watchers"] and time.monotonic() < end:
            time.sleep(0.05)
        self.assertEqual(self.si.state()["watchers"], 0)


class Ipv6(Base):
    def setUp(self):
        try:
            socket.socket(socket.AF_INET6).bind(("::1", 0))
        except OSError as e:
            self.skipTest(f"no IPv6 loopback: {e}")
        self.si = StandIn(["--token", TOKEN], host="::1")
        self.addCleanup(self.si.close)

    def test_ipv6(self):
        self.assertTrue(self.si.url.startswith("http://[::1]:"))
        self.si.put(pod("six"))
        self.assertEqual(self.ok("/api")["serverAddressByClientCIDRs"][0][
            "serverAddress"], f"[::1]:{self.si.port}")
        w = self.watch("/api/v1/pods?watch=1&resourceVersion=1&"
                       "timeoutSeconds=0.2")
        self.assertEqual([e["object"]["metadata"]["name"]
                          for e in w.events()], ["six"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
