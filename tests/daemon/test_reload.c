/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of daemon/control/reload.c: inotify + debounce, editor-style rename,
 * the Kubernetes ConfigMap "..data" symlink swap, broken files keeping the
 * old snapshot (file:line reported), forced reloads, and the last good
 * copy used at start.
 */
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>

#include "log.h"
#include "policy_query.h"
#include "reload.h"
#include "reload_watch.h"
#include "tm_status.h"
#include "tm_test.h"

static const char svc_a[] =
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata: {name: web, namespace: default}\n"
	"spec:\n"
	"  clusterIP: 198.19.1.1\n"
	"  selector: {app: web}\n"
	"  ports:\n"
	"  - {name: http, port: 80, targetPort: 8080}\n";

/* the same service with a second port: another generation */
static const char svc_b[] =
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata: {name: web, namespace: default}\n"
	"spec:\n"
	"  clusterIP: 198.19.1.1\n"
	"  selector: {app: web}\n"
	"  ports:\n"
	"  - {name: http, port: 80, targetPort: 8080}\n"
	"  - {name: alt, port: 81, targetPort: 8081}\n";

/* line 4 has an unknown field */
static const char svc_broken[] =
	"apiVersion: v1\n"
	"kind: Service\n"
	"metadata: {name: web, namespace: default}\n"
	"bogus: 1\n"
	"spec:\n"
	"  clusterIP: 198.19.1.1\n";

static const char wl[] =
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: web-0, namespace: default}\n"
	"spec:\n"
	"  address: 198.18.3.1\n"
	"  labels: {app: web}\n";

static const char wl2[] =
	"apiVersion: networking.istio.io/v1\n"
	"kind: WorkloadEntry\n"
	"metadata: {name: web-1, namespace: default}\n"
	"spec:\n"
	"  address: 198.18.3.2\n"
	"  labels: {app: web}\n";

static const char node_ca[] =
	"apiVersion: sluice.io/v1alpha1\n"
	"kind: Node\n"
	"metadata: {name: defaults}\n"
	"spec: {caDir: /nonexistent/ca}\n";

static const char node_noca[] =
	"apiVersion: sluice.io/v1alpha1\n"
	"kind: Node\n"
	"metadata: {name: defaults}\n"
	"spec: {trustDomain: cluster.local}\n";

struct rt {
	char *dir, *state;
	struct sl_reload *r;
};

static int rt_setup(void **state)
{
	struct rt *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	tm_now_ns = 1000 * TM_SEC;
	t->dir = tm_mkdtemp();
	t->state = tm_mkdtemp();
	*state = t;
	return 0;
}

static int rt_teardown(void **state)
{
	struct rt *t = *state;

	sl_reload_free(t->r);
	tm_rmrf(t->dir);
	tm_rmrf(t->state);
	free(t);
	return 0;
}

static void rt_start(struct rt *t, bool persist)
{
	struct sl_reload_opts o = {
		.dir = t->dir,
		.state_dir = persist ? t->state : NULL,
		.clock = tm_clock,
	};

	assert_int_equal(sl_reload_new(&o, &t->r), 0);
}

static const char *rt_gen(struct rt *t, char *buf)
{
	struct sl_reload_status st;

	sl_reload_status(t->r, &st);
	memcpy(buf, st.generation, sizeof(st.generation));
	return buf;
}

/* wait (briefly) for the inotify fd, then process it */
static int rt_events(struct rt *t)
{
	struct pollfd p = { .fd = sl_reload_fd(t->r), .events = POLLIN };

	assert_true(poll(&p, 1, 1000) >= 0);
	return sl_reload_process(t->r);
}

