#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# L7 traffic management end to end (issue 26): retries, timeouts, fault
# injection, header operations, trace propagation, a client that aborts
# mid-body and an upstream that resets mid-response, request metrics.
# Two nodes (tests/netns/lib); upstreams lib/http_upstream.py (one JSON
# line per request received), clients curl and lib/http_client.py.
#
#   node1: pod11 (app: client), the client
#   node2: pod21 "flaky" (the first request of all fails with 503),
#          pod22 "dead" (every request 503), pod23 "ok" (answers; the
#          request header x-delay-ms delays it), pod24 "reset" (sends a
#          response head with Content-Length 100000 and 1000 bytes of it,
#          then resets the connection)
#   Services (name http, port 80 -> 8000): flaky 198.19.0.40, dead .41,
#   ok .42, reset .43; VirtualServices:
#     flaky: retries {attempts: 2, retryOn: 5xx}
#     dead:  retries {attempts: 3, retryOn: 5xx}
#     ok:    by header x-case: "ptt" retries {attempts: 2, perTryTimeout:
#            300ms, retryOn: 5xx}; "timeout" timeout 500ms, retries
#            {attempts: 0}; "abort" fault abort 418 100 %; "abort50"
#            abort 503 50 %; "percent" abort 451 with the older percent:
#            100; "delay" fault delay 500ms 100 %; "hdr" header ops (rule
#            and destination level); else the plain route
#     reset: no VirtualService (Istio's default retry policy applies)
#
#  a. flaky: 200 after one retry: the upstream saw 2 requests, same trace
#     id, different span ids; the access log says attempts 2
#  b. dead: 503 with URX, the upstream saw exactly 1 + 3 requests
#  c. perTryTimeout: every try times out: 504 UT after 3 tries, the
#     upstream saw 3 requests
#  d. timeout: 504 UT after ~0.5 s (well before the 2 s the upstream
#     takes), one request upstream
#  e. abort 100 %: 418, nothing upstream; abort 50 %: 400 requests on one
#     connection, the 503s within the binomial 3-sigma bound (200 +- 30),
#     the upstream saw exactly the others; percent: 100 (older form): 451
#  f. delay: 200, at least 0.5 s
#  g. header ops: the upstream saw set/added fields and not the removed
#     one; the client saw the response ops; a client traceparent keeps its
#     trace id upstream with a new span id, x-request-id is passed on, and
#     one is made when absent
#  h. a client that closes in the middle of its body: the upstream never
#     logs a complete request, sluiced logs DC, and keeps serving
#  i. an upstream that resets mid-response: the client sees the
#     connection reset (not a complete response), sluiced logs UC
#  l. WebSocket: an Upgrade through the mesh gets the upstream's 101 (with
#     its Sec-WebSocket-Accept), then frames echo both ways over the tunnel;
#     CONNECT: the upstream's 200, then bytes echoed with half-close
#  m. DestinationRule connectionPool.http: maxRequestsPerConnection 2
#     (6 requests, 3 upstream connections), http2MaxRequests 1 (a
#     concurrent request: 503 UO), maxRetries 1 (a second request while
#     one retries is not retried), http1MaxPendingRequests 1 (a second
#     request while one waits for its connection: 503 UO at once);
#     outlierDetection consecutive5xxErrors 2
#     per response (round robin over a 503 endpoint and a good one: 2 of
#     20 requests fail, then the bad one is ejected)
#  n. bytes that are not HTTP/1.x on an HTTP port: an HTTP/2 preface (505),
#     a TLS ClientHello and garbage (400, at once, before any line end), and
#     a head not whole after --http-head-timeout (408): Connection: close,
#     closed, nothing upstream
#  o. rewrite (uri after a prefix match and after an exact one, authority),
#     redirect (scheme, authority, port, uri, redirectCode; and the
#     defaults), directResponse (status, body string): nothing upstream
#     for the last two
#  p. a 1 GiB chunked upload (curl -T -) reaches the upstream whole while
#     node1's sluiced grows by less than 64 MiB (the body streams in 64 KiB
#     steps)
#  q. mirror (mirrorPercentage 100): the copy reaches the shadow upstream
#     whole with Host "<host>-shadow" while the original answers without
#     waiting for the slow shadow; mirrorPercent 50: 200 requests, the
#     mirrored count within the binomial 3-sigma bound
#  j. istio_requests_total (reporter source) counts every request of this
#     script by response code and flags; promtool checks the exposition;
#     node2 reports the requests its pods received (reporter destination)
#  k. both daemons stop with exit 0 (ASan: no leaks)
# Every assertion is checked and reported; the script fails at the end if
# any failed.
#
# usage: http-l7-tm.sh SLUICED SLUICE NFT_TOOL SL_TCP
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/http.sh
. "$here/lib/http.sh" "$@"
command -v promtool >/dev/null || tp_skip "promtool (prometheus) not installed"

tm_init
p11=$(tp_pod_ip pod11)
p21=$(tp_pod_ip pod21) p22=$(tp_pod_ip pod22)
tp_add_pod 2 pod23 13
tp_add_pod 2 pod24 14
tp_add_pod 2 pod25 15
tp_add_pod 2 pod26 16
p23=198.18.2.13 p24=198.18.2.14 p25=198.18.2.15 p26=198.18.2.16
V_FLAKY=198.19.0.40 V_DEAD=198.19.0.41 V_OK=198.19.0.42 V_RESET=198.19.0.43
V_WS=198.19.0.44 V_POOL=198.19.0.45 V_OUTL=198.19.0.46
V_DEAD2=198.19.0.47 V_HOLE=198.19.0.48 P_HOLE=198.18.2.99
V_SHADOW=198.19.0.49


