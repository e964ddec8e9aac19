#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# L7 HTTP/1.1 end to end (issue 26): per-request routing by the
# VirtualService http[] rules on the source node.  Two nodes
# (tests/netns/lib).  Upstreams are lib/http_upstream.py (one JSON line per
# request received), clients curl and lib/http_client.py.
#
#   node1: pod11 (default, app: client), pod12 (namespace "other",
#          app: client2): the clients
#   node2: pod21 my-service v1, pod22 my-service v2 (port 8000);
#          pod23 with 18 addresses 198.18.2.101..118, one WorkloadEntry
#          each (label m: "K"), one upstream on 0.0.0.0:8000 that names
#          itself by the address it was reached on ("m@198.18.2.1KK")
#   Service my-service 198.19.0.30 port 80 "http"; DestinationRule
#   subsets v1/v2; the canary VirtualService of issue 26 verbatim.
#   Service match-svc 198.19.0.31 ports 80 "http", 8080 "http-alt",
#   8081 "web" with appProtocol http; a VirtualService with one rule per
#   match type, each rule also requiring "x-t: K" (so a request can match
#   only its own rule) and routing to subset mK; no catch-all rule.  The
#   last rule (18) is never requested: an L4 route (sluice before its HTTP
#   layer takes the last http[] rule) would answer everything from it.
#
#  a. x-canary: true: 50 curl runs, every one answered by v2
#  b. 1,000 requests on one keep-alive connection without the header:
#     v2's share within the binomial 3-sigma bound of 10 % (100 +- 28.5);
#     the upstream connections were reused (far fewer than requests)
#  c. every match type: one request that must match (answered by its
#     rule's address) and one that must not (404, nothing reached an
#     upstream): uri exact/prefix/regex (exact and regex on the path without
#     the query, regex full-match), method, authority, headers
#     exact/prefix/regex, withoutHeaders, queryParams exact/regex,
#     ignoreUriCase, sourceLabels, sourceNamespace, port, scheme, two
#     match blocks (OR); a port with appProtocol http is routed at L7 too
#  d. the smuggling table (docs/HTTP.md): each raw input gets the
#     parser's status with Connection: close, the connection is closed,
#     and no upstream logs anything; also after a good request on the same
#     connection (200, then the refusal; only the good one reaches v1/v2);
#     bytes that are not HTTP/1.x (a line of garbage, a TLS ClientHello,
#     binary bytes: no line end) get a 400 at once, as Envoy's codec does
#  e. no http[] rule matches: 404, the access log says NR
#  f. 10 pipelined requests (odd ones to v2, the first ones slowest) are
#     answered in order
#  h. request bodies of 100 KiB (Content-Length, chunked) reach the
#     upstream whole; an HTTP/1.0 request and one with Connection: close
#     get their response, then the connection is closed
#  g. both daemons stop with exit 0 (ASan: no leaks)
# Every assertion is checked and reported; the script fails at the end if
# any failed.
#
# usage: http-l7.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/http.sh
. "$here/lib/http.sh" "$@"

tm_init
p11=$(tp_pod_ip pod11) p12=$(tp_pod_ip pod12)
p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)
vip=198.19.0.30 mvip=198.19.0.31
tp_add_pod 2 pod23 100
nm=18 # match rules 1..18, pod23's addresses 198.18.2.101..118
for ((k = 1; k <= nm; k++)); do
	tp_exec pod23 ip addr add "198.18.2.$((100 + k))/32" dev eth0
	ip -n "$TP_NODE2" route add "198.18.2.$((100 + k))/32" dev veth-pod23
done
maddr() { echo "198.18.2.$((100 + $1))"; }


mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we_sa pod11 default client "$p11" node-a "app: client, version: c1"
		tm_we_sa pod12 other client2 "$p12" node-a "app: client2"
		tm_we pod21 "$p21" node-b "app: my-service, version: v1"
		tm_we pod22 "$p22" node-b "app: my-service, version: v2"
		for ((k = 1; k <= nm; k++)); do
			tm_we "m$k" "$(maddr "$k")" node-b "app: match, m: \"$k\""
		done
		cat <<EOT
---
apiVersion: v1
kind: Service
metadata: {name: my-service, namespace: default}
spec:
  clusterIP: $vip
  selector: {app: my-service}
  ports:
  - {name: http, port: 80, targetPort: 8000}
