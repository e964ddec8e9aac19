/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the config tests: write YAML files into a mkdtemp dir, load
 * it, look for one error.  Header-only (static) so each test is one exe. */
#ifndef SL_CFGTEST_H
#define SL_CFGTEST_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config.h"

static int cfgt_rm_one(const char *p, const struct stat *st, int flag,
		       struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static inline void cfgt_rmdir(char *dir)
{
	if (!dir)
		return;
	nftw(dir, cfgt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(dir);
}

static inline void cfgt_write(const char *dir, const char *name,
			      const void *buf, size_t len)
{
	char *path = NULL;
	FILE *f;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	f = fopen(path, "w");
	free(path);
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* a new temp dir with files given as name, content, ..., NULL */
static inline char *cfgt_dir(const char *first, ...)
{
	char *dir = strdup("/tmp/sl-cfgtest-XXXXXX");
	const char *name = first;
	va_list ap;

	assert_non_null(dir);
	assert_non_null(mkdtemp(dir));
	va_start(ap, first);
	while (name) {
		const char *content = va_arg(ap, const char *);

		cfgt_write(dir, name, content, strlen(content));
		name = va_arg(ap, const char *);
	}
	va_end(ap);
	return dir;
}

struct cfgt {
	char *dir;
	struct sl_config *cfg;
	struct sl_config_errors errs;
	int ret;
};

static inline void cfgt_load_dir(struct cfgt *t, const char *dir)
{
	t->ret = sl_config_load_dir(dir, "node-a", &t->cfg, &t->errs);
	if (t->ret != 0 && getenv("SL_TEST_VERBOSE"))
		sl_config_errors_print(&t->errs, stderr);
}

static inline void cfgt_done(struct cfgt *t)
{
	sl_config_put(t->cfg);
	sl_config_errors_free(&t->errs);
	cfgt_rmdir(t->dir);
	memset(t, 0, sizeof(*t));
}

static inline void cfgt_dump_errors(const struct cfgt *t)
{
	sl_config_errors_print(&t->errs, stderr);
}

/* load a single file "t.yaml" with @yaml; expect success */
#define CFGT_OK(t, ...)                                                        \
	do {                                                                   \
		(t)->dir = cfgt_dir(__VA_ARGS__, NULL);                        \
		cfgt_load_dir((t), (t)->dir);                                  \
		if ((t)->ret != 0)                                             \
			cfgt_dump_errors(t);                                   \
		assert_int_equal((t)->ret, 0);                                 \
		assert_non_null((t)->cfg);                                     \
	} while (0)

#define CFGT_FAIL(t, ...)                                                      \
	do {                                                                   \
		(t)->dir = cfgt_dir(__VA_ARGS__, NULL);                        \
		cfgt_load_dir((t), (t)->dir);                                  \
		assert_int_equal((t)->ret, -EINVAL);                           \
		assert_null((t)->cfg);                                         \
		assert_true((t)->errs.n > 0);                                  \
	} while (0)

/*
 * Is there an error in file @file (basename) at @line:@col (0: any) with
 * path @path (NULL: any) whose message contains @msg?
 */
static inline bool cfgt_has(const struct cfgt *t, const char *file,
			    unsigned int line, unsigned int col,
			    const char *path, const char *msg)
{
	for (size_t i = 0; i < t->errs.n; i++) {
		const struct sl_config_error *e = &t->errs.v[i];
		const char *base = e->file ? strrchr(e->file, '/') : NULL;

		base = base ? base + 1 : e->file;
		if (file && (!base || strcmp(base, file)))
			continue;
		if (line && e->line != line)
			continue;
		if (col && e->col != col)
			continue;
		if (path && (!e->path || strcmp(e->path, path)))
			continue;
		if (msg && !strstr(e->message, msg))
			continue;
		return true;
	}
	return false;
}

static inline const char *cfgt_str(const char *s)
{
	return s ? s : "*";
}

#define CFGT_HAS(t, file, line, col, path, msg)                                \
	do {                                                                   \
		if (!cfgt_has(t, file, line, col, path, msg)) {                \
			fprintf(stderr, "missing error %s:%u:%u: %s: %s; got:\n", \
				cfgt_str(file), (unsigned int)(line),          \
				(unsigned int)(col), cfgt_str(path),           \
				cfgt_str(msg));                                \
			cfgt_dump_errors(t);                                   \
			fail();                                                \
		}                                                              \
	} while (0)

/* common resources */
#define CFGT_SVC_REVIEWS                                                       \
	"apiVersion: v1\n"                                                     \
	"kind: Service\n"                                                      \
	"metadata: {name: reviews}\n"                                          \
	"spec:\n"                                                              \
	"  clusterIP: 198.19.0.20\n"                                           \
	"  selector: {app: reviews}\n"                                         \
	"  ports: [{name: http, port: 9080}]\n"

#endif /* SL_CFGTEST_H */
