/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The field ledger (config/ledger.c): its order and notes, the test each
 * enforced field names, the kitchen sink that uses every field, a decoded
 * field without a status failing the load, config.5.md matching the ledger,
 * and real Istio samples: each fails with a clear error or warns about
 * every field sluice does not enforce.
 *
 * Usage: test-ledger SRCDIR        run the tests
 *        test-ledger --print       print the ledger table of config.5.md
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cfgtest.h"
#include "config_internal.h"
#include "ledger.h"

static const char *srcdir;

/* ---- helpers ------------------------------------------------------------ */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t r;

		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static char *src_path(const char *rel)
{
	char *p = NULL;

	assert_true(asprintf(&p, "%s/%s", srcdir, rel) > 0);
	return p;
}

/* "spec.http[0].match[12].uri" -> "spec.http[].match[].uri" */
static void normalize(const char *path, char *out, size_t size)
{
	size_t o = 0;

	for (const char *p = path; *p && o + 1 < size; p++) {
		out[o++] = *p;
		if (*p == '[') {
			while (p[1] >= '0' && p[1] <= '9')
				p++;
		}
	}
	out[o] = '\0';
}

/* is @f below a NO_EFFECT field (whose warning covers it)? */
static bool under_no_effect(const struct sl_field *f)
{
	char buf[512];
	size_t len = strlen(f->path);

	assert_true(len < sizeof(buf));
	memcpy(buf, f->path, len + 1);
	for (size_t i = len; i-- > 1;) {
		const struct sl_field *a;

		if (buf[i] != '.' && buf[i] != '[')
			continue;
		buf[i] = '\0';
		a = sl_ledger_find(f->kind, buf);
		if (a && a->status == SL_FIELD_NO_EFFECT)
			return true;
	}
	return false;
}

