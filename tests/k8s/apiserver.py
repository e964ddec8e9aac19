#!/usr/bin/env python3
"""A stand-in Kubernetes API server for sluice's tests (issue 28).

Serves, read-only, the resources sluiced watches, on the real paths and
with the API conventions a reflector relies on: List objects carrying
metadata.resourceVersion, limit/continue pagination over a consistent
snapshot, watch streams (chunked, one JSON event per line) from a
resourceVersion, bookmarks, 410 Expired when a resourceVersion or a continue
token is older than the bounded event history, label and field selectors,
bearer tokens (401/403), Status objects for every error.  Objects are
written through a separate control port (see README.md), which also cuts
watch streams mid-event, simulates a restart, compacts the history and
rotates tokens.

Python standard library only (plus python3-yaml to read YAML files).
Run `apiserver.py --help` for the options.
"""

import argparse
import base64
import copy
import datetime
import json
import os
import re
import select
import socket
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import yaml
except ImportError:  # JSON files still load
    yaml = None

SERVER_VERSION = {
    "major": "1", "minor": "29", "gitVersion": "v1.29.0-sluice-standin",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.21.0", "compiler": "gc", "platform": "linux/amd64",
}

# ---------------------------------------------------------------- resources


class Resource:
    """One API resource: group, served versions, plural, kind, scope."""

    def __init__(self, group, versions, plural, kind, namespaced,
                 short_names=(), categories=(), builtin=True,
                 verbs=("get", "list", "watch")):
        self.group = group
        self.verbs = list(verbs)  # discovery; "create": POST is served
        self.versions = list(versions)
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
        self.short_names = list(short_names)
        self.categories = list(categories)
        # built-in (typed) lists omit kind/apiVersion on their items;
        # custom resources (unstructured) carry them
        self.builtin = builtin

    def api_version(self, version):
        return version if self.group == "" else f"{self.group}/{version}"

    def gr(self):
        """The group-qualified plural, as in Status messages: pods,
        virtualservices.networking.istio.io."""
        if self.group == "":
            return self.plural
        return f"{self.plural}.{self.group}"


ISTIO_NET = ["v1", "v1beta1", "v1alpha3"]
ISTIO_SEC = ["v1", "v1beta1"]

RESOURCES = [
    Resource("", ["v1"], "pods", "Pod", True, ["po"], ["all"]),
    Resource("", ["v1"], "services", "Service", True, ["svc"], ["all"]),
    Resource("", ["v1"], "namespaces", "Namespace", False, ["ns"]),
    Resource("", ["v1"], "nodes", "Node", False, ["no"]),
    Resource("discovery.k8s.io", ["v1"], "endpointslices", "EndpointSlice",
             True),
    # the only resource a client may write (POST: create)
    Resource("events.k8s.io", ["v1"], "events", "Event", True, ["ev"],
             verbs=("create", "get", "list", "watch")),
    Resource("networking.istio.io", ISTIO_NET, "virtualservices",
             "VirtualService", True, ["vs"],
             ["istio-io", "networking-istio-io"],
             builtin=False),
    Resource("networking.istio.io", ISTIO_NET, "destinationrules",
             "DestinationRule", True, ["dr"],
             ["istio-io", "networking-istio-io"], builtin=False),
    Resource("networking.istio.io", ISTIO_NET, "serviceentries",
             "ServiceEntry", True, ["se"], ["istio-io", "networking-istio-io"],
             builtin=False),
    Resource("networking.istio.io", ISTIO_NET, "workloadentries",
             "WorkloadEntry", True, ["we"],
             ["istio-io", "networking-istio-io"], builtin=False),
    Resource("security.istio.io", ISTIO_SEC, "peerauthentications",
             "PeerAuthentication", True, ["pa"],
             ["istio-io", "security-istio-io"], builtin=False),
    Resource("security.istio.io", ISTIO_SEC, "authorizationpolicies",
             "AuthorizationPolicy", True, ["ap"],
             ["istio-io", "security-istio-io"], builtin=False),
]

GROUPS = {}  # group name -> [versions], in RESOURCES order
for _r in RESOURCES:
    vs = GROUPS.setdefault(_r.group, [])
    for _v in _r.versions:
        if _v not in vs:
            vs.append(_v)

