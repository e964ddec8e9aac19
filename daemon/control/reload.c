/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Live configuration reload: inotify watch, debounce, atomic snapshot
 * swap, error reporting (see reload.h).  The last-good copy lives in
 * reload_persist.c.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "k8s.h"
#include "log.h"
#include "reload.h"
#include "reload_internal.h"
#include "util.h"

#define SL_RELOAD_MASK                                                         \
	(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |            \
	 IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)
/* the parent: the directory's own name appearing or going away */
#define SL_RELOAD_PARENT_MASK                                                  \
	(IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR)

struct sl_reload {
	char *dir, *node_name, *state_dir;
	char *parent, *base; /* dirname and basename of dir */
	int pwd;	     /* watch on parent, or -1 */
	bool require_usable;
	uint64_t debounce_ns;
	sl_clock_fn clock;
	void *clock_arg;
	void (*on_swap)(void *arg, struct sl_config *cfg);
	void *on_swap_arg;
	struct sl_k8s *k8s;	 /* the API source, or NULL */
	bool *api_loaded;	 /* opts->api_loaded */
	struct sl_k8s_view *view; /* the API view loaded last, or NULL */
	struct sl_persisted_view saved; /* before the API synced: the view
					   saved with the last good copy */
	int epfd;		 /* with k8s: inotify + its eventfd */
	uint64_t rejected_hash;	 /* of the REJECTED warnings logged last */
	uint64_t warn_hash;	 /* of all the warnings logged last */
	bool warned;		 /* warn_hash is set */
	int fd, wd;
	bool pending;
	uint64_t deadline;
	uint64_t pending_since; /* the first event of the pending reload */
	bool files_changed;	/* a file event (or SIGHUP) since the last load */
	/* the last good copy after a reload the API alone caused is saved
	   at most every SL_PERSIST_API_INTERVAL_NS (a copy holds every pod):
	   when it is due, and for the view of which serial */
	uint64_t last_persist, persist_due, persist_serial;

	pthread_mutex_t lock; /* cur and st */
	struct sl_config *cur;
	struct sl_reload_status st;
};

