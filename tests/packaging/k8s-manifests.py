#!/usr/bin/python3
"""Check the Kubernetes manifests of packaging/kubernetes offline.

  schema PATH...       (a directory: its *.yaml, *.yml, *.yaml.example)
                       every document against the Kubernetes OpenAPI schema
                       (k8s-schema.json beside this script): its kind must be
                       known, every field must exist (no unknown field, as
                       `kubectl apply --validate=strict`), required fields
                       present, types right (IntOrString, Quantity as the API
                       takes them), Secret data base64, no duplicate key
                       and, for the ClusterRole and ClusterRoleBinding, the
                       RBAC check below
  self-test MANIFEST   broken copies of the DaemonSet in MANIFEST (an unknown
                       field, a missing required field, a wrong type, a bad
                       quantity, a duplicate key, an unknown kind) and wider
                       (or too narrow) copies of its ClusterRole and
                       ClusterRoleBinding must each be rejected, and the
                       manifest itself accepted
  agree DIR SLUICED    the files of DIR agree with each other and with
                       sluiced: with --kubernetes the pod runs as the
                       ServiceAccount bound to the ClusterRole, with its
                       token mounted; the ConfigMap passes
                       `SLUICED --check`; its Node's caDir is where the
                       DaemonSet mounts the CA Secret and holds the files
                       sluiced reads (ca.crt, ca.key: the Secret's keys);
                       --config is the ConfigMap's mount, --state-dir a
                       writable volume; the metrics port is the container
                       port, the probes' and Prometheus' port, on 0.0.0.0
                       or ::; the seccomp profile named is the one shipped

The RBAC check: a ClusterRole grants exactly list and watch on exactly
SLUICED_READS and create on exactly SLUICED_WRITES (the Events for
rejected resources; no other verb, resource, group, wildcard,
resourceNames, nonResourceURLs or aggregationRule: a wider grant fails,
and so does a narrower one, which sluiced would meet as 403s), and a ClusterRoleBinding
binds it to the one ServiceAccount of the manifests, in its namespace, and
to nothing else.

python3-jsonschema and python3-yaml (Debian 12) are needed; without them
the script exits 77 (SKIP).
"""
import base64
import binascii
import copy
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import jsonschema
    import yaml
except ImportError as e:
    WHY = (f"{e.name} missing: python3-jsonschema and python3-yaml "
           "(packaging/install-deps)")
    if os.environ.get("SL_NO_SKIP") == "1":
        sys.exit(f"FAIL (SL_NO_SKIP=1, would skip): {WHY}")
    print(f"SKIP: {WHY}", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "k8s-schema.json")
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
# resource.Quantity's syntax (k8s.io/apimachinery pkg/api/resource)
QUANTITY_RE = (r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
               r"(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$")


# What sluiced --kubernetes lists and watches, all namespaces (k8s/k8s.h,
# the table of k8s/resources.c): (API group, resource).  The one place the
# ClusterRole is checked against; change both together.
SLUICED_READS = {
    ("", "pods"), ("", "services"), ("", "namespaces"), ("", "nodes"),
    ("discovery.k8s.io", "endpointslices"),
    ("networking.istio.io", "virtualservices"),
    ("networking.istio.io", "destinationrules"),
    ("networking.istio.io", "serviceentries"),
    ("networking.istio.io", "workloadentries"),
    ("security.istio.io", "peerauthentications"),
    ("security.istio.io", "authorizationpolicies"),
}
SLUICED_VERBS = {"list", "watch"}
# What sluiced writes: an events.k8s.io/v1 Event for each resource it
# rejects (k8s/events.c), created and never read back (a 409 means another
# node posted it).
SLUICED_WRITES = {("events.k8s.io", "events"): {"create"}}


def sluiced_grants():
    """{(group, resource): verbs} sluiced needs, and all it may have"""
    out = {k: set(SLUICED_VERBS) for k in SLUICED_READS}
    for k, verbs in SLUICED_WRITES.items():
        out.setdefault(k, set()).update(verbs)
    return out
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
RBAC_GROUP = "rbac.authorization.k8s.io"