# pod fields a fieldSelector may name (k8s.io/kubernetes pkg/registry/core/
# pod/strategy.go PodToSelectableFields), as paths into the object
POD_FIELDS = {
    "spec.nodeName": ("spec", "nodeName"),
    "spec.restartPolicy": ("spec", "restartPolicy"),
    "spec.schedulerName": ("spec", "schedulerName"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
    "spec.hostNetwork": ("spec", "hostNetwork"),
    "status.phase": ("status", "phase"),
    "status.podIP": ("status", "podIP"),
    "status.nominatedNodeName": ("status", "nominatedNodeName"),
}


def find_resource(group, version, plural):
    for r in RESOURCES:
        if r.group == group and r.plural == plural and version in r.versions:
            return r
    return None


def resource_of(obj):
    """The Resource an object of this apiVersion/kind belongs to."""
    av = obj.get("apiVersion", "")
    group, _, version = av.rpartition("/")
    for r in RESOURCES:
        if r.group == group and r.kind == obj.get("kind") and \
                version in r.versions:
            return r
    return None


# ---------------------------------------------------------------- errors


class ApiError(Exception):
    """An error the API answers with a Status object."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}
        # a 410 on a continue token carries a fresh token for the rest of
        # the list, inconsistent with its start
        self.continue_token = None

    def status(self):
        md = {"continue": self.continue_token} if self.continue_token else {}
        st = {"kind": "Status", "apiVersion": "v1", "metadata": md,
              "status": "Failure", "message": self.message,
              "reason": self.reason}
        if self.details is not None:
            st["details"] = self.details
        st["code"] = self.code
        return st


def expired(message):
    return ApiError(410, "Expired", message)


def bad_request(message):
    return ApiError(400, "BadRequest", message)


# ---------------------------------------------------------------- selectors


class Selector:
    """A parsed labelSelector: a list of (key, op, values)."""

    def __init__(self, text):
        self.reqs = []
        text = text or ""
        for part in split_top(text):
            part = part.strip()
            if not part:
                continue
            self.reqs.append(parse_requirement(part, text))

    def matches(self, labels):
        labels = labels or {}
        for key, op, values in self.reqs:
            have = key in labels
            val = labels.get(key)
            if op == "exists" and not have:
                return False
            if op == "!" and have:
                return False
            if op in ("=", "==", "in") and (not have or val not in values):
                return False
            if op in ("!=", "notin") and have and val in values:
                return False
        return True


def split_top(text):
    """Split at commas outside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


LABEL_KEY = re.compile(r"^([a-z0-9A-Z.\-]+/)?"
                       r"[A-Za-z0-9]([A-Za-z0-9_.\-]*[A-Za-z0-9])?$")


def parse_requirement(part, whole):
    m = re.match(r"^(\S+)\s+(in|notin)\s+\((.*)\)$", part)
    if m:
        key, op, vals = m.group(1), m.group(2), m.group(3)
        values = {v.strip() for v in vals.split(",")}
        check_key(key, whole)
        return key, op, values
    for op in ("!=", "==", "="):
        if op in part:
            key, val = part.split(op, 1)
            key, val = key.strip(), val.strip()
            check_key(key, whole)
            return key, op, {val}
    if part.startswith("!"):
        check_key(part[1:].strip(), whole)
        return part[1:].strip(), "!", set()
    check_key(part, whole)
    return part, "exists", set()


def check_key(key, whole):
    if not LABEL_KEY.match(key):
        raise bad_request(f"unable to parse requirement: invalid label key "
                          f"\"{key}\" in labelSelector \"{whole}\"")


class FieldSelector:
    """A parsed fieldSelector: (path, op, value), ANDed."""

    def __init__(self, text, res):
        self.reqs = []
        for part in (text or "").split(","):
            part = part.strip()
            if not part:
                continue
            for op in ("!=", "==", "="):
                if op in part:
                    field, val = part.split(op, 1)
                    break
            else:
                raise bad_request(f"invalid selector: '{text}'; can't "
                                  "understand '" + part + "'")
            field = field.strip()
            if field in ("metadata.name", "metadata.namespace"):
                path = ("metadata", field.split(".")[1])
            elif res.plural == "pods" and field in POD_FIELDS:
                path = POD_FIELDS[field]
            else:
                raise bad_request(f"field label not supported: {field}")
            self.reqs.append((path, op, val.strip()))

    def matches(self, obj):
        for path, op, want in self.reqs:
            cur = obj
            for p in path:
                cur = cur.get(p) if isinstance(cur, dict) else None
            if isinstance(cur, bool):
                cur = "true" if cur else "false"
            have = "" if cur is None else str(cur)
            if op == "!=":
                if have == want:
                    return False
            elif have != want:
                return False
        return True


# ---------------------------------------------------------------- store


class Event:
    __slots__ = ("rv", "type", "res", "key", "obj", "prev")

    def __init__(self, rv, etype, res, key, obj, prev):
        self.rv = rv
        self.type = etype
        self.res = res
        self.key = key
        self.obj = obj
        self.prev = prev


class Store:
    """Every object, one global resourceVersion counter (as etcd's
    revision), a bounded event history.  Events with rv <= floor are gone:
    a watch or continue from before floor gets 410 Expired."""

    def __init__(self, history):
        self.lock = threading.Condition()
        self.objects = {r: {} for r in RESOURCES}  # res -> {(ns,name): obj}
        self.rv = 1
        self.floor = 1
        self.history = deque()
        self.history_max = history
        self.generation = 0  # bumped by cut/restart to wake watchers

    def _commit(self, etype, res, key, obj, prev):
        self.rv += 1
        if obj is not None:
            obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        ev_obj = obj
        if etype == "DELETED":
            # the deleted object, at the deletion's resourceVersion
            ev_obj = copy.deepcopy(prev)
            ev_obj["metadata"]["resourceVersion"] = str(self.rv)
        self.history.append(Event(self.rv, etype, res, key, ev_obj, prev))
        while len(self.history) > self.history_max:
            self.floor = self.history.popleft().rv
        self.lock.notify_all()
        return self.rv

    def put(self, obj, namespace=None):
        """Create or replace an object; returns (event type, stored copy)."""
        res = resource_of(obj)
        if res is None:
            raise ValueError(f"no served resource for apiVersion "
                             f"{obj.get('apiVersion')!r} kind "
                             f"{obj.get('kind')!r}")
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        if not md.get("name"):
            raise ValueError(f"{res.kind} without metadata.name")
        if res.namespaced:
            if namespace:
                md["namespace"] = namespace
            md.setdefault("namespace", "default")
        ns = md.get("namespace", "") if res.namespaced else ""
        key = (ns, md["name"])
        with self.lock:
            prev = self.objects[res].get(key)
            if prev is not None:
                for f in ("uid", "creationTimestamp"):
                    if f not in md and f in prev["metadata"]:
                        md[f] = prev["metadata"][f]
            md.setdefault("uid", str(uuid.uuid4()))
            md.setdefault("creationTimestamp", now_rfc3339())
            self.objects[res][key] = obj
            etype = "ADDED" if prev is None else "MODIFIED"
            self._commit(etype, res, key, obj, prev)
            return etype, copy.deepcopy(obj)

    def create(self, res, obj):
        """Create (POST): 409 AlreadyExists if the name is taken; returns
        the stored copy."""
        md = obj["metadata"]
        key = (md["namespace"], md["name"])
        with self.lock:
            if key in self.objects[res]:
                raise ApiError(
                    409, "AlreadyExists",
                    f"{res.gr()} \"{md['name']}\" already exists",
                    details_named(res, md["name"]))
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            self.objects[res][key] = obj
            self._commit("ADDED", res, key, obj, None)
            return copy.deepcopy(obj)

    def delete(self, res, ns, name):
        key = (ns if res.namespaced else "", name)
        with self.lock:
            prev = self.objects[res].pop(key, None)
            if prev is None:
                return None
            self._commit("DELETED", res, key, None, prev)
            return self.rv

    def snapshot(self, res, rv):
        """The objects of res as they were at resourceVersion rv (>= floor),
        sorted by (namespace, name) as etcd's keys are."""
        with self.lock:
            if rv < self.floor:
                raise expired(f"too old resource version: {rv} "
                              f"({self.floor})")
            state = dict(self.objects[res])
            for ev in reversed(self.history):
                if ev.rv <= rv:
                    break
                if ev.res is not res:
                    continue
                if ev.prev is None:
                    state.pop(ev.key, None)
                else:
                    state[ev.key] = ev.prev
            return [state[k] for k in sorted(state)]

    def compact(self, rv):
        with self.lock:
            rv = min(rv, self.rv)
            while self.history and self.history[0].rv <= rv:
                self.history.popleft()
            self.floor = max(self.floor, rv)
            self.lock.notify_all()
            return self.floor

    def forget_history(self):
        """As a restarted API server's empty watch cache: every earlier
        resourceVersion is too old."""
        with self.lock:
            self.history.clear()
            self.floor = self.rv
            self.lock.notify_all()


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def human_age(ts):
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return "<unknown>"
    s = int((datetime.datetime.now(datetime.timezone.utc) - t)
            .total_seconds())
    if s < 0:
        return "<invalid>"
    if s < 120:
        return f"{s}s"
    if s < 3 * 3600:
        return f"{s // 60}m"
    if s < 48 * 3600:
        return f"{s // 3600}h"
    if s < 365 * 86400 * 2:
        return f"{s // 86400}d"
    return f"{s // (365 * 86400)}y"


# ---------------------------------------------------------------- tokens


class Auth:
    """Accepted bearer tokens.  tokens: {token: {"user": str,
    "allow": ["*"] or ["pods", "networking.istio.io/virtualservices", ...]}}.
    No token configured at all: anonymous access to everything."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = {}

    def set(self, tokens):
        parsed = {}
        for tok, spec in tokens.items():
            if not isinstance(tok, str) or not tok:
                raise ValueError("a token must be a non-empty string")
            if spec is None:
                spec = {}
            allow = spec.get("allow", ["*"])
            if not isinstance(allow, list):
                raise ValueError(f"token {tok[:4]}...: allow must be a list")
            parsed[tok] = {"user": spec.get("user", "sluice-test"),
                           "allow": list(allow)}
        with self.lock:
            self.tokens = parsed

    def check(self, header, res, verb, ns):
        """Raise 401/403 ApiError unless header authorizes verb on res."""
        with self.lock:
            if not self.tokens:
                return
            tok = None
            if header and header.startswith("Bearer "):
                tok = header[len("Bearer "):].strip()
            spec = self.tokens.get(tok) if tok else None
        if spec is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        if res is None:  # discovery: any valid token
            return
        allow = spec["allow"]
        name = res.plural if res.group == "" else f"{res.group}/{res.plural}"
        if "*" in allow or name in allow:
            return
        scope = f"in the namespace \"{ns}\"" if ns else "at the cluster scope"
        raise ApiError(
            403, "Forbidden",
            f"{res.gr()} is forbidden: User \"{spec['user']}\" cannot {verb} "
            f"resource \"{res.plural}\" in API group \"{res.group}\" {scope}",
            {"kind": res.plural} if res.group == "" else
            {"group": res.group, "kind": res.plural})


# ---------------------------------------------------------------- server


class ApiServer:
    def __init__(self, args):
        self.store = Store(args.history)
        self.auth = Auth()
        self.bookmark_interval = args.bookmark_interval
        self.watch_timeout = args.watch_timeout
        self.rv0_unpaged = args.rv0_unpaged
        self.host = args.host
        self.port = args.port
        self.tls = None
        if args.tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.tls_cert, args.tls_key)
        self.conns = set()  # open API sockets, for restart
        self.conns_lock = threading.Lock()
        self.watchers = 0
        self.watch_selectors = {}  # resource -> labelSelector of its last watch
        self.cut_generation = 0   # "now" cuts
        self.cut_next = False     # "next" cut armed
        self.up_lock = threading.Lock()
        self.httpd = None
        self.down_until = 0.0
        self.restarts = 0
        self.posts = 0  # POST requests on the API (creates tried)
        self.posts_lock = threading.Lock()
        self.fail_posts = 0  # the next N creates answer 500 (control)

    # -- listening

    def start(self):
        self.httpd = ApiHTTPServer((self.host, self.port), ApiHandler, self)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True,
                         kwargs={"poll_interval": 0.05}).start()

    def restart(self, down_seconds, keep_history):
        """Drop every connection, refuse for down_seconds, listen again."""
        with self.up_lock:
            httpd, self.httpd = self.httpd, None
            if httpd is None:
                raise ValueError("already restarting")
        self.restarts += 1
        httpd.shutdown()
        httpd.server_close()
        self.drop_connections()

        def up():
            time.sleep(down_seconds)
            with self.up_lock:
                if not keep_history:
                    # the new watch cache starts at the current revision
                    self.store.forget_history()
                self.start()
        self.down_until = time.monotonic() + down_seconds
        threading.Thread(target=up, daemon=True).start()

    def drop_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.store.lock:
            self.store.generation += 1
            self.store.lock.notify_all()

    def cut(self, mode):
        with self.store.lock:
            if mode == "next":
                self.cut_next = True
            else:
                self.cut_generation += 1
            self.store.lock.notify_all()


def family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def host_port(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ApiHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, api):
        self.api = api
        self.address_family = family(addr[0])
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        api = self.api
        with api.conns_lock:
            api.conns.add(request)
        try:
            # headers and body go out as separate writes: without this,
            # Nagle and the peer's delayed ACK hold the body 40 ms
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if api.tls is not None:
                request.settimeout(10)
                try:
                    request = api.tls.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                request.settimeout(None)
            self.RequestHandlerClass(request, client_address, self)
        finally:
            with api.conns_lock:
                api.conns.discard(request)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, OSError)):
            return
        super().handle_error(request, client_address)


def content_chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


class ApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sluice-k8s-standin"

    def log_message(self, fmt, *args):
        if os.environ.get("SL_K8S_DEBUG"):
            sys.stderr.write("apiserver: %s %s\n" % (
                self.address_string(), fmt % args))

    @property
    def api(self):
        return self.server.api

    # -- responses

    def send_json(self, code, body, headers=None):
        data = json.dumps(body, separators=(",", ":")).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def send_text(self, code, text):
        data = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_error_status(self, err):
        self.send_json(err.code, err.status(), err.headers)

    # -- dispatch

    def do_GET(self):
        try:
            self.route()
        except ApiError as e:
            self.send_error_status(e)
        except (ConnectionError, BrokenPipeError, ssl.SSLError):
            self.close_connection = True
        except Exception:  # a bug here: a 500 Status, and the trace
            traceback.print_exc()
            self.send_error_status(ApiError(500, "InternalError",
                                            "Internal error occurred"))

    def refuse_method(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        try:
            self.api.auth.check(self.headers.get("Authorization"), None,
                                "", None)
            raise ApiError(405, "MethodNotAllowed",
                           "the server does not allow this method on the "
                           "requested resource", {})
        except ApiError as e:
            self.send_error_status(e)

    do_PUT = do_PATCH = do_DELETE = refuse_method

    def do_POST(self):
        """POST to a collection of a resource that serves create (Events):
        validated as the API server does, else 405 as every write."""
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        res = None
        if len(parts) == 6 and parts[0] == "apis" and \
                parts[3] == "namespaces":
            res = find_resource(parts[1], parts[2], parts[5])
        if res is None or "create" not in res.verbs:
            return self.refuse_method()
        with self.api.posts_lock:
            self.api.posts += 1
            fail = self.api.fail_posts > 0
            if fail:
                self.api.fail_posts -= 1
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            if fail:
                raise ApiError(500, "InternalError", "Internal error "
                               "occurred: injected by the control port")
            self.api.auth.check(self.headers.get("Authorization"), res,
                                "create", parts[4])
            obj = create_object(self.api.store, res, parts[2], parts[4],
                                body)
            self.send_json(201, served(obj, res, parts[2]))
        except ApiError as e:
            self.send_error_status(e)
        except (ConnectionError, BrokenPipeError, ssl.SSLError):
            self.close_connection = True
        except Exception:
            traceback.print_exc()
            self.send_error_status(ApiError(500, "InternalError",
                                            "Internal error occurred"))

    def route(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in q.items()}
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        auth = self.headers.get("Authorization")

        if parts in (["healthz"], ["livez"], ["readyz"]):
            return self.send_text(200, "ok")
        self.api.auth.check(auth, None, "", None)
        if parts == ["version"]:
            return self.send_json(200, SERVER_VERSION)
        if parts == ["api"]:
            return self.send_json(200, {
                "kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0",
                     "serverAddress": host_port(self.api.host,
                                                self.api.port)}]})
        if parts == ["apis"]:
            return self.send_json(200, {
                "kind": "APIGroupList", "apiVersion": "v1",
                "groups": [group_json(g) for g in GROUPS if g]})
        if len(parts) >= 2 and parts[0] == "api":
            return self.route_gv("", parts[1], parts[2:], query)
        if len(parts) == 2 and parts[0] == "apis" and parts[1] in GROUPS:
            return self.send_json(200, dict(
                group_json(parts[1]), kind="APIGroup", apiVersion="v1"))
        if len(parts) >= 3 and parts[0] == "apis":
            return self.route_gv(parts[1], parts[2], parts[3:], query)
        return self.send_text(404, "404 page not found\n")

    def route_gv(self, group, version, rest, query):
        if group not in GROUPS or version not in GROUPS[group]:
            return self.send_text(404, "404 page not found\n")
        if not rest:
            return self.send_json(200, resource_list(group, version))
        ns = None
        name = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            ns, rest = rest[1], rest[2:]
        if len(rest) == 1:
            plural = rest[0]
        elif len(rest) == 2:
            plural, name = rest
        else:
            raise not_found_resource()
        res = find_resource(group, version, plural)
        if res is None or (ns is not None and not res.namespaced):
            raise not_found_resource()
        watch = query.get("watch", "") in ("1", "true", "True")
        verb = "watch" if watch else ("get" if name else "list")
        self.api.auth.check(self.headers.get("Authorization"), res, verb, ns)
        if name is not None:
            if watch:
                raise bad_request("watch of a single object: use a "
                                  "fieldSelector on metadata.name")
            return self.get_one(res, version, ns, name)
        if watch:
            return self.watch(res, version, ns, query)
        return self.list(res, version, ns, query)

    # -- get, list

    def wants_table(self):
        acc = self.headers.get("Accept", "")
        first = acc.split(",")[0]
        return "as=Table" in first and "g=meta.k8s.io" in first

    def get_one(self, res, version, ns, name):
        key = (ns or "" if res.namespaced else "", name)
        with self.api.store.lock:
            obj = self.api.store.objects[res].get(key)
            obj = copy.deepcopy(obj) if obj is not None else None
        if obj is None:
            raise ApiError(404, "NotFound",
                           f"{res.gr()} \"{name}\" not found",
                           details_named(res, name))
        obj = served(obj, res, version)
        if self.wants_table():
            return self.send_json(200, table([obj], res, obj["metadata"].get(
                "resourceVersion", "")))
        self.send_json(200, obj)

    def list(self, res, version, ns, query):
        store = self.api.store
        labels = Selector(query.get("labelSelector"))
        fields = FieldSelector(query.get("fieldSelector"), res)
        try:
            limit = int(query.get("limit") or 0)
        except ValueError:
            raise bad_request(f"invalid limit: {query.get('limit')!r}")
        cont = query.get("continue", "")
        if self.api.rv0_unpaged and query.get("resourceVersion") == "0" \
                and not cont:
            limit = 0  # served from the watch cache, whole
        rv_param = query.get("resourceVersion", "")
        start = ""
        if cont:
            if rv_param:
                raise bad_request("specifying resource version is not "
                                  "allowed when using continue")
            try:
                tok = json.loads(base64.urlsafe_b64decode(
                    cont + "=" * (-len(cont) % 4)))
                at_rv = int(tok["rv"])
                start = tok["start"]
                if not isinstance(start, str):
                    raise ValueError
                if tok.get("v") != "meta.k8s.io/v1" or at_rv == 0 or \
                        at_rv < -1:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid: incorrect "
                                  "encoded start resourceVersion (version "
                                  "meta.k8s.io/v1)")
            with store.lock:
                if at_rv == -1:
                    # the token of a 410: go on at the latest state
                    at_rv = store.rv
                if at_rv < store.floor:
                    err = ApiError(
                        410, "Expired",
                        "The provided continue parameter is too old to "
                        "display a consistent list result. You can start a "
                        "new list without the continue parameter, or use "
                        "the continue value from this response to proceed "
                        "with the inconsistent list.")
                    last = start[:-1] if start.endswith("\0") else start
                    err.continue_token = continue_token(-1, last)
                    raise err
        else:
            with store.lock:
                at_rv = store.rv
                if rv_param not in ("", "0"):
                    try:
                        want = int(rv_param)
                    except ValueError:
                        raise bad_request(f"invalid resource version: "
                                          f"{rv_param!r}")
                    if want > store.rv:
                        raise ApiError(
                            504, "Timeout",
                            f"Too large resource version: {want}, current: "
                            f"{store.rv}",
                            {"causes": [{"reason": "ResourceVersionTooLarge",
                                         "message": "Too large resource "
                                         "version"}],
                             "retryAfterSeconds": 1})
                    if query.get("resourceVersionMatch") == "Exact":
                        at_rv = want
        items = store.snapshot(res, at_rv)
        out = []
        remaining = 0
        last = None
        more = False
        for obj in items:
            md = obj["metadata"]
            k = f"{md.get('namespace', '')}/{md['name']}" \
                if res.namespaced else md["name"]
            if start and k < start:
                continue
            if ns is not None and md.get("namespace") != ns:
                continue
            if not labels.matches(md.get("labels")) or \
                    not fields.matches(obj):
                continue
            if limit and len(out) >= limit:
                more = True
                remaining += 1
                continue
            out.append(obj)
            last = k
        meta = {"resourceVersion": str(at_rv)}
        if more:
            meta["continue"] = continue_token(at_rv, last)
            if not labels.reqs and not fields.reqs:
                meta["remainingItemCount"] = remaining
        items = [served(copy.deepcopy(o), res, version, item=True)
                 for o in out]
        if self.wants_table():
            return self.send_json(200, table(
                [served(copy.deepcopy(o), res, version) for o in out], res,
                str(at_rv), meta))
        self.send_json(200, {"kind": res.kind + "List",
                             "apiVersion": res.api_version(version),
                             "metadata": meta, "items": items})

    # -- watch

    def client_gone(self):
        """Whether a watching client has closed its side (it sends nothing
        after its request, so anything readable is its close)."""
        conn = self.connection
        try:
            r, _, _ = select.select([conn], [], [], 0)
        except (OSError, ValueError):
            return True
        if not r:
            return False
        if isinstance(conn, ssl.SSLSocket):
            return True
        try:
            return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def watch(self, res, version, ns, query):
        api = self.api
        store = api.store
        labels = Selector(query.get("labelSelector"))
        fields = FieldSelector(query.get("fieldSelector"), res)
        bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        try:
            timeout = float(query.get("timeoutSeconds") or api.watch_timeout)
        except ValueError:
            raise bad_request("invalid timeoutSeconds")
        rv_param = query.get("resourceVersion", "")
        as_table = self.wants_table()

        def visible(obj):
            if obj is None:
                return False
            md = obj.get("metadata", {})
            if ns is not None and md.get("namespace") != ns:
                return False
            return labels.matches(md.get("labels")) and fields.matches(obj)

        def line(etype, obj):
            obj = served(copy.deepcopy(obj), res, version)
            if as_table and etype != "ERROR":
                obj = table([obj], res, obj["metadata"].get(
                    "resourceVersion", ""))
            return json.dumps({"type": etype, "object": obj},
                              separators=(",", ":")).encode() + b"\n"

        initial = []
        with store.lock:
            if rv_param in ("", "0"):
                pos = store.rv
                initial = [o for o in store.snapshot(res, pos) if visible(o)]
                initial = [line("ADDED", o) for o in initial]
                too_old = None
            else:
                try:
                    pos = int(rv_param)
                except ValueError:
                    raise bad_request(f"invalid resource version: "
                                      f"{rv_param!r}")
                too_old = pos < store.floor and (pos, store.floor)
            gen = store.generation
            cutgen = api.cut_generation

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.close_connection = True
        w = self.wfile
        if too_old:
            st = expired(f"too old resource version: {too_old[0]} "
                         f"({too_old[1]})").status()
            w.write(content_chunk(json.dumps(
                {"type": "ERROR", "object": st},
                separators=(",", ":")).encode() + b"\n"))
            w.write(b"0\r\n\r\n")
            w.flush()
            return
        for ln in initial:
            w.write(content_chunk(ln))
        w.flush()

        deadline = time.monotonic() + timeout
        next_bm = time.monotonic() + api.bookmark_interval
        with store.lock:
            api.watchers += 1
            api.watch_selectors[res.gr()] = query.get("labelSelector", "")
        try:
            while True:
                out = []
                half = None
                with store.lock:
                    while True:
                        nowt = time.monotonic()
                        if store.generation != gen:
                            return  # restart: the socket is gone
                        newer = store.history and store.history[-1].rv > pos
                        if newer or nowt >= deadline or \
                                api.cut_generation != cutgen or \
                                (bookmarks and nowt >= next_bm):
                            break
                        if self.client_gone():
                            return
                        wake = min(deadline, nowt + 0.25)
                        if bookmarks:
                            wake = min(wake, next_bm)
                        store.lock.wait(max(0.0, wake - nowt))
                    if api.cut_generation != cutgen:
                        half = line("BOOKMARK", bookmark_obj(res, version,
                                                             pos))
                    elif pos < store.floor:
                        # fell behind the history: as the cacher does to a
                        # watcher it cannot serve, end with 410
                        st = expired(f"too old resource version: {pos} "
                                     f"({store.floor})").status()
                        out.append(json.dumps(
                            {"type": "ERROR", "object": st},
                            separators=(",", ":")).encode() + b"\n")
                        deadline = 0
                    else:
                        for ev in store.history:
                            if ev.rv <= pos:
                                continue
                            pos = ev.rv
                            if ev.res is not res:
                                continue
                            was = visible(ev.prev)
                            now_vis = visible(ev.obj)
                            if ev.type == "DELETED":
                                if was:
                                    out.append(line("DELETED", ev.obj))
                            elif now_vis and was:
                                out.append(line("MODIFIED", ev.obj))
                            elif now_vis:
                                out.append(line("ADDED", ev.obj))
                            elif was:
                                out.append(line("DELETED", ev.obj))
                        pos = max(pos, store.rv)
                        if out and api.cut_next:
                            api.cut_next = False
                            half = out[0]
                            out = []
                if half is not None:
                    w.write(content_chunk(half[:len(half) // 2]))
                    w.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                for ln in out:
                    w.write(content_chunk(ln))
                nowt = time.monotonic()
                if bookmarks and nowt >= next_bm and nowt < deadline:
                    w.write(content_chunk(line(
                        "BOOKMARK", bookmark_obj(res, version, pos))))
                    next_bm = nowt + api.bookmark_interval
                w.flush()
                if nowt >= deadline:
                    w.write(b"0\r\n\r\n")
                    w.flush()
                    return
        finally:
            with store.lock:
                api.watchers -= 1


def continue_token(rv, last):
    """The apiserver's continue token: base64 of {"v","rv","start"}, start
    being the last key returned + NUL, so the next page starts after it
    (etcd's key order: namespace/name)."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv,
                      "start": last + "\u0000"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
MICRO_TIME = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


def dns_subdomain_errors(value):
    if len(value) > 253:
        return ["must be no more than 253 characters"]
    if not DNS1123_SUBDOMAIN.match(value):
        return ["a lowercase RFC 1123 subdomain must consist of lower case "
                "alphanumeric characters, '-' or '.', and must start and end "
                "with an alphanumeric character"]
    return []


def qualified_name_errors(value):
    prefix, slash, name = value.rpartition("/")
    errs = []
    if slash and (not prefix or dns_subdomain_errors(prefix)):
        errs.append("prefix part must be a DNS-1123 subdomain")
    if not name or len(name) > 63 or not QUALIFIED_NAME.match(name):
        errs.append("name part must consist of alphanumeric characters, "
                    "'-', '_' or '.', and must start and end with an "
                    "alphanumeric character")
    return errs


def validate_event(ev):
    """An events.k8s.io/v1 Event as the API server checks one on create
    (k8s.io/kubernetes pkg/apis/core/validation/events.go
    ValidateEventCreate): ["field: what", ...]"""
    errs = []
    md = ev.get("metadata") or {}

    def s(key):
        v = ev.get(key, "")
        return v if isinstance(v, str) else ""
    name = md.get("name") or ""
    if not name:
        errs.append("metadata.name: Required value: name or generateName "
                    "is required")
    else:
        errs += [f"metadata.name: Invalid value: {name!r}: {m}"
                 for m in dns_subdomain_errors(name)]
    t = s("eventTime")
    if not t:
        errs.append("eventTime: Required value")
    elif not MICRO_TIME.match(t):
        raise bad_request(f"parsing time {t!r} as "
                          f"\"2006-01-02T15:04:05.000000Z07:00\": cannot "
                          f"parse as a MicroTime")
    if s("type") not in ("Normal", "Warning"):
        errs.append(f"type: Invalid value: \"\": has invalid value: "
                    f"{s('type')}")
    rc = s("reportingController")
    if not rc:
        errs.append("reportingController: Required value")
    else:
        errs += [f"reportingController: Invalid value: {rc!r}: {m}"
                 for m in qualified_name_errors(rc)]
    for key, limit in (("reportingInstance", 128), ("action", 128),
                       ("reason", 128)):
        if not s(key):
            errs.append(f"{key}: Required value")
        elif len(s(key)) > limit:
            errs.append(f"{key}: Invalid value: \"\": can have at most "
                        f"{limit} characters")
    if len(s("note").encode()) > 1024:
        errs.append("note: Invalid value: \"\": can have at most 1024 "
                    "characters")
    reg = ev.get("regarding") or {}
    if not reg.get("namespace") and md.get("namespace") not in (
            "default", "kube-system"):
        errs.append("regarding.namespace: Invalid value: \"\": does not "
                    "match event.namespace")
    for key in ("deprecatedFirstTimestamp", "deprecatedLastTimestamp"):
        if ev.get(key):
            errs.append(f"{key}: Invalid value: \"\": needs to be unset")
    if ev.get("deprecatedCount"):
        errs.append("deprecatedCount: Invalid value: \"\": needs to be "
                    "unset")
    if (ev.get("deprecatedSource") or {}).get("component") or \
            (ev.get("deprecatedSource") or {}).get("host"):
        errs.append("deprecatedSource: Invalid value: \"\": needs to be "
                    "unset")
    return errs


def create_object(store, res, version, ns, body):
    """POST body into namespace ns: decoded, its apiVersion/kind and
    namespace held against the request, validated, stored (201)."""
    try:
        obj = json.loads(body)
    except ValueError as e:
        raise bad_request(f"the body is not JSON: {e}")
    if not isinstance(obj, dict):
        raise bad_request("the body is not a JSON object")
    want = res.api_version(version)
    if obj.get("apiVersion") != want or obj.get("kind") != res.kind:
        raise bad_request(f"the API version in the data "
                          f"({obj.get('apiVersion')}) or its kind "
                          f"({obj.get('kind')}) does not match the expected "
                          f"API version ({want}) or kind ({res.kind})")
    md = obj.get("metadata")
    if not isinstance(md, dict):
        raise bad_request("metadata must be an object")
    if md.get("namespace", "") not in ("", ns):
        raise bad_request("the namespace of the provided object does not "
                          "match the namespace sent on the request")
    md["namespace"] = ns
    if md.get("resourceVersion"):
        raise bad_request("resourceVersion should not be set on objects to "
                          "be created")
    errs = validate_event(obj) if res.kind == "Event" else []
    if errs:
        raise ApiError(
            422, "Invalid",
            f"{res.kind}.{res.group} \"{md.get('name', '')}\" is invalid: "
            + (errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"),
            {"name": md.get("name", ""), "group": res.group,
             "kind": res.kind,
             "causes": [{"reason": "FieldValueInvalid", "message": e,
                         "field": e.split(":")[0]} for e in errs]})
    with store.lock:
        nss = store.objects[find_resource("", "v1", "namespaces")]
        if ("", ns) not in nss:
            raise ApiError(404, "NotFound", f"namespaces \"{ns}\" not found",
                           {"name": ns, "kind": "namespaces"})
        return store.create(res, obj)


def details_named(res, name):
    d = {"name": name}
    if res.group:
        d["group"] = res.group
    d["kind"] = res.plural
    return d


def not_found_resource():
    return ApiError(404, "NotFound",
                    "the server could not find the requested resource", {})


def served(obj, res, version, item=False):
    """The object as this version serves it.  Istio's CRDs convert with
    strategy None: only apiVersion changes.  Items of a built-in List carry
    no kind/apiVersion."""
    if item and res.builtin:
        obj.pop("kind", None)
        obj.pop("apiVersion", None)
        return obj
    out = {"apiVersion": res.api_version(version), "kind": res.kind}
    for k, v in obj.items():
        if k not in ("apiVersion", "kind"):
            out[k] = v
    if not res.builtin:
        return out
    # built-in types serialize kind first
    return dict([("kind", res.kind), ("apiVersion", out["apiVersion"])] +
                [(k, v) for k, v in out.items()
                 if k not in ("kind", "apiVersion")])


# a built-in type's zero value as Go's encoding/json writes it (fields
# without omitempty, structs under omitempty): what a BOOKMARK carries
# beside metadata.resourceVersion
ZERO = {
    "Pod": {"spec": {"containers": None}, "status": {}},
    "Service": {"spec": {}, "status": {"loadBalancer": {}}},
    "Namespace": {"spec": {}, "status": {}},
    "Node": {"spec": {}, "status": {
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        "nodeInfo": {k: "" for k in (
            "machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
            "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
            "operatingSystem", "architecture")}}},
    "EndpointSlice": {"addressType": "", "endpoints": None, "ports": None},
    "Event": {"eventTime": None, "regarding": {}, "deprecatedSource": {},
              "deprecatedFirstTimestamp": None,
              "deprecatedLastTimestamp": None},
}


def bookmark_obj(res, version, rv):
    """A BOOKMARK's object: an empty object of the kind with only its
    resourceVersion, as the apiserver sends (typed kinds: their zero value
    with creationTimestamp null; custom resources: metadata alone)."""
    obj = {"kind": res.kind, "apiVersion": res.api_version(version),
           "metadata": {"resourceVersion": str(rv)}}
    if res.builtin:
        obj["metadata"]["creationTimestamp"] = None
        obj.update(copy.deepcopy(ZERO[res.kind]))
    return obj


def node_status(o):
    for c in dig(o, "status", "conditions") or []:
        if c.get("type") == "Ready":
            return "Ready" if c.get("status") == "True" else "NotReady"
    return "Unknown"


def node_addr(o, kind):
    for a in dig(o, "status", "addresses") or []:
        if a.get("type") == kind:
            return a.get("address", "")
    return "<none>"


def dig(obj, *path):
    for p in path:
        obj = obj.get(p) if isinstance(obj, dict) else None
    return obj


def crd_cell(v):
    """A CRD printer column's cell: scalars as they are, the rest as JSON
    (kubectl shows HOSTS as ["reviews"])."""
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return json.dumps(v, separators=(",", ":"))


def pod_ready(o):
    cs = dig(o, "status", "containerStatuses") or []
    n = len(dig(o, "spec", "containers") or [])
    ready = sum(1 for c in cs if isinstance(c, dict) and c.get("ready"))
    return f"{ready}/{n}"


def pod_status(o):
    if dig(o, "metadata", "deletionTimestamp"):
        return "Terminating"
    return dig(o, "status", "reason") or dig(o, "status", "phase") or ""


def pod_restarts(o):
    return sum(c.get("restartCount", 0) for c in
               dig(o, "status", "containerStatuses") or []
               if isinstance(c, dict) and isinstance(c.get("restartCount"),
                                                      int))


def pod_gates(o):
    gates = [g.get("conditionType") for g in
             dig(o, "spec", "readinessGates") or [] if isinstance(g, dict)]
    if not gates:
        return "<none>"
    true = {c.get("type") for c in dig(o, "status", "conditions") or []
            if isinstance(c, dict) and c.get("status") == "True"}
    return f"{sum(1 for g in gates if g in true)}/{len(gates)}"


def svc_ports(o):
    out = []
    for p in dig(o, "spec", "ports") or []:
        s = str(p.get("port"))
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        out.append(f"{s}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def slice_ports(o):
    ps = [str(p.get("port")) for p in o.get("ports") or []
          if p.get("port") is not None]
    return ",".join(ps) or "<unset>"


def slice_endpoints(o):
    addrs = [a for e in o.get("endpoints") or [] for a in
             e.get("addresses") or []]
    if not addrs:
        return "<unset>"
    more = f" + {len(addrs) - 3} more..." if len(addrs) > 3 else ""
    return ",".join(addrs[:3]) + more


def age(o):
    return human_age(dig(o, "metadata", "creationTimestamp"))


def none(v):
    return "<none>" if v in (None, "", []) else v


# the columns of kubectl get: (name, type, priority, cell).  Built-in kinds:
# a simplified form of k8s.io/kubernetes pkg/printers/internalversion's;
# Istio kinds: their CRDs' additionalPrinterColumns (istio/istio
# manifests/charts/base/files/crd-all.gen.yaml), after Name as the API adds
COLUMNS = {
    "Pod": [("Ready", "string", 0, pod_ready),
            ("Status", "string", 0, pod_status),
            ("Restarts", "integer", 0, pod_restarts),
            ("Age", "string", 0, age),
            ("IP", "string", 1, lambda o: none(dig(o, "status", "podIP"))),
            ("Node", "string", 1,
             lambda o: none(dig(o, "spec", "nodeName"))),
            ("Nominated Node", "string", 1,
             lambda o: none(dig(o, "status", "nominatedNodeName"))),
            ("Readiness Gates", "string", 1, pod_gates)],
    "Service": [("Type", "string", 0, lambda o: dig(o, "spec", "type") or
                 "ClusterIP"),
                ("Cluster-IP", "string", 0,
                 lambda o: none(dig(o, "spec", "clusterIP"))),
                ("External-IP", "string", 0, lambda o: none(",".join(
                    dig(o, "spec", "externalIPs") or []))),
                ("Port(s)", "string", 0, svc_ports),
                ("Age", "string", 0, age),
                ("Selector", "string", 1, lambda o: none(",".join(
                    f"{k}={v}" for k, v in sorted(
                        (dig(o, "spec", "selector") or {}).items()))))],
    "Namespace": [("Status", "string", 0,
                   lambda o: dig(o, "status", "phase") or ""),
                  ("Age", "string", 0, age)],
    "Node": [("Status", "string", 0, node_status),
             ("Roles", "string", 0, lambda o: "<none>"),
             ("Age", "string", 0, age),
             ("Version", "string", 0,
              lambda o: dig(o, "status", "nodeInfo", "kubeletVersion") or ""),
             ("Internal-IP", "string", 1, lambda o: node_addr(o, "InternalIP")),
             ("External-IP", "string", 1,
              lambda o: node_addr(o, "ExternalIP"))],
    "EndpointSlice": [("AddressType", "string", 0,
                       lambda o: o.get("addressType", "")),
                      ("Ports", "string", 0, slice_ports),
                      ("Endpoints", "string", 0, slice_endpoints),
                      ("Age", "string", 0, age)],
    "VirtualService": [("Gateways", "string", 0,
                        lambda o: crd_cell(dig(o, "spec", "gateways"))),
                       ("Hosts", "string", 0,
                        lambda o: crd_cell(dig(o, "spec", "hosts"))),
                       ("Age", "date", 0, age)],
    "DestinationRule": [("Host", "string", 0,
                         lambda o: crd_cell(dig(o, "spec", "host"))),
                        ("Age", "date", 0, age)],
    "ServiceEntry": [("Hosts", "string", 0,
                      lambda o: crd_cell(dig(o, "spec", "hosts"))),
                     ("Location", "string", 0,
                      lambda o: crd_cell(dig(o, "spec", "location"))),
                     ("Resolution", "string", 0,
                      lambda o: crd_cell(dig(o, "spec", "resolution"))),
                     ("Age", "date", 0, age)],
    "WorkloadEntry": [("Age", "date", 0, age),
                      ("Address", "string", 0,
                       lambda o: crd_cell(dig(o, "spec", "address")))],
    "PeerAuthentication": [("Mode", "string", 0,
                            lambda o: crd_cell(dig(o, "spec", "mtls",
                                                   "mode"))),
                           ("Age", "date", 0, age)],
    "Event": [("Last Seen", "string", 0,
               lambda o: human_age((o.get("eventTime") or "")[:19] + "Z")),
              ("Type", "string", 0, lambda o: o.get("type", "")),
              ("Reason", "string", 0, lambda o: o.get("reason", "")),
              ("Object", "string", 0, lambda o: "%s/%s" % (
                  (dig(o, "regarding", "kind") or "").lower(),
                  dig(o, "regarding", "name") or "")),
              ("Message", "string", 0, lambda o: o.get("note", ""))],
    "AuthorizationPolicy": [("Action", "string", 0,
                             lambda o: crd_cell(dig(o, "spec", "action"))),
                            ("Age", "date", 0, age)],
}


def table(objs, res, rv, meta=None):
    """The meta.k8s.io/v1 Table kubectl asks for (Accept: ...;as=Table)."""
    md = dict(meta or {})
    md["resourceVersion"] = rv
    cols = COLUMNS[res.kind]
    defs = [{"name": "Name", "type": "string", "format": "name",
             "description": "Name must be unique within a namespace.",
             "priority": 0}]
    defs += [{"name": n, "type": t, "format": "", "description": n,
              "priority": p} for n, t, p, _ in cols]
    rows = []
    for o in objs:
        cells = [dig(o, "metadata", "name")]
        for _, _, _, fn in cols:
            try:
                cells.append(fn(o))
            except (AttributeError, TypeError, ValueError):
                cells.append(None)  # a fixture's odd value: an empty cell
        rows.append({"cells": cells,
                     "object": {"kind": "PartialObjectMetadata",
                                "apiVersion": "meta.k8s.io/v1",
                                "metadata": o.get("metadata", {})}})
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md,
            "columnDefinitions": defs, "rows": rows}


def group_json(g):
    versions = GROUPS[g]
    return {"name": g,
            "versions": [{"groupVersion": f"{g}/{v}", "version": v}
                         for v in versions],
            "preferredVersion": {"groupVersion": f"{g}/{versions[0]}",
                                 "version": versions[0]}}


def resource_list(group, version):
    out = []
    for r in RESOURCES:
        if r.group != group or version not in r.versions:
            continue
        e = {"name": r.plural, "singularName": r.kind.lower(),
             "namespaced": r.namespaced, "kind": r.kind,
             "verbs": list(r.verbs)}
        if r.short_names:
            e["shortNames"] = r.short_names
        if r.categories:
            e["categories"] = r.categories
        out.append(e)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": group and f"{group}/{version}" or version,
            "resources": out}


# ---------------------------------------------------------------- control


def read_objects(path):
    """Every object of a JSON or YAML file (YAML: every document; a List's
    items too)."""
    with open(path, "rb") as f:
        data = f.read()
    docs = None
    try:
        docs = [json.loads(data)]
    except ValueError:
        if yaml is None:
            raise ValueError(f"{path}: not JSON, and python3-yaml is "
                             "missing to read YAML")
        try:
            docs = list(yaml.safe_load_all(data))
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: {e}")
    out = []
    for d in docs:
        if d is None:
            continue
        if not isinstance(d, dict):
            raise ValueError(f"{path}: a document is not a mapping")
        if d.get("kind", "").endswith("List") and "items" in d:
            out.extend(d["items"])
        else:
            out.append(d)
    return out


class ControlHandler(BaseHTTPRequestHandler):
    """The test's side door.  See README.md for the requests."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        if os.environ.get("SL_K8S_DEBUG"):
            sys.stderr.write("control: %s\n" % (fmt % args))

    def reply(self, code, body):
        data = json.dumps(body).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            if yaml is None:
                raise ValueError("request body is not JSON")
            return yaml.safe_load(raw)

    def do_GET(self):
        api = self.server.api
        if self.path == "/state":
            s = api.store
            with s.lock:
                st = {"resourceVersion": s.rv, "floor": s.floor,
                      "history": len(s.history), "watchers": api.watchers,
                      "up": api.httpd is not None, "port": api.port,
                      "restarts": api.restarts,
                      "watch_selectors": dict(api.watch_selectors),
                      "posts": api.posts,
                      "objects": {r.gr(): len(s.objects[r])
                                  for r in RESOURCES}}
            return self.reply(200, st)
        self.reply(404, {"error": f"no such control path {self.path}"})

    def do_POST(self):
        api = self.server.api
        try:
            body = self.body()
            path = self.path
            if path == "/load":
                files = body.get("files") or []
                if not isinstance(files, list) or not files:
                    raise ValueError("load: give \"files\": [paths]")
                done = []
                objs = []
                for p in files:
                    objs.extend((p, o) for o in read_objects(p))
                for p, o in objs:
                    if resource_of(o) is None:
                        raise ValueError(
                            f"{p}: no served resource for apiVersion "
                            f"{o.get('apiVersion')!r} kind {o.get('kind')!r}")
                for p, o in objs:
                    et, stored = api.store.put(o, body.get("namespace"))
                    done.append({"type": et, "kind": stored.get("kind"),
                                 "namespace": stored["metadata"].get(
                                     "namespace"),
                                 "name": stored["metadata"]["name"],
                                 "resourceVersion": stored["metadata"][
                                     "resourceVersion"]})
                return self.reply(200, {"loaded": done})
            if path == "/objects":
                et, stored = api.store.put(body.get("object", body),
                                           body.get("namespace")
                                           if "object" in body else None)
                return self.reply(200, {"type": et, "object": stored})
            if path == "/delete":
                res = resource_of(body)
                if res is None:
                    raise ValueError("delete: apiVersion/kind not served")
                rv = api.store.delete(res, body.get("namespace", "default"),
                                      body.get("name", ""))
                if rv is None:
                    return self.reply(404, {"error": "no such object"})
                return self.reply(200, {"resourceVersion": rv})
            if path == "/cut":
                mode = body.get("mode", "now")
                if mode not in ("now", "next"):
                    raise ValueError("cut: mode is now or next")
                api.cut(mode)
                return self.reply(200, {"mode": mode})
            if path == "/restart":
                down = float(body.get("down_seconds", 1))
                api.restart(down, bool(body.get("keep_history", True)))
                return self.reply(200, {"down_seconds": down})
            if path == "/compact":
                rv = int(body.get("resourceVersion", api.store.rv))
                return self.reply(200, {"floor": api.store.compact(rv)})
            if path == "/tokens":
                api.auth.set(body.get("tokens", {}))
                if body.get("drop_connections"):
                    api.drop_connections()
                return self.reply(200, {"tokens": len(api.auth.tokens)})
            if path == "/config":
                if "bookmark_interval" in body:
                    api.bookmark_interval = float(body["bookmark_interval"])
                if "history" in body:
                    api.store.history_max = int(body["history"])
                if "rv0_unpaged" in body:
                    api.rv0_unpaged = bool(body["rv0_unpaged"])
                if "fail_posts" in body:
                    with api.posts_lock:
                        api.fail_posts = int(body["fail_posts"])
                return self.reply(200, {})
            self.reply(404, {"error": f"no such control path {path}"})
        except (ValueError, TypeError, OSError, KeyError) as e:
            self.reply(400, {"error": str(e)})


class ControlServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, api):
        self.api = api
        self.address_family = family(addr[0])
        super().__init__(addr, ControlHandler)


# ---------------------------------------------------------------- main


def parse_token(text):
    """TOKEN or TOKEN=res,res (res: pods, networking.istio.io/...)."""
    tok, eq, allow = text.partition("=")
    return tok, {"allow": allow.split(",") if eq else ["*"]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--listen", default="127.0.0.1:0",
                   help="API address HOST:PORT (port 0: any; default "
                   "%(default)s)")
    p.add_argument("--control", default="127.0.0.1:0",
                   help="control address HOST:PORT (default %(default)s)")
    p.add_argument("--ports-file",
                   help="write {\"api\": port, \"control\": port} here "
                   "once both listen")
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate "
                   "(PEM, chain)")
    p.add_argument("--tls-key", help="the certificate's key (PEM)")
    p.add_argument("--token", action="append", default=[],
                   help="accept this bearer token: TOKEN (every resource) "
                   "or TOKEN=pods,networking.istio.io/virtualservices "
                   "(others get 403); repeatable; none: no authentication")
    p.add_argument("--history", type=int, default=1000,
                   help="events kept for watches and continue tokens "
                   "(default %(default)s)")
    p.add_argument("--bookmark-interval", type=float, default=60.0,
                   help="seconds between BOOKMARK events (default "
                   "%(default)s)")
    p.add_argument("--watch-timeout", type=float, default=1800.0,
                   help="a watch without timeoutSeconds ends after this "
                   "(default %(default)s)")
    p.add_argument("--rv0-unpaged", action="store_true",
                   help="a list with resourceVersion=0 ignores limit, as "
                   "an API server serving it from its watch cache does "
                   "(kubernetes/kubernetes#70735)")
    p.add_argument("--load", action="append", default=[],
                   help="JSON or YAML file of objects to start with")
    args = p.parse_args(argv)

    def hostport(text, opt):
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit():
            p.error(f"{opt}: expected HOST:PORT, got {text!r}")
        return host.strip("[]"), int(port)

    args.host, args.port = hostport(args.listen, "--listen")
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if args.history < 1:
        p.error("--history: at least 1")
    api = ApiServer(args)
    try:
        api.auth.set(dict(parse_token(t) for t in args.token))
        for path in args.load:
            for o in read_objects(path):
                api.store.put(o)
    except (ValueError, OSError) as e:
        sys.exit(f"apiserver: {e}")
    api.start()
    ctl = ControlServer(hostport(args.control, "--control"), api)
    threading.Thread(target=ctl.serve_forever, daemon=True).start()
    ports = {"api": api.port, "control": ctl.server_address[1]}
    if args.ports_file:
        tmp = args.ports_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(ports, f)
        os.rename(tmp, args.ports_file)
    print(json.dumps(ports), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
