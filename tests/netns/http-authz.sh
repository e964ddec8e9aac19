#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# L7 AuthorizationPolicy end to end (issue 27, "Tests"): decided per
# request by the destination node's HTTP engine, on the normalized path,
# the method, the Host and the headers, with the peer's verified identity.
# Two nodes (tests/netns/lib):
#
#   node1: pod11 = A (namespace front, service account a)
#          pod12 = C (namespace front, service account c)
#          node1's own namespace (198.18.0.1) = the plaintext client: not a
#          pod, not steered, outside the mesh (as in permissive.sh); it
#          talks to B's pod address directly
#   node2: pod21 = B (namespace back, service account b, app: b), one
#          lib/http_upstream.py on 8000 that logs every request it
#          receives, incomplete ones too
#   Service b.back 198.19.0.70 port 80 "http" -> 8000; PeerAuthentication
#   PERMISSIVE on B; the policies below on B (both nodes load them).
#
#   ALLOW a-get-api  rule 0: from principals [A], to methods [GET]
#                            paths ["/api/*"]   ("A may GET /api/* on B")
#                    rule 1: from ipBlocks [198.18.0.1/32] (the plaintext
#                            client), to paths ["/plain/*"]
#   ALLOW host-api   from principals [A], to hosts [b.example]
#                    paths ["/host/*"]
#   DENY deny-secret to paths ["/api/secret"]  (DENY beats ALLOW)
#   DENY deny-host   to hosts [blocked.example]
#   DENY deny-token  Istio's authz-deny task: to methods [GET] (and paths
#                    ["/api/guarded"], so that the other checks are not
#                    concerned), when request.headers[x-token] notValues
#                    ["admin"]
#   DENY deny-forms  the other fields, each scoped by a path: notPaths,
#                    notHosts, notMethods, ports (the pod's port, 8000,
#                    as Istio's inbound sidecar sees it: not the Service
#                    port 80), when source.namespace, source.principal,
#                    destination.port
#   AUDIT audit-api  to paths ["/api/audited"]
#
#  a. the policy: A GET /api/x 200 (the pod saw GET /api/x); A POST /api/x,
#     A POST /api/x with a 2 MiB body (refused after its head, node2 resets
#     with the body unread: the 403 still reaches the client), A GET
#     /admin, C GET /api/x, plaintext GET /api/x: 403 "RBAC: access
#     denied", nothing reached the pod; DENY beats ALLOW; AUDIT allows and
#     the access log says so; when request.headers[x-token]; after a 403
#     the connection stays usable; notPaths, notHosts, notMethods, ports,
#     when on source.namespace, source.principal, destination.port
#  b. the bypass table, in the Node's default pathNormalization (BASE):
#     each raw request line (lib/http_client.py: curl normalizes paths
#     itself) gets its exact status; a refused one never reaches the pod,
#     an allowed one reaches it with the normalized path; each row names
#     the advisory it comes from
#  c. Host variants against hosts in ALLOW and DENY rules
#  d. a forged x-forwarded-client-cert (and the other identity headers)
#     never reaches the pod: it sees sluice's one, from A's verified
#     certificate; from the plaintext client, none
#  e. metrics and access log of node2 (the destination) show the denial
#     with both identities and the policy that decided it
#  f. the Node's pathNormalization reloaded to MERGE_SLASHES, then
#     DECODE_AND_MERGE_SLASHES: the rows that change
#  g. both daemons stop with exit 0 (ASan: no leaks)
# Every assertion is checked and reported; the script fails at the end if
# any failed.
#
# usage: http-authz.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/http.sh
. "$here/lib/http.sh" "$@"

tm_init
p11=$(tp_pod_ip pod11) p12=$(tp_pod_ip pod12) p21=$(tp_pod_ip pod21)
plain_ip=198.18.0.1
vip=198.19.0.70
A=cluster.local/ns/front/sa/a
B=cluster.local/ns/back/sa/b
UPLOG=$TP_DIR/up-b.log

mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we_sa pod11 front a "$p11" node-a "app: a"
		tm_we_sa pod12 front c "$p12" node-a "app: c"
		tm_we_sa pod21 back b "$p21" node-b "app: b"
		cat <<EOT
---
apiVersion: v1
kind: Service
metadata: {name: b, namespace: back}
spec:
  clusterIP: $vip
  selector: {app: b}
  ports:
  - {name: http, port: 80, targetPort: 8000}