svc() { # name vip selector
	cat <<EOT
---
apiVersion: v1
kind: Service
metadata: {name: $1, namespace: default}
spec:
  clusterIP: $2
  selector: {$3}
  ports:
  - {name: http, port: 80, targetPort: 8000}
EOT
}

mkcfg() { # dir node
	tm_node_yaml "$1" "$2"
	{
		tm_we_sa pod11 default client "$p11" node-a "app: client, version: c1"
		tm_we pod21 "$p21" node-b "app: flaky"
		tm_we pod22 "$p22" node-b "app: dead, pool: outl"
		tm_we pod23 "$p23" node-b "app: ok, version: v1, pool: outl"
		tm_we pod24 "$p24" node-b "app: reset"
		tm_we pod25 "$p25" node-b "app: ws"
		svc ws "$V_WS" "app: ws"
		svc pool "$V_POOL" "app: ok"
		svc outl "$V_OUTL" "pool: outl"
		svc dead2 "$V_DEAD2" "app: dead"
		tm_we hole "$P_HOLE" node-b "app: hole"
		tm_we pod26 "$p26" node-b "app: shadow"
		svc shadow "$V_SHADOW" "app: shadow"
		svc hole "$V_HOLE" "app: hole"
		svc flaky "$V_FLAKY" "app: flaky"
		svc dead "$V_DEAD" "app: dead"
		svc ok "$V_OK" "app: ok"
		svc reset "$V_RESET" "app: reset"
	} >"$1/workloads.yaml"
	cat >"$1/vs.yaml" <<'EOT'
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: flaky}
spec:
  hosts: [flaky]
  http:
  - route: [{destination: {host: flaky}}]
    retries: {attempts: 2, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: dead}
spec:
  hosts: [dead]
  http:
  - route: [{destination: {host: dead}}]
    retries: {attempts: 3, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: ok}
spec:
  host: ok
  subsets:
  - {name: v1, labels: {version: v1}}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: ok}
spec:
  hosts: [ok]
  http:
  - match: [{headers: {x-case: {exact: ptt}}}]
    route: [{destination: {host: ok}}]
    retries: {attempts: 2, perTryTimeout: 300ms, retryOn: 5xx}
  - match: [{headers: {x-case: {exact: timeout}}}]
    route: [{destination: {host: ok}}]
    timeout: 500ms
    retries: {attempts: 0}
  - match: [{headers: {x-case: {exact: abort}}}]
    route: [{destination: {host: ok}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 100}}}
  - match: [{headers: {x-case: {exact: abort50}}}]
    route: [{destination: {host: ok}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 50}}}
  - match: [{headers: {x-case: {exact: percent}}}]
    route: [{destination: {host: ok}}]
    fault: {abort: {httpStatus: 451, percent: 100}}
  - match: [{headers: {x-case: {exact: delay}}}]
    route: [{destination: {host: ok}}]
    fault: {delay: {fixedDelay: 500ms, percentage: {value: 100}}}
  - match: [{headers: {x-case: {exact: rewrite}}, uri: {prefix: /old/}}]
    rewrite: {uri: /new/, authority: rewritten.example}
    route: [{destination: {host: ok}}]
  - match: [{headers: {x-case: {exact: rewrite-exact}}, uri: {exact: /exact}}]
    rewrite: {uri: /replaced}
    route: [{destination: {host: ok}}]
  - match: [{headers: {x-case: {exact: redirect}}}]
    redirect: {uri: /moved, authority: other.example, port: 8443, scheme: https, redirectCode: 308}
  - match: [{headers: {x-case: {exact: redirect-default}}}]
    redirect: {uri: /elsewhere}
  - match: [{headers: {x-case: {exact: direct}}}]
    directResponse: {status: 418, body: {string: "I am a teapot"}}
  - match: [{headers: {x-case: {exact: mirror}}}]
    route: [{destination: {host: ok}}]
    mirror: {host: shadow}
    mirrorPercentage: {value: 100}
  - match: [{headers: {x-case: {exact: mirror50}}}]
    route: [{destination: {host: ok}}]
    mirror: {host: shadow, port: {number: 80}}
    mirrorPercent: 50
  - match: [{headers: {x-case: {exact: hdr}}}]
    name: hdr-rule
    headers:
      request:
        set: {x-set: rule}
        add: {x-add: one}
        remove: [x-rm]
      response:
        set: {x-resp: rule}
        remove: [x-upstream]
    route:
    - destination: {host: ok, subset: v1}
      headers:
        request: {set: {x-dest: v1}}
        response: {add: {x-resp-dest: v1}}
  - route: [{destination: {host: ok}}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: pool}
spec:
  host: pool
  trafficPolicy:
    connectionPool:
      http: {maxRequestsPerConnection: 2, http2MaxRequests: 1}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: pool}
spec:
  hosts: [pool]
  http:
  - route: [{destination: {host: pool}}]
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: outl}
spec:
  host: outl
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: outl}
spec:
  hosts: [outl]
  http:
  - route: [{destination: {host: outl}}]
    retries: {attempts: 0}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: dead2}
spec:
  host: dead2
  trafficPolicy:
    connectionPool:
      http: {maxRetries: 1}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: dead2}
spec:
  hosts: [dead2]
  http:
  - route: [{destination: {host: dead2}}]
    retries: {attempts: 3, retryOn: 5xx}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: hole}
spec:
  host: hole
  trafficPolicy:
    connectionPool:
      tcp: {connectTimeout: 2s}
      http: {http1MaxPendingRequests: 1}
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: hole}
spec:
  hosts: [hole]
  http:
  - route: [{destination: {host: hole}}]
    retries: {attempts: 0}
