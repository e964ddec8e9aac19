/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sl_config_load_dir(): read the directory (ConfigMap layout aware), parse
 * every file, decode, resolve, and hand out an immutable, reference
 * counted snapshot.  The generation is SHA-256 over the sorted
 * (name, content) pairs.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"
#include "log.h"

/* ---- addresses --------------------------------------------------------- */

int sl_ip_parse(const char *s, struct sl_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *sl_ip_format(const struct sl_ip *ip, char *buf, size_t len)
{
	if (!ip->family || !inet_ntop(ip->family, &ip->v6, buf, (socklen_t)len))
		sl_strlcpy(buf, "-", len);
	return buf;
}

bool sl_ip_equal(const struct sl_ip *a, const struct sl_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4.s_addr == b->v4.s_addr;
	return memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
}

/* ---- directory ---------------------------------------------------------- */

struct sl_cfg_file {
	char *name;
	char *path;
	char *buf;
	size_t len;
};

static int sl_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sl_cfg_file *)a)->name,
		      ((const struct sl_cfg_file *)b)->name);
}

static bool sl_is_yaml_name(const char *n)
{
	size_t len = strlen(n);

	if (n[0] == '.')
		return false; /* dot-files and the ConfigMap ..data machinery */
	return (len > 5 && !strcmp(n + len - 5, ".yaml")) ||
	       (len > 4 && !strcmp(n + len - 4, ".yml"));
}

static void sl_files_free(struct sl_cfg_file *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		free(f[i].name);
		free(f[i].path);
		free(f[i].buf);
	}
	free(f);
}

/* list and read the files; per-file problems become errors */
static int sl_read_dir(const char *dir, struct sl_cfg_file **out, size_t *n_out,
		       struct sl_cfg_errs *errs)
{
	struct sl_cfg_file *files = NULL;
	size_t n = 0, cap = 0, total = 0;
	struct dirent *de;
	DIR *d;
	int ret = 0;

	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!sl_is_yaml_name(de->d_name))
			continue;
		if (n == SL_CFG_MAX_FILES) {
			sl_cfg_err_add(errs, dir, 0, 0, NULL,
				       "more than %u configuration files",
				       SL_CFG_MAX_FILES);
			ret = -EINVAL;
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct sl_cfg_file *nf = realloc(files, ncap * sizeof(*nf));

			if (!nf) {
				ret = -ENOMEM;
				break;
			}
			files = nf;
			cap = ncap;
		}
		memset(&files[n], 0, sizeof(files[n]));
		files[n].name = strdup(de->d_name);
		if (!files[n].name ||
		    asprintf(&files[n].path, "%s%s%s", dir,
			     dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/",
			     de->d_name) < 0) {
			files[n].path = NULL;
			n++;
			ret = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(d);
	if (ret < 0)
		goto out;
	sl_sort(files, n, sizeof(*files), sl_name_cmp);
	for (size_t i = 0; i < n; i++) {
		int r = sl_read_file(files[i].path, SL_CFG_MAX_FILE_SIZE,
				     &files[i].buf, &files[i].len);

		if (r == -EFBIG)
			sl_cfg_err_add(errs, files[i].path, 0, 0, NULL,
				       "file larger than %u bytes",
				       SL_CFG_MAX_FILE_SIZE);
		else if (r == -EISDIR || r == -EINVAL)
			sl_cfg_err_add(errs, files[i].path, 0, 0, NULL,
				       "not a regular file");
		else if (r == -ENOMEM)
			ret = r;
		else if (r < 0)
			sl_cfg_err_add(errs, files[i].path, 0, 0, NULL,
				       "cannot read: %s", strerror(-r));
		if (r < 0) {
			files[i].buf = NULL;
			continue;
		}
		total += files[i].len;
		if (total > SL_CFG_MAX_TOTAL_SIZE) {
			sl_cfg_err_add(errs, dir, 0, 0, NULL,
				       "configuration larger than %u bytes in total",
				       SL_CFG_MAX_TOTAL_SIZE);
			ret = -EINVAL;
			break;
		}
	}
out:
	*out = files;
	*n_out = n;
	return ret;
}