static uint64_t sl_reload_mono(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t sl_reload_clock(const struct sl_reload *r)
{
	return r->clock(r->clock_arg);
}

/* a failed load: counted, @msg kept as the last error with its time */
static void sl_reload_note_failure(struct sl_reload *r, const char *msg,
				   unsigned int count, bool refused)
{
	pthread_mutex_lock(&r->lock);
	r->st.failures++;
	if (refused)
		r->st.refused++;
	r->st.last_error_time = time(NULL);
	r->st.last_error_count = count;
	sl_strlcpy(r->st.last_error, msg, sizeof(r->st.last_error));
	pthread_mutex_unlock(&r->lock);
}

/* log every error; remember the first one */
static void sl_reload_failed(struct sl_reload *r, const char *dir, int ret,
			     const struct sl_config_errors *errs)
{
	char first[sizeof(r->st.last_error)];

	if (errs->n) {
		const struct sl_config_error *e = &errs->v[0];

		snprintf(first, sizeof(first), "%s:%u:%u: %s: %s",
			 e->file ? e->file : dir, e->line, e->col,
			 e->path ? e->path : "", e->message);
	} else {
		snprintf(first, sizeof(first), "%s: %s", dir, strerror(-ret));
	}
	for (size_t i = 0; i < errs->n; i++) {
		const struct sl_config_error *e = &errs->v[i];

		sl_log_err("%s: %s:%u:%u: %s: %s", __func__,
			   e->file ? e->file : dir, e->line, e->col,
			   e->path ? e->path : "", e->message);
	}
	if (!errs->n)
		sl_log_err("%s: %s", __func__, first);
	sl_reload_note_failure(r, first, errs->n ? (unsigned int)errs->n : 1,
			       false);
}

/* a new generation's warnings, loud: fields without effect and the like */
/* is @w an API resource left out (config.c: "REJECTED: ...")? */
static bool sl_warn_rejected(const struct sl_config_error *w)
{
	return !strncmp(w->message, "REJECTED: ", 10);
}

/* log @cfg's warnings, "file:line:col: path: message" (only the REJECTED
 * ones: @rejected) */
static void sl_reload_print_warnings(const struct sl_config *cfg,
				     bool rejected)
{
	const struct sl_config_error *w;
	size_t n;

	w = sl_config_warnings(cfg, &n);
	for (size_t i = 0; i < n; i++) {
		char *s;

		if (rejected && !sl_warn_rejected(&w[i]))
			continue;
		s = sl_config_error_format(&w[i], NULL);
		sl_log_warn("config: %s", s ? s : w[i].message);
		free(s);
	}
}

/* FNV-1a over @cfg's warnings (only the REJECTED ones: @rejected) */
static uint64_t sl_reload_warn_hash(const struct sl_config *cfg,
				    bool rejected)
{
	const struct sl_config_error *w;
	uint64_t h = 14695981039346656037ull;
	size_t n;

	w = sl_config_warnings(cfg, &n);
	for (size_t i = 0; i < n; i++) {
		if (rejected && !sl_warn_rejected(&w[i]))
			continue;
		if (w[i].file)
			h = sl_fnv1a(h, w[i].file, strlen(w[i].file) + 1);
		if (w[i].path)
			h = sl_fnv1a(h, w[i].path, strlen(w[i].path) + 1);
		h = sl_fnv1a(h, &w[i].line, sizeof(w[i].line));
		h = sl_fnv1a(h, w[i].message, strlen(w[i].message) + 1);
	}
	return h;
}

/*
 * A new generation's warnings, loud, when they differ from the last ones
 * logged (with the Kubernetes source a generation follows every pod
 * change: the same warnings again would drown the log); else one line
 */
static void sl_reload_log_warnings(struct sl_reload *r,
				   const struct sl_config *cfg)
{
	uint64_t h = sl_reload_warn_hash(cfg, false);
	size_t n;

	sl_config_warnings(cfg, &n);
	if (h == r->warn_hash && r->warned) {
		if (n)
			sl_log_info("config: generation %s: the same %zu warning%s as before (sluice check shows them)",
				    sl_config_generation(cfg), n,
				    n == 1 ? "" : "s");
		return;
	}
	r->warn_hash = h;
	r->warned = true;
	sl_reload_print_warnings(cfg, false);
	if (n)
		sl_log_warn("config: generation %s: %zu warning%s (sluice check shows them)",
			    sl_config_generation(cfg), n, n == 1 ? "" : "s");
}


/* swap in @cfg (reference passed); returns the old one */
static struct sl_config *sl_reload_swap(struct sl_reload *r,
					struct sl_config *cfg, bool last_good)
{
	struct sl_config *old;

	sl_reload_log_warnings(r, cfg);
	r->rejected_hash = sl_reload_warn_hash(cfg, true);
	pthread_mutex_lock(&r->lock);
	old = r->cur;
	r->cur = cfg;
	snprintf(r->st.generation, sizeof(r->st.generation), "%s",
		 sl_config_generation(cfg));
	sl_config_warnings(cfg, &r->st.warnings);
	r->st.from_last_good = last_good;
	if (old)
		r->st.reloads++;
	pthread_mutex_unlock(&r->lock);
	return old;
}

/* the checks a loaded snapshot passes before it replaces @old */
static int sl_reload_vet(const struct sl_reload *r, const struct sl_config *old,
			 const struct sl_config *cfg, unsigned int flags,
			 char *why, size_t len)
{
	int ret;

	if (!(flags & SL_RELOAD_ALLOW_EMPTY)) {
		ret = sl_config_guard(old, cfg, why, len);
		if (ret < 0)
			return ret;
	}
	return r->require_usable ? sl_config_usable(cfg, why, len) : 0;
}

/* a snapshot that loaded but was vetoed: a failed reload, not persisted */
static void sl_reload_refuse(struct sl_reload *r, int ret, const char *why,
			     const struct sl_config *cfg)
{
	char msg[sizeof(r->st.last_error)];

	snprintf(msg, sizeof(msg), "%s: generation %s refused: %s%s", r->dir,
		 sl_config_generation(cfg), why,
		 ret == -ECANCELED ?
			 " (if intended: sluice reload --allow-empty)" : "");
	sl_log_err("%s: %s; keeping generation %s", __func__, msg,
		   r->cur ? sl_config_generation(r->cur) : "(none)");
	sl_reload_note_failure(r, msg, 1, true);
}

/*
 * (Re-)arm the watches: the directory the path names now (it may have been
 * replaced since the last load) and its parent, for the name coming back.
 * inotify_add_watch on an inode already watched returns the same wd.
 */
static void sl_reload_arm(struct sl_reload *r)
{
	int wd;

	if (r->pwd < 0 && r->parent) {
		r->pwd = inotify_add_watch(r->fd, r->parent,
					   SL_RELOAD_PARENT_MASK);
		if (r->pwd < 0)
			sl_log_warn("%s: watch %s: %s (a replaced %s will not be noticed)",
				    __func__, r->parent, strerror(errno),
				    r->dir);
	}
	wd = inotify_add_watch(r->fd, r->dir, SL_RELOAD_MASK);
	if (wd < 0) {
		if (r->wd >= 0 || errno != ENOENT)
			sl_log_warn("%s: watch %s: %s", __func__, r->dir,
				    strerror(errno));
		if (r->wd >= 0)
			inotify_rm_watch(r->fd, r->wd);
		r->wd = -1;
	} else {
		if (r->wd >= 0 && r->wd != wd) {
			/* the old directory was moved away: stop following it */
			inotify_rm_watch(r->fd, r->wd);
			sl_log_notice("%s: %s was replaced: watching the new directory",
				      __func__, r->dir);
		}
		r->wd = wd;
	}
	pthread_mutex_lock(&r->lock);
	r->st.watching = r->wd >= 0;
	pthread_mutex_unlock(&r->lock);
}

/* the API documents the last load used (no refresh) */
static const struct sl_config_doc *sl_reload_api_held(struct sl_reload *r,
						      size_t *n)
{
	*n = 0;
	if (r->view)
		return sl_k8s_view_docs(r->view, n);
	*n = r->saved.n;
	return r->saved.docs;
}

/*
 * Save @cfg as the last good copy, with the API's view it was loaded with
 * (when there is one: the live view or the saved one) and the Node
 * addresses known now (the node binding's, for a start on the saved view)
 */
static void sl_reload_save(struct sl_reload *r, const struct sl_config *cfg)
{
	struct sl_persist_api api = { 0 };
	char *nodes = NULL;

	api.docs = sl_reload_api_held(r, &api.n);
	if (r->k8s && (r->view || r->saved.buf) &&
	    sl_k8s_nodes_save(r->k8s, &nodes, &api.nodes_len) == 0)
		api.nodes = nodes;
	sl_reload_persist(r->state_dir, r->dir, cfg, api.docs ? &api : NULL);
	free(nodes);
}

/*
 * Save @cfg (just loaded) as the last good copy, now, or, when only the
 * Kubernetes view changed since the last copy and that copy is younger
 * than SL_PERSIST_API_INTERVAL_NS, when it is due (sl_reload_tick): under
 * pod churn a copy of every pod at each change would cost more than the
 * change.  A restart with the API down then starts on a view up to that
 * old.
 */
static void sl_reload_save_paced(struct sl_reload *r,
				 const struct sl_config *cfg, bool by_files)
{
	uint64_t now = sl_reload_clock(r);

	if (!by_files && r->view && r->last_persist &&
	    now - r->last_persist < SL_PERSIST_API_INTERVAL_NS) {
		r->persist_due = r->last_persist + SL_PERSIST_API_INTERVAL_NS;
		r->persist_serial = sl_k8s_view_serial(r->view);
		return;
	}
	sl_reload_save(r, cfg);
	r->last_persist = now;
	r->persist_due = 0;
}

/* a copy put off by sl_reload_save_paced, now due: of the current snapshot
 * if it is still the one that view made */
static void sl_reload_save_due(struct sl_reload *r)
{
	r->persist_due = 0;
	r->last_persist = sl_reload_clock(r);
	if (r->cur && r->view &&
	    sl_k8s_view_serial(r->view) == r->persist_serial)
		sl_reload_save(r, r->cur);
}

/*
 * The API's documents to load with: the source's newest view once it has
 * one, else the view saved with the last good copy (the API unreachable
 * at start), else none.
 */
static const struct sl_config_doc *sl_reload_api_docs(struct sl_reload *r,
						      size_t *n)
{
	struct sl_k8s_view *v;

	*n = 0;
	if (!r->k8s)
		return NULL;
	v = sl_k8s_view(r->k8s);
	if (v) {
		if (!r->view && r->saved.buf)
			sl_log_notice("%s: the Kubernetes API is synced: its view replaces the saved one",
				      __func__);
		sl_k8s_view_put(r->view);
		r->view = v;
		sl_persisted_view_free(&r->saved);
	}
	return sl_reload_api_held(r, n);
}

/*
 * Resources of the API left out do not change the generation (it covers
 * what loads): log them when they change even if the generation did not.
 */
static void sl_reload_log_rejected(struct sl_reload *r,
				   const struct sl_config *cfg)
{
	uint64_t h = sl_reload_warn_hash(cfg, true);

	if (h == r->rejected_hash)
		return;
	r->rejected_hash = h;
	sl_reload_print_warnings(cfg, true);
	if (!sl_config_rejected(cfg))
		sl_log_notice("config: no resource of the Kubernetes API is rejected now");
}

/*
 * The rejected set, after each load, to the source, which posts a
 * Kubernetes Event for each (k8s.h): only from the API's own view (a
 * saved view's objects may be gone, and the API is not answering then).
 */
static void sl_reload_report_rejected(struct sl_reload *r,
				      const struct sl_config *cfg)
{
	int ret;

	if (!r->k8s || !r->view)
		return;
	ret = sl_k8s_report_config(r->k8s, cfg);
	if (ret < 0)
		sl_log_warn("%s: %s: no Event for the rejected resources",
			    __func__, strerror(-ret));
}

static void sl_reload_note_api(struct sl_reload *r, const struct sl_config *cfg,
			       size_t n_api)
{
	sl_reload_report_rejected(r, cfg);
	pthread_mutex_lock(&r->lock);
	r->st.api_docs = n_api;
	r->st.api_rejected = sl_config_rejected(cfg);
	r->st.api_saved_view = r->k8s && !r->view && r->saved.buf;
	r->st.api_serial = r->view ? sl_k8s_view_serial(r->view) : 0;
	pthread_mutex_unlock(&r->lock);
	if (r->api_loaded && r->k8s && (r->view || r->saved.buf))
		__atomic_store_n(r->api_loaded, true, __ATOMIC_RELEASE);
}

static int sl_reload_load(struct sl_reload *r, unsigned int flags)
{
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL, *old;
	char why[400];
	bool same, by_files;
	int ret;

	const struct sl_config_doc *api;
	size_t n_api;

	by_files = r->files_changed || !r->k8s;
	r->files_changed = false;
	r->pending = false;
	r->deadline = 0;
	sl_reload_arm(r);
	api = sl_reload_api_docs(r, &n_api);
	ret = sl_config_load_dir_extra(r->dir, api, n_api, r->node_name, &cfg,
				       &errs);
	if (ret < 0) {
		sl_reload_failed(r, r->dir, ret, &errs);
		sl_config_errors_free(&errs);
		sl_log_warn("%s: keeping generation %s", __func__,
			    r->cur ? sl_config_generation(r->cur) : "(none)");
		return ret;
	}
	pthread_mutex_lock(&r->lock);
	same = r->cur && !strcmp(sl_config_generation(r->cur),
				 sl_config_generation(cfg));
	if (same)
		r->st.from_last_good = false;
	pthread_mutex_unlock(&r->lock);
	if (same) {
		sl_log_debug("%s: generation %s unchanged", __func__,
			     sl_config_generation(cfg));
		sl_reload_note_api(r, cfg, n_api);
		sl_reload_log_rejected(r, cfg);
		sl_config_put(cfg);
		return 0;
	}
	ret = sl_reload_vet(r, r->cur, cfg, flags, why, sizeof(why));
	if (ret < 0) {
		sl_reload_refuse(r, ret, why, cfg);
		sl_config_put(cfg);
		return ret;
	}
	if (flags & SL_RELOAD_ALLOW_EMPTY &&
	    sl_config_guard(r->cur, cfg, why, sizeof(why)) < 0)
		sl_log_warn("%s: confirmed by the operator although %s",
			    __func__, why);
	sl_log_info("%s: loaded %s: generation %s", __func__, r->dir,
		    sl_config_generation(cfg));
	if (r->state_dir)
		sl_reload_save_paced(r, cfg, by_files);
	sl_reload_note_api(r, cfg, n_api);
	old = sl_reload_swap(r, cfg, false);
	if (r->on_swap)
		r->on_swap(r->on_swap_arg, cfg);
	sl_config_put(old);
	return 1;
}

/*
 * The snapshot to start on: the directory when it loads and passes the
 * vetting against the last good copy, else the last good copy.
 * @last_good: set when the copy was chosen
 */
static int sl_reload_first(struct sl_reload *r, struct sl_config **out,
			   bool *last_good)
{
	struct sl_config_errors errs = { 0 };
	struct sl_config *cfg = NULL, *lg = NULL;
	char why[400] = "";
	const struct sl_config_doc *api;
	size_t n_api;
	int ret, lg_ret = -ENOENT;

	if (r->state_dir)
		lg_ret = sl_reload_load_last_good(r->state_dir, r->node_name,
						  &lg);
	if (!lg_ret && r->require_usable &&
	    sl_config_usable(lg, why, sizeof(why)) < 0) {
		sl_log_warn("%s: the last good copy in %s is not usable: %s",
			    __func__, r->state_dir, why);
		sl_config_put(lg);
		lg = NULL;
		lg_ret = -EINVAL;
	}

	api = sl_reload_api_docs(r, &n_api);
	ret = sl_config_load_dir_extra(r->dir, api, n_api, r->node_name, &cfg,
				       &errs);
	if (ret < 0) {
		sl_reload_failed(r, r->dir, ret, &errs);
		sl_config_errors_free(&errs);
	} else {
		ret = sl_reload_vet(r, lg, cfg, 0, why, sizeof(why));
		if (ret < 0) {
			sl_reload_refuse(r, ret, why, cfg);
			sl_config_put(cfg);
			cfg = NULL;
		}
	}
	if (!ret) {
		sl_config_put(lg);
		sl_reload_note_api(r, cfg, n_api);
		*out = cfg;
		*last_good = false;
		return 0;
	}
	if (!lg) {
		sl_log_err("%s: %s cannot be used and there is no usable last good copy%s",
			   __func__, r->dir,
			   r->state_dir ? "" : " (no --state-dir)");
		return -EINVAL;
	}
	sl_log_warn("%s: *** %s CANNOT BE USED: running on the LAST GOOD config (generation %s) from %s/last-good; fix the errors above ***",
		    __func__, r->dir, sl_config_generation(lg), r->state_dir);
	*out = lg;
	*last_good = true;
	return 0;
}


/* the Node addresses saved in @copy: the node binding's until the Nodes
   are listed */
static void sl_reload_seed_nodes(struct sl_reload *r, const char *copy)
{
	char path[PATH_MAX], *buf = NULL;
	size_t len;
	int ret;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", copy,
			     SL_PERSIST_NODES) >= sizeof(path))
		ret = -ENAMETOOLONG;
	else
		ret = sl_read_file(path, 64u << 20, &buf, &len);
	if (ret == 0)
		ret = sl_k8s_nodes_seed(r->k8s, buf, len);
	if (ret >= 0)
		sl_log_info("%s: %d Node addresses from %s until the Nodes are listed",
			    __func__, ret, path);
	else
		sl_log_warn("%s: %s: %s: the node binding knows no Node until the Nodes are listed",
			    __func__, path, strerror(-ret));
	free(buf);
}

