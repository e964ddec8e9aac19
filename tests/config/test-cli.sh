#!/bin/sh
# sluice check / sluice routes end to end.  Usage: test-cli.sh SLUICE SRCDIR
set -u
sluice=$1
src=$2
fail=0
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT

check() { # description, condition...
	desc=$1
	shift
	if "$@"; then
		echo "ok - $desc"
	else
		echo "not ok - $desc"
		echo "# stdout:"; sed 's/^/#   /' "$out"
		echo "# stderr:"; sed 's/^/#   /' "$err"
		fail=1
	fi
}

"$sluice" check "$src/examples" >"$out" 2>"$err"
check "check examples exits 0" test $? -eq 0
check "check examples prints the summary" grep -Eq \
	'^ok: 12 resources \(VirtualService 1, DestinationRule 2, WorkloadEntry 4, Service 2, PeerAuthentication 1, AuthorizationPolicy 1, Node 1\) generation [0-9a-f]{16}$' "$out"

# the examples show Istio files as users write them: the port is named
# http, so the header match, the timeout and the retries apply per request:
# no warning at all
check "check examples warns about nothing" sh -c "
test \$(grep -c ': warning: ' '$err') -eq 0"

# an http match on a host without an HTTP port cannot apply: warned
"$sluice" check "$src/tests/config/data/no-http-port" >"$out" 2>"$err"
check "check no-http-port exits 0" test $? -eq 0
check "check no-http-port warns at the match" grep -q \
	"no-http-port/mesh.yaml:23:12: spec.http\\[0\\].match: warning: has no effect: no host of this VirtualService has an HTTP port" "$err"
"$sluice" routes --config "$src/tests/config/data/no-http-port" >"$out" 2>"$err"
check "routes no-http-port: the match is (not applied)" grep -Eq \
	'^db\.default\.svc\.cluster\.local +\(not applied\) headers\[x-a\]=exact:"b"' "$out"

# an empty directory (issue 24: qsort(NULL, 0) under UBSan made this exit 1)
empty=$(mktemp -d)
"$sluice" check "$empty" >"$out" 2>"$err"
check "check empty exits 0" test $? -eq 0
check "check empty: ok, 0 resources" grep -Eq '^ok: 0 resources generation e3b0c44298fc1c14$' "$out"
check "check empty warns: no caDir/certDir" grep -q "warning: no Node resource for node .* sets caDir or certDir.*sluiced refuses to run" "$err"
check "check empty warns: no WorkloadEntry" grep -q "warning: no WorkloadEntry: .*sluice reload --allow-empty" "$err"
"$sluice" -o json check "$empty" >"$out" 2>"$err"
check "check -o json empty has both warnings" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] and len(d["warnings"]) == 2, d
assert "caDir" in d["warnings"][0]["message"], d
assert "WorkloadEntry" in d["warnings"][1]["message"], d
' "$out"
rmdir "$empty"

# a Service without clusterIP (issue 25): warned, and shown as not routed
"$sluice" check "$src/tests/config/data/no-vip" >"$out" 2>"$err"
check "check no-vip exits 0" test $? -eq 0
check "check no-vip warns by host" grep -q "spec.clusterIP: warning: Service web.default.svc.cluster.local has no clusterIP" "$err"
"$sluice" routes --config "$src/tests/config/data/no-vip" >"$out" 2>"$err"
check "routes marks the host without VIP" grep -Eq '^web\.default\.svc\.cluster\.local \(no VIP\) +\(not applied\) \*' "$out"
"$sluice" -o json routes --config "$src/tests/config/data/no-vip" >"$out" 2>"$err"
check "routes -o json: vip_known false, match_applied false" python3 -c '
import json, sys
h = json.load(open(sys.argv[1]))["hosts"][0]
assert h["vip_known"] is False and h["routes"][0]["match_applied"] is False, h
' "$out"

"$sluice" check "$src/tests/config/data/bad" >"$out" 2>"$err"
check "check bad exits 1" test $? -eq 1
check "check bad prints file:line:col: path: message" grep -Fqx \
	"$src/tests/config/data/bad/vs.yaml:12:15: spec.http[0].route[1].weight: weights sum to 110, want 100" "$err"
check "check bad prints the count" grep -Fqx "$src/tests/config/data/bad: 1 error" "$err"

"$sluice" -o json check "$src/tests/config/data/bad" >"$out" 2>"$err"
check "check -o json exits 1" test $? -eq 1
check "check -o json has ok false and the error" sh -c \
	"grep -q '\"ok\": false' '$out' && grep -q '\"line\": 12' '$out' && grep -q '\"path\": \"spec.http\\[0\\].route\\[1\\].weight\"' '$out'"

"$sluice" -o json check "$src/examples" >"$out" 2>"$err"
check "check -o json examples" sh -c "grep -q '\"ok\": true' '$out' && grep -q '\"WorkloadEntry\": 4' '$out'"

"$sluice" -o dump routes --config "$src/tests/config/data/canary" my-service >"$out" 2>"$err"
check "routes exits 0" test $? -eq 0
printf '%s\t%s\t%s\t%s\t%s\t%s\n' \
	my-service.default.svc.cluster.local 'headers[x-canary]=exact:"true"' my-service.default.svc.cluster.local v2 100 'my-service-v2-0=198.18.1.3:8080' \
	my-service.default.svc.cluster.local '*' my-service.default.svc.cluster.local v1 90 'my-service-v1-0=198.18.1.2:8080,my-service-v1-1=198.18.2.2:8080' \
	my-service.default.svc.cluster.local '*' my-service.default.svc.cluster.local v2 10 'my-service-v2-0=198.18.1.3:8080' >"$err.want"
check "routes -o dump is the expected table" cmp -s "$out" "$err.want"
rm -f "$err.want"

"$sluice" routes --config "$src/examples" >"$out" 2>"$err"
check "routes table has a header" grep -Eq '^HOST +MATCH +DESTINATION +SUBSET +WEIGHT +ENDPOINTS$' "$out"

"$sluice" -o json routes --config "$src/examples" >"$out" 2>"$err"
check "routes -o json is valid JSON with both hosts" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
hosts = [h["host"] for h in d["hosts"]]
assert hosts == ["productpage.default.svc.cluster.local", "reviews.default.svc.cluster.local"], hosts
r = d["hosts"][1]["routes"]
assert [x["weight"] for x in r[1]["destinations"]] == [90, 10]
assert [e["address"] for e in r[0]["destinations"][0]["endpoints"]] == ["198.18.2.21"]
# an http match on a port named http is evaluated per request
assert r[0]["kind"] == "http" and r[0]["match"] != "*" and r[0]["match_applied"] is True, r[0]
assert r[1]["match"] == "*" and r[1]["match_applied"] is True, r[1]
' "$out"

"$sluice" routes --config "$src/examples" >"$out" 2>"$err"
check "routes table: an applied http match is not marked" sh -c "
grep -q '^reviews.default.svc.cluster.local *headers\\[x-canary\\]=exact:' '$out' &&
! grep -q 'not applied' '$out'"

"$sluice" routes --config "$src/examples" nosuch >"$out" 2>"$err"
check "routes unknown host exits 1" test $? -eq 1

"$sluice" check >"$out" 2>"$err"
check "check without DIR is a usage error" test $? -eq 2

exit $fail