static int sl_generation(struct sl_config *cfg, const struct sl_cfg_file *f,
			 size_t n)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ret = -ENOMEM;

	if (!ctx)
		return -ENOMEM;
	if (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		goto out;
	for (size_t i = 0; i < n; i++) {
		uint64_t len = f[i].len;
		unsigned char lenb[8];

		for (int b = 0; b < 8; b++)
			lenb[b] = (unsigned char)(len >> (56 - 8 * b));
		/* name NUL length content: unambiguous framing */
		if (!EVP_DigestUpdate(ctx, f[i].name, strlen(f[i].name) + 1) ||
		    !EVP_DigestUpdate(ctx, lenb, sizeof(lenb)) ||
		    !EVP_DigestUpdate(ctx, f[i].buf ? f[i].buf : "", f[i].len))
			goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen < 8)
		goto out;
	for (int i = 0; i < 8; i++)
		snprintf(cfg->generation + 2 * i, 3, "%02x", md[i]);
	ret = 0;
out:
	EVP_MD_CTX_free(ctx);
	return ret;
}

static struct sl_config *sl_config_alloc(void)
{
	struct sl_config *cfg = calloc(1, sizeof(*cfg));

	if (!cfg)
		return NULL;
	atomic_init(&cfg->refs, 1);
	return cfg;
}

static void sl_config_free(struct sl_config *cfg)
{
	struct sl_config_errors w;

	if (!cfg)
		return;
	w.v = cfg->warns.v;
	w.n = cfg->warns.n;
	sl_config_errors_free(&w);
	sl_arena_release(&cfg->arena);
	free(cfg);
}

static void sl_errs_hand_over(struct sl_cfg_errs *e, struct sl_config_errors *out)
{
	struct sl_config_errors tmp = { .v = e->v, .n = e->n };

	if (e->truncated)
		sl_cfg_err_add(e, NULL, 0, 0, NULL,
			       "too many errors, or out of memory: stopped reporting");
	tmp.v = e->v;
	tmp.n = e->n;
	sl_cfg_errs_sort(e);
	if (out)
		*out = tmp;
	else
		sl_config_errors_free(&tmp);
	e->v = NULL;
	e->n = e->cap = 0;
}

/* parse, decode and resolve @files (read already); consumes @e */
static int sl_config_build(const char *dir, struct sl_cfg_file *files,
			   size_t n_files, int read_ret, const char *node_name,
			   struct sl_cfg_errs *e, struct sl_config **out,
			   struct sl_config_errors *errs)
{
	struct sl_arena tree = { .head = NULL };
	struct sl_config *cfg;
	int ret = read_ret;

	cfg = sl_config_alloc();
	if (!cfg) {
		sl_errs_hand_over(e, errs);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_files && ret == 0; i++) {
		struct sl_yfile yf;
		const char *fname;

		if (!files[i].buf)
			continue;
		fname = sl_arena_strdup(&cfg->arena, files[i].path);
		if (!fname) {
			ret = -ENOMEM;
			break;
		}
		if (sl_yaml_parse(&tree, fname, files[i].buf, files[i].len, &yf,
				  e) == -ENOMEM) {
			ret = -ENOMEM;
			break;
		}
		for (size_t j = 0; j < yf.n_docs; j++)
			sl_cfg_decode_doc(cfg, e, fname, yf.docs[j].root);
		sl_arena_release(&tree);
	}
	sl_arena_release(&tree);
	if (ret == 0 && cfg->arena.failed)
		ret = -ENOMEM;
	if (ret == 0 && sl_generation(cfg, files, n_files) < 0)
		ret = -ENOMEM;
	if (ret == 0) {
		ret = sl_cfg_resolve_all(cfg, node_name, e);
		if (ret == 0 && cfg->arena.failed)
			ret = -ENOMEM;
	}
	if (ret == 0 && e->n)
		ret = -EINVAL;
	if (ret == -ENOMEM)
		sl_cfg_err_add(e, dir, 0, 0, NULL, "out of memory");
	else if (ret < 0 && !e->n)
		sl_cfg_err_add(e, dir, 0, 0, NULL, "configuration rejected");
	if (ret < 0) {
		sl_errs_hand_over(e, errs);
		sl_config_free(cfg);
		return ret;
	}
	sl_errs_hand_over(e, NULL);
	sl_cfg_errs_sort(&cfg->warns);
	*out = cfg;
	return 0;
}