EOT
}
mkcfg "$TM_CFG_A" node-a
mkcfg "$TM_CFG_B" node-b
"$SLUICED" --config "$TM_CFG_A" --node node-a --check >"$TP_DIR/check.log" 2>&1 ||
	{ cat "$TP_DIR/check.log"; tp_fail "sluiced --check rejects the test config"; }

tp_exec node1 "$NFT_TOOL" apply "$p11" >/dev/null
L_FLAKY=$TP_DIR/up-flaky.log L_DEAD=$TP_DIR/up-dead.log
L_OK=$TP_DIR/up-ok.log L_RESET=$TP_DIR/up-reset.log
L_SHADOW=$TP_DIR/up-shadow.log
: >"$L_FLAKY"; : >"$L_DEAD"; : >"$L_OK"; : >"$L_RESET"; : >"$L_SHADOW"
tp_bg pod21 "$TP_DIR/pod21.out" "$py" "$UP" --port 8000 --name flaky --log "$L_FLAKY" --fail-first 1 --fail-status 503
tp_bg pod22 "$TP_DIR/pod22.out" "$py" "$UP" --port 8000 --name dead --log "$L_DEAD" --always-fail --fail-status 503
tp_bg pod23 "$TP_DIR/pod23.out" "$py" "$UP" --port 8000 --name ok --log "$L_OK"
tp_bg pod26 "$TP_DIR/pod26.out" "$py" "$UP" --port 8000 --name shadow --log "$L_SHADOW" --delay-ms 500 --delay-first 1
# pod24: a whole response head (Content-Length 100000), 1000 body bytes,
# then a reset
cat >"$TP_DIR/reset-up.py" <<'EOF2'
import socket, struct, sys
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", 8000))
ls.listen(16)
log = open(sys.argv[1], "a")
while True:
    s, _ = ls.accept()
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    log.write(buf.split(b"\r\n")[0].decode() + "\n")
    log.flush()
    s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"r" * 1000)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