class UniqueKeyLoader(yaml.SafeLoader):
    """a YAML loader that refuses a key given twice in one mapping"""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", k.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def strict(node):
    """an OpenAPI v2 schema as JSON Schema that refuses unknown fields"""
    if isinstance(node, list):
        return [strict(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: strict(v) for k, v in node.items()
           if not k.startswith("x-kubernetes-")}
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    return out


def load_schema():
    with open(SCHEMA) as f:
        doc = json.load(f)
    defs = {name: strict(d) for name, d in doc["definitions"].items()}
    # the API decodes these from a number or a string
    defs[INT_OR_STRING] = {"type": ["integer", "string"]}
    defs[QUANTITY] = {"oneOf": [{"type": "number"},
                                {"type": "string", "pattern": QUANTITY_RE}]}
    kinds = {}
    for name, d in doc["definitions"].items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            api = (gvk["group"] + "/" if gvk["group"] else "") + gvk["version"]
            kinds[(api, gvk["kind"])] = name
    return defs, kinds


FORMATS = jsonschema.FormatChecker(())


@FORMATS.checks("byte", raises=(binascii.Error, ValueError))
def _is_base64(value):
    if not isinstance(value, str):
        return True
    base64.b64decode(value, validate=True)
    return True


def check_doc(doc, defs, kinds):
    """the errors of one document, as 'path: message' strings"""
    if not isinstance(doc, dict):
        return ["the document is not a mapping"]
    key = (doc.get("apiVersion"), doc.get("kind"))
    name = kinds.get(key)
    if not name:
        known = ", ".join(f"{k} {a}" for a, k in sorted(kinds))
        return [f"apiVersion {key[0]!r} kind {key[1]!r} is not in the "
                f"schema (it has: {known})"]
    schema = {"definitions": defs, "$ref": "#/definitions/" + name}
    v = jsonschema.Draft4Validator(schema, format_checker=FORMATS)
    errors = []
    for e in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        path = ".".join(str(p) for p in e.absolute_path) or "(document)"
        errors.append(f"{path}: {e.message}")
    if not (doc.get("metadata") or {}).get("name"):
        errors.append("metadata.name: required")
    return errors


def load_docs(path, text=None):
    """[(index, document)] of a YAML file, empty documents skipped"""
    if text is None:
        with open(path) as f:
            text = f.read()
    return [(i, d) for i, d in enumerate(yaml.load_all(text, UniqueKeyLoader))
            if d is not None]


def check_text(path, text, defs, kinds):
    try:
        docs = load_docs(path, text)
    except yaml.YAMLError as e:
        return [f"{path}: {e}".replace("\n", " ")], 0
    errors = []
    for i, doc in docs:
        what = f"{doc.get('kind')}/{(doc.get('metadata') or {}).get('name')}" \
            if isinstance(doc, dict) else "?"
        errors += [f"{path}: document {i + 1} ({what}): {e}"
                   for e in check_doc(doc, defs, kinds)]
    return errors, len(docs)


def check_cluster_role(role):
    """the errors of a ClusterRole against sluiced_grants()"""
    want = sluiced_grants()
    name = f"ClusterRole/{(role.get('metadata') or {}).get('name')}"
    errors = []
    if "aggregationRule" in role:
        errors.append(f"{name}: aggregationRule: other ClusterRoles' rules "
                      "would be added to sluiced's")
    granted = {}
    rules = role.get("rules") or []
    if not isinstance(rules, list):
        return [f"{name}: rules is not a list"]
    for i, r in enumerate(rules):
        where = f"{name}: rules[{i}]"
        if not isinstance(r, dict):
            errors.append(f"{where}: not a mapping")
            continue
        for k in ("nonResourceURLs", "resourceNames"):
            if r.get(k):
                errors.append(f"{where}: {k} {r[k]}: sluiced needs neither "
                              "(it lists and watches whole collections)")
        verbs = set(r.get("verbs") or [])
        for g in r.get("apiGroups") or []:
            for res in r.get("resources") or []:
                if (g, res) not in want:
                    errors.append(
                        f"{where}: resource {res!r} of API group {g!r} "
                        "granted: sluiced does not use it")
                    continue
                if not verbs <= want[(g, res)]:
                    errors.append(
                        f"{where}: verbs {sorted(verbs - want[(g, res)])} of"
                        f" resource {res!r} of API group {g!r} granted: "
                        f"sluiced only needs {sorted(want[(g, res)])}")
                granted.setdefault((g, res), set()).update(verbs)
    for g, res in sorted(want):
        missing = want[(g, res)] - granted.get((g, res), set())
        if missing:
            errors.append(f"{name}: {sorted(missing)} of resource {res!r} of "
                          f"API group {g!r} not granted: sluiced needs it "
                          "(a 403)")
    return errors


def check_rbac(docs):
    """the RBAC check (see the usage) over every document of the
    manifests, as 'kind/name: message' strings"""
    errors = []
    roles = {}
    accounts = set()
    for d in docs:
        if not isinstance(d, dict):
            continue
        meta = d.get("metadata") or {}
        if d.get("kind") == "ClusterRole":
            roles[meta.get("name")] = d
            errors += check_cluster_role(d)
        elif d.get("kind") == "ServiceAccount":
            accounts.add((meta.get("namespace"), meta.get("name")))
        elif d.get("kind") in ("Role", "RoleBinding"):
            errors.append(f"{d['kind']}/{meta.get('name')}: sluiced's grant "
                          "is the ClusterRole alone")
    for d in docs:
        if not isinstance(d, dict) or d.get("kind") != "ClusterRoleBinding":
            continue
        name = f"ClusterRoleBinding/{(d.get('metadata') or {}).get('name')}"
        ref = d.get("roleRef") or {}
        if ref.get("apiGroup") != RBAC_GROUP or \
                ref.get("kind") != "ClusterRole" or \
                ref.get("name") not in roles:
            errors.append(f"{name}: roleRef {ref} is not a ClusterRole of "
                          "these manifests")
        subjects = d.get("subjects") or []
        if len(accounts) != 1:
            errors.append(f"{name}: want one ServiceAccount in the manifests"
                          f" to bind, have {len(accounts)}")
        elif [(s.get("kind"), s.get("namespace"), s.get("name"))
              for s in subjects if isinstance(s, dict)] != \
                [("ServiceAccount",) + next(iter(accounts))] or \
                subjects[0].get("apiGroup", "") != "":
            ns, sa = next(iter(accounts))
            errors.append(f"{name}: subjects {subjects}: want only "
                          f"ServiceAccount {sa} of namespace {ns}")
    return errors


def manifests(paths):
    out = []
    for p in paths:
        if os.path.isdir(p):
            out += [os.path.join(p, f) for f in sorted(os.listdir(p))
                    if f.endswith((".yaml", ".yml", ".yaml.example"))]
        else:
            out.append(p)
    return out


def cmd_schema(paths):
    defs, kinds = load_schema()
    bad = 0
    paths = manifests(paths)
    if not paths:
        sys.exit("k8s-manifests: no manifest")
    docs = []
    for path in paths:
        with open(path) as f:
            text = f.read()
        errors, n = check_text(path, text, defs, kinds)
        for e in errors:
            print(e, file=sys.stderr)
        if n == 0 and not errors:
            errors = [f"{path}: no document"]
            print(errors[0], file=sys.stderr)
        bad += bool(errors)
        print(f"{path}: {n} documents, {'INVALID' if errors else 'valid'}")
        if not errors:
            docs += [d for _, d in load_docs(path, text)]
    errors = check_rbac(docs)
    for e in errors:
        print(f"RBAC: {e}", file=sys.stderr)
    n_roles = sum(isinstance(d, dict) and d.get("kind") == "ClusterRole"
                  for d in docs)
    verdict = "WRONG" if errors else \
        "list and watch of sluiced's reads, create of Events, only"
    print(f"RBAC: {n_roles} ClusterRole(s), {verdict}")
    return 1 if bad or errors else 0


def daemonset_of(docs):
    for i, d in docs:
        if d.get("kind") == "DaemonSet":
            return i, d
    sys.exit("k8s-manifests: no DaemonSet")


def cmd_self_test(path):
    """broken copies must fail: the schema check can fail"""
    defs, kinds = load_schema()
    with open(path) as f:
        text = f.read()
    errors, _ = check_text(path, text, defs, kinds)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(f"k8s-manifests: {path} itself is rejected")
    _, ds = daemonset_of(load_docs(path, text))

    def c0(d):
        return d["spec"]["template"]["spec"]["containers"][0]

    def unknown(d):
        c0(d)["securityContext"]["seccompProfil"] = {"type": "RuntimeDefault"}

    def unknown_top(d):
        d["spec"]["template"]["spec"]["hostNetwrok"] = True

    def no_selector(d):
        del d["spec"]["selector"]

    def no_container_name(d):
        del c0(d)["name"]

    def no_volume_name(d):
        del d["spec"]["template"]["spec"]["volumes"][0]["name"]

    def port_string(d):
        c0(d)["ports"][0]["containerPort"] = "15020/tcp"

    def args_not_list(d):
        c0(d)["args"] = " ".join(c0(d)["args"])

    def bad_quantity(d):
        c0(d)["resources"]["requests"]["memory"] = "64MB"

    def probe_port_bool(d):
        c0(d)["readinessProbe"]["httpGet"]["port"] = True

    def bad_kind(d):
        d["kind"] = "DaemonSett"

    def old_api(d):
        d["apiVersion"] = "extensions/v1beta1"

    cases = [unknown, unknown_top, no_selector, no_container_name,
             no_volume_name, port_string, args_not_list, bad_quantity,
             probe_port_bool, bad_kind, old_api]
    failed = 0
    for case in cases:
        d = copy.deepcopy(ds)
        case(d)
        errs = check_doc(d, defs, kinds)
        if errs:
            print(f"ok - {case.__name__}: rejected: {errs[0]}")
        else:
            print(f"FAIL - {case.__name__}: accepted", file=sys.stderr)
            failed += 1
    # text-level breakage: a duplicate key, a Secret with bad base64
    dup = text.replace("hostNetwork: true",
                       "hostNetwork: true\n      hostNetwork: false", 1)
    bad_b64 = ("apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n"
               "data: {ca.crt: 'not base64!'}\n")
    for name, t in (("duplicate_key", dup), ("secret_bad_base64", bad_b64)):
        if t == text:
            print(f"FAIL - {name}: could not break the text", file=sys.stderr)
            failed += 1
            continue
        errs, _ = check_text(name, t, defs, kinds)
        if errs:
            print(f"ok - {name}: rejected: {errs[0]}")
        else:
            print(f"FAIL - {name}: accepted", file=sys.stderr)
            failed += 1
    n_rbac, f_rbac = rbac_self_test(load_docs(path, text))
    failed += f_rbac
    print(f"{len(cases) + 2 + n_rbac - failed} passed, {failed} failed")
    return 1 if failed else 0


def rbac_self_test(indexed):
    """wider and narrower copies of the ClusterRole and its binding must
    fail the RBAC check; returns (cases, failed)"""
    docs = [d for _, d in indexed]
    if check_rbac(docs):
        print("\n".join(check_rbac(docs)), file=sys.stderr)
        sys.exit("k8s-manifests: the manifest's RBAC itself is rejected")
    if not any(d.get("kind") == "ClusterRole" for d in docs):
        sys.exit("k8s-manifests: no ClusterRole to break")

    def of(ds, kind):
        return next(d for d in ds if d.get("kind") == kind)

    def rule(ds, group):
        return next(r for r in of(ds, "ClusterRole")["rules"]
                    if group in r["apiGroups"])

    def add_get(ds):
        rule(ds, "")["verbs"].append("get")

    def any_verb(ds):
        rule(ds, "networking.istio.io")["verbs"] = ["*"]

    def secrets(ds):
        rule(ds, "")["resources"].append("secrets")

    def pod_subresource(ds):
        rule(ds, "")["resources"].append("pods/exec")

    def endpoints(ds):
        # the core Endpoints: sluiced reads their EndpointSlices
        rule(ds, "")["resources"].append("endpoints")

    def any_group(ds):
        rule(ds, "security.istio.io")["apiGroups"] = ["*"]

    def any_resource(ds):
        rule(ds, "security.istio.io")["resources"] = ["*"]

    def non_resource(ds):
        of(ds, "ClusterRole")["rules"].append(
            {"nonResourceURLs": ["/metrics"], "verbs": ["list"]})

    def aggregated(ds):
        label = {"rbac.example.com/aggregate-to-sluiced": "true"}
        of(ds, "ClusterRole")["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": label}]}

    def no_namespaces(ds):
        rule(ds, "")["resources"].remove("namespaces")

    def no_watch(ds):
        rule(ds, "security.istio.io")["verbs"] = ["list"]

    def resource_names(ds):
        rule(ds, "")["resourceNames"] = ["sluice-system"]

    def namespaced_role(ds):
        ds.append({"apiVersion": f"{RBAC_GROUP}/v1", "kind": "Role",
                   "metadata": {"name": "sluiced-secrets",
                                "namespace": "sluice-system"},
                   "rules": [{"apiGroups": [""], "resources": ["secrets"],
                              "verbs": ["get"]}]})

    def list_events(ds):
        rule(ds, "events.k8s.io")["verbs"].append("list")

    def no_events(ds):
        of(ds, "ClusterRole")["rules"].remove(rule(ds, "events.k8s.io"))

    def create_pods(ds):
        rule(ds, "")["verbs"].append("create")

    def legacy_events(ds):
        rule(ds, "")["resources"].append("events")

    def bind_more(ds):
        of(ds, "ClusterRoleBinding")["subjects"].append(
            {"kind": "Group", "apiGroup": RBAC_GROUP,
             "name": "system:authenticated"})

    def bind_other_namespace(ds):
        of(ds, "ClusterRoleBinding")["subjects"][0]["namespace"] = "default"

    def bind_other_role(ds):
        of(ds, "ClusterRoleBinding")["roleRef"]["name"] = "cluster-admin"

    cases = [add_get, any_verb, secrets, pod_subresource, endpoints,
             any_group, any_resource, non_resource, aggregated,
             no_namespaces, no_watch, resource_names, namespaced_role,
             list_events, no_events, create_pods, legacy_events,
             bind_more, bind_other_namespace, bind_other_role]
    failed = 0
    for case in cases:
        ds = copy.deepcopy(docs)
        case(ds)
        errs = check_rbac(ds)
        if errs:
            print(f"ok - rbac {case.__name__}: rejected: {errs[0]}")
        else:
            print(f"FAIL - rbac {case.__name__}: accepted", file=sys.stderr)
            failed += 1
    return len(cases), failed