/* process events, check the debounce, then tick past it */
static int rt_settle(struct rt *t)
{
	uint64_t dl;

	assert_int_equal(rt_events(t), 1);
	dl = sl_reload_deadline(t->r);
	assert_true(dl == tm_now_ns + SL_RELOAD_DEBOUNCE_NS);
	tm_now_ns = dl - 1;
	assert_int_equal(sl_reload_tick(t->r), 0); /* not yet */
	tm_now_ns = dl;
	return sl_reload_tick(t->r);
}

static bool rt_has_port81(struct rt *t)
{
	const struct sl_endpoint *eps;
	struct sl_config *cfg = sl_reload_get(t->r);
	struct sl_ip vip;
	size_t n;
	int ret;

	assert_int_equal(sl_ip_parse("198.19.1.1", &vip), 0);
	ret = sl_config_resolve(cfg, NULL, &vip, 81, &eps, &n);
	sl_config_put(cfg);
	return ret == 0;
}

static void test_edit_after_debounce(void **state)
{
	struct rt *t = *state;
	char g1[17], g2[17];
	struct sl_config *old;
	struct sl_reload_status st;
	uint64_t dl;

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, false);
	rt_gen(t, g1);
	assert_int_equal(sl_reload_deadline(t->r), 0);
	assert_int_equal(sl_reload_process(t->r), 0); /* nothing yet */
	old = sl_reload_get(t->r);
	assert_false(rt_has_port81(t));

	/* in-place write; a second event 150 ms later moves the deadline */
	tm_write(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_events(t), 1);
	dl = sl_reload_deadline(t->r);
	assert_true(dl == tm_now_ns + SL_RELOAD_DEBOUNCE_NS);
	tm_now_ns += 150 * TM_MS;
	assert_int_equal(sl_reload_tick(t->r), 0);
	tm_write(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_settle(t), 1);
	assert_int_equal(sl_reload_deadline(t->r), 0);
	assert_string_not_equal(rt_gen(t, g2), g1);
	assert_true(rt_has_port81(t));
	/* a flow that took the old generation still has it, intact */
	assert_string_equal(sl_config_generation(old), g1);
	sl_config_put(old);
	sl_reload_status(t->r, &st);
	assert_int_equal(st.reloads, 1);
	assert_int_equal(st.failures, 0);
	assert_false(st.from_last_good);

	/* touching a file without changing it: no new generation */
	tm_write(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_settle(t), 0);
	assert_string_equal(rt_gen(t, g1), g2);
}

/* a stream of events less than the debounce apart cannot put the reload
 * off forever: it happens SL_RELOAD_MAX_DELAY_NS after the first */
static void test_stream_cannot_starve(void **state)
{
	struct rt *t = *state;
	uint64_t first;
	char g1[17], g2[17];

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, false);
	rt_gen(t, g1);
	tm_write(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_events(t), 1);
	first = tm_now_ns;
	for (int i = 0; i < 20; i++) {
		tm_now_ns += 150 * TM_MS;
		if (tm_now_ns >= first + SL_RELOAD_MAX_DELAY_NS)
			break;
		assert_int_equal(sl_reload_tick(t->r), 0);
		tm_write(t->dir, "svc.yaml", i % 2 ? svc_b : svc_a);
		assert_int_equal(rt_events(t), 1);
		assert_true(sl_reload_deadline(t->r) <=
			    first + SL_RELOAD_MAX_DELAY_NS);
	}
	tm_now_ns = first + SL_RELOAD_MAX_DELAY_NS;
	assert_int_equal(sl_reload_tick(t->r), 1);
	assert_string_not_equal(rt_gen(t, g2), g1);
	assert_int_equal(sl_reload_deadline(t->r), 0);
}

static void test_editor_rename(void **state)
{
	struct rt *t = *state;
	char g1[17], g2[17];

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	tm_write(t->dir, "wl2.yaml", wl2);
	rt_start(t, false);
	rt_gen(t, g1);
	tm_write_rename(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_settle(t), 1);
	assert_string_not_equal(rt_gen(t, g2), g1);
	assert_true(rt_has_port81(t));
	/* removing a file is a change too */
	{
		char p[PATH_MAX];

		snprintf(p, sizeof(p), "%s/wl.yaml", t->dir);
		assert_int_equal(unlink(p), 0);
	}
	assert_int_equal(rt_settle(t), 1);
	assert_string_not_equal(rt_gen(t, g1), g2);
}