EOT
	} >"$1/workloads.yaml"
	cat >"$1/policy.yaml" <<EOT
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: b, namespace: back}
spec:
  selector:
    matchLabels: {app: b}
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a-get-api, namespace: back}
spec:
  selector:
    matchLabels: {app: b}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["$A"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/api/*"]
  - from:
    - source:
        ipBlocks: ["$plain_ip/32"]
    to:
    - operation:
        paths: ["/plain/*"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: host-api, namespace: back}
spec:
  selector:
    matchLabels: {app: b}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["$A"]
    to:
    - operation:
        hosts: ["b.example"]
        paths: ["/host/*"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-secret, namespace: back}
spec:
  selector:
    matchLabels: {app: b}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/api/secret"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-host, namespace: back}
spec:
  selector:
    matchLabels: {app: b}
  action: DENY
  rules:
  - to:
    - operation:
        hosts: ["blocked.example"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-token, namespace: back}
spec:
  selector:
    matchLabels: {app: b}
  action: DENY
  rules:
  - to:
    - operation:
        methods: ["GET"]
        paths: ["/api/guarded"]
    when:
    - key: request.headers[x-token]
      notValues: ["admin"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-forms, namespace: back}
spec:
  selector:
    matchLabels: {app: b}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/api/np/*"]
        notPaths: ["/api/np/ok"]
  - to:
    - operation:
        paths: ["/api/nh"]
        notHosts: ["b.back.svc.cluster.local"]
  - to:
    - operation:
        paths: ["/api/nm"]
        notMethods: ["GET"]
  - to:
    - operation:
        ports: ["8000"]
        paths: ["/api/port8000"]
    - operation:
        ports: ["80"]
        paths: ["/api/port80"]
  - to:
    - operation:
        paths: ["/api/src"]
    when:
    - key: source.namespace
      values: ["front"]
    - key: source.principal
      values: ["$A"]
    - key: destination.port
      values: ["8000"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: audit-api, namespace: back}
spec:
  selector:
    matchLabels: {app: b}
  action: AUDIT
  rules:
  - to:
    - operation:
        paths: ["/api/audited"]
EOT
}
mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b
"$SLUICED" --config "$TM_CFG_B" --node node-b --check >"$TP_DIR/check.log" 2>&1 ||
	{ cat "$TP_DIR/check.log"; tp_fail "sluiced --check rejects the test config"; }

tp_exec node1 "$NFT_TOOL" apply "$p11" "$p12" >/dev/null
: >"$UPLOG"
tp_bg pod21 "$TP_DIR/pod21.out" "$py" "$UP" --port 8000 --name b --log "$UPLOG"
tp_wait_port pod21 8000
tm_start_b --access-log-rate 10000
tm_start_a --log-level info --access-log-rate 10000
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice permissive4 2>/dev/null |
		grep -q "$p21" && break
	sleep 0.1
done

nlog() { wc -l <"$UPLOG"; }
# alog PATH EXPR: node2's last access-log record of PATH satisfies EXPR
# (lib/http_alog.py); the line is written when the request ends, which
# may be just after the client read the response: 2 s to appear
alog() {
	local i a
	for ((i = 0; i < 20; i++)); do
		a=$("$py" "$ALOGPY" "$TP_DIR/sluiced-b.log" "$1" "$2") && return 0
		sleep 0.1
	done
	echo "$a"
	return 1
}

# the verdict on one exchange, from lib/http_client.py's raw JSON: the
# statuses, each 403's body and content type (Istio's: "RBAC: access
# denied", text/plain), each 400's body (BODY400: "Bad Request", the
# daemon's for a refused path; empty: not checked), and the requests the pod logged since line N0
# ("METHOD TARGET", "incomplete"; joined by " | ")
cat >"$TP_DIR/verdict.py" <<'EOF'
import json, sys
out, want, want_up, log, n0, body400 = sys.argv[1:7]
js = [l for l in out.splitlines() if l.startswith("{")]
o = json.loads(js[-1]) if js else {}
errs = []
sts = o.get("statuses", [])
got = ",".join(map(str, sts)) or "-"
if got != want:
    errs.append("status %s, want %s (%s)" % (got, want, o.get("error") or out[:300]))
for st, body in zip(sts, o.get("bodies", [])):
    if st == 403 and body != "RBAC: access denied":
        errs.append("403 body %r, want 'RBAC: access denied'" % body)
    if st == 400 and body400 and body != body400:
        errs.append("400 body %r, want %r" % (body, body400))
if sts and sts[-1] == 403:
    ct = {n.lower(): v for n, v in o.get("headers", [])}.get("content-type", "")
    if not ct.startswith("text/plain"):
        errs.append("403 content-type %r, want text/plain" % ct)
seen = []
for l in open(log).read().splitlines()[int(n0):]:
    r = json.loads(l)
    seen.append("incomplete" if r.get("incomplete") else
                "%s %s" % (r["method"], r["target"]))
seen = " | ".join(seen)
if seen != ("" if want_up == "-" else want_up):
    errs.append("the pod saw [%s], want [%s]" % (seen, "" if want_up == "-" else want_up))
print("; ".join(errs))
sys.exit(1 if errs else 0)
EOF

# row WHAT STATUSES UPSTREAM FROM DATA: FROM sends DATA (Python escapes:
# \r \n \\ ...) on one new connection: a pod to B's Service (through
# node1's engine and mTLS), node1 (the plaintext client) to B's pod
# address:8000.  STATUSES: each response's status ("403,200");
# UPSTREAM: what the pod must have logged ("GET /api/x"), "-": nothing.
# V400 (environment): the body a 400 must have, default "Bad Request"
row() {
	local what=$1 want=$2 up=$3 from=$4 data=$5 n0 out ip=$vip port=80 n v
	n=$(tr ',' '\n' <<<"$want" | wc -l)
	[ "$from" = node1 ] && ip=$p21 port=8000
	n0=$(nlog)
	out=$(tp_exec "$from" "$py" "$CL" --timeout 4 raw "$ip" "$port" "$data" \
		--wait 0 --count "$n" 2>&1) || true
	# a request forwarded by mistake: let the pod log it
	[ "$up" = - ] && sleep 0.05
	if v=$("$py" "$TP_DIR/verdict.py" "$out" "$want" "$up" "$UPLOG" "$n0" "${V400-Bad Request}"); then
		if [ "$up" = - ]; then
			ok "$what: $want, nothing reached the pod"
		else
			ok "$what: $want, the pod saw $up"
		fi
	else
		bad "$what: $v"
	fi
}
H='Host: b.back.svc.cluster.local\r\n'
get() { printf 'GET %s HTTP/1.1\\r\\n%s\\r\\n' "$1" "$H"; }

# curl from FROM: the same verdict; curl's -w gives the status and type
creq() { # what status upstream from curl-args...
	local what=$1 want=$2 up=$3 from=$4 n0 out v js
	shift 4
	n0=$(nlog)
	: >"$TP_DIR/cbody"
	out=$(tp_exec "$from" curl -sS --max-time 5 -o "$TP_DIR/cbody" \
		-w '%{http_code} %{content_type}' "$@" 2>&1) || true
	[ "$up" = - ] && sleep 0.05
	js=$(jq -cn --arg s "${out%% *}" --arg t "${out#* }" --rawfile b "$TP_DIR/cbody" \
		'{statuses: [($s | tonumber? // 0)], bodies: [$b], headers: [["content-type", $t]]}' 2>/dev/null) ||
		js='{"statuses": []}'
	if v=$("$py" "$TP_DIR/verdict.py" "$js" "$want" "$up" "$UPLOG" "$n0" "Bad Request"); then
		if [ "$up" = - ]; then
			ok "$what (curl): $want, nothing reached the pod"
		else
			ok "$what (curl): $want, the pod saw $up"
		fi
	else
		bad "$what (curl): $v (curl: $out)"
	fi
}

# the mesh answers at all: wait for the first 200
for ((i = 0; i < 50; i++)); do
	[ "$(tp_exec pod11 curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$vip/api/ready" 2>/dev/null)" = 200 ] && break
	sleep 0.1
done
r=$(tp_exec pod11 curl -sS -o /dev/null -w '%{http_code}' --max-time 3 "http://$vip/api/ready" 2>&1) || true
[ "$r" = 200 ] || { tm_dump_logs; tp_fail "A GET /api/ready through the mesh: got '$r', want 200"; }

# ---- a. "A may GET /api/* on B" ------------------------------------------------------------------
creq "a. A GET /api/x" 200 "GET /api/x" pod11 "http://$vip/api/x"
creq "a. A POST /api/x" 403 - pod11 -X POST --data x "http://$vip/api/x"
# refused after its head with most of a 2 MiB body still to come: the
# destination lingers (write side shut, the rest read and dropped), so the
# 403 always arrives; closing at once reset the connection and the client
# got 503 UC now and then.  5 tries, every one must be the 403.
head -c 2097152 /dev/zero >"$TP_DIR/bigbody"
codes= n403=0
for ((i = 0; i < 5; i++)); do
	n0=$(nlog)
	c=$(tp_exec pod11 curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		-X POST -H 'Expect:' --data-binary "@$TP_DIR/bigbody" "http://$vip/api/x" 2>/dev/null) || true
	codes="$codes $c"
	[ "$c" = 403 ] && [ "$(nlog)" = "$n0" ] && n403=$((n403 + 1))
done
if [ $n403 = 5 ]; then
	ok "a. A POST /api/x with a 2 MiB body, refused after its head: 403 in 5 of 5, nothing reached the pod"
else
	bad "a. A POST /api/x with a 2 MiB body, refused after its head: want 403 five times, nothing at the pod; got:$codes"
fi
creq "a. A GET /admin" 403 - pod11 "http://$vip/admin"
creq "a. C (other service account) GET /api/x" 403 - pod12 "http://$vip/api/x"
creq "a. plaintext (PERMISSIVE, no identity) GET /api/x" 403 - node1 "http://$p21:8000/api/x"
creq "a. plaintext GET /plain/x (ALLOW rule 1: ipBlocks)" 200 "GET /plain/x" node1 "http://$p21:8000/plain/x"
creq "a. DENY beats ALLOW: A GET /api/secret" 403 - pod11 "http://$vip/api/secret"
creq "a. AUDIT: A GET /api/audited" 200 "GET /api/audited" pod11 "http://$vip/api/audited"
if a=$(alog /api/audited \
	'status(r) == 200 and r.get("audit") == "ns[back]-policy[audit-api]-rule[0]"'); then
	ok "a. AUDIT: node2's access-log line of /api/audited has audit ns[back]-policy[audit-api]-rule[0]"
else
	bad "a. AUDIT: node2's access-log line of /api/audited, want 200 and \"audit\":\"ns[back]-policy[audit-api]-rule[0]\": $a"
fi
if a=$(alog /api/ready 'status(r) == 200 and "audit" not in r'); then
	ok "a. AUDIT: no audit key on a request no AUDIT rule matched"
else
	bad "a. AUDIT: node2's access-log line of /api/ready, want 200 and no audit key: $a"
fi
# Istio's authz-deny task: DENY GET when request.headers[x-token] is not
# "admin"; a header name is case-insensitive (Istio's authorization
# normalization reference: "compare the header name with a
# case-insensitive approach")
creq "a. when x-token notValues [admin]: no x-token" 403 - pod11 "http://$vip/api/guarded"
creq "a. when: x-token: guest" 403 - pod11 -H 'x-token: guest' "http://$vip/api/guarded"
creq "a. when: x-token: admin" 200 "GET /api/guarded" pod11 -H 'x-token: admin' "http://$vip/api/guarded"
creq "a. when: X-Token: admin (name case)" 200 "GET /api/guarded" pod11 -H 'X-Token: admin' "http://$vip/api/guarded"
row "a. after a 403 the connection serves the next request" "403,200" "GET /api/after" pod11 \
	"POST /api/x HTTP/1.1\\r\\n${H}Content-Length: 0\\r\\n\\r\\n$(get /api/after)"
# the not-forms, ports and the other when keys (deny-forms); a DENY rule
# that decided is named in node2's access log
creq "a. DENY paths [/api/np/*] notPaths [/api/np/ok]: /api/np/x" 403 - pod11 "http://$vip/api/np/x"
creq "a. DENY ... notPaths [/api/np/ok]: /api/np/ok" 200 "GET /api/np/ok" pod11 "http://$vip/api/np/ok"
creq "a. DENY notHosts [b.back.svc.cluster.local]: that Host" 200 "GET /api/nh" pod11 \
	-H 'Host: b.back.svc.cluster.local' "http://$vip/api/nh"
creq "a. DENY notHosts: the Host in upper case (not another host)" 200 "GET /api/nh" pod11 \
	-H 'Host: B.BACK.svc.cluster.local' "http://$vip/api/nh"
creq "a. DENY notHosts: Host evil.example" 403 - pod11 -H 'Host: evil.example' "http://$vip/api/nh"
creq "a. DENY notMethods [GET]: GET" 200 "GET /api/nm" pod11 "http://$vip/api/nm"
creq "a. DENY notMethods [GET]: DELETE" 403 - pod11 -X DELETE "http://$vip/api/nm"
creq "a. DENY ports [8000] (the pod's port)" 403 - pod11 "http://$vip/api/port8000"
creq "a. DENY ports [80] (the Service port: not the connection's)" 200 "GET /api/port80" pod11 "http://$vip/api/port80"
creq "a. DENY when source.namespace, source.principal, destination.port" 403 - pod11 "http://$vip/api/src"
creq "a. the same DENY rule: C (other principal) is refused by the ALLOW" 403 - pod12 "http://$vip/api/src"
alog_rule() { # what path details
	local a
	if a=$(alog "$2" "status(r) == 403 and r.get(\"response_code_details\") == \"$3\""); then
		ok "$1: node2's access log names $3"
	else
		bad "$1: node2's access-log line of $2, want 403 and response_code_details $3: $a"
	fi
}
alog_rule "a. DELETE /api/nm" /api/nm "rbac_access_denied_matched_policy[ns[back]-policy[deny-forms]-rule[2]]"
alog_rule "a. ports [8000]" /api/port8000 "rbac_access_denied_matched_policy[ns[back]-policy[deny-forms]-rule[3]]"
alog_rule "a. C GET /api/src" /api/src "rbac_access_denied_matched_policy[none]"

# ---- b. the bypass table (pathNormalization BASE, the default) -----------------------------------
# Each row: the request line as sent, its status, what the pod saw.  The
# authorities: Istio's authorization-policy normalization reference
# (istio.io docs/reference/config/security/normalization, "Authorization
# Policy Normalization"), its bulletins and Envoy's advisories; sluice's
# decisions are docs/HTTP.md "Path normalization".
#   CVE-2019-9901 (envoyproxy/envoy#6435): "/info/../private" passed an
#     RBAC prefix rule on "/info/": dot segments are resolved (RFC 3986
#     5.2.4) before the decision
row "b. /api/../admin (CVE-2019-9901)" 403 - pod11 "$(get /api/../admin)"
row "b. /api/./secret (CVE-2019-9901: a DENY path)" 403 - pod11 "$(get /api/./secret)"
row "b. /api/x/../y" 200 "GET /api/y" pod11 "$(get /api/x/../y)"
row "b. /api/../../../admin (.. never climbs above /)" 403 - pod11 "$(get /api/../../../admin)"
#   Istio's normalization reference, "single percent-encoded character":
#     %2e dots and escaped unreserved characters are decoded once
row "b. /api/%2e%2e/admin (%2e dots)" 403 - pod11 "$(get /api/%2e%2e/admin)"
row "b. /api/x/%2E%2e/secret (%2E dots, a DENY path)" 403 - pod11 "$(get /api/x/%2E%2e/secret)"
row "b. /%61pi/x (escaped unreserved: forwarded decoded)" 200 "GET /api/x" pod11 "$(get /%61pi/x)"
row "b. /api/%73ecret (escaped unreserved, a DENY path)" 403 - pod11 "$(get /api/%73ecret)"
row "b. /api/%252e%252e/admin (no double decoding)" 200 "GET /api/%252e%252e/admin" pod11 "$(get /api/%252e%252e/admin)"
#   ISTIO-SECURITY-2021-005 (CVE-2021-31920, Envoy CVE-2021-29492,
#     GHSA-4987-27fx-x6cf): %2F and %5C could pass a path rule; issue 27:
#     refused with 400 unless DECODE_AND_MERGE_SLASHES (see f.)
row "b. /api/x%2Fy (escaped slash)" 400 - pod11 "$(get /api/x%2Fy)"
row "b. /api%2fsecret (escaped slash, lower case)" 400 - pod11 "$(get /api%2fsecret)"
row "b. /api/x%5Cy (escaped backslash)" 400 - pod11 "$(get /api/x%5Cy)"
row "b. /api/x%5c..%5csecret (escaped backslash, lower case)" 400 - pod11 "$(get '/api/x%5c..%5csecret')"
row "b. plaintext /api/x%2Fy: 400 before the authorization (403)" 400 - node1 "$(get /api/x%2Fy)"
#   the same bulletin: multiple slashes; BASE keeps them (as Istio: "//admin"
#     is not "/admin"), MERGE_SLASHES merges them (f.)
row "b. //api/x (BASE keeps //: not under /api/*)" 403 - pod11 "$(get //api/x)"
row "b. /api//secret (BASE keeps //: the DENY on /api/secret does not match, as in Istio)" \
	200 "GET /api//secret" pod11 "$(get /api//secret)"
#   Istio's normalization reference, "Backslash": \ is read as / in BASE
#     ("\da is normalized to /da")
row "b. /api\\x (backslash: forwarded as /api/x)" 200 "GET /api/x" pod11 "$(get '/api\\x')"
row "b. /api\\..\\admin (backslash dot segments)" 403 - pod11 "$(get '/api\\..\\admin')"
row "b. /api\\x\\..\\secret (backslash, a DENY path)" 403 - pod11 "$(get '/api\\x\\..\\secret')"
#   ISTIO-SECURITY-2021-008 (CVE-2021-39156, Envoy CVE-2021-32779): a
#     #fragment passed a path rule ("/user/profile#section1"); refused
row "b. /api/x#frag (fragment)" 400 - pod11 "$(get '/api/x#frag')"
row "b. /api/secret#x (fragment on a DENY path)" 400 - pod11 "$(get '/api/secret#x')"
row "b. /api#/../admin (fragment)" 400 - pod11 "$(get '/api#/../admin')"
#   Istio's normalization reference: %00 is always refused with 400
#     (CVE-2019-9900, envoyproxy/envoy#6434: NUL in header values)
row "b. /api/%00 (escaped NUL)" 400 - pod11 "$(get /api/%00)"
row "b. /api/x%00/../../admin (escaped NUL)" 400 - pod11 "$(get /api/x%00/../../admin)"
#   istio/istio#27409 "Path parameters allow bypassing of AuthorizationPolicy
#     rules": Tomcat and Jetty read "/v1/..;/internal" as "/internal";
#     sluice strips the parameters of a dot segment (docs/HTTP.md), other
#     ";" parameters stay in the path (as Envoy)
row "b. /api/..;x=1/admin (dot segment with parameters)" 403 - pod11 "$(get '/api/..;x=1/admin')"
row "b. /api/x;jsessionid=1 (parameters kept)" 200 "GET /api/x;jsessionid=1" pod11 "$(get '/api/x;jsessionid=1')"
row "b. /api;v=1/../admin (parameters, then ..)" 403 - pod11 "$(get '/api;v=1/../admin')"
row "b. /api/secret;x (parameters: not the DENY path, as Istio)" 200 "GET /api/secret;x" pod11 "$(get '/api/secret;x')"
#   case: Envoy does no path case normalization and Istio's paths are
#     case-sensitive (Istio's security best practices, "Case
#     normalization"); a lower-case method is not "GET"
row "b. /API/x (paths are case-sensitive)" 403 - pod11 "$(get /API/x)"
row "b. get /api/x (methods are case-sensitive)" 403 - pod11 "get /api/x HTTP/1.1\\r\\n${H}\\r\\n"
#   Istio's normalization reference, "Path with query": the rule sees the
#     path without the query, the pod gets the query unchanged
row "b. /api/x?a=/../admin (query not normalized)" 200 "GET /api/x?a=/../admin" pod11 "$(get '/api/x?a=/../admin')"
row "b. /admin?/api/x (the query is not the path)" 403 - pod11 "$(get '/admin?/api/x')"
row "b. /api/%2e%2e/admin?q (dots resolved, query kept)" 403 - pod11 "$(get '/api/%2e%2e/admin?q')"
#   absolute-form targets (RFC 9112 3.2.2: the authority replaces Host,
#     which must agree with it; Envoy's codec makes :path of the path
#     part): the rule and the pod see the path
AF='Host: b.back.svc.cluster.local\r\n\r\n'
row "b. GET http://b.back.svc.cluster.local/api/x (absolute-form)" 200 "GET /api/x" pod11 \
	"GET http://b.back.svc.cluster.local/api/x HTTP/1.1\\r\\n$AF"
row "b. GET http://b.back.svc.cluster.local/admin (absolute-form)" 403 - pod11 \
	"GET http://b.back.svc.cluster.local/admin HTTP/1.1\\r\\n$AF"
row "b. GET http://b.back.svc.cluster.local/api/../admin (absolute-form)" 403 - pod11 \
	"GET http://b.back.svc.cluster.local/api/../admin HTTP/1.1\\r\\n$AF"
#   a header split over two lines (obs-fold, RFC 9112 5.2: a server MUST
#     reject it or unfold it; Envoy's codec rejects it): 400 from the
#     strict parser (its body names the reason), the value never read as
#     two headers
V400='' row "b. obs-fold in x-token (split over two lines)" 400 - pod11 \
	"GET /api/guarded HTTP/1.1\\r\\n${H}x-token: guest\\r\\n admin\\r\\n\\r\\n"
V400='' row "b. obs-fold, plaintext to node2's engine" 400 - node1 \
	"GET /plain/x HTTP/1.1\\r\\n${H}x-a: 1\\r\\n 2\\r\\n\\r\\n"
# curl keeps these as sent with --path-as-is
creq "b. /api/../admin" 403 - pod11 --path-as-is "http://$vip/api/../admin"
creq "b. /api/x/./../y" 200 "GET /api/y" pod11 --path-as-is "http://$vip/api/x/./../y"

# ---- c. Host variants -------------------------------------------------------------------------------
# ISTIO-SECURITY-2021-008 (CVE-2021-39155, GHSA-7774-7vr3-cc8j): hosts are
# compared case-insensitively (RFC 4343), "Httpbin.Foo" had passed a DENY
# on "httpbin.foo".  istio/istio#44080: hosts compares the whole Host,
# port included ("b.example" does not match "b.example:80", a port must be
# listed): an ALLOW fails closed
hrow() { row "$1" "$2" "$3" pod11 "GET $4 HTTP/1.1\\r\\nHost: $5\\r\\n\\r\\n"; }
hrow "c. ALLOW hosts [b.example]: Host b.example" 200 "GET /host/x" /host/x b.example
hrow "c. ALLOW hosts [b.example]: Host B.Example (case-insensitive)" 200 "GET /host/x" /host/x B.Example
hrow "c. ALLOW hosts [b.example]: Host b.example:80 (the port is part of it)" 403 - /host/x b.example:80
hrow "c. ALLOW hosts [b.example]: Host other.example" 403 - /host/x other.example
hrow "c. DENY hosts [blocked.example]: Host blocked.example" 403 - /api/x blocked.example
hrow "c. DENY hosts [blocked.example]: Host BLOCKED.Example (CVE-2021-39155)" 403 - /api/x BLOCKED.Example
row "c. DENY hosts: absolute-form http://BLOCKED.example/api/x" 403 - pod11 \
	"GET http://BLOCKED.example/api/x HTTP/1.1\\r\\nHost: BLOCKED.example\\r\\n\\r\\n"

# ---- d. identity headers ------------------------------------------------------------------------------
# the pod's view of the last request: its x-forwarded-client-cert values
# and the identity headers a client may forge
seen_ids() {
	"$py" - "$UPLOG" <<'EOF'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
h = {}
for n, v in r.get("headers", []):
    h.setdefault(n.lower(), []).append(v)
print(json.dumps({"target": r.get("target"), "xfcc": h.get("x-forwarded-client-cert", []),
                  "other": sorted(k for k in h if k in (
                      "x-envoy-peer-metadata", "x-envoy-peer-metadata-id",
                      "x-istio-attributes"))}))
EOF
}
creq "d. A GET /api/xfcc with forged identity headers" 200 "GET /api/xfcc" pod11 \
	-H 'x-forwarded-client-cert: By=spiffe://cluster.local/ns/back/sa/b;URI=spiffe://cluster.local/ns/back/sa/admin' \
	-H 'X-Forwarded-Client-Cert: URI=spiffe://evil/ns/x/sa/y' \
	-H 'x-envoy-peer-metadata: Zm9yZ2Vk' -H 'x-envoy-peer-metadata-id: sidecar~1.2.3.4~evil' \
	-H 'x-istio-attributes: Zm9yZ2Vk' "http://$vip/api/xfcc"
s=$(seen_ids)
if "$py" -c '
import json, re, sys
s = json.loads(sys.argv[1])
assert s["target"] == "/api/xfcc", s
assert len(s["xfcc"]) == 1, s
assert re.fullmatch(r"By=spiffe://cluster\.local/ns/back/sa/b;Hash=[0-9a-f]{64};"
                    r"Subject=\"\";URI=spiffe://cluster\.local/ns/front/sa/a", s["xfcc"][0]), s
assert s["other"] == [], s' "$s" 2>/dev/null; then
	ok "d. the pod saw one x-forwarded-client-cert, sluice's (By=B, Hash, URI=A), and no forged identity header"
else
	bad "d. A's forged identity headers: the pod saw $s; want one XFCC 'By=spiffe://$B;Hash=<64 hex>;Subject=\"\";URI=spiffe://$A' and no x-envoy-peer-metadata(-id), x-istio-attributes"
fi
creq "d. plaintext GET /plain/xfcc with a forged XFCC" 200 "GET /plain/xfcc" node1 \
	-H 'x-forwarded-client-cert: By=spiffe://cluster.local/ns/back/sa/b;URI=spiffe://cluster.local/ns/front/sa/a' \
	-H 'x-envoy-peer-metadata-id: sidecar~1.2.3.4~evil' "http://$p21:8000/plain/xfcc"
s=$(seen_ids)
if [ "$s" = '{"target": "/plain/xfcc", "xfcc": [], "other": []}' ]; then
	ok "d. the plaintext client's forged XFCC dropped: the pod saw none"
else
	bad "d. plaintext forged XFCC: the pod saw $s; want no x-forwarded-client-cert and no other identity header"
fi

# ---- e. the denial in metrics and access log ------------------------------------------------------------
# msum NODE LABEL=VALUE...: the sum of istio_requests_total over the
# series that have all these labels
msum() {
	local node=$1
	shift
	tp_exec "$node" curl -sf --max-time 5 http://127.0.0.1:15020/metrics >"$TP_DIR/metrics-$node.txt" ||
		{ echo "-1"; return; }
	"$py" - "$TP_DIR/metrics-$node.txt" "$@" <<'EOF'
import re, sys
want = dict(a.split("=", 1) for a in sys.argv[2:])
tot = 0.0
for l in open(sys.argv[1]):
    if not l.startswith("istio_requests_total{"):
        continue
    lab, val = l[:l.rindex("}")], l[l.rindex("}") + 1:].split()[0]
    labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', lab))
    if all(labels.get(k) == v for k, v in want.items()):
        tot += float(val)
print(int(tot))
EOF
}
dlab=(response_code=403 "source_principal=spiffe://$A" "destination_principal=spiffe://$B")
md0=$(msum node2 reporter=destination "${dlab[@]}")
ms0=$(msum node1 reporter=source "${dlab[@]}")
den0=$(tm_stat "$TM_SOCK_B" authz_denied)
creq "e. A POST /api/metrics" 403 - pod11 -X POST --data x "http://$vip/api/metrics"
for ((i = 0; i < 20; i++)); do
	md1=$(msum node2 reporter=destination "${dlab[@]}")
	[ "$md1" = $((md0 + 1)) ] && break
	sleep 0.1
done
if [ "$md1" = $((md0 + 1)) ]; then
	ok "e. node2: istio_requests_total{reporter=\"destination\",response_code=\"403\",source_principal=A,destination_principal=B} $md0 -> $md1"
else
	bad "e. node2: istio_requests_total{reporter=\"destination\",response_code=\"403\",source_principal=\"spiffe://$A\",destination_principal=\"spiffe://$B\"}: $md0 -> $md1, want +1: $(grep -m3 'reporter="destination".*response_code="403"' "$TP_DIR/metrics-node2.txt")"
fi
ms1=$(msum node1 reporter=source "${dlab[@]}")
if [ "$ms1" = $((ms0 + 1)) ]; then
	ok "e. node1: the same 403 reported by the source, $ms0 -> $ms1"
else
	bad "e. node1: istio_requests_total{reporter=\"source\",response_code=\"403\",...A...B}: $ms0 -> $ms1, want +1: $(grep -m3 'reporter="source".*response_code="403"' "$TP_DIR/metrics-node1.txt")"
fi
den1=$(tm_stat "$TM_SOCK_B" authz_denied)
if [ "$den1" = $((den0 + 1)) ]; then
	ok "e. node2: stat authz_denied $den0 -> $den1"
else
	bad "e. node2: stat authz_denied $den0 -> $den1, want +1"
fi
# the access-log line of node2: 403, flags "-", both identities, and in
# response_code_details the policy that decided (none: no ALLOW rule
# matched; a DENY: its namespace, name and rule), as Envoy's RBAC filter
alog_denied() { # path details
	local a
	if a=$(alog "$1" "status(r) == 403 and r[\"response_flags\"] == \"-\" and r[\"upstream\"] is None and r[\"src\"][\"principal\"] == \"spiffe://$A\" and r[\"dst\"][\"principal\"] == \"spiffe://$B\" and r.get(\"response_code_details\") == \"$2\""); then
		ok "e. node2's access-log line of $1: 403, both identities, $2"
	else
		bad "e. node2's access-log line of $1: want 403, flags -, upstream null, src spiffe://$A, dst spiffe://$B, response_code_details $2: $a"
	fi
}
alog_denied /api/metrics "rbac_access_denied_matched_policy[none]"
alog_denied /api/secret "rbac_access_denied_matched_policy[ns[back]-policy[deny-secret]-rule[0]]"
if a=$(alog /api/x%00/../../admin \
	'status(r) == 400 and r.get("response_code_details") == "path_normalization_failed"'); then
	ok "e. node2's access-log line of a refused path: 400, path_normalization_failed"
else
	bad "e. node2's access-log line of /api/x%00/../../admin: want 400 and response_code_details path_normalization_failed: $a"
fi

# ---- f. pathNormalization reloaded ----------------------------------------------------------------------
# node_mode MODE: node2's Node with pathNormalization MODE (Istio's
# meshConfig shape), SIGHUP, wait for the new configuration
node_mode() {
	local g0 i
	g0=$(tm_stat "$TM_SOCK_B" config_generation)
	tm_node_yaml "$TP_DIR/node.tmp" node-b
	printf '  pathNormalization: {normalization: %s}\n' "$1" >>"$TP_DIR/node.tmp/node.yaml"
	mv "$TP_DIR/node.tmp/node.yaml" "$TM_CFG_B/node.yaml"
	kill -HUP "$TM_PID_B"
	for ((i = 0; i < 50; i++)); do
		[ "$(tm_stat "$TM_SOCK_B" config_generation)" != "$g0" ] && return 0
		sleep 0.1
	done
	bad "f. node2 did not load pathNormalization $1 (config_generation still $g0)"
	tail -5 "$TP_DIR/sluiced-b.log"
	return 1
}
mkdir -p "$TP_DIR/node.tmp"
if node_mode MERGE_SLASHES; then
	# ISTIO-SECURITY-2021-005: MERGE_SLASHES is the mitigation of "//admin"
	row "f. MERGE_SLASHES: //api/x" 200 "GET /api/x" pod11 "$(get //api/x)"
	row "f. MERGE_SLASHES: /api//secret (the DENY matches)" 403 - pod11 "$(get /api//secret)"
	row "f. MERGE_SLASHES: /api///x//y" 200 "GET /api/x/y" pod11 "$(get /api///x//y)"
	row "f. MERGE_SLASHES: /api/x%2Fy still 400" 400 - pod11 "$(get /api/x%2Fy)"
	row "f. MERGE_SLASHES: /api/../admin still 403" 403 - pod11 "$(get /api/../admin)"
fi
if node_mode DECODE_AND_MERGE_SLASHES; then
	# the same bulletin: %2F/%5C decoded, then merged
	row "f. DECODE_AND_MERGE_SLASHES: /api%2Fx" 200 "GET /api/x" pod11 "$(get /api%2Fx)"
	row "f. DECODE_AND_MERGE_SLASHES: /api/x%2F..%2F..%2Fadmin" 403 - pod11 "$(get /api/x%2F..%2F..%2Fadmin)"
	row "f. DECODE_AND_MERGE_SLASHES: /api/x%5C..%5Csecret" 403 - pod11 "$(get '/api/x%5C..%5Csecret')"
	row "f. DECODE_AND_MERGE_SLASHES: /api/x#frag still 400" 400 - pod11 "$(get '/api/x#frag')"
fi

# ---- g. clean stop --------------------------------------------------------------------------------------
http_finish