EOF2
tp_bg pod24 "$TP_DIR/pod24.out" "$py" "$TP_DIR/reset-up.py" "$L_RESET"
# pod25: a WebSocket echo server (RFC 6455: the handshake, then each
# masked client frame comes back unmasked)
cat >"$TP_DIR/ws-up.py" <<'EOF2'
import base64, hashlib, socket, threading
G = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
def recvn(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            raise EOFError
        b += d
    return b
def serve(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, rest = buf.split(b"\r\n\r\n", 1)
    if head.startswith(b"CONNECT "):
        # a CONNECT tunnel: 200, then every byte echoed
        s.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n" + rest)
        while True:
            d = s.recv(65536)
            if not d:
                break
            s.sendall(d)
        s.close()
        return
    key = [l.split(b":", 1)[1].strip() for l in head.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key:")][0]
    acc = base64.b64encode(hashlib.sha1(key + G).digest())
    s.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
    try:
        while True:
            h = recvn(s, 2)
            n = h[1] & 127
            if n == 126:
                n = int.from_bytes(recvn(s, 2), "big")
            mask = recvn(s, 4)
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(recvn(s, n)))
            if h[0] & 15 == 8:
                s.sendall(b"\x88\x00")
                break
            s.sendall(bytes([h[0], n]) + data if n < 126 else bytes([h[0], 126]) + n.to_bytes(2, "big") + data)
    except EOFError:
        pass
    s.close()
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", 8000))
ls.listen(16)
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF2
tp_bg pod25 "$TP_DIR/pod25.out" "$py" "$TP_DIR/ws-up.py"
for p in pod21 pod22 pod23 pod24 pod25 pod26; do tp_wait_port "$p" 8000; done

# "hole": an endpoint whose mesh port drops every SYN (connects hang)
tp_exec node2 nft -f - <<EOT
table ip sl_test_hole {
	chain pre {
		type filter hook prerouting priority -300; policy accept;
		ip daddr $P_HOLE drop
	}
}
EOT
tm_start_b
tm_start_a --log-level info --access-log-rate 10000 --http-head-timeout 1s
ALOG=$TP_DIR/sluiced-a.log

# curl from pod11: prints "CODE SECONDS BODY" (CODE 000: no response)
req() {
	local out
	out=$(tp_exec pod11 curl -sS --max-time 8 -o - -w '\n%{http_code} %{time_total}' "$@" 2>&1) || true
	echo "$(tail -1 <<<"$out") $(head -n -1 <<<"$out" | tr '\n' ' ' | sed 's/ *$//')"
}
nlines() { wc -l <"$1"; }
sent=0 # requests this script sent through the mesh (for j.)
declare -A sent_code

count() { # code
	sent=$((sent + 1))
	sent_code[$1]=$((${sent_code[$1]:-0} + 1))
}

# the mesh answers
for ((i = 0; i < 50; i++)); do
	r=$(req "http://$V_OK/")
	count "${r%% *}"
	[ "${r%% *}" = 200 ] && break
	sleep 0.1
done
[ "${r%% *}" = 200 ] || { tm_dump_logs; tp_fail "no answer through the mesh: $r"; }

# ---- a. one retry --------------------------------------------------------------------
r=$(req "http://$V_FLAKY/a")
count "${r%% *}"
if [ "${r%% *}" = 200 ] && [ "$(nlines "$L_FLAKY")" = 2 ]; then
	ok "a. flaky: 200 after a retry, the upstream saw 2 requests"
else
	bad "a. flaky: want 200 and 2 requests upstream, got '$r', $(nlines "$L_FLAKY") upstream"
fi
"$py" - "$L_FLAKY" <<'EOF' && ok "a. both tries carry the same trace id, each its own span id" || bad "a. the retry did not keep the trace: $(cat "$L_FLAKY")"
import json, sys
tp = []
for l in open(sys.argv[1]):
    h = {k.lower(): v for k, v in json.loads(l)["headers"]}
    tp.append(h["traceparent"].split("-"))
assert len(tp) == 2, tp
assert tp[0][1] == tp[1][1] and tp[0][2] != tp[1][2], tp
EOF
grep -q '"path":"/a".*"attempts":2' "$ALOG" && ok "a. the access log says attempts 2" ||
	bad "a. no access-log line for /a with attempts 2: $(grep '"/a"' "$ALOG" | tail -1)"

# ---- b. retries exhausted ------------------------------------------------------------------
r=$(req "http://$V_DEAD/b")
count "${r%% *}"
if [ "${r%% *}" = 503 ] && [ "$(nlines "$L_DEAD")" = 4 ]; then
	ok "b. dead: 503, the upstream saw exactly 1 + 3 requests"
else
	bad "b. dead: want 503 and 4 requests upstream, got '$r', $(nlines "$L_DEAD") upstream"
fi
grep '"path":"/b"' "$ALOG" | grep -q 'URX' && ok "b. the access log says URX" ||
	bad "b. no URX for /b: $(grep '"/b"' "$ALOG" | tail -1)"

# ---- c. perTryTimeout ------------------------------------------------------------------------
l0=$(nlines "$L_OK")
r=$(req -H 'x-case: ptt' -H 'x-delay-ms: 2000' "http://$V_OK/c")
count "${r%% *}"
n=$(($(nlines "$L_OK") - l0))
read -r code secs _ <<<"$r"
if [ "$code" = 504 ] && [ "$n" = 3 ] && awk -v s="$secs" 'BEGIN { exit !(s >= 0.9 && s < 2.0) }'; then
	ok "c. perTryTimeout 300ms x 3 tries: 504 after ${secs}s, 3 requests upstream"
else
	bad "c. perTryTimeout: want 504 after 0.9..2 s and 3 requests upstream, got '$r', $n upstream"
fi
grep '"path":"/c"' "$ALOG" | grep -q 'UT' && ok "c. the access log says UT" ||
	bad "c. no UT for /c: $(grep '"/c"' "$ALOG" | tail -1)"

# ---- d. route timeout ------------------------------------------------------------------------
l0=$(nlines "$L_OK")
r=$(req -H 'x-case: timeout' -H 'x-delay-ms: 2000' "http://$V_OK/d")
count "${r%% *}"
n=$(($(nlines "$L_OK") - l0))
read -r code secs _ <<<"$r"
if [ "$code" = 504 ] && [ "$n" = 1 ] && awk -v s="$secs" 'BEGIN { exit !(s >= 0.45 && s < 1.5) }'; then
	ok "d. timeout 500ms: 504 after ${secs}s, 1 request upstream"
else
	bad "d. timeout: want 504 after ~0.5 s and 1 request upstream, got '$r', $n upstream"
fi

# ---- e. aborts ---------------------------------------------------------------------------------
l0=$(nlines "$L_OK")
r=$(req -H 'x-case: abort' "http://$V_OK/e")
count "${r%% *}"
if [ "${r%% *}" = 418 ] && [ "$(nlines "$L_OK")" = "$l0" ]; then
	ok "e. abort 100 %: 418, nothing upstream"
else
	bad "e. abort 100 %: want 418 and nothing upstream, got '$r', upstream $l0 -> $(nlines "$L_OK")"
fi
grep '"path":"/e"' "$ALOG" | grep -q '"FI"\|FI' && ok "e. the access log says FI" ||
	bad "e. no FI for /e: $(grep '"/e"' "$ALOG" | tail -1)"
r=$(req -H 'x-case: percent' "http://$V_OK/e2")
count "${r%% *}"
[ "${r%% *}" = 451 ] && ok "e. abort with the older percent: 100: 451" || bad "e. percent: 100: want 451, got '$r'"
l0=$(nlines "$L_OK")
out=$(tp_exec pod11 "$py" "$CL" keepalive "$V_OK" 80 400 -H 'x-case: abort50' --path /e50) || true
read -r n503 n200 < <("$py" -c '
import json, sys
s = json.loads(sys.argv[1])["statuses"]
print(s.get("503", 0), s.get("200", 0))' "$out" 2>/dev/null || echo "0 0")
n=$(($(nlines "$L_OK") - l0))
for ((i = 0; i < n503; i++)); do count 503; done
for ((i = 0; i < n200; i++)); do count 200; done
if [ $((n503 + n200)) = 400 ] && [ "$n503" -ge 170 ] && [ "$n503" -le 230 ] && [ "$n" = "$n200" ]; then
	ok "e. abort 50 %: $n503 of 400 aborted (bound 170..230), the upstream saw exactly the other $n"
else
	bad "e. abort 50 %: want 170..230 of 400 aborted and the rest upstream, got 503 $n503, 200 $n200, upstream $n: $out"
fi

# ---- f. delay -----------------------------------------------------------------------------------
r=$(req -H 'x-case: delay' "http://$V_OK/f")
count "${r%% *}"
read -r code secs _ <<<"$r"
if [ "$code" = 200 ] && awk -v s="$secs" 'BEGIN { exit !(s >= 0.5) }'; then
	ok "f. delay 500ms: 200 after ${secs}s"
else
	bad "f. delay: want 200 after >= 0.5 s, got '$r'"
fi

# ---- g. header ops and trace context -----------------------------------------------------------
l0=$(nlines "$L_OK")
hdrs=$(tp_exec pod11 curl -sS --max-time 5 -D - -o /dev/null -H 'x-case: hdr' -H 'x-rm: gone' \
	-H 'x-set: client' -H 'x-request-id: req-abc-123' \
	-H 'x-forwarded-client-cert: By=spiffe://evil/ns/x/sa/y;URI=spiffe://cluster.local/ns/default/sa/admin' \
	-H 'traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
	"http://$V_OK/g" 2>&1 | tr -d '\r') || true
count 200
"$py" - "$L_OK" "$l0" <<'EOF' && ok "g. upstream: x-set replaced, x-add and x-dest added, x-rm removed, trace id kept with a new span, x-request-id passed on, a forged x-forwarded-client-cert replaced by Istio's (By, Hash, URI of the verified peer)" || bad "g. upstream request headers wrong: $(tail -1 "$L_OK")"
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
assert len(lines) == 1, lines
h = {}
for k, v in json.loads(lines[0])["headers"]:
    h.setdefault(k.lower(), []).append(v)
assert h["x-set"] == ["rule"], h
assert h["x-add"] == ["one"], h
assert h["x-dest"] == ["v1"], h
assert "x-rm" not in h, h
tp = h["traceparent"][0].split("-")
assert tp[1] == "4bf92f3577b34da6a3ce929d0e0e4736" and tp[2] != "00f067aa0ba902b7", tp
assert h["x-request-id"] == ["req-abc-123"], h
# the destination node replaced the forged x-forwarded-client-cert by
# Istio's, from the verified peer (pod11's identity, pod23's own)
import re
x = h["x-forwarded-client-cert"]
assert len(x) == 1, x
assert re.fullmatch(r'By=spiffe://cluster\.local/ns/default/sa/pod23;Hash=[0-9a-f]{64};Subject="";URI=spiffe://cluster\.local/ns/default/sa/client', x[0]), x
EOF
if grep -qi '^x-resp: rule$' <<<"$hdrs" && grep -qi '^x-resp-dest: v1$' <<<"$hdrs" &&
	! grep -qi '^x-upstream:' <<<"$hdrs"; then
	ok "g. client: x-resp set, x-resp-dest added, x-upstream removed"
else
	bad "g. response headers wrong: $hdrs"
fi
l0=$(nlines "$L_OK")
r=$(req "http://$V_OK/g2")
count "${r%% *}"
"$py" - "$L_OK" "$l0" <<'EOF' && ok "g. without trace headers: traceparent and a UUID x-request-id are made" || bad "g. no trace context made: $(tail -1 "$L_OK")"
import json, re, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
h = {k.lower(): v for k, v in json.loads(lines[0])["headers"]}
assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]", h["traceparent"]), h
assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", h["x-request-id"]), h
EOF

# ---- h. the client goes away mid-body ------------------------------------------------------------
l0=$(nlines "$L_OK")
tp_exec pod11 "$py" - "$V_OK" <<'EOF' || true
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80))
s.sendall(b"POST /h HTTP/1.1\r\nHost: ok\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
time.sleep(0.3)
s.close()
EOF
sleep 0.5
count 0 # no response: Istio counts it with response_code 0
if ! tail -n +$((l0 + 1)) "$L_OK" | grep -q '"target": "/h".*"body_len"'; then
	ok "h. client gone mid-body: the upstream never logged a complete request"
else
	bad "h. the upstream logged a complete /h: $(tail -1 "$L_OK")"
fi
grep '"path":"/h"' "$ALOG" | grep -q 'DC' && ok "h. the access log says DC" ||
	bad "h. no DC for /h: $(grep '"/h"' "$ALOG" | tail -1)"
r=$(req "http://$V_OK/h2")
count "${r%% *}"
[ "${r%% *}" = 200 ] && ok "h. sluiced still serves" || bad "h. after the abort: '$r'"

# ---- i. the upstream resets mid-response ----------------------------------------------------------
out=$(tp_exec pod11 "$py" "$CL" raw "$V_RESET" 80 'GET /i HTTP/1.1\r\nHost: reset\r\n\r\n' 2>&1) || true
count 200
if "$py" -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["error"] and "reset" in o["error"].lower() and not o["statuses"], o' "$out" 2>/dev/null; then
	ok "i. upstream reset mid-response: the client's connection was reset, no whole response"
else
	bad "i. upstream reset: $out"
fi
for ((i = 0; i < 20; i++)); do
	grep '"path":"/i"' "$ALOG" | grep -q 'UC' && break
	sleep 0.1
done
grep '"path":"/i"' "$ALOG" | grep -q 'UC' && ok "i. the access log says UC" ||
	bad "i. no UC for /i: $(grep '"/i"' "$ALOG" | tail -1)"

# ---- l. WebSocket echo ------------------------------------------------------------------------------
count 101
if tp_exec pod11 "$py" - "$V_WS" >"$TP_DIR/ws.out" 2>&1 <<'EOF'
import base64, hashlib, os, socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=5)
key = base64.b64encode(os.urandom(16))
s.sendall(b"GET /chat HTTP/1.1\r\nHost: ws\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    assert d, "closed before the 101"
    buf += d
head, rest = buf.split(b"\r\n\r\n", 1)
assert head.startswith(b"HTTP/1.1 101"), head
acc = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
assert b"sec-websocket-accept: " + acc.lower() in head.lower(), head
for msg in (b"hello", b"x" * 300, b"bye"):
    mask = os.urandom(4)
    n = len(msg)
    hdr = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(msg)))
    want = (bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + n.to_bytes(2, "big")) + msg
    while len(rest) < len(want):
        d = s.recv(4096)
        assert d, "closed in the echo"
        rest += d
    assert rest[:len(want)] == want, (rest[:40], want[:40])
    rest = rest[len(want):]
