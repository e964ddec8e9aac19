#!/usr/bin/env python3
"""The stand-in API server (apiserver.py) against a real client: kubectl
(Debian 12: package kubernetes-client, 1.20) must get, page, select, watch
and see 401/403 from it, over HTTPS with a bearer token (kubectl sends a
token only over TLS).  The stand-in is right only if kubectl agrees.

kubectl: $SL_KUBECTL, else the first on PATH.  Without one: exit 77 (SKIP),
or 1 when SL_NO_SKIP=1 (CI)."""

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from standin import FIXTURES, StandIn, pod  # noqa: E402

KUBECTL = os.environ.get("SL_KUBECTL") or shutil.which("kubectl")
TOKEN = "kubectl-t0ken"


def k8s_fixture(name):
    with open(os.path.join(FIXTURES, "kubernetes", name)) as f:
        return json.load(f)


def parse_table(text):
    """kubectl's table: (header cells, rows of cells), cut at the header's
    column starts (a cell may be empty)."""
    lines = text.splitlines()
    head = lines[0]
    starts = [i for i, c in enumerate(head)
              if c != " " and (i == 0 or head[i - 2:i] == "  ")]
    starts.append(None)
    cut = [(starts[i], starts[i + 1]) for i in range(len(starts) - 1)]
    return ([head[a:b].strip() for a, b in cut],
            [[ln[a:b].strip() for a, b in cut] for ln in lines[1:]])