/*
 * The API source: its eventfd polled with the inotify fd; the first full
 * sync waited for (at most opts->k8s_wait_ns); without it, the view saved
 * with the last good copy serves until the API answers.
 */
static int sl_reload_k8s_setup(struct sl_reload *r,
			       const struct sl_reload_opts *opts)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint64_t end = sl_reload_mono(NULL) + opts->k8s_wait_ns;
	char path[PATH_MAX];

	r->k8s = opts->k8s;
	r->api_loaded = opts->api_loaded;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0)
		return -errno;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0 ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, sl_k8s_fd(r->k8s), &ev) < 0)
		return -errno;
	while (!sl_k8s_synced(r->k8s)) {
		uint64_t now = sl_reload_mono(NULL);
		struct pollfd p = { .fd = sl_k8s_fd(r->k8s), .events = POLLIN };

		if (now >= end)
			break;
		poll(&p, 1, (int)((end - now) / 1000000ull) + 1);
	}
	if (sl_k8s_synced(r->k8s)) {
		sl_log_info("%s: the Kubernetes API is synced", __func__);
		return 0;
	}
	if (!r->state_dir) {
		sl_log_warn("%s: *** the Kubernetes API is not synced after %llu s and there is no --state-dir: starting WITHOUT its pods, services and Istio resources until it answers ***",
			    __func__,
			    (unsigned long long)(opts->k8s_wait_ns / 1000000000ull));
		return 0;
	}
	snprintf(path, sizeof(path), "%s/last-good", r->state_dir);
	if (sl_persist_view_read(path, &r->saved) == 0) {
		sl_log_warn("%s: *** the Kubernetes API is not synced after %llu s: serving the view saved in %s (%zu resources) until it answers ***",
			    __func__,
			    (unsigned long long)(opts->k8s_wait_ns / 1000000000ull),
			    path, r->saved.n);
		sl_reload_seed_nodes(r, path);
	} else
		sl_log_warn("%s: *** the Kubernetes API is not synced after %llu s and no view was saved in %s: starting WITHOUT its pods, services and Istio resources until it answers ***",
			    __func__,
			    (unsigned long long)(opts->k8s_wait_ns / 1000000000ull),
			    path);
	return 0;
}