print("ok")
EOF
then
	ok "l. WebSocket: 101 with the upstream's accept key, 3 frames echoed through the tunnel"
else
	bad "l. WebSocket: $(cat "$TP_DIR/ws.out")"
fi

count 200
if tp_exec pod11 "$py" - "$V_WS" >"$TP_DIR/connect.out" 2>&1 <<'EOF'
import socket, sys
s = socket.create_connection((sys.argv[1], 80), timeout=5)
s.sendall(b"CONNECT backend.example:443 HTTP/1.1\r\nHost: backend.example:443\r\n\r\n")
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    assert d, "closed before the 200"
    buf += d
head, rest = buf.split(b"\r\n\r\n", 1)
assert head.startswith(b"HTTP/1.1 200"), head
data = bytes(range(256)) * 400
s.sendall(data)
s.shutdown(socket.SHUT_WR)
while True:
    d = s.recv(65536)
    if not d:
        break
    rest += d
assert rest == data, (len(rest), len(data))
print("ok")
EOF
then
	ok "l. CONNECT: 200 from the upstream, then 100 KiB echoed byte-exact through the tunnel, half-close carried"
else
	bad "l. CONNECT: $(cat "$TP_DIR/connect.out")"
fi

# ---- m. connectionPool.http and outlierDetection per response ---------------------------------------
# maxRequestsPerConnection 2: 6 requests on one client connection reach
# the upstream over 3 connections
l0=$(nlines "$L_OK")
out=$(tp_exec pod11 "$py" "$CL" keepalive "$V_POOL" 80 6 --path /m1) || true
for ((i = 0; i < 6; i++)); do count 200; done
nc=$(tail -n +$((l0 + 1)) "$L_OK" | "$py" -c 'import json, sys; print(len({json.loads(l)["conn"] for l in sys.stdin}))')
[ "$nc" = 3 ] && ok "m. maxRequestsPerConnection 2: 6 requests over 3 upstream connections" ||
	bad "m. maxRequestsPerConnection 2: 6 requests over $nc upstream connections: $out"
