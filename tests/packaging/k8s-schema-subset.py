#!/usr/bin/env python3
"""Cut the definitions sluice's manifests need out of Kubernetes' OpenAPI
v2 document (api/openapi-spec/swagger.json): the kinds of
packaging/kubernetes and every definition they reach, without the
descriptions.  Writes k8s-schema.json (see its "origin").

usage: k8s-schema-subset.py SWAGGER.JSON ORIGIN-TEXT > k8s-schema.json
"""
import hashlib
import json
import sys

ROOTS = [
    "io.k8s.api.apps.v1.DaemonSet",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.ServiceAccount",
    "io.k8s.api.rbac.v1.ClusterRole",
    "io.k8s.api.rbac.v1.ClusterRoleBinding",
]
PREFIX = "#/definitions/"


def strip(node, refs):
    """node without descriptions; the definitions it names go to refs"""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "description":
                continue
            if k == "$ref":
                refs.append(v[len(PREFIX):])
            out[k] = strip(v, refs)
        return out
    if isinstance(node, list):
        return [strip(v, refs) for v in node]
    return node


def main():
    raw = open(sys.argv[1], "rb").read()
    defs = json.loads(raw)["definitions"]
    keep, todo = {}, list(ROOTS)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        refs = []
        keep[name] = strip(defs[name], refs)
        todo += refs
    json.dump({
        "origin": sys.argv[2],
        "source_sha256": hashlib.sha256(raw).hexdigest(),
        "roots": ROOTS,
        "definitions": dict(sorted(keep.items())),
    }, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