static void rt_path(char *buf, const struct rt *t, const char *name)
{
	snprintf(buf, PATH_MAX, "%s/%s", t->dir, name);
}

/* the layout kubelet gives a ConfigMap volume */
static void test_configmap_data_swap(void **state)
{
	struct rt *t = *state;
	char p[PATH_MAX], q[PATH_MAX], g1[17], g2[17];

	rt_path(p, t, "..2026_11_24_10_00_00.000000001");
	assert_int_equal(mkdir(p, 0755), 0);
	tm_write(p, "svc.yaml", svc_a);
	tm_write(p, "wl.yaml", wl);
	rt_path(p, t, "..data");
	assert_int_equal(symlink("..2026_11_24_10_00_00.000000001", p), 0);
	rt_path(p, t, "svc.yaml");
	assert_int_equal(symlink("..data/svc.yaml", p), 0);
	rt_path(p, t, "wl.yaml");
	assert_int_equal(symlink("..data/wl.yaml", p), 0);
	rt_start(t, false);
	rt_gen(t, g1);
	assert_false(rt_has_port81(t));

	/* kubelet writes the new timestamped dir first ... */
	rt_path(p, t, "..2026_11_24_10_05_00.000000002");
	assert_int_equal(mkdir(p, 0755), 0);
	tm_write(p, "svc.yaml", svc_b);
	tm_write(p, "wl.yaml", wl);
	assert_int_equal(rt_settle(t), 0); /* ..data not swapped yet */
	assert_string_equal(rt_gen(t, g2), g1);

	/* ... then swaps ..data: symlink ..data_tmp, rename over ..data */
	rt_path(p, t, "..data_tmp");
	assert_int_equal(symlink("..2026_11_24_10_05_00.000000002", p), 0);
	rt_path(q, t, "..data");
	assert_int_equal(rename(p, q), 0);
	assert_int_equal(rt_settle(t), 1);
	assert_string_not_equal(rt_gen(t, g2), g1);
	assert_true(rt_has_port81(t));
	/* and removes the old dir: no change */
	rt_path(p, t, "..2026_11_24_10_00_00.000000001/svc.yaml");
	assert_int_equal(unlink(p), 0);
	rt_path(p, t, "..2026_11_24_10_00_00.000000001/wl.yaml");
	assert_int_equal(unlink(p), 0);
	rt_path(p, t, "..2026_11_24_10_00_00.000000001");
	assert_int_equal(rmdir(p), 0);
	assert_int_equal(rt_settle(t), 0);
	assert_string_equal(rt_gen(t, g1), g2);
}

static void test_broken_keeps_old(void **state)
{
	struct rt *t = *state;
	struct sl_reload_status st;
	char g1[17], g2[17], want[PATH_MAX];

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, false);
	rt_gen(t, g1);
	tm_write_rename(t->dir, "svc.yaml", svc_broken);
	assert_int_equal(rt_settle(t), -EINVAL);
	assert_string_equal(rt_gen(t, g2), g1);
	sl_reload_status(t->r, &st);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.reloads, 0);
	assert_true(st.last_error_time > 0);
	assert_true(st.last_error_count >= 1);
	snprintf(want, sizeof(want), "%s/svc.yaml:4:", t->dir);
	if (!strstr(st.last_error, want))
		fail_msg("last error \"%s\" lacks \"%s\"", st.last_error, want);
	/* the old snapshot still serves */
	{
		struct sl_config *cfg = sl_reload_get(t->r);

		assert_non_null(cfg);
		assert_string_equal(sl_config_generation(cfg), g1);
		sl_config_put(cfg);
	}
	/* fixing it recovers; the error stays remembered */
	tm_write_rename(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_settle(t), 1);
	sl_reload_status(t->r, &st);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.reloads, 1);
	assert_string_not_equal(st.generation, g1);
}