int sl_reload_new(const struct sl_reload_opts *opts, struct sl_reload **out)
{
	struct sl_config *cfg = NULL;
	struct sl_reload *r;
	bool last_good = false;
	char *slash;
	int ret = -ENOMEM;

	if (!opts || !opts->dir)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	r->fd = -1;
	r->epfd = -1;
	r->wd = -1;
	r->pwd = -1;
	r->dir = strdup(opts->dir);
	r->node_name = opts->node_name ? strdup(opts->node_name) : NULL;
	r->state_dir = opts->state_dir ? strdup(opts->state_dir) : NULL;
	if (!r->dir || (opts->node_name && !r->node_name) ||
	    (opts->state_dir && !r->state_dir))
		goto err;
	/* "a/b/cfg/" -> parent "a/b", base "cfg"; "cfg" -> ".", "cfg" */
	r->parent = strdup(r->dir);
	if (!r->parent)
		goto err;
	for (size_t n = strlen(r->parent); n > 1 && r->parent[n - 1] == '/';)
		r->parent[--n] = '\0';
	slash = strrchr(r->parent, '/');
	if (!slash) {
		r->base = r->parent;
		r->parent = strdup(".");
	} else if (slash == r->parent) {
		r->base = strdup(slash + 1);
		r->parent[1] = '\0';
	} else {
		r->base = strdup(slash + 1);
		*slash = '\0';
	}
	if (!r->parent || !r->base)
		goto err;
	r->debounce_ns = opts->debounce_ns ? opts->debounce_ns :
					     SL_RELOAD_DEBOUNCE_NS;
	r->clock = opts->clock ? opts->clock : sl_reload_mono;
	r->clock_arg = opts->clock_arg;
	r->on_swap = opts->on_swap;
	r->on_swap_arg = opts->on_swap_arg;
	r->require_usable = opts->require_usable;

	r->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (r->fd < 0) {
		ret = -errno;
		sl_log_err("%s: inotify_init1: %s", __func__, strerror(errno));
		goto err;
	}
	sl_reload_arm(r);
	if (r->wd < 0) {
		ret = -errno;
		sl_log_err("%s: watch %s: %s", __func__, r->dir,
			   strerror(errno));
		goto err;
	}

	if (opts->k8s) {
		ret = sl_reload_k8s_setup(r, opts);
		if (ret < 0)
			goto err;
	}
	ret = sl_reload_first(r, &cfg, &last_good);
	if (ret < 0)
		goto err;
	if (!last_good && r->state_dir) {
		sl_reload_save(r, cfg);
		r->last_persist = sl_reload_clock(r);
	}
	sl_reload_swap(r, cfg, last_good);
	*out = r;
	return 0;
err:
	sl_reload_free(r);
	return ret;
}