---
apiVersion: v1
kind: Service
metadata: {name: match-svc, namespace: default}
spec:
  clusterIP: $mvip
  selector: {app: match}
  ports:
  - {name: http, port: 80, targetPort: 8000}
  - {name: http-alt, port: 8080, targetPort: 8000}
  - {name: web, port: 8081, targetPort: 8000, appProtocol: http}
EOT
	} >"$1/workloads.yaml"
	cat >"$1/canary.yaml" <<'EOT'
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: my-service}
spec:
  host: my-service
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: my-service}
spec:
  hosts: [my-service]
  http:
  - match: [{headers: {x-canary: {exact: "true"}}}]
    route: [{destination: {host: my-service, subset: v2}}]
  - route:
    - destination: {host: my-service, subset: v1}
      weight: 90
    - destination: {host: my-service, subset: v2}
      weight: 10
EOT
	{
		cat <<EOT
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: match-svc, namespace: default}
spec:
  host: match-svc
  subsets:
EOT
		for ((k = 1; k <= nm; k++)); do
			echo "  - {name: m$k, labels: {m: \"$k\"}}"
		done
		cat <<EOT
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: match-svc, namespace: default}
spec:
  hosts: [match-svc]
  http:
EOT
		# rule K: its condition AND x-t: K, routed to subset mK
		local conds=(
			'uri: {exact: /exact/a}'
			'uri: {prefix: /pre/}'
			'uri: {regex: "/re/[0-9]+"}'
			'method: {exact: POST}'
			'authority: {exact: match.example}'
			'headers: {x-t: {exact: "6"}, x-h: {exact: one}}'
			'headers: {x-t: {exact: "7"}, x-hp: {prefix: ab}}'
			'headers: {x-t: {exact: "8"}, x-hr: {regex: "v[0-9]+"}}'
			'withoutHeaders: {x-wo: {exact: bad}}'
			'queryParams: {q: {exact: "yes"}}'
			'queryParams: {r: {regex: "[a-z]+"}}'
			'uri: {exact: /Case/Path}, ignoreUriCase: true'
			'sourceLabels: {app: client}'
			'sourceNamespace: default'
			'port: 8080'
			'scheme: {exact: http}'
			'OR'
			'uri: {exact: /never-requested}'
		)
		for ((k = 1; k <= nm; k++)); do
			local c=${conds[k - 1]}
			if [ "$c" = OR ]; then
				echo "  - match:"
				echo "    - {headers: {x-t: {exact: \"$k\"}}, uri: {prefix: /or-a}}"
				echo "    - {headers: {x-t: {exact: \"$k\"}}, uri: {prefix: /or-b}}"
			elif [[ $c == headers:* ]]; then
				echo "  - match: [{$c}]"
			else
				echo "  - match: [{headers: {x-t: {exact: \"$k\"}}, $c}]"
			fi
			echo "    route: [{destination: {host: match-svc, subset: m$k}}]"
		done
	} >"$1/match.yaml"
}
mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b
"$SLUICED" --config "$TM_CFG_A" --node node-a --check >"$TP_DIR/check.log" 2>&1 ||
	{ cat "$TP_DIR/check.log"; tp_fail "sluiced --check rejects the test config"; }

tp_exec node1 "$NFT_TOOL" apply "$p11" "$p12" >/dev/null
LOG_V1=$TP_DIR/up-v1.log LOG_V2=$TP_DIR/up-v2.log LOG_M=$TP_DIR/up-m.log
: >"$LOG_V1"; : >"$LOG_V2"; : >"$LOG_M"
tp_bg pod21 "$TP_DIR/pod21.out" "$py" "$UP" --port 8000 --name v1 --log "$LOG_V1"
tp_bg pod22 "$TP_DIR/pod22.out" "$py" "$UP" --port 8000 --name v2 --log "$LOG_V2"
tp_bg pod23 "$TP_DIR/pod23.out" "$py" "$UP" --port 8000 --name 'm@{local}' --log "$LOG_M"
tp_wait_port pod21 8000
tp_wait_port pod22 8000
tp_wait_port pod23 8000
tm_start_b
tm_start_a --log-level info --access-log-rate 10000
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice pods4 2>/dev/null |
		grep -q "$(maddr "$nm")" && break
	sleep 0.1
done