static void test_forced_reload(void **state)
{
	struct rt *t = *state;
	char g1[17], g2[17];

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, false);
	rt_gen(t, g1);
	/* nothing changed: a forced reload keeps the generation */
	assert_int_equal(sl_reload_now(t->r, 0), 0);
	assert_string_equal(rt_gen(t, g2), g1);
	/* change without letting the events in: SIGHUP still picks it up */
	tm_write(t->dir, "svc.yaml", svc_b);
	assert_int_equal(sl_reload_now(t->r, 0), 1);
	assert_string_not_equal(rt_gen(t, g2), g1);
	assert_int_equal(sl_reload_deadline(t->r), 0);
}

/* lines of @path that contain @needle */
static int count_lines(const char *path, const char *needle)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/*
 * Warnings are logged when they change, not again with every generation
 * (the Kubernetes source makes one per pod change): the same warning
 * after an unrelated change is one info line
 */
static void test_warnings_logged_when_they_change(void **state)
{
	static const char svc_warn[] =
		"apiVersion: v1\nkind: Service\n"
		"metadata: {name: web, namespace: default}\n"
		"spec:\n  clusterIP: 198.19.1.1\n  selector: {app: web}\n"
		"  ports:\n  - {name: http, port: 80, nodePort: 30080}\n";
	static const char svc_warn2[] =
		"apiVersion: v1\nkind: Service\n"
		"metadata: {name: web, namespace: default}\n"
		"spec:\n  clusterIP: 198.19.1.1\n  selector: {app: web}\n"
		"  ports:\n  - {name: http, port: 80, nodePort: 30080}\n"
		"  - {name: alt, port: 81, nodePort: 30081}\n";
	struct rt *t = *state;
	char log[PATH_MAX], g1[17], g2[17];
	int saved = dup(2), fd;

	snprintf(log, sizeof(log), "%s/../stderr.log", t->dir);
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	sl_log_set_level(SL_LOG_INFO);
	dup2(fd, 2);
	tm_write(t->dir, "svc.yaml", svc_warn);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, false);
	rt_gen(t, g1);
	/* another workload: a new generation, the same warning */
	tm_write(t->dir, "wl2.yaml", wl2);
	assert_int_equal(sl_reload_now(t->r, 0), 1);
	assert_string_not_equal(rt_gen(t, g2), g1);
	/* a second warning: logged, both */
	tm_write(t->dir, "svc.yaml", svc_warn2);
	assert_int_equal(sl_reload_now(t->r, 0), 1);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	sl_log_set_level(SL_LOG_ERR);
	if (getenv("SL_TEST_SHOW_LOG")) {
		char cmd[PATH_MAX + 8];

		snprintf(cmd, sizeof(cmd), "cat %s", log);
		(void)!system(cmd);
	}
	assert_int_equal(count_lines(log, "spec.ports[0].nodePort: has no effect"), 2);
	assert_int_equal(count_lines(log, "spec.ports[1].nodePort: has no effect"), 1);
	assert_int_equal(count_lines(log, "the same 1 warning as before"), 1);
	unlink(log);
}