int sl_config_load_dir(const char *dir, const char *node_name,
		       struct sl_config **out, struct sl_config_errors *errs)
{
	struct sl_cfg_errs e = { .v = NULL };
	struct sl_cfg_file *files = NULL;
	size_t n_files = 0;
	int ret;

	*out = NULL;
	if (errs) {
		errs->v = NULL;
		errs->n = 0;
	}
	ret = sl_read_dir(dir, &files, &n_files, &e);
	if (ret < 0 && ret != -EINVAL) {
		sl_files_free(files, n_files);
		if (ret == -ENOMEM)
			sl_cfg_err_add(&e, dir, 0, 0, NULL, "out of memory");
		else
			sl_cfg_err_add(&e, dir, 0, 0, NULL,
				       "cannot read directory: %s",
				       strerror(-ret));
		sl_errs_hand_over(&e, errs);
		return ret;
	}
	ret = sl_config_build(dir, files, n_files, ret, node_name, &e, out,
			      errs);
	sl_files_free(files, n_files);
	return ret;
}

int sl_config_load_mem(const char *name, const char *buf, size_t len,
		       const char *node_name, struct sl_config **out,
		       struct sl_config_errors *errs)
{
	struct sl_cfg_errs e = { .v = NULL };
	struct sl_cfg_file f = {
		.name = (char *)name,
		.path = (char *)name,
		.buf = (char *)buf,
		.len = len,
	};
	int ret = 0;

	*out = NULL;
	if (errs) {
		errs->v = NULL;
		errs->n = 0;
	}
	if (len > SL_CFG_MAX_FILE_SIZE) {
		sl_cfg_err_add(&e, name, 0, 0, NULL, "file larger than %u bytes",
			       SL_CFG_MAX_FILE_SIZE);
		ret = -EINVAL;
	}
	return sl_config_build(name, &f, 1, ret, node_name, &e, out, errs);
}

struct sl_config *sl_config_get(struct sl_config *cfg)
{
	if (cfg)
		atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
	return cfg;
}

void sl_config_put(struct sl_config *cfg)
{
	if (!cfg)
		return;
	if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1)
		sl_config_free(cfg);
}

const struct sl_config_error *sl_config_warnings(const struct sl_config *cfg,
						 size_t *n)
{
	*n = cfg->warns.n;
	return cfg->warns.v;
}

const struct sl_node_config *sl_config_node(const struct sl_config *cfg)
{
	return &cfg->node;
}

const char *sl_config_generation(const struct sl_config *cfg)
{
	return cfg->generation;
}

const struct sl_workload *sl_config_workloads(const struct sl_config *cfg,
					      size_t *n)
{
	*n = cfg->n_workloads;
	return cfg->workloads;
}

const char *sl_config_kind_name(unsigned int i)
{
	return i < SL_K_COUNT ? sl_kind_names[i] : NULL;
}

size_t sl_config_count(const struct sl_config *cfg, const char *kind)
{
	size_t n = 0;

	for (int k = 0; k < SL_K_COUNT; k++)
		if (!kind || !strcmp(kind, sl_kind_names[k]))
			n += cfg->res.n[k];
	return n;
}

const char *sl_config_summary(const struct sl_config *cfg, char *buf,
			      size_t len)
{
	size_t total = sl_config_count(cfg, NULL), off;
	bool first = true;
	int n;

	n = snprintf(buf, len, "%zu resource%s", total, total == 1 ? "" : "s");
	off = n > 0 ? SL_MIN((size_t)n, len) : 0;
	for (int k = 0; k < SL_K_COUNT && off < len; k++) {
		if (!cfg->res.n[k])
			continue;
		n = snprintf(buf + off, len - off, "%s%s %zu", first ? " (" : ", ",
			     sl_kind_names[k], cfg->res.n[k]);
		off = n > 0 ? SL_MIN(off + (size_t)n, len) : off;
		first = false;
	}
	if (!first && off < len)
		snprintf(buf + off, len - off, ")");
	return buf;
}