# http2MaxRequests 1: a second request while one is in progress: 503 UO
tp_exec pod11 curl -sS --max-time 5 -o /dev/null -H 'x-delay-ms: 1000' "http://$V_POOL/m2" &
slow=$!
sleep 0.3
r=$(req "http://$V_POOL/m3")
wait $slow || true
count 200
count "${r%% *}"
if [ "${r%% *}" = 503 ] && grep '"path":"/m3"' "$ALOG" | grep -q '"UO"'; then
	ok "m. http2MaxRequests 1: the concurrent request got 503 UO"
else
	bad "m. http2MaxRequests 1: want 503 UO, got '$r': $(grep '"/m3"' "$ALOG" | tail -1)"
fi
# maxRetries 1: a request whose retries are in progress (the dead
# upstream answers 503 after 300 ms, 3 retries) holds the one retry
# place: a second request meanwhile is not retried (URX at once): the
# upstream sees 4 + 1 requests
l0=$(nlines "$L_DEAD")
tp_exec pod11 curl -sS --max-time 8 -o /dev/null -H 'x-delay-ms: 300' "http://$V_DEAD2/m5" &
first=$!
sleep 0.1
r=$(req -H 'x-delay-ms: 300' "http://$V_DEAD2/m6")
wait $first || true
count 503
count "${r%% *}"
n=$(($(nlines "$L_DEAD") - l0))
if [ "${r%% *}" = 503 ] && [ "$n" = 5 ]; then
	ok "m. maxRetries 1: the second request was not retried (upstream saw 4 + 1)"
else
	bad "m. maxRetries 1: want 503 and 5 requests upstream, got '$r', $n"
fi
# http1MaxPendingRequests 1: the endpoint's SYNs are dropped, so a
# request waits for its connection (connectTimeout 2s); a second one
# meanwhile: 503 UO at once
tp_exec pod11 curl -sS --max-time 8 -o /dev/null "http://$V_HOLE/m7" &
first=$!
sleep 0.3
r=$(req "http://$V_HOLE/m8")
wait $first || true
count 503
count "${r%% *}"
read -r code secs _ <<<"$r"
if [ "$code" = 503 ] && awk -v s="$secs" 'BEGIN { exit !(s < 1.0) }' &&
	grep '"path":"/m8"' "$ALOG" | grep -q '"UO"'; then
	ok "m. http1MaxPendingRequests 1: the second request waiting for a connection got 503 UO at once"
else
	bad "m. http1MaxPendingRequests 1: want 503 UO at once, got '$r': $(grep '"/m8"' "$ALOG" | tail -1)"
fi

# consecutive5xxErrors 2: the endpoint that answers 503 is ejected after
# its second one; round robin over the two, 20 requests: exactly 2 503s
n503=0
for ((i = 0; i < 20; i++)); do
	r=$(req "http://$V_OUTL/m4")
	count "${r%% *}"
	[ "${r%% *}" = 503 ] && n503=$((n503 + 1))
done
[ $n503 = 2 ] && ok "m. consecutive5xxErrors 2: 2 of 20 requests got 503, then the endpoint was ejected" ||
	bad "m. consecutive5xxErrors 2: $n503 of 20 got 503 (want 2)"