static void rt_read_link(struct rt *t, char *out)
{
	char p[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/last-good", t->state);
	n = readlink(p, out, PATH_MAX - 1);
	assert_true(n > 0);
	out[n] = 0;
}

static void test_last_good(void **state)
{
	struct rt *t = *state;
	struct sl_reload_status st;
	char g1[17], g2[17], link[PATH_MAX], want[PATH_MAX], p[PATH_MAX];
	struct stat stb;

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	tm_write(t->dir, "README.txt", "not config");
	rt_start(t, true);
	rt_gen(t, g1);
	rt_read_link(t, link);
	snprintf(want, sizeof(want), "gen-%s", g1);
	assert_string_equal(link, want);
	snprintf(p, sizeof(p), "%s/last-good/svc.yaml", t->state);
	assert_int_equal(stat(p, &stb), 0);
	snprintf(p, sizeof(p), "%s/last-good/README.txt", t->state);
	assert_int_equal(stat(p, &stb), -1);

	/* a successful reload moves last-good and prunes the old copy */
	tm_write_rename(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_settle(t), 1);
	rt_gen(t, g2);
	rt_read_link(t, link);
	snprintf(want, sizeof(want), "gen-%s", g2);
	assert_string_equal(link, want);
	snprintf(p, sizeof(p), "%s/gen-%s", t->state, g1);
	assert_int_equal(stat(p, &stb), -1);

	/* a broken reload leaves it alone */
	tm_write_rename(t->dir, "svc.yaml", svc_broken);
	assert_int_equal(rt_settle(t), -EINVAL);
	rt_read_link(t, link);
	assert_string_equal(link, want);

	/* restart with the broken directory: the last good copy is used */
	sl_reload_free(t->r);
	t->r = NULL;
	rt_start(t, true);
	sl_reload_status(t->r, &st);
	assert_true(st.from_last_good);
	assert_string_equal(st.generation, g2);
	assert_int_equal(st.failures, 1);
	assert_non_null(strstr(st.last_error, "svc.yaml:4:"));
	assert_true(rt_has_port81(t));

	/* fixed with the same content as the last good: not last-good now */
	tm_write_rename(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_settle(t), 0);
	sl_reload_status(t->r, &st);
	assert_false(st.from_last_good);
	assert_string_equal(st.generation, g2);
}

static void test_start_fails_without_last_good(void **state)
{
	struct rt *t = *state;
	struct sl_reload_opts o = {
		.dir = t->dir,
		.state_dir = t->state,
		.clock = tm_clock,
	};

	tm_write(t->dir, "svc.yaml", svc_broken);
	assert_int_equal(sl_reload_new(&o, &t->r), -EINVAL);
	assert_null(t->r);
	/* a missing directory is an error too */
	o.dir = "/nonexistent/sluice-test";
	assert_true(sl_reload_new(&o, &t->r) < 0);
	assert_null(t->r);
	sl_reload_free(NULL);
}

static void rt_unlink(struct rt *t, const char *name)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s/%s", t->dir, name);
	assert_int_equal(unlink(p), 0);
}

static void rt_last_good_gen(struct rt *t, char *buf)
{
	char p[PATH_MAX], target[PATH_MAX];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/last-good", t->state);
	n = readlink(p, target, sizeof(target) - 1);
	assert_true(n > 4);
	target[n] = '\0';
	assert_memory_equal(target, "gen-", 4);
	assert_int_equal(strlen(target + 4), 16);
	memcpy(buf, target + 4, 17);
}

/*
 * Issue 24: an emptied directory (a non-atomic ConfigMap update, an rm of
 * the wrong glob) is a failed reload: the running generation and the last
 * good copy stay, the refusal is counted, and only `sluice reload
 * --allow-empty` (SL_RELOAD_ALLOW_EMPTY) accepts it.
 */