void sl_reload_free(struct sl_reload *r)
{
	if (!r)
		return;
	if (r->persist_due && r->state_dir)
		sl_reload_save_due(r); /* the newest view, for the next start */
	if (r->fd >= 0)
		close(r->fd);
	if (r->epfd >= 0)
		close(r->epfd);
	sl_k8s_view_put(r->view);
	sl_persisted_view_free(&r->saved);
	sl_config_put(r->cur);
	pthread_mutex_destroy(&r->lock);
	free(r->dir);
	free(r->parent);
	free(r->base);
	free(r->node_name);
	free(r->state_dir);
	free(r);
}

int sl_reload_fd(const struct sl_reload *r)
{
	return r->epfd >= 0 ? r->epfd : r->fd;
}

/*
 * An event: the reload is due debounce_ns after it (a file written in
 * several steps is read once), but never later than SL_RELOAD_MAX_DELAY_NS
 * after the first event it waits for, so a stream of events cannot put it
 * off forever.  A new view of the Kubernetes API (coalesced by the source
 * already) never puts a pending reload off: under steady pod churn a view
 * comes every 100 ms and would otherwise keep every change waiting.
 */
static void sl_reload_defer(struct sl_reload *r, bool api)
{
	uint64_t now = sl_reload_clock(r), dl = now + r->debounce_ns;

	if (!api)
		r->files_changed = true;
	if (!r->pending) {
		r->pending = true;
		r->pending_since = now;
		r->deadline = dl;
		return;
	}
	if (api)
		return;
	if (dl > r->pending_since + SL_RELOAD_MAX_DELAY_NS)
		dl = r->pending_since + SL_RELOAD_MAX_DELAY_NS;
	if (dl > r->deadline)
		r->deadline = dl;
}

