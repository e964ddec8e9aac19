#!/usr/bin/python3
"""Hold the requests a Kubernetes client made to the stand-in API server
(tests/k8s/apiserver.py run with SL_K8S_DEBUG=1: one log line per request)
against the ClusterRole of a manifest, as the API server's RBAC would.

usage: k8s_rbac_audit.py MANIFEST LOG [--since LINE] [--clients IP,...]

  MANIFEST  the YAML file with the ClusterRole (packaging/kubernetes's
            daemonset.yaml)
  LOG       the stand-in's stderr
  --since   only the log's lines after this many (0: all)
  --clients every one of these client addresses must have watched every
            resource the ClusterRole grants `watch` on (no grant unused)

Every request must be a GET of a discovery path (which every
authenticated user may read: Kubernetes' system:discovery), or a list or
watch of a resource the ClusterRole grants that verb on, or a POST to a
collection (the verb `create`: sluiced's Events) it grants create on; a
GET of one object is the verb `get`, which it does not grant, and other
writes (PUT, PATCH, DELETE, a POST to one object) no verb it grants.  No
request may be answered 401 or 403.

exit 0: all allowed (and, with --clients, complete); 1: a request the
ClusterRole does not allow, or a 401/403 (each printed); 3: all allowed so
far but a client has not watched every granted resource yet (what is
missing printed); 2: usage.
"""
import re
import sys
import urllib.parse

import yaml

LINE = re.compile(r'^apiserver: (\S+) "(\S+) (\S+) HTTP/[0-9.]+" (\d+) ')
DISCOVERY = ("/api", "/apis", "/version", "/healthz", "/livez", "/readyz",
             "/openapi")


def grants(manifest):
    """{(group, resource): set(verbs)} of the manifest's ClusterRole(s)"""
    out = {}
    with open(manifest) as f:
        for d in yaml.safe_load_all(f):
            if not d or d.get("kind") != "ClusterRole":
                continue
            for r in d.get("rules") or []:
                for g in r.get("apiGroups") or []:
                    for res in r.get("resources") or []:
                        out.setdefault((g, res), set()).update(
                            r.get("verbs") or [])
    if not out:
        sys.exit(f"k8s_rbac_audit: no ClusterRole rules in {manifest}")
    return out


def classify(method, path, query):
    """(verb, group, resource) of a resource request, None for discovery
    (a write other than a create: verb None)"""
    parts = [urllib.parse.unquote(p) for p in path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "api":
        group, rest = "", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        return None
    if not rest:
        return None
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]
    if method != "GET":
        verb = "create" if method == "POST" and len(rest) == 1 else None
    elif len(rest) > 1:  # one object (or its subresource)
        verb = "get"
    elif query.get("watch", [""])[-1] in ("1", "true", "True"):
        verb = "watch"
    else:
        verb = "list"
    return verb, group, rest[0]


def main():
    args = sys.argv[1:]
    since, clients = 0, []
    pos = []
    it = iter(args)
    for a in it:
        if a == "--since":
            since = int(next(it))
        elif a == "--clients":
            clients = [c for c in next(it).split(",") if c]
        else:
            pos.append(a)
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    allowed = grants(pos[0])
    bad = []
    watched = {c: set() for c in clients}
    n = creates = 0
    with open(pos[1], errors="replace") as f:
        lines = f.readlines()
    for ln in lines[since:]:
        m = LINE.match(ln)
        if not m:
            continue
        n += 1
        client, method, target, code = m.groups()
        url = urllib.parse.urlsplit(target)
        what = f"{client} {method} {target} -> {code}"
        if code in ("401", "403"):
            bad.append(f"{what}: refused (the token or the ClusterRole)")
            continue
        c = classify(method, url.path, urllib.parse.parse_qs(url.query))
        if c is None:
            if method != "GET":
                bad.append(f"{what}: a write; the ClusterRole grants none")
            elif not url.path.startswith(DISCOVERY):
                bad.append(f"{what}: a path no role grants")
            continue
        verb, group, res = c
        if verb is None:
            bad.append(f"{what}: a {method}; the ClusterRole grants no "
                       "verb for it")
            continue
        if verb not in allowed.get((group, res), ()):
            bad.append(f"{what}: {verb} {res!r} of API group {group!r}: not "
                       "granted by the ClusterRole")
            continue
        if verb == "create":
            creates += 1
        if verb == "watch" and code == "200" and client in watched:
            watched[client].add((group, res))
    for b in bad:
        print(f"not allowed: {b}", file=sys.stderr)
    if bad:
        return 1
    want = {k for k, v in allowed.items() if "watch" in v}
    missing = {c: sorted(want - w) for c, w in watched.items() if want - w}
    for c, m in missing.items():
        print(f"{c} has not watched: "
              + ", ".join(f"{g or 'core'}/{r}" for g, r in m),
              file=sys.stderr)
    print(f"{n} requests ({creates} creates), all allowed by the ClusterRole"
          + (f"; {len(clients) - len(missing)}/{len(clients)} clients watch"
             f" all {len(want)} granted resources" if clients else ""))
    return 3 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