static void test_emptied_dir_refused(void **state)
{
	struct rt *t = *state;
	struct sl_reload_status st;
	char g1[17], g2[17], lg[17];

	tm_write(t->dir, "node.yaml", node_ca);
	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, true);
	rt_gen(t, g1);
	rt_last_good_gen(t, lg);
	assert_string_equal(lg, g1);

	rt_unlink(t, "wl.yaml");
	rt_unlink(t, "svc.yaml");
	rt_unlink(t, "node.yaml");
	assert_int_equal(rt_settle(t), -ECANCELED);
	assert_string_equal(rt_gen(t, g2), g1);
	sl_reload_status(t->r, &st);
	assert_int_equal(st.failures, 1);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.reloads, 0);
	assert_non_null(strstr(st.last_error, "every workload (1 -> 0)"));
	assert_non_null(strstr(st.last_error, "--allow-empty"));
	rt_last_good_gen(t, lg);
	assert_string_equal(lg, g1); /* last good not overwritten */

	/* the Node alone going away is refused too */
	tm_write(t->dir, "wl.yaml", wl);
	assert_int_equal(sl_reload_now(t->r, 0), -ECANCELED);
	sl_reload_status(t->r, &st);
	assert_non_null(strstr(st.last_error, "Node resource"));
	assert_non_null(strstr(st.last_error, "node.yaml:1"));
	assert_string_equal(rt_gen(t, g2), g1);

	/* the operator confirms: accepted and persisted */
	rt_unlink(t, "wl.yaml");
	assert_int_equal(sl_reload_now(t->r, SL_RELOAD_ALLOW_EMPTY), 1);
	assert_string_not_equal(rt_gen(t, g2), g1);
	rt_last_good_gen(t, lg);
	assert_string_equal(lg, g2);
	sl_reload_status(t->r, &st);
	assert_int_equal(st.refused, 2);
	assert_int_equal(st.reloads, 1);
}

/* sluiced (require_usable): no caDir/certDir is never swapped in */
static void test_unusable_refused(void **state)
{
	struct rt *t = *state;
	struct sl_reload_opts o = {
		.dir = t->dir,
		.state_dir = t->state,
		.clock = tm_clock,
		.require_usable = true,
	};
	struct sl_reload_status st;
	char g1[17], g2[17];

	/* no usable config and no last good copy: refuse to start */
	tm_write(t->dir, "node.yaml", node_noca);
	tm_write(t->dir, "wl.yaml", wl);
	assert_int_equal(sl_reload_new(&o, &t->r), -EINVAL);
	assert_null(t->r);

	tm_write(t->dir, "node.yaml", node_ca);
	assert_int_equal(sl_reload_new(&o, &t->r), 0);
	rt_gen(t, g1);
	tm_write(t->dir, "node.yaml", node_noca);
	assert_int_equal(sl_reload_now(t->r, SL_RELOAD_ALLOW_EMPTY), -EINVAL);
	sl_reload_status(t->r, &st);
	assert_non_null(strstr(st.last_error, "sets caDir or certDir"));
	assert_int_equal(st.refused, 1);
	assert_string_equal(rt_gen(t, g2), g1);

	/* a restart on that directory falls back to the last good copy */
	sl_reload_free(t->r);
	t->r = NULL;
	assert_int_equal(sl_reload_new(&o, &t->r), 0);
	sl_reload_status(t->r, &st);
	assert_true(st.from_last_good);
	assert_string_equal(st.generation, g1);
}

/* a start on an emptied directory runs on the last good copy */
static void test_start_empty_uses_last_good(void **state)
{
	struct rt *t = *state;
	struct sl_reload_opts o = {
		.dir = t->dir,
		.state_dir = t->state,
		.clock = tm_clock,
		.require_usable = true,
	};
	struct sl_reload_status st;
	char g1[17];

	tm_write(t->dir, "node.yaml", node_ca);
	tm_write(t->dir, "wl.yaml", wl);
	assert_int_equal(sl_reload_new(&o, &t->r), 0);
	rt_gen(t, g1);
	sl_reload_free(t->r);
	t->r = NULL;
	rt_unlink(t, "wl.yaml");
	rt_unlink(t, "node.yaml");
	assert_int_equal(sl_reload_new(&o, &t->r), 0);
	sl_reload_status(t->r, &st);
	assert_true(st.from_last_good);
	assert_string_equal(st.generation, g1);
	assert_int_equal(st.refused, 1);
	assert_non_null(strstr(st.last_error, "every workload (1 -> 0)"));

	/* Node kept, workloads gone: refused by the guard at start too */
	sl_reload_free(t->r);
	t->r = NULL;
	tm_write(t->dir, "node.yaml", node_ca);
	assert_int_equal(sl_reload_new(&o, &t->r), 0);
	sl_reload_status(t->r, &st);
	assert_true(st.from_last_good);
	assert_string_equal(st.generation, g1);
	assert_int_equal(st.refused, 1);
}