class Kubectl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.si = StandIn(["--token", TOKEN, "--token", "limited=pods"],
                         tls=True)
        cls.home = tempfile.TemporaryDirectory(prefix="sl-kubectl-")
        cls.si.ctl("/load", {"files": [
            os.path.join(FIXTURES, "kubernetes", "core.v1.Pod.json")]})
        cls.vs = set()
        for i, f in enumerate(sorted(glob.glob(os.path.join(
                FIXTURES, "istio", "*.yaml")))):
            r = cls.si.ctl("/load", {"files": [f], "namespace": f"ns{i}"})
            cls.vs |= {(o["namespace"], o["name"]) for o in r["loaded"]
                       if o["kind"] == "VirtualService"}

    @classmethod
    def tearDownClass(cls):
        cls.si.close()
        cls.home.cleanup()

    def cmd(self, *args, token=TOKEN):
        return [KUBECTL, "--server", self.si.url, "--certificate-authority",
                self.si.cert, "--token", token, "--request-timeout", "20s",
                *args]

    def env(self):
        env = dict(os.environ, HOME=self.home.name)
        env.pop("KUBECONFIG", None)
        return env

    def run_ok(self, *args, token=TOKEN):
        p = subprocess.run(self.cmd(*args, token=token), env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0,
                         f"kubectl {' '.join(args)}: {p.stderr}")
        return p.stdout

    def run_fail(self, *args, token=TOKEN):
        p = subprocess.run(self.cmd(*args, token=token), env=self.env(),
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        return p.stderr

    def test_get_pods_json(self):
        # kubectl >= 1.21 hides managedFields unless asked
        helptext = subprocess.run([KUBECTL, "get", "--help"], env=self.env(),
                                  capture_output=True, text=True).stdout
        show = ["--show-managed-fields"] \
            if "--show-managed-fields" in helptext else []
        out = json.loads(self.run_ok("get", "pods", "-A", "-o", "json",
                                     *show))
        self.assertEqual(out["kind"], "List")
        items = [i for i in out["items"]
                 if i["metadata"]["namespace"] == "namespaceValue"]
        self.assertEqual(len(items), 1)
        got = items[0]
        want = k8s_fixture("core.v1.Pod.json")
        # every field kubectl decoded is the fixture's, resourceVersion
        # aside (the server's)
        self.assertRegex(got["metadata"].pop("resourceVersion"), r"^\d+$")
        del want["metadata"]["resourceVersion"]
        self.assertEqual(got, want)

    def test_get_virtualservices(self):
        out = self.run_ok("get", "virtualservices.networking.istio.io", "-A")
        head, rows = parse_table(out)
        # the server's Table: the CRD's printer columns
        self.assertEqual(head, ["NAMESPACE", "NAME", "GATEWAYS", "HOSTS",
                                "AGE"])
        self.assertEqual({(r[0], r[1]) for r in rows}, self.vs)
        self.assertEqual(len(rows), 5)
        hosts = {(r[0], r[1]): r[3] for r in rows}
        self.assertEqual(hosts[("ns18", "reviews")], '["reviews"]')
        # another served version: the same objects, that apiVersion
        out = json.loads(self.run_ok(
            "get", "virtualservices.v1alpha3.networking.istio.io", "-A",
            "-o", "json"))
        self.assertEqual({i["apiVersion"] for i in out["items"]},
                         {"networking.istio.io/v1alpha3"})
        self.assertEqual({(i["metadata"]["namespace"], i["metadata"]["name"])
                          for i in out["items"]}, self.vs)
        # a short name, through discovery
        out = self.run_ok("get", "vs", "-n", "ns18", "-o", "name")
        self.assertEqual(out.split(), ["virtualservice.networking.istio.io/"
                                       "reviews"])

    def test_create_and_get_events(self):
        """kubectl creates an events.k8s.io/v1 Event as sluiced posts one
        (the stand-in validates it), a second create is AlreadyExists, and
        get lists it in kubectl's columns"""
        self.si.put({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": "evns"}})
        ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event",
              "metadata": {"name": "web.sluice-0123456789ab",
                           "namespace": "evns"},
              "eventTime": "2026-12-08T00:33:27.123456Z",
              "reportingController": "sluice.io/sluiced",
              "reportingInstance": "sluiced-node-a", "action": "Validate",
              "reason": "Rejected", "type": "Warning",
              "regarding": {"apiVersion": "networking.istio.io/v1",
                            "kind": "VirtualService", "namespace": "evns",
                            "name": "web"},
              "note": "left out of the mesh: spec.hosts: bad"}
        path = os.path.join(self.home.name, "event.json")
        with open(path, "w") as f:
            json.dump(ev, f)
        out = self.run_ok("create", "--validate=false", "-f", path)
        self.assertIn("web.sluice-0123456789ab", out)
        err = self.run_fail("create", "--validate=false", "-f", path)
        self.assertIn("AlreadyExists", err)
        head, rows = parse_table(self.run_ok(
            "get", "events.events.k8s.io", "-n", "evns"))
        self.assertEqual(head, ["NAME", "LAST SEEN", "TYPE", "REASON",
                                "OBJECT", "MESSAGE"])
        self.assertEqual(rows[0][0], "web.sluice-0123456789ab")
        self.assertEqual(rows[0][2:5], ["Warning", "Rejected",
                                        "virtualservice/web"])
        got = json.loads(self.run_ok("get", "events.events.k8s.io", "-n",
                                     "evns", "-o", "json"))["items"]
        self.assertEqual([i["note"] for i in got], [ev["note"]])

    def test_get_pods_table(self):
        head, rows = parse_table(self.run_ok("get", "pods", "-A", "-o",
                                             "wide"))
        self.assertEqual(head, ["NAMESPACE", "NAME", "READY", "STATUS",
                                "RESTARTS", "AGE", "IP", "NODE",
                                "NOMINATED NODE", "READINESS GATES"])
        row = [r for r in rows if r[0] == "namespaceValue"]
        # the fixture: one of one containers ready, a deletionTimestamp,
        # restartCount 5, created in 2008, readiness gate unmet
        self.assertEqual(row, [["namespaceValue", "nameValue", "1/1",
                                "Terminating", "5", row[0][5], "podIPValue",
                                "nodeNameValue", "nominatedNodeNameValue",
                                "0/1"]])
        self.assertRegex(row[0][5], r"^\d+y$")

    def test_chunked_list_and_selectors(self):
        for i in range(5):
            self.si.put(pod(f"chunk{i}", "chunks", node=f"node-{i % 2}",
                            labels={"tier": "odd" if i % 2 else "even"}))
        out = self.run_ok("get", "pods", "-n", "chunks", "--chunk-size=2",
                          "-o", "name")
        self.assertEqual(out.split(), [f"pod/chunk{i}" for i in range(5)])
        out = self.run_ok("get", "pods", "-A", "--field-selector",
                          "spec.nodeName=node-1", "-o", "name")
        self.assertEqual(out.split(), ["pod/chunk1", "pod/chunk3"])
        out = self.run_ok("get", "pods", "-n", "chunks", "-l", "tier=even",
                          "-o", "name")
        self.assertEqual(out.split(), ["pod/chunk0", "pod/chunk2",
                                       "pod/chunk4"])

    def background(self, *args):
        """kubectl args in the background, its output drained by a thread
        (a watch's first list can outgrow a pipe); returns (proc, out) with
        out a list of the text read so far."""
        p = subprocess.Popen(self.cmd(*args), env=self.env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = []
        err = []

        def drain(f, into):
            for b in iter(lambda: os.read(f.fileno(), 65536), b""):
                into.append(b.decode())
        threads = [threading.Thread(target=drain, args=(p.stdout, out)),
                   threading.Thread(target=drain, args=(p.stderr, err))]
        for t in threads:
            t.start()

        def stop():
            p.kill()
            p.wait()
            for t in threads:
                t.join()
            p.stdout.close()
            p.stderr.close()
        self.addCleanup(stop)
        return p, out, err

    def test_watch_sees_new_events(self):
        p, out, perr = self.background("get", "pods", "-A", "--watch", "-o",
                                       "json")
        q, qout, qerr = self.background("get", "pods", "-n", "watched",
                                        "--watch-only")
        try:
            self.si.wait_watchers(2, timeout=20)
        except AssertionError:
            p.kill()
            q.kill()
            time.sleep(0.2)
            raise AssertionError("kubectl did not watch: " +
                                 "".join(perr + qerr))
        self.si.put(pod("w1", "watched"))
        self.si.put(pod("w1", "watched", labels={"v": "2"}))
        self.si.delete("v1", "Pod", "watched", "w1")
        want = [("watched", "w1", None), ("watched", "w1", "2"),
                ("watched", "w1", "2")]
        dec = json.JSONDecoder()
        end = time.monotonic() + 20
        while time.monotonic() < end:
            seen = []
            buf = "".join(out).lstrip()
            while buf:
                try:
                    obj, n = dec.raw_decode(buf)
                except ValueError:
                    break
                buf = buf[n:].lstrip()
                md = obj["metadata"]
                if md["namespace"] == "watched":
                    seen.append((md["namespace"], md["name"],
                                 md.get("labels", {}).get("v")))
            if len(seen) >= len(want):
                break
            time.sleep(0.05)
        self.assertEqual(seen, want, "".join(perr))
        # --watch-only, as a table: a row for each of the three events
        end = time.monotonic() + 20
        while time.monotonic() < end:
            rows = [ln.split()[0] for ln in "".join(qout).splitlines()
                    if not ln.startswith("NAME")]
            if len(rows) >= 3:
                break
            time.sleep(0.05)
        self.assertEqual(rows, ["w1", "w1", "w1"], "".join(qerr))

    def test_unauthorized_and_forbidden(self):
        err = self.run_fail("get", "pods", "-A", token="wrong")
        self.assertIn("Unauthorized", err)
        err = self.run_fail("get", "services", "-A", token="limited")
        self.assertIn('Error from server (Forbidden): services is forbidden: '
                      'User "sluice-test" cannot list resource "services" '
                      'in API group "" at the cluster scope', err)
        self.run_ok("get", "pods", "-A", token="limited")

    def test_not_found(self):
        # kubectl asks after the namespace of an object not found
        err = self.run_fail("get", "pod", "-n", "nowhere", "ghost")
        self.assertIn('Error from server (NotFound): namespaces "nowhere" '
                      'not found', err)
        self.si.put({"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": "somewhere"}})
        err = self.run_fail("get", "pod", "-n", "somewhere", "ghost")
        self.assertIn('Error from server (NotFound): pods "ghost" not found',
                      err)


if __name__ == "__main__":
    if not KUBECTL:
        msg = ("kubectl not found: install kubernetes-client "
               "(packaging/install-deps) or set SL_KUBECTL")
        if os.environ.get("SL_NO_SKIP") == "1":
            sys.exit("FAIL (SL_NO_SKIP=1): " + msg)
        print("SKIP: " + msg)
        sys.exit(77)
    v = subprocess.run([KUBECTL, "version", "--client"], capture_output=True,
                       text=True)
    print(f"kubectl: {KUBECTL}: {v.stdout.strip().splitlines()[0]}",
          flush=True)
    unittest.main(verbosity=2)
