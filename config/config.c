/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Documents -> snapshot: parse every file, decode, resolve, and hand out
 * an immutable, reference counted snapshot (sl_config_load_files; the
 * directory source is source_dir.c).  The generation is SHA-256 over the
 * sorted (name, content) pairs.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_internal.h"
#include "log.h"

/* SHA-256 of @f's (name, content) pairs (only the files of a directory
 * when @files_only) into @out, 16 hex digits */
static int sl_hash_docs(char out[17], const struct sl_config_doc *f, size_t n,
			bool files_only)
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

		if (files_only && f[i].api)
			continue;
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
		snprintf(out + 2 * i, 3, "%02x", md[i]);
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

const char *sl_config_files_generation(const struct sl_config *cfg)
{
	return cfg->files_generation;
}

int sl_config_dir_files_generation(const char *dir, char out[17])
{
	struct sl_cfg_errs e = { .v = NULL };
	struct sl_config_doc *files = NULL;
	size_t n = 0;
	int ret = sl_cfg_read_dir(dir, &files, &n, &e);

	sl_errs_hand_over(&e, NULL);
	if (ret == 0)
		ret = sl_hash_docs(out, files, n, true);
	sl_cfg_files_free(files, n);
	return ret;
}

void sl_config_cached_put(struct sl_config_cached *c)
{
	struct sl_config_errors w;

	if (!c || atomic_fetch_sub_explicit(&c->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	w.v = c->warns.v;
	w.n = c->warns.n;
	sl_config_errors_free(&w);
	sl_arena_release(&c->arena);
	free(c);
}

static void sl_cached_put_void(void *c)
{
	sl_config_cached_put(c);
}

/* @cfg takes @c's resource and warnings, and a reference on it */
static int sl_cached_use(struct sl_config *cfg, struct sl_config_cached *c)
{
	struct sl_resources *res = &cfg->res;

	for (size_t i = 0; i < c->warns.n; i++) {
		const struct sl_config_error *w = &c->warns.v[i];

		sl_cfg_err_add(&cfg->warns, w->file, w->line, w->col, w->path,
			       "%s", w->message);
	}
	atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	if (sl_arena_defer(&cfg->arena, sl_cached_put_void, c) < 0)
		return -ENOMEM;
	if (c->res) {
		enum sl_kind k = c->res->kind;

		if (sl_arena_grow(&cfg->arena, &res->v[k], &res->cap[k],
				  res->n[k], sizeof(*res->v[k])) < 0)
			return -ENOMEM;
		res->v[k][res->n[k]++] = c->res;
	}
	return 0;
}

/*
 * The kinds resolution only reads, so that snapshots can share them: the
 * Kubernetes source's pods (as WorkloadEntries), Services, EndpointSlices.
 * A VirtualService, a DestinationRule (their hosts and subsets resolved
 * in place) and the rest are decoded at every load.
 */
static bool sl_cacheable(enum sl_kind k)
{
	return k == SL_K_WORKLOADENTRY || k == SL_K_SERVICE ||
	       k == SL_K_ENDPOINTSLICE;
}

/*
 * Decode @doc's one YAML document @root in an arena of its own, for @cfg
 * (errors to @e), and keep it in the document's cache slot when it
 * decoded without error and is of a kind snapshots can share
 */
static int sl_cached_decode(struct sl_config *cfg, struct sl_cfg_errs *e,
			    const struct sl_config_doc *doc,
			    const struct sl_ynode *root)
{
	/* one small chunk holds a pod's WorkloadEntry (about 600 bytes): with
	   100,000 of them, the chunk size is most of their memory */
	struct sl_config shell = { .arena.chunk = 1024 - 4 * sizeof(void *) };
	struct sl_config_cached *c = calloc(1, sizeof(*c));
	size_t nerr = e->n;
	const char *fname;
	int ret;

	if (!c)
		return -ENOMEM;
	atomic_init(&c->refs, 1);
	fname = sl_arena_strdup(&shell.arena, doc->path);
	if (fname)
		sl_cfg_decode_doc(&shell, e, fname, root);
	c->arena = shell.arena;
	c->warns = shell.warns;
	for (int k = 0; k < SL_K_COUNT; k++)
		if (shell.res.n[k])
			c->res = shell.res.v[k][0]; /* one document, one resource */
	if (c->arena.failed) {
		sl_config_cached_put(c);
		return -ENOMEM;
	}
	ret = sl_cached_use(cfg, c);
	if (!ret && e->n == nerr && !e->truncated && c->res &&
	    sl_cacheable(c->res->kind) && !*doc->cache) {
		*doc->cache = c; /* the owner's reference */
		return 0;
	}
	sl_config_cached_put(c);
	return ret;
}

/* parse, decode and resolve @files (read already); consumes @e */
static int sl_config_build(const char *dir, const struct sl_config_doc *files,
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
		size_t n_errs = e->n;

		if (!files[i].buf)
			continue;
		if (files[i].cache && *files[i].cache) {
			ret = sl_cached_use(cfg, *files[i].cache);
			continue;
		}
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
		/* a document that parsed whole may be kept decoded */
		if (files[i].cache && yf.n_docs == 1 && e->n == n_errs)
			ret = sl_cached_decode(cfg, e, &files[i],
					       yf.docs[0].root);
		else
			for (size_t j = 0; j < yf.n_docs; j++)
				sl_cfg_decode_doc(cfg, e, fname,
						  yf.docs[j].root);
		sl_arena_release(&tree);
	}
	sl_arena_release(&tree);
	if (ret == 0 && cfg->arena.failed)
		ret = -ENOMEM;
	if (ret == 0 && (sl_hash_docs(cfg->generation, files, n_files, false) < 0 ||
			 sl_hash_docs(cfg->files_generation, files, n_files,
				      true) < 0))
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
	return sl_config_load_dir_extra(dir, NULL, 0, node_name, out, errs);
}

int sl_config_load_dir_extra(const char *dir,
			     const struct sl_config_doc *extra, size_t n_extra,
			     const char *node_name, struct sl_config **out,
			     struct sl_config_errors *errs)
{
	struct sl_cfg_errs e = { .v = NULL };
	struct sl_config_doc *files = NULL, *all;
	size_t n_files = 0;
	int ret;

	*out = NULL;
	if (errs) {
		errs->v = NULL;
		errs->n = 0;
	}
	ret = sl_cfg_read_dir(dir, &files, &n_files, &e);
	if (ret < 0 && ret != -EINVAL) {
		sl_cfg_files_free(files, n_files);
		if (ret == -ENOMEM)
			sl_cfg_err_add(&e, dir, 0, 0, NULL, "out of memory");
		else
			sl_cfg_err_add(&e, dir, 0, 0, NULL,
				       "cannot read directory: %s",
				       strerror(-ret));
		sl_errs_hand_over(&e, errs);
		return ret;
	}
	if (!n_extra || ret < 0) {
		ret = sl_config_build(dir, files, n_files, ret, node_name, &e,
				      out, errs);
		sl_cfg_files_free(files, n_files);
		return ret;
	}
	sl_errs_hand_over(&e, NULL);
	all = malloc((n_files + n_extra) * sizeof(*all));
	if (!all) {
		sl_cfg_files_free(files, n_files);
		return -ENOMEM;
	}
	memcpy(all, files, n_files * sizeof(*all));
	memcpy(all + n_files, extra, n_extra * sizeof(*all));
	ret = sl_config_load_files(dir, all, n_files + n_extra, node_name, out,
				   errs);
	free(all);
	sl_cfg_files_free(files, n_files);
	return ret;
}

static int sl_doc_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sl_config_doc *)a)->name,
		      ((const struct sl_config_doc *)b)->name);
}

