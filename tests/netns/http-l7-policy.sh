#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# L7 HTTP/1.1 traffic policy end to end (issue 26, "Tests"): retries,
# timeouts, faults, header changes, trace headers, 100-continue, an
# upstream that resets, a client that aborts mid-body.  Two nodes
# (tests/netns/lib); the client is pod11 on node1; pod23 on node2 holds six
# addresses 198.18.2.101..106, each a WorkloadEntry of its own Service
# (port 80 "http", targetPort 8000) with its own lib/http_upstream.py:
#
#   flaky  .101 198.19.0.40  fails its first request (503)
#   dead   .102 198.19.0.41  always 503
#   slow   .103 198.19.0.42  answers after 3 s
#   pertry .104 198.19.0.43  the first request after 5 s, then at once
#   reset  .105 198.19.0.44  resets every connection 20 bytes into its response
#   web    .106 198.19.0.45  answers at once
#
#  1. retries {attempts: 2, retryOn: 5xx} on flaky: 200, the upstream saw
#     exactly 2 requests, the access log counts 2 attempts
#  2. dead: with retryOn 5xx attempts 2: 503, exactly 3 requests, flag URX;
#     without retries, Istio's default policy (2 retries on connect-failure,
#     refused-stream, unavailable, cancelled, retriable-status-codes with
#     503): a 503 is tried 3 times, a 500 (x-status: 500 to web) once
#  3. timeout 300ms on slow: 504 after 0.3..2.5 s, flag UT
#  4. perTryTimeout 200ms, attempts 2 on pertry: 200 after >= 0.2 s and
#     < 3 s, the upstream saw 2 requests
#  5. fault abort 100 % (418): 418, the upstream saw nothing, flag FI;
#     abort 50 % (old "percent" field), 200 requests on one keep-alive
#     connection: 503s within 100 +- 3*sqrt(50), the upstream saw exactly
#     the others
#  6. fault delay 300ms 100 %: 200 after >= 0.3 s, flag DI
#  7. headers: rule set/add/remove and route-level set as the upstream saw
#     them, response set as the client saw it; traceparent and
#     x-request-id created when absent, a client's trace id kept
#  8. Expect: 100-continue with a 100 KiB body: 200 in < 2.5 s (curl is
#     told to wait 3 s for the 100), the body whole upstream
#  9. the upstream resets before a full response head: node2's engine
#     answers 503 with flag UC (reporter destination); node1's sees a 503
#     and retries it under Istio's default policy (retriable status 503),
#     as Istio's sidecars do: 503 to the client, flag URX, exactly 3
#     requests upstream
# 10. a client that sends half its announced body and closes: the next
#     request works; both daemons stop with exit 0 (ASan: no leaks)
# Every assertion is checked and reported; the script fails at the end if
# any failed.
#
# usage: http-l7-policy.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/http.sh
. "$here/lib/http.sh" "$@"

tm_init
p11=$(tp_pod_ip pod11)
tp_add_pod 2 pod23 100
svcs=(flaky dead slow pertry reset web)
declare -A addr vip upargs
upargs=([flaky]="--fail-first 1" [dead]="--always-fail" [slow]="--delay-ms 3000"
	[pertry]="--delay-ms 5000 --delay-first 1" [reset]="--reset-after-bytes 20"
	[web]="")
for i in "${!svcs[@]}"; do
	s=${svcs[i]}
	addr[$s]=198.18.2.$((101 + i))
	vip[$s]=198.19.0.$((40 + i))
	tp_exec pod23 ip addr add "${addr[$s]}/32" dev eth0
	ip -n "$TP_NODE2" route add "${addr[$s]}/32" dev veth-pod23
done


mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we pod11 "$p11" node-a "app: client"
		for s in "${svcs[@]}"; do
			tm_we "$s" "${addr[$s]}" node-b "app: $s"
			cat <<EOT