# ---- n. bytes that are not HTTP/1.x on an HTTP port ------------------------------------------------
# sluice refuses them as Envoy's HTTP/1 codec does on a port declared
# HTTP: the parser's status, Connection: close, closed, nothing upstream
# (an HTTP/2 client must use a port declared http2/grpc: relayed at L4)
for case in "505|h2 preface|PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" \
	"400|TLS ClientHello|\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" \
	"400|garbage|\x00\x01\x02 not http at all\r\n\r\n" \
	"408|a head trickled past --http-head-timeout 1s|GET /slow HTTP/1.1\r\nHost: ok\r\n"; do
	want=${case%%|*} rest=${case#*|}
	what=${rest%%|*} data=${rest#*|}
	l0=$(nlines "$L_OK")
	out=$(tp_exec pod11 "$py" "$CL" raw "$V_OK" 80 "$data" 2>&1) || true
	count "$want"
	if "$py" -c '
import json, sys
o = json.loads(sys.argv[1])
assert o["status"] == int(sys.argv[2]) and o["connection_close"] and o["closed"] in ("eof", "reset"), o' "$out" "$want" 2>/dev/null &&
		[ "$(nlines "$L_OK")" = "$l0" ]; then
		ok "n. $what on an HTTP port: $want, Connection: close, closed, nothing upstream"
	else
		bad "n. $what: want $want + close and nothing upstream, got $out, upstream $l0 -> $(nlines "$L_OK")"
	fi
done

# ---- o. rewrite, redirect, directResponse --------------------------------------------------------
l0=$(nlines "$L_OK")
r=$(req -H 'x-case: rewrite' "http://$V_OK/old/a/b?q=1")
count "${r%% *}"
"$py" - "$L_OK" "$l0" <<'EOF' && ok "o. rewrite: prefix /old/ -> /new/ (query kept), authority -> rewritten.example" || bad "o. rewrite prefix: '$r', $(tail -1 "$L_OK" | cut -c1-300)"
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
o = json.loads(lines[0])
h = {k.lower(): v for k, v in o["headers"]}
assert o["target"] == "/new/a/b?q=1", o["target"]
assert h["host"] == "rewritten.example", h
EOF
l0=$(nlines "$L_OK")
r=$(req -H 'x-case: rewrite-exact' "http://$V_OK/exact?z=2")
count "${r%% *}"
"$py" - "$L_OK" "$l0" <<'EOF' && ok "o. rewrite after an exact uri match: the whole path replaced, the query kept" || bad "o. rewrite exact: '$r', $(tail -1 "$L_OK" | cut -c1-200)"
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
assert json.loads(lines[0])["target"] == "/replaced?z=2", lines
EOF
l0=$(nlines "$L_OK")
hd=$(tp_exec pod11 curl -sS --max-time 5 -D - -o /dev/null -H 'x-case: redirect' "http://$V_OK/x?y=1" | tr -d '\r') || true
count 308
if grep -q '^HTTP/1.1 308' <<<"$hd" && grep -qi '^location: https://other.example:8443/moved$' <<<"$hd" &&
	[ "$(nlines "$L_OK")" = "$l0" ]; then
	ok "o. redirect: 308, Location https://other.example:8443/moved (scheme, authority, port, uri, redirectCode), nothing upstream"
else
	bad "o. redirect: $hd"
fi
hd=$(tp_exec pod11 curl -sS --max-time 5 -D - -o /dev/null -H 'x-case: redirect-default' -H 'Host: ok.example:8080' "http://$V_OK/x" | tr -d '\r') || true
count 301
grep -q '^HTTP/1.1 301' <<<"$hd" && grep -qi '^location: http://ok.example:8080/elsewhere$' <<<"$hd" &&
	ok "o. redirect defaults: 301, the request's Host, http" || bad "o. redirect defaults: $hd"
l0=$(nlines "$L_OK")
r=$(req -H 'x-case: direct' "http://$V_OK/d")
count "${r%% *}"
read -r code _ body <<<"$r"
[ "$code" = 418 ] && [ "$body" = "I am a teapot" ] && [ "$(nlines "$L_OK")" = "$l0" ] &&
	ok "o. directResponse: 418 with its body string, nothing upstream" ||
	bad "o. directResponse: '$r', upstream $l0 -> $(nlines "$L_OK")"

# ---- p. a large chunked upload streams with bounded memory ---------------------------------------
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$TM_PID_A/status"; }
rss0=$(rss)
l0=$(nlines "$L_OK")
t0=$(date +%s.%N)
r=$(head -c 1073741824 /dev/zero | tp_exec pod11 curl -sS --max-time 120 -o - -w '\n%{http_code}' -T - "http://$V_OK/big" 2>&1 | tail -1) || true
count "$r"
rss1=$(rss)
"$py" - "$L_OK" "$l0" <<'EOF' && ok "p. a 1 GiB chunked upload reached the upstream whole ($(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s)" || bad "p. 1 GiB upload: '$r', $(tail -1 "$L_OK" | cut -c1-200)"
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
o = json.loads(lines[0])
assert o["target"] == "/big" and o["body_len"] == 1073741824, o
EOF
# the body went through in 64 KiB steps: node1's sluiced did not grow by
# anything like the body (ASan's quarantine and the relays' bulk buffers,
# up to 32 MiB process-wide, included)
grow=$(((rss1 - rss0) / 1024))
[ "$grow" -lt 64 ] && ok "p. node1's sluiced grew by $grow MiB during it (bound 64 MiB)" ||
	bad "p. node1's sluiced grew by $grow MiB during a 1 GiB upload"

# ---- q. mirror ----------------------------------------------------------------------------------------
# the shadow upstream answers its first request 500 ms late: the original
# must not wait
l0=$(nlines "$L_OK") s0=$(nlines "$L_SHADOW")
head -c 10000 /dev/urandom >"$TP_DIR/mbody"
r=$(req -H 'x-case: mirror' --data-binary "@$TP_DIR/mbody" "http://$V_OK/mirrored")
count "${r%% *}"
read -r code secs _ <<<"$r"
for ((i = 0; i < 30; i++)); do
	[ "$(nlines "$L_SHADOW")" -gt "$s0" ] && break
	sleep 0.1
done
if [ "$code" = 200 ] && awk -v s="$secs" 'BEGIN { exit !(s < 0.4) }' &&
	"$py" - "$L_OK" "$l0" "$L_SHADOW" "$s0" <<'EOF'; then
import json, sys
orig = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]]
shad = [json.loads(l) for l in open(sys.argv[3]).read().splitlines()[int(sys.argv[4]):]]
assert len(orig) == 1 and len(shad) == 1, (orig, shad)
ho = {k.lower(): v for k, v in orig[0]["headers"]}
hs = {k.lower(): v for k, v in shad[0]["headers"]}
assert shad[0]["target"] == "/mirrored" and shad[0]["body_len"] == 10000, shad
assert hs["host"] == ho["host"] + "-shadow", (ho["host"], hs["host"])
EOF
	ok "q. mirror: the copy (body whole, Host with -shadow) reached the shadow upstream; the original answered in ${secs}s, not waiting for it"