# curl from POD, prints "CODE BODY"; CODE 000 when no response
req() { # pod curl-args...
	local pod=$1 out
	shift
	out=$(tp_exec "$pod" curl -sS --max-time 5 -o - -w '\n%{http_code}' "$@" 2>&1) || true
	echo "$(tail -1 <<<"$out") $(head -n -1 <<<"$out" | tr '\n' ' ' | sed 's/ *$//')"
}
lines() { cat "$LOG_V1" "$LOG_V2" "$LOG_M" | wc -l; }

# the mesh answers at all (L4 or L7): wait for the first response
for ((i = 0; i < 50; i++)); do
	[ "$(req pod11 "http://$vip/" | cut -d' ' -f1)" = 200 ] && break
	sleep 0.1
done
r=$(req pod11 "http://$vip/")
[ "${r%% *}" = 200 ] || { tm_dump_logs; tp_fail "no answer through the mesh: $r"; }

# ---- a. x-canary: true always reaches v2 ------------------------------------------
n2=0 other=()
for ((i = 0; i < 50; i++)); do
	r=$(req pod11 -H 'x-canary: true' "http://$vip/canary/$i")
	if [ "$r" = "200 v2" ]; then n2=$((n2 + 1)); else other+=("$r"); fi
done
if [ $n2 = 50 ]; then
	ok "a. x-canary: true: 50 of 50 curl runs answered by v2"
else
	bad "a. x-canary: true: $n2 of 50 answered by v2; the others got: $(printf '%s\n' "${other[@]}" | sort | uniq -c | tr '\n' ';')"
fi

# ---- b. 90/10 per request on one keep-alive connection ------------------------------
n1=$(wc -l <"$LOG_V1") n2=$(wc -l <"$LOG_V2")
out=$(tp_exec pod11 "$py" "$CL" keepalive "$vip" 80 1000 --path /split) || true
read -r v1 v2 rest < <("$py" -c '
import json, sys
o = json.loads(sys.argv[1])
b = o["bodies"]
print(b.get("v1", 0), b.get("v2", 0), sum(b.values()) - b.get("v1", 0) - b.get("v2", 0))' "$out" 2>/dev/null || echo "0 0 0")
read -r lo hi < <(awk 'BEGIN { n = 1000; p = 0.1; m = n * p; s = 3 * sqrt(n * p * (1 - p)); printf "%.1f %.1f\n", m - s, m + s }')
if [ $((v1 + v2)) = 1000 ] && [ "$rest" = 0 ] &&
	awk -v x="$v2" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(x >= lo && x <= hi) }'; then
	ok "b. 1000 requests on one connection: v1 $v1, v2 $v2 (bound $lo..$hi)"
else
	bad "b. 1000 requests on one connection: v1 $v1, v2 $v2, other $rest, want v2 in $lo..$hi: $out"
fi
# the upstream connections that carried them: a handful, not one each
nconn=$("$py" -c '
import json, sys
seen = set()
for f, skip in ((sys.argv[1], int(sys.argv[2])), (sys.argv[3], int(sys.argv[4]))):
    for l in open(f).readlines()[skip:]:
        r = json.loads(l)
        if r.get("target") == "/split":
            seen.add((r["name"], r["conn"]))
print(len(seen))' "$LOG_V1" "$n1" "$LOG_V2" "$n2")
if [ $((v1 + v2)) = 1000 ] && [ "$nconn" -ge 2 ] && [ "$nconn" -le 20 ]; then
	ok "b. the 1000 requests reached v1 and v2 over $nconn upstream connections (keep-alive reuse)"
else
	bad "b. the 1000 requests reached v1 and v2 over $nconn upstream connections (want 2..20)"
fi

# ---- c. every match type --------------------------------------------------------------
# mt POD WHAT EXPECT curl-args...: EXPECT is the rule number K (answered by
# m@198.18.2.1KK) or 404 (and no upstream saw anything)
mt() {
	local pod=$1 what=$2 exp=$3 l0 r want
	shift 3
	l0=$(lines)
	r=$(req "$pod" "$@")
	if [ "$exp" = 404 ]; then
		want="404"
		[ "${r%% *}" = 404 ] && [ "$(lines)" = "$l0" ] && { ok "c. $what: 404"; return; }
		bad "c. $what: want 404 and nothing upstream, got '$r', upstream log lines $l0 -> $(lines)"
	else
		want="200 m@$(maddr "$exp")"
		[ "$r" = "$want" ] && { ok "c. $what: rule $exp"; return; }
		bad "c. $what: want '$want', got '$r'"
	fi
}
M=http://$mvip
mt pod11 "uri exact" 1 -H 'x-t: 1' "$M/exact/a?x=1"
mt pod11 "uri exact, other path" 404 -H 'x-t: 1' "$M/exact/ab"
mt pod11 "uri exact is case-sensitive" 404 -H 'x-t: 1' "$M/EXACT/a"
mt pod11 "uri prefix" 2 -H 'x-t: 2' "$M/pre/x/y"
mt pod11 "uri prefix, shorter path" 404 -H 'x-t: 2' "$M/pre"
mt pod11 "uri regex" 3 -H 'x-t: 3' "$M/re/123?z=a"
mt pod11 "uri regex is a full match" 404 -H 'x-t: 3' "$M/re/123x"
mt pod11 "method" 4 -X POST -H 'x-t: 4' "$M/m"
mt pod11 "method, GET" 404 -H 'x-t: 4' "$M/m"
mt pod11 "authority" 5 -H 'x-t: 5' -H 'Host: match.example' "$M/a"
mt pod11 "authority, other host" 404 -H 'x-t: 5' -H 'Host: other.example' "$M/a"
mt pod11 "headers exact" 6 -H 'x-t: 6' -H 'X-H: one' "$M/h"
mt pod11 "headers exact, other value" 404 -H 'x-t: 6' -H 'x-h: one2' "$M/h"
mt pod11 "headers prefix" 7 -H 'x-t: 7' -H 'x-hp: abc' "$M/h"
mt pod11 "headers prefix, other value" 404 -H 'x-t: 7' -H 'x-hp: xab' "$M/h"
mt pod11 "headers regex" 8 -H 'x-t: 8' -H 'x-hr: v42' "$M/h"
mt pod11 "headers regex is a full match" 404 -H 'x-t: 8' -H 'x-hr: v42x' "$M/h"
mt pod11 "withoutHeaders, header absent" 9 -H 'x-t: 9' "$M/w"
mt pod11 "withoutHeaders, other value" 9 -H 'x-t: 9' -H 'x-wo: good' "$M/w"
mt pod11 "withoutHeaders, header present" 404 -H 'x-t: 9' -H 'x-wo: bad' "$M/w"
mt pod11 "queryParams exact" 10 -H 'x-t: 10' "$M/qp?a=1&q=yes"
mt pod11 "queryParams exact, other value" 404 -H 'x-t: 10' "$M/qp?q=no"
mt pod11 "queryParams regex" 11 -H 'x-t: 11' "$M/qp?r=abc"
mt pod11 "queryParams regex, other value" 404 -H 'x-t: 11' "$M/qp?r=ab1"
mt pod11 "ignoreUriCase" 12 -H 'x-t: 12' "$M/CASE/path"
mt pod11 "ignoreUriCase, other path" 404 -H 'x-t: 12' "$M/case/pathx"
mt pod11 "sourceLabels" 13 -H 'x-t: 13' "$M/s"
mt pod12 "sourceLabels, other client" 404 -H 'x-t: 13' "$M/s"
mt pod11 "sourceNamespace" 14 -H 'x-t: 14' "$M/s"
mt pod12 "sourceNamespace, other namespace" 404 -H 'x-t: 14' "$M/s"
mt pod11 "port" 15 -H 'x-t: 15' "$M:8080/p"
mt pod11 "port, other port" 404 -H 'x-t: 15' "$M/p"
mt pod11 "scheme" 16 -H 'x-t: 16' "$M/sc"
mt pod11 "match[] blocks OR: second block" 17 -H 'x-t: 17' "$M/or-b"
mt pod11 "match[] blocks OR: neither block" 404 -H 'x-t: 17' "$M/or-c"
mt pod11 "appProtocol http port (8081)" 6 -H 'x-t: 6' -H 'x-h: one' "$M:8081/h"
mt pod11 "appProtocol http port (8081), no match" 404 -H 'x-t: 6' "$M:8081/h"

# ---- d. the smuggling table ------------------------------------------------------------
H='Host: my-service\r\n'
smug=(
	"400|TE and CL|POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n"
	"400|CL and TE|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 30\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n"
	"400|two equal CL|POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
	"400|CL list|POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello"
	"400|empty CL|POST / HTTP/1.1\r\n${H}Content-Length:\r\n\r\n"
	"400|signed CL|POST / HTTP/1.1\r\n${H}Content-Length: +5\r\n\r\nhello"
	"400|TE chunked not final|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"
	"400|TE chunked twice|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	"501|TE gzip, chunked|POST / HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"
	"400|TE in HTTP/1.0|POST / HTTP/1.0\r\n${H}Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	"400|obs-fold|GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n"
	"400|space before colon|GET / HTTP/1.1\r\n${H}X-A : a\r\n\r\n"
	"400|NUL in a value|GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n"
	"400|CR in a value|GET / HTTP/1.1\r\n${H}X-A: a\rb\r\n\r\n"
	"400|bare LF|GET / HTTP/1.1\r\nHost: my-service\nX-A: b\r\n\r\n"
	"400|empty field name|GET / HTTP/1.1\r\n${H}: x\r\n\r\n"
	"400|absolute-form host differs from Host|GET http://other/ HTTP/1.1\r\n${H}\r\n"
	"400|no Host|GET / HTTP/1.1\r\n\r\n"
	"400|two Host|GET / HTTP/1.1\r\n${H}${H}\r\n"
	"400|bad chunk size|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"
	"400|bad chunk extension|POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n"
	"431|101 header fields|@many"
	"431|head over 60 KiB|@big"
	"414|request line over 8 KiB|@line"
	"200,400|TE and CL after a good request|GET /ok HTTP/1.1\r\n${H}\r\nPOST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n"
	"200,400|obs-fold after a good request|GET /ok HTTP/1.1\r\n${H}\r\nGET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n"
	"200,400|NUL after a good request|GET /ok HTTP/1.1\r\n${H}\r\nGET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n"
	"400|not HTTP: a line of garbage|hello world\r\n\r\n"
	"400|not HTTP: a TLS ClientHello (no line end)|\x16\x03\x01\x00\x2f\x01\x00\x00\x2b\x03\x03\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x11\x00\x00\x02\x13\x01\x01\x00"
	"400|not HTTP: binary bytes (no line end)|\x00\x01\x02\x03 binary"
)
"$py" - "$TP_DIR" <<'EOF'
import sys
d = sys.argv[1]
h = b"Host: my-service\r\n"
open(d + "/many", "wb").write(b"GET / HTTP/1.1\r\n" + h + b"".join(b"x-%d: y\r\n" % i for i in range(100)) + b"\r\n")
open(d + "/big", "wb").write(b"GET / HTTP/1.1\r\n" + h + b"x-big: " + b"a" * (61 * 1024) + b"\r\n\r\n")
open(d + "/line", "wb").write(b"GET /" + b"a" * (9 * 1024) + b" HTTP/1.1\r\n" + h + b"\r\n")
EOF
# STATUS: the status of each response ("200,400": a good request first on
# the same connection, which alone reaches an upstream)
for s in "${smug[@]}"; do
	st=${s%%|*} rest=${s#*|}
	what=${rest%%|*} data=${rest#*|}
	n=$(tr ',' '\n' <<<"$st" | wc -l)
	fwd=$(tr ',' '\n' <<<"$st" | grep -c '^200$' || true)
	l0=$(lines)
	if [ "${data:0:1}" = @ ]; then
		out=$(tp_exec pod11 "$py" "$CL" --timeout 3 raw "$vip" 80 --file "$TP_DIR/${data:1}" --wait 1 --count "$n" --brief) || true
	else
		out=$(tp_exec pod11 "$py" "$CL" --timeout 3 raw "$vip" 80 "$data" --wait 1 --count "$n" --brief) || true
	fi
	sleep 0.05 # a request forwarded by mistake: let the upstream log it
	l1=$(lines)
	read -r gst gcc gclosed gextra <<<"$(head -1 <<<"$out")"
	if [ "$gst" = "$st" ] && [ "$gcc" = True ] && [ "$gclosed" != open ] &&
		[ "$gextra" = 0 ] && [ "$l1" = $((l0 + fwd)) ]; then
		ok "d. $what: $st, Connection: close, closed ($gclosed), $fwd request(s) upstream"
	else
		bad "d. $what: want $st + Connection: close + closed + $fwd new upstream log line(s); got status $gst, connection_close $gcc, closed $gclosed, bytes after the response $gextra, upstream log lines $l0 -> $l1 ($out)"
	fi
done

# ---- e. no http[] rule matches: 404 (NR) -------------------------------------------------
l0=$(lines)
r=$(req pod11 "$M/no-rule-matches")
if [ "${r%% *}" = 404 ] && [ "$(lines)" = "$l0" ]; then
	ok "e. no rule matches: 404, nothing upstream"
else
	bad "e. no rule matches: want 404 and nothing upstream, got '$r', upstream log lines $l0 -> $(lines)"
fi
sleep 0.2
if a=$("$py" "$here/lib/http_alog.py" "$TP_DIR/sluiced-a.log" /no-rule-matches \
	'status(r) == 404 and "NR" in flags(r)'); then
	ok "e. the access log has the 404 with flag NR"
else
	bad "e. the access-log record of /no-rule-matches has no status 404 with flag NR: $a"
fi

# ---- f. pipelining keeps the order ------------------------------------------------------
out=$(tp_exec pod11 "$py" "$CL" pipeline "$vip" 80 10 --alt-header 'x-canary: true' --delay-step-ms 30) || true
if "$py" -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["order_ok"], "order"
assert all(s == 200 for s in o["statuses"]), "statuses"
assert all(o["bodies"][i] == "v2" for i in range(1, 10, 2)), "odd ones on v2"' "$out"; then
	ok "f. 10 pipelined requests answered in order, the x-canary ones by v2"
else
	bad "f. pipelined requests: $out"
fi

# ---- h. bodies, HTTP/1.0, Connection: close ------------------------------------------------
head -c 102400 /dev/zero | tr '\0' 'b' >"$TP_DIR/body"
last_v2() { # the last request v2 logged: "METHOD TARGET BODY_LEN FRAMING"
	"$py" -c '
import json, sys
o = json.loads(open(sys.argv[1]).readlines()[-1])
h = {n.lower(): v for n, v in o.get("headers", [])}
fr = "chunked" if "transfer-encoding" in h else ("cl" if "content-length" in h else "none")
print(o.get("method"), o.get("target"), o.get("body_len"), fr)' "$LOG_V2" 2>/dev/null || echo "? ? ? ?"
}
r=$(req pod11 -H 'x-canary: true' --data-binary @"$TP_DIR/body" "http://$vip/cl-body")
u=$(last_v2)
if [ "$r" = "200 v2" ] && [ "$u" = "POST /cl-body 102400 cl" ]; then
	ok "h. a 100 KiB Content-Length body reached v2 whole"
else
	bad "h. 100 KiB Content-Length body: want '200 v2' and v2 logging 'POST /cl-body 102400 cl'; got '$r', v2 logged '$u'"
fi
r=$(req pod11 -H 'x-canary: true' -H 'Transfer-Encoding: chunked' --data-binary @"$TP_DIR/body" "http://$vip/chunked-body")
u=$(last_v2)
if [ "$r" = "200 v2" ] && [ "$u" = "POST /chunked-body 102400 chunked" ]; then
	ok "h. a 100 KiB chunked body reached v2 whole"
else
	bad "h. 100 KiB chunked body: want '200 v2' and v2 logging 'POST /chunked-body 102400 chunked'; got '$r', v2 logged '$u'"
fi
for c in "HTTP/1.0|GET /ten HTTP/1.0\r\nHost: my-service\r\n\r\n" \
	"Connection: close|GET /close HTTP/1.1\r\nHost: my-service\r\nConnection: close\r\n\r\n"; do
	out=$(tp_exec pod11 "$py" "$CL" --timeout 3 raw "$vip" 80 "${c#*|}" --wait 1 --brief) || true
	res=$(head -1 <<<"$out" | cut -d' ' -f1,3)
	if [ "$res" = "200 eof" ]; then
		ok "h. ${c%%|*}: 200, then the connection closed"
	else
		bad "h. ${c%%|*}: want 200 and the connection closed (eof); got '$res' ($out)"
	fi
done

# ---- g. clean stop ---------------------------------------------------------------------------
tm_stop
ok "g. both daemons stopped with exit 0"
if [ $failed != 0 ]; then
	tm_dump_logs
	tp_fail "$failed assertion(s) failed"
fi
echo "PASS"