---
apiVersion: v1
kind: Service
metadata: {name: $s, namespace: default}
spec:
  clusterIP: ${vip[$s]}
  selector: {app: $s}
  ports:
  - {name: http, port: 80, targetPort: 8000}
EOT
		done
	} >"$1/workloads.yaml"
	cat >"$1/vs.yaml" <<'EOT'
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky, namespace: default}
spec:
  hosts: [flaky]
  http:
  - route: [{destination: {host: flaky}}]
    retries: {attempts: 2, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: dead, namespace: default}
spec:
  hosts: [dead]
  http:
  - match: [{uri: {prefix: /retried}}]
    route: [{destination: {host: dead}}]
    retries: {attempts: 2, retryOn: 5xx}
  - route: [{destination: {host: dead}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow, namespace: default}
spec:
  hosts: [slow]
  http:
  - route: [{destination: {host: slow}}]
    timeout: 300ms
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pertry, namespace: default}
spec:
  hosts: [pertry]
  http:
  - route: [{destination: {host: pertry}}]
    retries: {attempts: 2, perTryTimeout: 200ms, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /abort100}}]
    route: [{destination: {host: web}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
  - match: [{uri: {prefix: /abort50}}]
    route: [{destination: {host: web}}]
    fault: {abort: {httpStatus: 503, percent: 50}}
  - match: [{uri: {prefix: /delay}}]
    route: [{destination: {host: web}}]
    fault: {delay: {fixedDelay: 300ms, percentage: {value: 100}}}
  - match: [{uri: {prefix: /headers}}]
    headers:
      request:
        set: {x-set: one}
        add: {x-add: two}
        remove: [x-remove]
      response:
        set: {x-resp: three}
    route:
    - destination: {host: web}
      headers:
        request:
          set: {x-dest: four}
  - route: [{destination: {host: web}}]
EOT
}
mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b
"$SLUICED" --config "$TM_CFG_A" --node node-a --check >"$TP_DIR/check.log" 2>&1 ||
	{ cat "$TP_DIR/check.log"; tp_fail "sluiced --check rejects the test config"; }

tp_exec node1 "$NFT_TOOL" apply "$p11" >/dev/null
for s in "${svcs[@]}"; do
	: >"$TP_DIR/up-$s.log"
	# shellcheck disable=SC2086 # upargs are words
	tp_bg pod23 "$TP_DIR/up-$s.out" "$py" "$UP" --addr "${addr[$s]}" --port 8000 \
		--name "$s" --log "$TP_DIR/up-$s.log" ${upargs[$s]}
done
for ((i = 0; i < 100; i++)); do
	[ "$(tp_exec pod23 ss -Hltn 'sport = :8000' | wc -l)" = "${#svcs[@]}" ] && break
	sleep 0.05
done
[ "$(tp_exec pod23 ss -Hltn 'sport = :8000' | wc -l)" = "${#svcs[@]}" ] ||
	{ cat "$TP_DIR"/up-*.out; tp_fail "the upstreams did not start"; }
tm_start_b --access-log-rate 10000
tm_start_a --log-level info --access-log-rate 10000
for ((i = 0; i < 50; i++)); do
	tp_exec node2 nft list set inet sluice pods4 2>/dev/null |
		grep -q "${addr[web]}" && break
	sleep 0.1
done

# curl from pod11: "CODE SECONDS BODY" (CODE 000 without a response)
req() {
	local out
	out=$(tp_exec pod11 curl -sS --max-time 8 -o - -w '\n%{http_code} %{time_total}' "$@" 2>&1) || true
	echo "$(tail -1 <<<"$out") $(head -n -1 <<<"$out" | tr '\n' ' ' | sed 's/ *$//')"
}
nlog() { wc -l <"$TP_DIR/up-$1.log"; }
# the last access-log record of sluiced-a with PATH as a value (or a word
# of one, query string allowed) satisfies EXPR (lib/http_alog.py)
alog() { # path expr
	"$py" "$here/lib/http_alog.py" "$TP_DIR/sluiced-a.log" "$1" "$2"
}
within() { # x lo hi
	awk -v x="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(x >= lo && x <= hi) }'
}

for ((i = 0; i < 50; i++)); do
	[ "$(req "http://${vip[web]}/" | cut -d' ' -f1)" = 200 ] && break
	sleep 0.1
done
r=$(req "http://${vip[web]}/")
[ "${r%% *}" = 200 ] || { tm_dump_logs; tp_fail "no answer through the mesh: $r"; }

# ---- 1. a retry succeeds ------------------------------------------------------------------
read -r code t body <<<"$(req "http://${vip[flaky]}/retry-once")"
n=$(nlog flaky)
if [ "$code $body" = "200 flaky" ] && [ "$n" = 2 ]; then
	ok "1. retryOn 5xx: the first try's 503 retried, 200 ($n requests upstream)"
else
	bad "1. retryOn 5xx against an upstream failing its first request: want 200 and 2 requests upstream; got '$code $body', $n requests"
fi
if a=$(alog /retry-once 'num(r, "attempt") == 2'); then
	ok "1. the access log counts 2 attempts"
else
	bad "1. the access-log record of /retry-once has no attempts == 2: $a"
fi

# ---- 2. retries exhausted, and Istio's default policy --------------------------------------
n0=$(nlog dead)
read -r code t body <<<"$(req "http://${vip[dead]}/retried")"
n=$(($(nlog dead) - n0))
if [ "$code" = 503 ] && [ "$n" = 3 ]; then
	ok "2. always 503, attempts 2: 503 after exactly 3 requests upstream"
else
	bad "2. always 503, attempts 2: want 503 and 3 requests upstream; got '$code $body', $n requests"
fi
if a=$(alog /retried '"URX" in flags(r)'); then
	ok "2. flag URX"
else
	bad "2. the access-log record of /retried has no flag URX: $a"
fi
# Istio's default policy (a route without retries): 2 retries of a 503
# (retriable-status-codes 503), none of a 500
n0=$(nlog dead)
read -r code t body <<<"$(req "http://${vip[dead]}/default-503")"
n=$(($(nlog dead) - n0))
if [ "$code" = 503 ] && [ "$n" = 3 ]; then
	ok "2. default retry policy: a 503 retried twice (3 requests upstream)"
else
	bad "2. default retry policy, always 503: want 503 and 3 requests upstream; got '$code $body', $n requests"
fi
n0=$(nlog web)
read -r code t body <<<"$(req -H 'x-status: 500' "http://${vip[web]}/default-500")"
n=$(($(nlog web) - n0))
if [ "$code" = 500 ] && [ "$n" = 1 ]; then
	ok "2. default retry policy: a 500 not retried (1 request upstream)"
else
	bad "2. default retry policy, a 500: want 500 and 1 request upstream; got '$code $body', $n requests"
fi

# ---- 3. timeout ----------------------------------------------------------------------------
read -r code t body <<<"$(req "http://${vip[slow]}/timeout")"
if [ "$code" = 504 ] && within "$t" 0.3 2.5; then
	ok "3. timeout 300ms: 504 after $t s"
else
	bad "3. timeout 300ms against a 3 s upstream: want 504 after 0.3..2.5 s; got '$code' after $t s ($body)"
fi
if a=$(alog /timeout '"UT" in flags(r)'); then
	ok "3. flag UT"
else
	bad "3. the access-log record of /timeout has no flag UT: $a"
fi

# ---- 4. perTryTimeout ------------------------------------------------------------------------
read -r code t body <<<"$(req "http://${vip[pertry]}/per-try")"
n=$(nlog pertry)
if [ "$code $body" = "200 pertry" ] && within "$t" 0.2 3 && [ "$n" = 2 ]; then
	ok "4. perTryTimeout 200ms: the slow first try abandoned, 200 after $t s ($n requests upstream)"
else
	bad "4. perTryTimeout 200ms, first try 5 s: want 200 after 0.2..3 s and 2 requests upstream; got '$code $body' after $t s, $n requests"
fi

# ---- 5. abort ----------------------------------------------------------------------------------
n0=$(nlog web)
read -r code t body <<<"$(req "http://${vip[web]}/abort100")"
n=$(($(nlog web) - n0))
if [ "$code" = 418 ] && [ "$n" = 0 ]; then
	ok "5. abort 100 %: 418, nothing upstream"
else
	bad "5. abort 100 %: want 418 and nothing upstream; got '$code $body', $n requests upstream"
fi
if a=$(alog /abort100 '"FI" in flags(r)'); then
	ok "5. flag FI"
else
	bad "5. the access-log record of /abort100 has no flag FI: $a"
fi
n0=$(nlog web)
out=$(tp_exec pod11 "$py" "$CL" keepalive "${vip[web]}" 80 200 --path /abort50) || true
n=$(($(nlog web) - n0))
read -r s200 s503 < <("$py" -c '
import json, sys
s = json.loads(sys.argv[1])["statuses"]
print(s.get("200", 0), s.get("503", 0))' "$out" 2>/dev/null || echo "0 0")
read -r lo hi < <(awk 'BEGIN { s = 3 * sqrt(200 * 0.25); printf "%.1f %.1f\n", 100 - s, 100 + s }')
if [ $((s200 + s503)) = 200 ] && within "$s503" "$lo" "$hi" && [ "$n" = "$s200" ]; then
	ok "5. abort 50 %: $s503 of 200 aborted (bound $lo..$hi), the $s200 others reached the upstream"
else
	bad "5. abort 50 %: want 200 responses, 503s in $lo..$hi, the 200s equal to the requests upstream; got 200: $s200, 503: $s503, upstream $n ($out)"
fi

# ---- 6. delay -----------------------------------------------------------------------------------
read -r code t body <<<"$(req "http://${vip[web]}/delay")"
if [ "$code $body" = "200 web" ] && within "$t" 0.3 5; then
	ok "6. delay 300ms: 200 after $t s"
else
	bad "6. delay 300ms: want 200 after >= 0.3 s; got '$code $body' after $t s"
fi
if a=$(alog /delay '"DI" in flags(r)'); then
	ok "6. flag DI"
else
	bad "6. the access-log record of /delay has no flag DI: $a"
fi

# ---- 7. headers and trace headers -------------------------------------------------------------
hdrs=$(tp_exec pod11 curl -sS --max-time 5 -D - -o /dev/null -H 'x-set: zero' \
	-H 'x-remove: gone' "http://${vip[web]}/headers" 2>&1 | tr -d '\r') || true
seen=$("$py" -c '
import json, sys
r = json.loads(open(sys.argv[1]).readlines()[-1])
h = {}
for n, v in r["headers"]:
    h.setdefault(n.lower(), []).append(v)
print(json.dumps(h, sort_keys=True))' "$TP_DIR/up-web.log")
if "$py" -c '
import json, re, sys
h = json.loads(sys.argv[1])
assert h.get("x-set") == ["one"], "x-set %r" % h.get("x-set")
assert h.get("x-add") == ["two"], "x-add %r" % h.get("x-add")
assert h.get("x-dest") == ["four"], "x-dest %r" % h.get("x-dest")
assert "x-remove" not in h, "x-remove still there"' "$seen"; then
	ok "7. request headers set/add/remove (rule) and set (route) as the upstream saw them"
else
	bad "7. request header changes: the upstream saw $seen"
fi
if grep -qix 'x-resp: three' <<<"$hdrs"; then
	ok "7. response header set"
else
	bad "7. no 'x-resp: three' in the response: $hdrs"
fi
if "$py" -c '
import json, re, sys
h = json.loads(sys.argv[1])
tp = h.get("traceparent", [""])[0]
assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]", tp), "traceparent %r" % tp
assert h.get("x-request-id", [""])[0], "x-request-id"' "$seen"; then
	ok "7. traceparent and x-request-id created"
else
	bad "7. trace headers created when absent: the upstream saw $seen"
fi
tid=4bf92f3577b34da6a3ce929d0e0e4736
req -H "traceparent: 00-$tid-00f067aa0ba902b7-01" "http://${vip[web]}/traced" >/dev/null
tp=$("$py" -c '
import json, sys
r = json.loads(open(sys.argv[1]).readlines()[-1])
print([v for n, v in r["headers"] if n.lower() == "traceparent"])' "$TP_DIR/up-web.log")
if [[ $tp == *"00-$tid-"* ]] && [[ $tp != *00f067aa0ba902b7* ]]; then
	ok "7. the client's trace id kept, a new span id"
else
	bad "7. traceparent 00-$tid-00f067aa0ba902b7-01 sent: the upstream saw $tp"
fi

# ---- 8. Expect: 100-continue ---------------------------------------------------------------------
head -c 102400 /dev/zero | tr '\0' 'c' >"$TP_DIR/body"
read -r code t body <<<"$(req --expect100-timeout 3 -H 'Expect: 100-continue' --data-binary @"$TP_DIR/body" "http://${vip[web]}/continue")"
bl=$("$py" -c '
import json, sys
r = json.loads(open(sys.argv[1]).readlines()[-1])
print(r.get("target"), r.get("body_len"))' "$TP_DIR/up-web.log")
if [ "$code $body" = "200 web" ] && within "$t" 0 2.5 && [ "$bl" = "/continue 102400" ]; then
	ok "8. Expect: 100-continue: 200 after $t s, the body whole upstream"
else
	bad "8. Expect: 100-continue: want 200 in < 2.5 s and '/continue 102400' upstream; got '$code $body' after $t s, upstream '$bl'"
fi

# ---- 9. upstream reset mid-response ------------------------------------------------------------------
read -r code t body <<<"$(req "http://${vip[reset]}/reset")"
n=$(nlog reset)
if [ "$code" = 503 ] && [ "$n" = 3 ]; then
	ok "9. upstream reset before a full head: 503, 3 requests upstream (node2's 503 UC retried by node1's default policy)"
else
	bad "9. upstream reset 20 bytes into the response: want 503 and 3 requests upstream; got '$code $body', $n requests"
fi
if a=$(alog /reset '"URX" in flags(r) and r["attempts"] == 3'); then
	ok "9. node1: flag URX, 3 attempts"
else
	bad "9. node1's access-log record of /reset: want URX and 3 attempts: $a"
fi
if a=$("$py" "$here/lib/http_alog.py" "$TP_DIR/sluiced-b.log" /reset '"UC" in flags(r) and r["response_code"] == 503'); then
	ok "9. node2 (the destination): 503, flag UC"
else
	bad "9. node2's access-log record of /reset has no 503 UC: $a"
fi

# ---- 10. a client aborting mid-body ----------------------------------------------------------------------
tp_exec pod11 "$py" "$CL" --timeout 1 raw "${vip[web]}" 80 \
	'POST /half HTTP/1.1\r\nHost: web\r\nContent-Length: 100000\r\n\r\n0123456789' --wait 0 >/dev/null || true
sleep 0.3
read -r code t body <<<"$(req "http://${vip[web]}/after-abort")"
if [ "$code $body" = "200 web" ]; then
	ok "10. after a client aborted mid-body, the next request works"
else
	bad "10. the request after a client aborted mid-body: got '$code $body'"
fi

tm_stop
ok "10. both daemons stopped with exit 0"
if [ $failed != 0 ]; then
	tm_dump_logs
	tp_fail "$failed assertion(s) failed"
fi
echo "PASS"