/* `mv cfg old; mkdir cfg`: live reload goes on in the new directory */
static void test_dir_replaced(void **state)
{
	struct rt *t = *state;
	struct sl_reload_status st;
	char moved[PATH_MAX], g1[17], g2[17];

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, false);
	rt_gen(t, g1);
	snprintf(moved, sizeof(moved), "%s.old", t->dir);
	assert_int_equal(rename(t->dir, moved), 0);
	assert_int_equal(mkdir(t->dir, 0700), 0);
	/* empty: refused, and the watch now follows the new directory */
	assert_int_equal(rt_settle(t), -ECANCELED);
	sl_reload_status(t->r, &st);
	assert_true(st.watching);
	tm_write(t->dir, "wl.yaml", wl);
	tm_write(t->dir, "svc.yaml", svc_b);
	assert_int_equal(rt_settle(t), 1);
	assert_string_not_equal(rt_gen(t, g2), g1);
	assert_true(rt_has_port81(t));
	/* the moved-away copy is no longer followed */
	tm_write(moved, "svc.yaml", svc_a);
	assert_int_equal(sl_reload_process(t->r), 0);
	assert_int_equal(sl_reload_deadline(t->r), 0);
	tm_rmrf(strdup(moved));
}

/* readers take and drop references while the snapshot is swapped */
struct rt_reader {
	struct sl_reload *r;
	atomic_bool *stop;
	unsigned long reads;
};

static void *rt_reader_fn(void *arg)
{
	struct rt_reader *rd = arg;

	while (!atomic_load(rd->stop)) {
		struct sl_config *cfg = sl_reload_get(rd->r);

		assert_non_null(cfg);
		assert_int_equal(strlen(sl_config_generation(cfg)), 16);
		sl_config_put(cfg);
		rd->reads++;
	}
	return NULL;
}

static void test_concurrent_get(void **state)
{
	struct rt *t = *state;
	struct rt_reader rd[2];
	atomic_bool stop = false;
	pthread_t th[2];

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, false);
	for (int i = 0; i < 2; i++) {
		rd[i] = (struct rt_reader){ .r = t->r, .stop = &stop };
		assert_int_equal(pthread_create(&th[i], NULL, rt_reader_fn,
						&rd[i]), 0);
	}
	for (int k = 0; k < 40; k++) {
		tm_write(t->dir, "svc.yaml", k % 2 ? svc_a : svc_b);
		assert_int_equal(sl_reload_now(t->r, 0), 1);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_true(rd[i].reads > 0);
	}
}

static void test_status_json(void **state)
{
	struct rt *t = *state;
	struct sl_reload_status st;
	struct sl_health *h;
	struct sl_json j;
	char *buf = NULL, want[PATH_MAX + 64];
	size_t len = 0;
	FILE *out;

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	rt_start(t, false);
	tm_write(t->dir, "svc.yaml", svc_broken);
	assert_int_equal(sl_reload_now(t->r, 0), -EINVAL);
	sl_reload_status(t->r, &st);
	assert_true(st.last_error_time > 0);
	assert_int_equal(sl_health_new(tm_clock, NULL, &h), 0);
	sl_health_count_retry(h);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	sl_json_init(&j, out, false);
	sl_json_obj_begin(&j);
	sl_tm_status_json(&j, t->r, h);
	sl_json_obj_end(&j);
	assert_int_equal(fclose(out), 0);
	assert_non_null(strstr(buf, "\"lb_retries\":1"));
	assert_non_null(strstr(buf, "\"lb_ejections\":0"));
	assert_non_null(strstr(buf, "\"config_from_last_good\":false"));
	assert_non_null(strstr(buf, "\"config_reloads\":0"));
	snprintf(want, sizeof(want), "\"config_last_error_time\":%lld",
		 (long long)st.last_error_time);
	if (!strstr(buf, want))
		fail_msg("%s lacks %s", buf, want);
	free(buf);
	sl_health_free(h);
}