int sl_reload_feed(struct sl_reload *r, const void *buf, size_t len)
{
	const char *p = buf;
	bool any = false;

	while (len >= sizeof(struct inotify_event)) {
		struct inotify_event ev;
		size_t sz;

		memcpy(&ev, p, sizeof(ev));
		sz = sizeof(ev) + ev.len;
		if (sz > len)
			break;
		p += sz;
		len -= sz;
		/* the parent: only events naming the directory count */
		if (ev.wd >= 0 && ev.wd == r->pwd) {
			if (!ev.len || !r->base ||
			    strcmp(p - sz + sizeof(ev), r->base))
				continue;
			sl_log_notice("%s: %s was %s", __func__, r->dir,
				      ev.mask & (IN_CREATE | IN_MOVED_TO) ?
					      "created: watching it" :
					      "removed or moved away");
		} else if (ev.mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
			sl_log_warn("%s: %s was removed or moved: the running config stays; watching for the directory to come back",
				    __func__, r->dir);
		}
		if (ev.mask & IN_Q_OVERFLOW)
			sl_log_debug("%s: inotify queue overflow", __func__);
		sl_log_debug("%s: event 0x%x %s", __func__, ev.mask,
			     ev.len ? p - sz + sizeof(ev) : "");
		any = true;
	}
	if (any)
		sl_reload_defer(r, false);
	return any;
}