def cmd_agree(kdir, sluiced):
    fails = []

    def need(cond, msg):
        if not cond:
            fails.append(msg)
        return cond

    docs = []
    for f in manifests([kdir]):
        docs += [d for _, d in load_docs(f)]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    for k in ("DaemonSet", "ConfigMap", "Secret", "Namespace"):
        if len(by_kind.get(k, [])) != 1:
            sys.exit(f"k8s-manifests: want one {k} in {kdir}, have "
                     f"{len(by_kind.get(k, []))}")
    ds, cm, sec, ns = (by_kind[k][0] for k in
                       ("DaemonSet", "ConfigMap", "Secret", "Namespace"))
    namespace = ns["metadata"]["name"]
    for d in docs:
        if d["kind"] not in CLUSTER_SCOPED:
            need(d["metadata"].get("namespace") == namespace,
                 f"{d['kind']}/{d['metadata']['name']} is not in namespace "
                 f"{namespace}")
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    need(set(mounts) <= set(vols), "a volumeMount names no volume")
    need(ds["spec"]["selector"]["matchLabels"].items()
         <= ds["spec"]["template"]["metadata"]["labels"].items(),
         "the selector does not match the pod template's labels")
    args = {}
    for a in c.get("args", []):
        k, _, v = a.partition("=")
        args[k] = v

    def mount_of(kind, name):
        for vn, v in vols.items():
            if kind in v and name in (v[kind].get("name"),
                                      v[kind].get("secretName")):
                return mounts.get(vn)
        return None

    # the configuration: the ConfigMap, mounted where --config points
    cm_mount = mount_of("configMap", cm["metadata"]["name"])
    need(cm_mount and cm_mount["mountPath"] == args.get("--config"),
         f"--config={args.get('--config')} is not where ConfigMap "
         f"{cm['metadata']['name']} is mounted")
    with tempfile.TemporaryDirectory() as tmp:
        for fname, body in cm["data"].items():
            with open(os.path.join(tmp, fname), "w") as f:
                f.write(body)
        r = subprocess.run([sluiced, "--check", "--config", tmp],
                           capture_output=True, text=True)
        need(r.returncode == 0, f"sluiced --check rejects the ConfigMap: "
             f"{r.stdout}{r.stderr}")
        print(f"sluiced --check on the ConfigMap: {r.stdout.strip()}")
    nodes = []
    for body in cm["data"].values():
        nodes += [d for d in yaml.safe_load_all(body)
                  if d and d.get("kind") == "Node"]
    if not need(len(nodes) == 1, "want one Node in the ConfigMap"):
        return report(fails)
    spec = nodes[0]["spec"]

    # the CA: the Secret mounted at the Node's caDir with sluiced's files
    ca_mount = mount_of("secret", sec["metadata"]["name"])
    need(ca_mount and ca_mount["mountPath"] == spec.get("caDir"),
         f"the Node's caDir {spec.get('caDir')} is not where Secret "
         f"{sec['metadata']['name']} is mounted "
         f"({ca_mount and ca_mount['mountPath']})")
    keys = set(sec.get("data", {})) | set(sec.get("stringData", {}))
    need(keys == {"ca.crt", "ca.key"},
         f"the Secret's keys are {sorted(keys)}, sluiced reads ca.crt and "
         "ca.key from caDir")
    # --state-dir: a writable volume
    sd = args.get("--state-dir")
    need(sd and any(m["mountPath"] == sd and not m.get("readOnly")
                    for m in mounts.values()),
         f"--state-dir={sd} is not a writable volume")
    need(c["securityContext"].get("readOnlyRootFilesystem") is not True or
         any(m["mountPath"] == "/run/sluice" and not m.get("readOnly")
             for m in mounts.values()),
         "read-only root: the admin socket's /run/sluice must be a volume")
    # metrics: the Node's port on 0.0.0.0, the container port, probes,
    # Prometheus' annotation
    port = spec.get("ports", {}).get("metrics", 15020)
    need(spec.get("metricsAddress") in ("0.0.0.0", "::"),
         f"metricsAddress {spec.get('metricsAddress')}: Prometheus cannot "
         "reach it from off the node")
    need(any(p["containerPort"] == port for p in c.get("ports", [])),
         f"the metrics port {port} is not a container port")
    ann = ds["spec"]["template"]["metadata"].get("annotations", {})
    need(ann.get("prometheus.io/port") == str(port),
         f"prometheus.io/port {ann.get('prometheus.io/port')}, want {port}")
    for probe, path in (("startupProbe", "/healthz"),
                        ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/ready")):
        g = c.get(probe, {}).get("httpGet", {})
        need(g.get("port") == port and g.get("path") == path,
             f"{probe}: want GET {path} on port {port}, have {g}")
    need(pod.get("hostNetwork") is True, "sluiced steers the node: hostNetwork")
    # --kubernetes: the pod's service account, with its token, bound to
    # the ClusterRole (whose grants `schema` checks)
    sa = pod.get("serviceAccountName")
    need(sa in [d["metadata"]["name"]
                for d in by_kind.get("ServiceAccount", [])],
         f"serviceAccountName {sa} is not a ServiceAccount of {kdir}")
    if "--kubernetes" in args:
        accounts = [d for d in by_kind.get("ServiceAccount", [])
                    if d["metadata"]["name"] == sa]
        need(pod.get("automountServiceAccountToken") is True or
             (pod.get("automountServiceAccountToken") is None and
              accounts and
              accounts[0].get("automountServiceAccountToken") is not False),
             "--kubernetes without the service account's token mounted "
             "(automountServiceAccountToken)")
        need(any(s.get("kind") == "ServiceAccount" and s.get("name") == sa and
                 s.get("namespace") == namespace
                 for b in by_kind.get("ClusterRoleBinding", [])
                 for s in b.get("subjects") or []),
             f"--kubernetes, but no ClusterRoleBinding for ServiceAccount "
             f"{sa} of {namespace}")
        need(len(by_kind.get("ClusterRole", [])) == 1,
             "--kubernetes: want one ClusterRole")
        need(not any(m["mountPath"].startswith("/var/run/secrets")
                     for m in mounts.values()),
             "a volume hides the service account's /var/run/secrets")
    need(bool(c.get("resources", {}).get("requests")), "no resource requests")
    # seccomp: the Localhost profile shipped in seccomp/
    sp = c["securityContext"].get("seccompProfile", {})
    if sp.get("type") == "Localhost":
        lp = sp.get("localhostProfile", "")
        need(os.path.basename(lp) in os.listdir(os.path.join(kdir, "seccomp")),
             f"localhostProfile {lp} is not shipped in {kdir}/seccomp")
        with open(os.path.join(kdir, "seccomp", os.path.basename(lp))) as f:
            prof = json.load(f)
        names = {n for r in prof["syscalls"] if r["action"] == "SCMP_ACT_ALLOW"
                 for n in r["names"]}
        need({"io_uring_setup", "io_uring_enter", "io_uring_register"}
             <= names, "the seccomp profile does not allow io_uring")
    else:
        need(sp.get("type") == "RuntimeDefault",
             f"seccompProfile {sp}: want Localhost or RuntimeDefault")
    return report(fails)


def report(fails):
    for f in fails:
        print(f"FAIL: {f}", file=sys.stderr)
    print("manifests agree" if not fails else f"{len(fails)} disagreements")
    return 1 if fails else 0


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "schema":
        return cmd_schema(args)
    if cmd == "self-test" and len(args) == 1:
        return cmd_self_test(args[0])
    if cmd == "agree" and len(args) == 2:
        return cmd_agree(args[0], args[1])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