else
	bad "q. mirror: '$r', shadow log: $(tail -n +$((s0 + 1)) "$L_SHADOW" | cut -c1-300)"
fi
s0=$(nlines "$L_SHADOW")
m0=$(tm_stat "$TM_SOCK_A" http_mirrored) d0=$(tm_stat "$TM_SOCK_A" http_mirror_dropped)
out=$(tp_exec pod11 "$py" "$CL" keepalive "$V_OK" 80 200 -H 'x-case: mirror50' --path /m50) || true
for ((i = 0; i < 200; i++)); do count 200; done
m=$(($(tm_stat "$TM_SOCK_A" http_mirrored) - m0)) d=$(($(tm_stat "$TM_SOCK_A" http_mirror_dropped) - d0))
# every copy made reaches the shadow upstream
for ((i = 0; i < 50; i++)); do
	[ $(($(nlines "$L_SHADOW") - s0)) -ge "$m" ] && break
	sleep 0.1
done
n=$(($(nlines "$L_SHADOW") - s0))
[ $((m + d)) -ge 79 ] && [ $((m + d)) -le 121 ] && [ "$n" = "$m" ] &&
	ok "q. mirrorPercent 50: $((m + d)) of 200 requests drawn for the mirror (bound 79..121), $m copies made and received, $d over the cap" ||
	bad "q. mirrorPercent 50: $m copies made + $d dropped of 200 (want 79..121 drawn), $n received: $out"

# ---- j. request metrics ------------------------------------------------------------------------------
sleep 0.3
tp_exec node1 curl -sS --max-time 5 http://127.0.0.1:15020/metrics >"$TP_DIR/metrics.txt" ||
	bad "j. no metrics from node1"
if "$here/tools/promtool-check" <"$TP_DIR/metrics.txt" >"$TP_DIR/promtool.out" 2>&1; then
	ok "j. promtool check metrics: clean (but Istio's millisecond name)"
else
	bad "j. promtool: $(head -5 "$TP_DIR/promtool.out")"
fi
total=$(awk '/^istio_requests_total\{/ && /reporter="source"/ { s += $NF } END { print s + 0 }' "$TP_DIR/metrics.txt")
if [ "$total" = "$sent" ]; then
	ok "j. istio_requests_total (reporter source) = $total = requests sent"
else
	bad "j. istio_requests_total (reporter source) = $total, requests sent $sent"
fi
for code in "${!sent_code[@]}"; do
	[ "$code" = 000 ] && continue
	m=$(awk -v c="response_code=\"$code\"" '/^istio_requests_total\{/ && index($0, c) { s += $NF } END { print s + 0 }' "$TP_DIR/metrics.txt")
	[ "$m" = "${sent_code[$code]}" ] && ok "j. response_code $code: $m" ||
		bad "j. response_code $code: metrics $m, sent ${sent_code[$code]}"
done
grep -q '^istio_requests_total{.*response_flags="URX".*} 1$' "$TP_DIR/metrics.txt" &&
	ok "j. the URX request is counted with its flag" || bad "j. no URX series: $(grep URX "$TP_DIR/metrics.txt" | head -2)"
# the destination side reports too (reporter "destination", node2): every
# mirrored copy reached pod26 and was answered 200
tp_exec node2 curl -sS --max-time 5 http://127.0.0.1:15020/metrics >"$TP_DIR/metrics-b.txt" ||
	bad "j. no metrics from node2"
"$here/tools/promtool-check" <"$TP_DIR/metrics-b.txt" >"$TP_DIR/promtool-b.out" 2>&1 ||
	bad "j. promtool on node2: $(head -5 "$TP_DIR/promtool-b.out")"
dshadow=$(awk '/^istio_requests_total\{/ && /reporter="destination"/ && /destination_workload="pod26"/ && /response_code="200"/ { s += $NF } END { print s + 0 }' "$TP_DIR/metrics-b.txt")
[ "$dshadow" = "$(nlines "$L_SHADOW")" ] &&
	ok "j. node2 (reporter destination): $dshadow requests to pod26, as many as it received" ||
	bad "j. node2 reported $dshadow requests to pod26 (reporter destination), pod26 received $(nlines "$L_SHADOW")"
grep -q '^istio_requests_total{reporter="destination",source_workload="pod11",source_workload_namespace="default",source_principal="spiffe://cluster.local/ns/default/sa/client",.*destination_workload="pod23".*response_code="200"' "$TP_DIR/metrics-b.txt" &&
	ok "j. node2's series name the source (pod11, its principal) and the destination (pod23)" ||
	bad "j. no destination-reported series from pod11 to pod23: $(grep -m2 'reporter="destination"' "$TP_DIR/metrics-b.txt")"
grep -q '^istio_request_duration_milliseconds_bucket{' "$TP_DIR/metrics.txt" &&
	ok "j. istio_request_duration_milliseconds is there" || bad "j. no istio_request_duration_milliseconds"

# ---- k. stop --------------------------------------------------------------------------------------------
tm_stop
ok "k. both daemons stopped with exit 0"
[ $failed = 0 ] || { tm_dump_logs; tp_fail "$failed assertion(s) failed"; }