static int sl_doc_path_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct sl_config_doc *const *)a)->path,
		      (*(const struct sl_config_doc *const *)b)->path);
}

/*
 * After a failed build: if every error lies in a document of the API, mark
 * those documents (@drop) and return how many; 0 when an error lies
 * elsewhere (a file of the directory, or no document at all).
 */
static size_t sl_config_api_culprits(const struct sl_config_doc *v, size_t n,
				     const struct sl_config_errors *errs,
				     bool *drop)
{
	const struct sl_config_doc **idx = malloc((n ? n : 1) * sizeof(*idx));
	size_t marked = 0;

	if (!idx)
		return 0;
	for (size_t i = 0; i < n; i++)
		idx[i] = &v[i];
	sl_sort(idx, n, sizeof(*idx), sl_doc_path_cmp);
	for (size_t i = 0; i < errs->n; i++) {
		struct sl_config_doc key = { .path = errs->v[i].file };
		const struct sl_config_doc *kp = &key, **hit;

		hit = errs->v[i].file ?
			      sl_search(&kp, idx, n, sizeof(*idx),
					sl_doc_path_cmp) : NULL;
		if (!hit || !(*hit)->api) {
			marked = 0;
			break;
		}
		if (!drop[*hit - v]) {
			drop[*hit - v] = true;
			marked++;
		}
	}
	free(idx);
	return marked;
}