int sl_reload_process(struct sl_reload *r)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int ret = 0;

	if (r->k8s) {
		uint64_t x;

		if (read(sl_k8s_fd(r->k8s), &x, sizeof(x)) == sizeof(x)) {
			sl_log_debug("%s: the Kubernetes view changed",
				     __func__);
			sl_reload_defer(r, true);
			ret = 1;
		}
	}

	for (;;) {
		ssize_t n = read(r->fd, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return ret;
			sl_log_err("%s: read inotify: %s", __func__,
				   strerror(errno));
			return -errno;
		}
		if (n == 0)
			return ret;
		if (sl_reload_feed(r, buf, (size_t)n) > 0)
			ret = 1;
	}
}

uint64_t sl_reload_deadline(const struct sl_reload *r)
{
	uint64_t d = r->pending ? r->deadline : 0;

	if (r->persist_due && (!d || r->persist_due < d))
		d = r->persist_due;
	return d;
}

int sl_reload_tick(struct sl_reload *r)
{
	uint64_t now = sl_reload_clock(r);

	if (r->persist_due && now >= r->persist_due)
		sl_reload_save_due(r);
	if (!r->pending || now < r->deadline)
		return 0;
	return sl_reload_load(r, 0);
}

int sl_reload_now(struct sl_reload *r, unsigned int flags)
{
	sl_log_info("%s: reloading %s%s", __func__, r->dir,
		    flags & SL_RELOAD_ALLOW_EMPTY ? " (--allow-empty)" : "");
	r->files_changed = true; /* the operator asked: saved at once */
	return sl_reload_load(r, flags);
}

struct sl_config *sl_reload_get(struct sl_reload *r)
{
	struct sl_config *cfg;

	pthread_mutex_lock(&r->lock);
	cfg = sl_config_get(r->cur);
	pthread_mutex_unlock(&r->lock);
	return cfg;
}

void sl_reload_status(struct sl_reload *r, struct sl_reload_status *st)
{
	pthread_mutex_lock(&r->lock);
	*st = r->st;
	pthread_mutex_unlock(&r->lock);
}
