/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the traffic-management and reload tests: a fake clock,
 * temporary config directories, the bookinfo canary config. */
#ifndef SL_TM_TEST_H
#define SL_TM_TEST_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#define TM_SEC 1000000000ull
#define TM_MS 1000000ull

static uint64_t tm_now_ns = 1000 * TM_SEC;

static inline uint64_t tm_clock(void *arg)
{
	(void)arg;
	return tm_now_ns;
}

static int tm_rm_one(const char *p, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void tm_rmrf(char *dir)
{
	if (!dir)
		return;
	nftw(dir, tm_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static inline char *tm_mkdtemp(void)
{
	char *dir = strdup("/tmp/sl-tmtest-XXXXXX");

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	return dir;
}

/* write @content to @dir/@name directly (open, write, close) */
static inline void tm_write(const char *dir, const char *name,
			    const char *content)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, strlen(content), f),
			 strlen(content));
	assert_int_equal(fclose(f), 0);
	free(path);
}

/* editor style: write a temporary, rename it over @name */
static inline void tm_write_rename(const char *dir, const char *name,
				   const char *content)
{
	char *tmp = NULL, *path = NULL, *tname = NULL;

	assert_true(asprintf(&tname, ".%s.swp", name) > 0);
	tm_write(dir, tname, content);
	assert_true(asprintf(&tmp, "%s/%s", dir, tname) > 0);
	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	assert_int_equal(rename(tmp, path), 0);
	free(tname);
	free(tmp);
	free(path);
}

/* The foundation issue's canary: reviews v1 (two pods) and v2 (one pod),
 * default route 90/10, DestinationRule with a traffic policy. */
static const char tm_canary_services[] =
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata: {name: reviews, namespace: default}\n"
	"spec:\n"
	"  clusterIP: 198.19.0.20\n"
	"  selector: {app: reviews}\n"
	"  ports:\n"
	"  - {name: http, port: 9080, targetPort: 9080, protocol: TCP}\n";

static const char tm_canary_workloads[] =
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: reviews-v1-0, namespace: default}\n"
	"spec:\n"
	"  address: 198.18.1.20\n"
	"  labels: {app: reviews, version: v1}\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: reviews-v1-1, namespace: default}\n"
	"spec:\n"
	"  address: 198.18.2.20\n"
	"  labels: {app: reviews, version: v1}\n"
	"---\n"
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: reviews-v2-0, namespace: default}\n"
	"spec:\n"
	"  address: 198.18.2.21\n"
	"  labels: {app: reviews, version: v2}\n";

static const char tm_canary_dr[] =
	"apiVersion: networking.istio.io/v1\n"
	"kind: DestinationRule\n"
	"metadata: {name: reviews, namespace: default}\n"
	"spec:\n"
	"  host: reviews\n"
	"  trafficPolicy:\n"
	"    loadBalancer: {simple: ROUND_ROBIN}\n"
	"    connectionPool:\n"
	"      tcp: {maxConnections: 1000, connectTimeout: 2s, idleTimeout: 90s}\n"
	"      http: {idleTimeout: 30s}\n"
	"    outlierDetection:\n"
	"      consecutive5xxErrors: 5\n"
	"      consecutiveGatewayErrors: 3\n"
	"      interval: 10s\n"
	"      baseEjectionTime: 30s\n"
	"      maxEjectionPercent: 50\n"
	"  subsets:\n"
	"  - name: v1\n"
	"    labels: {version: v1}\n"
	"  - name: v2\n"
	"    labels: {version: v2}\n"
	"    trafficPolicy:\n"
	"      loadBalancer: {simple: RANDOM}\n"
	"      connectionPool:\n"
	"        tcp: {maxConnections: 100}\n";

#define TM_CANARY_VS(w1, w2)                                                   \
	"apiVersion: networking.istio.io/v1beta1\n"                            \
	"kind: VirtualService\n"                                               \
	"metadata: {name: reviews, namespace: default}\n"                      \
	"spec:\n"                                                              \
	"  hosts: [reviews]\n"                                                 \
	"  http:\n"                                                            \
	"  - match:\n"                                                         \
	"    - headers:\n"                                                     \
	"        x-canary: {exact: \"true\"}\n"                                \
	"    route:\n"                                                         \
	"    - destination: {host: reviews, subset: v2}\n"                     \
	"  - route:\n"                                                         \
	"    - destination: {host: reviews, subset: v1}\n"                     \
	"      weight: " #w1 "\n"                                              \
	"    - destination: {host: reviews, subset: v2}\n"                     \
	"      weight: " #w2 "\n"                                              \
	"    retries: {attempts: 3, perTryTimeout: 1500ms}\n"

/* a new directory with the canary config at weights 90/10 */
static inline char *tm_canary_dir(void)
{
	char *dir = tm_mkdtemp();

	tm_write(dir, "services.yaml", tm_canary_services);
	tm_write(dir, "workloads.yaml", tm_canary_workloads);
	tm_write(dir, "dr.yaml", tm_canary_dr);
	tm_write(dir, "vs.yaml", TM_CANARY_VS(90, 10));
	return dir;
}

#endif /* SL_TM_TEST_H */