static const char *last_component(const char *path, char *buf, size_t size)
{
	const char *dot = strrchr(path, '.');
	const char *s = dot ? dot + 1 : path;
	size_t n = strcspn(s, "[");

	assert_true(n < size);
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

static unsigned long *seen_now(void)
{
	size_t n;
	unsigned long *v;

	sl_ledger_entries(&n);
	v = calloc(n, sizeof(*v));
	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = sl_ledger_seen(i);
	return v;
}

/* warnings "has no effect: <note of @f>" at a path that normalizes to
 * @f's path; @by_file: only in the file named after @f's kind
 * ("virtualservice.yaml": the kitchen sink holds one kind per file) */
static size_t count_warnings(const struct sl_config *cfg,
			     const struct sl_field *f, bool by_file)
{
	const struct sl_config_error *w;
	size_t n, hits = 0;
	char want[1024], np[512];

	snprintf(want, sizeof(want), "has no effect: %s", f->note);
	w = sl_config_warnings(cfg, &n);
	for (size_t i = 0; i < n; i++) {
		if (!w[i].path || strcmp(w[i].message, want) != 0)
			continue;
		if (by_file) {
			const char *base = w[i].file ? strrchr(w[i].file, '/') : NULL;
			size_t k = strlen(f->kind);

			assert_non_null(base);
			base++;
			if (strncasecmp(base, f->kind, k) != 0 ||
			    strcmp(base + k, ".yaml") != 0)
				continue;
		}
		normalize(w[i].path, np, sizeof(np));
		if (strcmp(np, f->path) == 0)
			hits++;
	}
	return hits;
}

static size_t count_no_effect_warnings(const struct sl_config *cfg)
{
	const struct sl_config_error *w;
	size_t n, hits = 0;

	w = sl_config_warnings(cfg, &n);
	for (size_t i = 0; i < n; i++)
		if (strncmp(w[i].message, "has no effect: ", 15) == 0) {
			/* every warning names where: file:line:col and path */
			assert_non_null(w[i].file);
			assert_true(w[i].line > 0 && w[i].col > 0);
			assert_non_null(w[i].path);
			hits++;
		}
	return hits;
}

/* ---- (a) the ledger itself ---------------------------------------------- */

static void test_sorted_and_notes(void **state)
{
	size_t n;
	const struct sl_field *l = sl_ledger_entries(&n);
	unsigned int bad = 0;

	(void)state;
	assert_true(n > 100);
	for (size_t i = 0; i < n; i++) {
		const struct sl_field *f = &l[i];

		assert_non_null(f->kind);
		assert_non_null(f->path);
		assert_non_null(f->note);
		if (!f->note[0] || !f->path[0]) {
			fprintf(stderr, "%s %s: empty note or path\n", f->kind,
				f->path);
			bad++;
		}
		if (i > 0) {
			int c = strcmp(l[i - 1].kind, f->kind);

			if (c == 0)
				c = strcmp(l[i - 1].path, f->path);
			if (c >= 0) {
				fprintf(stderr, "%s %s: not after %s %s (sorted by kind, then path, bytewise; no duplicates)\n",
					f->kind, f->path, l[i - 1].kind,
					l[i - 1].path);
				bad++;
			}
		}
		assert_ptr_equal(sl_ledger_find(f->kind, f->path), f);
		if (f->status == SL_FIELD_REJECTED &&
		    strncmp(f->note, "is not supported", 16) != 0) {
			fprintf(stderr, "%s %s: a rejection says \"is not supported...\"\n",
				f->kind, f->path);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* every ENFORCED note starts with a test file (from the source root) that
 * exists and mentions the field */
static void test_enforced_name_tests(void **state)
{
	size_t n;
	const struct sl_field *l = sl_ledger_entries(&n);
	unsigned int bad = 0;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		char file[256], comp[128];
		size_t len = strcspn(l[i].note, ": ");
		char *path, *text;

		if (l[i].status != SL_FIELD_ENFORCED)
			continue;
		assert_true(len < sizeof(file));
		memcpy(file, l[i].note, len);
		file[len] = '\0';
		if (strncmp(file, "tests/", 6) != 0) {
			fprintf(stderr, "%s %s: note \"%s\" does not start with a test under tests/\n",
				l[i].kind, l[i].path, l[i].note);
			bad++;
			continue;
		}
		path = src_path(file);
		text = slurp(path, NULL);
		last_component(l[i].path, comp, sizeof(comp));
		if (!text) {
			fprintf(stderr, "%s %s: %s: %s\n", l[i].kind,
				l[i].path, path, strerror(errno));
			bad++;
		} else if (!strstr(text, comp)) {
			fprintf(stderr, "%s %s: %s never mentions \"%s\"\n",
				l[i].kind, l[i].path, file, comp);
			bad++;
		}
		free(text);
		free(path);
	}
	assert_int_equal(bad, 0);
}

/* ---- (b) the kitchen sink ------------------------------------------------ */

static void test_kitchen_sink(void **state)
{
	char *dir = src_path("tests/config/data/ledger/ok");
	unsigned long *before = seen_now(), *after;
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL;
	size_t n, expect = 0;
	const struct sl_field *l = sl_ledger_entries(&n);
	unsigned int bad = 0;
	int ret;

	(void)state;
	ret = sl_config_load_dir(dir, "node-a", &cfg, &errs);
	if (ret)
		sl_config_errors_print(&errs, stderr);
	assert_int_equal(ret, 0);
	after = seen_now();
	for (size_t i = 0; i < n; i++) {
		unsigned long seen = after[i] - before[i];
		size_t w;

		if (l[i].status == SL_FIELD_REJECTED) {
			if (seen) {
				fprintf(stderr, "%s %s: rejected, yet in the kitchen sink\n",
					l[i].kind, l[i].path);
				bad++;
			}
			continue;
		}
		if (!seen) {
			fprintf(stderr, "%s %s: not in tests/config/data/ledger/ok (or never consulted by the decoder)\n",
				l[i].kind, l[i].path);
			bad++;
			continue;
		}
		if (l[i].status != SL_FIELD_NO_EFFECT)
			continue;
		w = count_warnings(cfg, &l[i], true);
		if (under_no_effect(&l[i])) {
			if (w) {
				fprintf(stderr, "%s %s: %zu warnings, want none (its block warned)\n",
					l[i].kind, l[i].path, w);
				bad++;
			}
		} else if (w != seen) {
			fprintf(stderr, "%s %s: used %lu times, %zu warnings\n",
				l[i].kind, l[i].path, seen, w);
			bad++;
		}
		if (!under_no_effect(&l[i]))
			expect += seen;
	}
	/* and no other "has no effect" warning */
	assert_int_equal(count_no_effect_warnings(cfg), expect);
	assert_int_equal(bad, 0);
	free(before);
	free(after);
	sl_config_put(cfg);
	free(dir);
}

/* each REJECTED field fails the load with its note, at its path */
static void test_rejected(void **state)
{
	char *dir = src_path("tests/config/data/ledger/rejected");
	unsigned long *before = seen_now(), *after;
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL;
	size_t n;
	const struct sl_field *l = sl_ledger_entries(&n);
	unsigned int bad = 0;

	(void)state;
	assert_int_equal(sl_config_load_dir(dir, "node-a", &cfg, &errs),
			 -EINVAL);
	assert_null(cfg);
	after = seen_now();
	for (size_t i = 0; i < n; i++) {
		char comp[128], want[1024], np[512];
		bool found = false;

		if (l[i].status != SL_FIELD_REJECTED)
			continue;
		last_component(l[i].path, comp, sizeof(comp));
		snprintf(want, sizeof(want), "%s %s", comp, l[i].note);
		for (size_t e = 0; e < errs.n; e++) {
			if (!errs.v[e].path || strcmp(errs.v[e].message, want))
				continue;
			normalize(errs.v[e].path, np, sizeof(np));
			found |= strcmp(np, l[i].path) == 0 &&
				 errs.v[e].line > 0;
		}
		if (!found || after[i] == before[i]) {
			fprintf(stderr, "%s %s: no error \"%s\" from tests/config/data/ledger/rejected\n",
				l[i].kind, l[i].path, want);
			bad++;
		}
	}
	if (bad)
		sl_config_errors_print(&errs, stderr);
	assert_int_equal(bad, 0);
	free(before);
	free(after);
	sl_config_errors_free(&errs);
	free(dir);
}

/* ---- (c) a decoded field without a status cannot load -------------------- */

static void test_unledgered_field_fails(void **state)
{
	static const char *const known_ok[] = { "hosts", NULL };
	static const char *const known_bad[] = { "hosts", "routingMagic",
						 NULL };
	struct sl_ynode key = { .type = SL_YSCALAR, .line = 3, .col = 3,
				.plain = true, .str = "hosts", .len = 5 };
	struct sl_ynode val = { .type = SL_YSCALAR, .line = 3, .col = 10,
				.plain = true, .str = "reviews", .len = 7 };
	struct sl_ynode *items[] = { &key, &val };
	struct sl_ynode map = { .type = SL_YMAP, .line = 3, .col = 3, .n = 1,
				.items = items };
	struct sl_cfg_errs e = { 0 };
	struct sl_dec d = { .errs = &e, .file = "vs.yaml",
			    .kind = "VirtualService" };
	struct sl_config_errors out;
	size_t old;

	(void)state;
	old = sl_dec_push_key(&d, "spec");
	assert_true(sl_dec_fields(&d, &map, known_ok, NULL));
	assert_int_equal(e.n, 0);
	/* a decoder that reads "routingMagic" without a ledger status:
	 * an error, though the input does not even use the field */
	assert_false(sl_dec_fields(&d, &map, known_bad, NULL));
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].message,
			    "field spec.routingMagic has no status in sluice's field ledger (config/ledger.c)");
	assert_string_equal(e.v[0].path, "spec.routingMagic");
	/* and when it does */
	key.str = "routingMagic";
	key.len = strlen(key.str);
	assert_false(sl_dec_fields(&d, &map, known_bad, NULL));
	assert_int_equal(e.n, 2);
	assert_string_equal(e.v[1].message,
			    "field spec.routingMagic has no status in sluice's field ledger (config/ledger.c)");
	assert_int_equal(e.v[1].line, 3);
	/* the normalized path follows pushes and pops */
	sl_dec_pop(&d, old);
	assert_string_equal(d.npath, "");
	old = sl_dec_push_key(&d, "spec");
	sl_dec_push_key(&d, "http");
	sl_dec_push_idx(&d, 7);
	sl_dec_push_key(&d, "match");
	sl_dec_push_idx(&d, 0);
	sl_dec_push_key(&d, "headers");
	sl_dec_push_mapkey(&d, "end-user");
	assert_string_equal(d.path, "spec.http[7].match[0].headers.end-user");
	assert_string_equal(d.npath, "spec.http[].match[].headers.*");
	sl_dec_pop(&d, old);
	assert_string_equal(d.path, "");
	assert_string_equal(d.npath, "");
	assert_int_equal(d.depth, 0);
	out.v = e.v;
	out.n = e.n;
	sl_config_errors_free(&out);
}

/* ---- (d) config.5.md shows the ledger ------------------------------------ */

#define BEGIN_MARK "<!-- ledger:begin -->\n"
#define END_MARK "<!-- ledger:end -->"

static void test_docs_match(void **state)
{
	char *path = src_path("docs/config.5.md");
	char *doc = slurp(path, NULL), *gen = NULL, *b, *e;
	size_t glen = 0, line = 1;
	FILE *f;

	(void)state;
	assert_non_null(doc);
	b = strstr(doc, BEGIN_MARK);
	assert_non_null(b);
	b += strlen(BEGIN_MARK);
	e = strstr(b, END_MARK);
	assert_non_null(e);
	*e = '\0';
	f = open_memstream(&gen, &glen);
	assert_non_null(f);
	assert_int_equal(sl_ledger_markdown(f), 0);
	fclose(f);
	if (strcmp(b, gen) != 0) {
		const char *x = b, *y = gen;

		while (*x && *x == *y) {
			if (*x == '\n')
				line++;
			x++;
			y++;
		}
		fprintf(stderr, "docs/config.5.md differs from the ledger at line %zu of the table:\n"
			"  doc:    %.120s\n  ledger: %.120s\n"
			"regenerate: build/tests/config/test-ledger --print, between the markers " BEGIN_MARK,
			line, x, y);
		fail();
	}
	free(gen);
	free(doc);
	free(path);
}

/* ---- real Istio samples --------------------------------------------------- */

struct sample {
	const char *file; /* under tests/config/data/istio-samples */
	const char *with; /* another sample loaded beside it, or NULL */
	const char *error; /* NULL: loads; else a substring of an error */
	size_t warnings;   /* "has no effect" warnings when it loads */
};

static const struct sample samples[] = {
	{ "bookinfo/destination-rule-all.yaml", NULL, NULL, 0 },
	{ "bookinfo/destination-rule-all-mtls.yaml", NULL, NULL, 0 },
	{ "bookinfo/virtual-service-all-v1.yaml",
	  "bookinfo/destination-rule-all.yaml", NULL, 0 },
	{ "bookinfo/virtual-service-reviews-90-10.yaml",
	  "bookinfo/destination-rule-all.yaml", NULL, 0 },
	/* header matches on a port named http: evaluated per request */
	{ "bookinfo/virtual-service-reviews-test-v2.yaml",
	  "bookinfo/destination-rule-all.yaml", NULL, 0 },
	{ "bookinfo/virtual-service-reviews-jason-v2-v3.yaml",
	  "bookinfo/destination-rule-all.yaml", NULL, 0 },
	/* fault injection on a port named http: applied per request */
	{ "bookinfo/virtual-service-ratings-test-abort.yaml",
	  "bookinfo/destination-rule-all.yaml", NULL, 0 },
	{ "bookinfo/virtual-service-ratings-test-delay.yaml",
	  "bookinfo/destination-rule-all.yaml", NULL, 0 },
	{ "bookinfo/fault-injection-details-v1.yaml", NULL, NULL, 0 },
	/* ingress gateways are not sluice's */
	{ "bookinfo/bookinfo-gateway.yaml", NULL,
	  "gateways are not supported (only \"mesh\")", 0 },
	{ "tcp-echo/tcp-echo-all-v1.yaml", NULL,
	  "gateways are not supported (only \"mesh\")", 0 },
	{ "tcp-echo/tcp-echo-20-v2.yaml", NULL,
	  "gateways are not supported (only \"mesh\")", 0 },
	/* circuit breaking: the HTTP limits (the HTTP engine) and the TCP
	 * ones enforced */
	{ "istio.io/circuit-breaking-destination-rule.yaml", NULL, NULL, 0 },
	{ "istio.io/request-timeouts-reviews-timeout.yaml",
	  "bookinfo/destination-rule-all.yaml", NULL, 0 },
	{ "istio.io/request-timeouts-ratings-delay.yaml",
	  "bookinfo/destination-rule-all.yaml", NULL, 0 },
	{ "istio.io/authz-tcp-allow-ports.yaml", NULL, NULL, 0 },
	/* HTTP conditions: enforced per request by the HTTP engine, and
	 * with Istio's TCP rules on connections (test-config-authz.c) */
	{ "istio.io/authz-tcp-allow-methods.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-tcp-deny-methods.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-tcp-deny-methods-ports.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-http-allow-nothing.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-http-productpage-viewer.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-http-details-viewer.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-http-reviews-viewer.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-http-ratings-viewer.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-deny-method-get.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-deny-method-get-x-token.yaml", NULL, NULL, 0 },
	{ "istio.io/authz-deny-allow-path-ip.yaml", NULL, NULL, 0 },
	{ "istio.io/mtls-migration-strict.yaml", NULL, NULL, 0 },
};

static void copy_in(const char *dir, const char *rel, const char *as)
{
	char *p = NULL, *text;
	size_t len;

	assert_true(asprintf(&p, "%s/tests/config/data/istio-samples/%s",
			     srcdir, rel) > 0);
	text = slurp(p, &len);
	if (!text)
		fprintf(stderr, "%s: %s\n", p, strerror(errno));
	assert_non_null(text);
	cfgt_write(dir, as, text, len);
	free(text);
	free(p);
}

static void test_istio_samples(void **state)
{
	size_t n;
	const struct sl_field *l = sl_ledger_entries(&n);
	unsigned int bad = 0;

	(void)state;
	for (size_t s = 0; s < SL_ARRAY_SIZE(samples); s++) {
		const struct sample *sm = &samples[s];
		char *dir = strdup("/tmp/sl-ledger-XXXXXX");
		struct sl_config_errors errs = { 0 };
		struct sl_config *cfg = NULL;
		unsigned long *before, *after;
		const char *base = strrchr(sm->file, '/') + 1;
		int ret;

		assert_non_null(dir);
		assert_non_null(mkdtemp(dir));
		copy_in(dir, "base/mesh.yaml", "mesh.yaml");
		if (sm->with)
			copy_in(dir, sm->with, "with.yaml");
		copy_in(dir, sm->file, base);
		before = seen_now();
		ret = sl_config_load_dir(dir, "node-a", &cfg, &errs);
		after = seen_now();
		if (sm->error) {
			bool found = false;

			for (size_t e = 0; e < errs.n; e++)
				found |= errs.v[e].line > 0 &&
					 strstr(errs.v[e].message, sm->error);
			if (ret != -EINVAL || !found) {
				fprintf(stderr, "%s: want the error \"%s\"\n",
					sm->file, sm->error);
				sl_config_errors_print(&errs, stderr);
				bad++;
			}
			goto next;
		}
		if (ret != 0) {
			fprintf(stderr, "%s: want it to load\n", sm->file);
			sl_config_errors_print(&errs, stderr);
			bad++;
			goto next;
		}
		/* no field it uses is silently unenforced */
		for (size_t i = 0; i < n; i++) {
			if (after[i] == before[i] ||
			    l[i].status == SL_FIELD_ENFORCED ||
			    l[i].status == SL_FIELD_INFORMATIONAL)
				continue;
			if (l[i].status == SL_FIELD_REJECTED ||
			    (!under_no_effect(&l[i]) &&
			     count_warnings(cfg, &l[i], false) == 0)) {
				fprintf(stderr, "%s: %s %s used without its warning\n",
					sm->file, l[i].kind, l[i].path);
				bad++;
			}
		}
		if (count_no_effect_warnings(cfg) != sm->warnings) {
			fprintf(stderr, "%s: %zu warnings, want %zu\n", sm->file,
				count_no_effect_warnings(cfg), sm->warnings);
			bad++;
		}
next:
		free(before);
		free(after);
		sl_config_put(cfg);
		sl_config_errors_free(&errs);
		cfgt_rmdir(dir);
	}
	assert_int_equal(bad, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sorted_and_notes),
		cmocka_unit_test(test_enforced_name_tests),
		cmocka_unit_test(test_kitchen_sink),
		cmocka_unit_test(test_rejected),
		cmocka_unit_test(test_unledgered_field_fails),
		cmocka_unit_test(test_docs_match),
		cmocka_unit_test(test_istio_samples),
	};

	if (argc == 2 && strcmp(argv[1], "--print") == 0)
		return sl_ledger_markdown(stdout) ? 1 : 0;
	if (argc != 2) {
		fprintf(stderr, "usage: %s SRCDIR | --print\n", argv[0]);
		return 2;
	}
	srcdir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