int sl_config_load_files(const char *origin, const struct sl_config_doc *docs,
			 size_t n, const char *node_name, struct sl_config **out,
			 struct sl_config_errors *errs)
{
	struct sl_cfg_errs e = { .v = NULL }, rejected = { .v = NULL };
	struct sl_config_doc *v = NULL;
	size_t total = 0, api_total = 0, n_files = 0, n_api = 0;
	bool *drop = NULL;
	int ret = 0;

	*out = NULL;
	if (errs) {
		errs->v = NULL;
		errs->n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (docs[i].api)
			n_api++;
		else
			n_files++;
	}
	if (n_files > SL_CFG_MAX_FILES || n_api > SL_CFG_MAX_API_DOCS) {
		sl_cfg_err_add(&e, origin, 0, 0, NULL,
			       n_files > SL_CFG_MAX_FILES ?
				       "more than %u configuration files" :
				       "more than %u resources from the Kubernetes API",
			       n_files > SL_CFG_MAX_FILES ? SL_CFG_MAX_FILES :
							    SL_CFG_MAX_API_DOCS);
		sl_errs_hand_over(&e, errs);
		return -EINVAL;
	}
	v = malloc((n ? n : 1) * sizeof(*v));
	drop = calloc(n ? n : 1, sizeof(*drop));
	if (!v || !drop) {
		free(v);
		free(drop);
		return -ENOMEM;
	}
	memcpy(v, docs, n * sizeof(*v));
	sl_sort(v, n, sizeof(*v), sl_doc_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(v[i].name, v[i - 1].name)) {
			sl_cfg_err_add(&e, v[i].path, 0, 0, NULL,
				       "a second file named \"%s\"",
				       v[i].name);
			ret = -EINVAL;
		}
		if (v[i].len > SL_CFG_MAX_FILE_SIZE) {
			sl_cfg_err_add(&e, v[i].path, 0, 0, NULL,
				       "file larger than %u bytes",
				       SL_CFG_MAX_FILE_SIZE);
			ret = -EINVAL;
		}
		if (v[i].api)
			api_total += v[i].len;
		else
			total += v[i].len;
	}
	if (total > SL_CFG_MAX_TOTAL_SIZE || api_total > SL_CFG_MAX_API_SIZE) {
		sl_cfg_err_add(&e, origin, 0, 0, NULL,
			       "configuration larger than %u bytes in total",
			       total > SL_CFG_MAX_TOTAL_SIZE ?
				       SL_CFG_MAX_TOTAL_SIZE :
				       SL_CFG_MAX_API_SIZE);
		ret = -EINVAL;
	}
	/*
	 * A resource of the API that sluice rejects is left out and reported
	 * (the rest keeps serving); an error in a file of the directory
	 * fails the load as always.  Every round drops at least one
	 * document, so this ends.
	 */
	for (;;) {
		struct sl_config_errors try = { 0 };
		size_t marked, k = 0;

		ret = sl_config_build(origin, v, n, ret, node_name, &e, out,
				      &try);
		if (ret != -EINVAL || !n_api ||
		    !(marked = sl_config_api_culprits(v, n, &try, drop))) {
			if (errs)
				*errs = try;
			else
				sl_config_errors_free(&try);
			break;
		}
		for (size_t i = 0; i < try.n; i++) {
			const struct sl_config_error *x = &try.v[i];

			sl_cfg_err_add(&rejected, x->file, x->line, x->col,
				       x->path,
				       "REJECTED: this resource is left out of the mesh: %s",
				       x->message);
		}
		sl_config_errors_free(&try);
		for (size_t i = 0; i < n; i++)
			if (!drop[i])
				v[k++] = v[i];
		n = k;
		memset(drop, 0, n * sizeof(*drop));
		e = (struct sl_cfg_errs){ .v = NULL };
		ret = 0;
	}
	if (ret == 0 && rejected.n) {
		struct sl_config *cfg = *out;

		for (size_t i = 0; i < rejected.n; i++) {
			const struct sl_config_error *x = &rejected.v[i];

			sl_cfg_err_add(&cfg->warns, x->file, x->line, x->col,
				       x->path, "%s", x->message);
		}
		cfg->n_rejected = rejected.n;
		sl_cfg_errs_sort(&cfg->warns);
	}
	{
		struct sl_config_errors r = { .v = rejected.v, .n = rejected.n };

		sl_config_errors_free(&r);
	}
	free(drop);
	free(v);
	return ret;
}

size_t sl_config_rejected(const struct sl_config *cfg)
{
	return cfg->n_rejected;
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