/* ---- on a worker's io_uring (reload_watch.c) ----------------------------- */

struct rt_watch {
	struct sl_reload *r;
	struct sl_reload_watch *rw;
	atomic_int swaps;
};

static int rt_watch_start(struct sl_worker *w, void *arg)
{
	struct rt_watch *x = arg;

	return sl_reload_watch_start(w, x->r, &x->rw);
}

static void rt_watch_stop(struct sl_worker *w, void *arg)
{
	struct rt_watch *x = arg;

	(void)w;
	sl_reload_watch_stop(x->rw);
}

static void rt_on_swap(void *arg, struct sl_config *cfg)
{
	struct rt_watch *x = arg;

	assert_non_null(cfg);
	atomic_fetch_add(&x->swaps, 1);
}

static void test_watch_on_worker(void **state)
{
	struct rt *t = *state;
	struct rt_watch x = { 0 };
	struct sl_worker_hooks hooks = {
		.start = rt_watch_start,
		.stop = rt_watch_stop,
		.arg = &x,
	};
	struct sl_reload_opts o = {
		.dir = t->dir,
		.debounce_ns = 50 * TM_MS, /* the real clock here */
		.on_swap = rt_on_swap,
		.on_swap_arg = &x,
	};
	struct sl_worker **ws;
	char g1[17], g2[17];

	tm_write(t->dir, "svc.yaml", svc_a);
	tm_write(t->dir, "wl.yaml", wl);
	assert_int_equal(sl_reload_new(&o, &t->r), 0);
	x.r = t->r;
	rt_gen(t, g1);
	assert_int_equal(sl_workers_start(1, &hooks, NULL, &ws), 0);
	tm_write_rename(t->dir, "svc.yaml", svc_b);
	for (int i = 0; i < 200 && !atomic_load(&x.swaps); i++)
		usleep(10000);
	assert_int_equal(atomic_load(&x.swaps), 1);
	assert_string_not_equal(rt_gen(t, g2), g1);
	/* a burst of writes ends on the last content (the exact debounce
	 * is tested with the fake clock above) */
	for (int i = 0; i < 5; i++)
		tm_write_rename(t->dir, "svc.yaml", i % 2 ? svc_b : svc_a);
	for (int i = 0; i < 300 && strcmp(rt_gen(t, g2), g1); i++)
		usleep(10000);
	assert_string_equal(rt_gen(t, g2), g1); /* back to svc_a */
	assert_true(atomic_load(&x.swaps) >= 2);
	sl_worker_request_stop(ws[0]);
	assert_int_equal(sl_workers_join(ws, 1), 0);
	sl_reload_watch_free(x.rw);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, rt_setup, rt_teardown)
	const struct CMUnitTest tests[] = {
		T(test_edit_after_debounce),
		T(test_stream_cannot_starve),
		T(test_editor_rename),
		T(test_configmap_data_swap),
		T(test_broken_keeps_old),
		T(test_forced_reload),
		T(test_warnings_logged_when_they_change),
		T(test_last_good),
		T(test_start_fails_without_last_good),
		T(test_concurrent_get),
		T(test_status_json),
		T(test_watch_on_worker),
		T(test_emptied_dir_refused),
		T(test_unusable_refused),
		T(test_start_empty_uses_last_good),
		T(test_dir_replaced),
	};
#undef T

	sl_log_init("test-reload", SL_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
