/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Kubernetes source (see k8s.h): one thread, one libcurl multi handle,
 * a reflector per resource.
 *
 * A reflector lists (limit/continue pages, resourceVersion "0" the first
 * time, as client-go's does, so a large cluster's API server answers from
 * its watch cache), swaps the new objects in, then watches from the list's
 * resourceVersion with allowWatchBookmarks.  A watch that ends (timeout,
 * server gone, stream cut mid-event) resumes from the last resourceVersion
 * it saw; a 410 Gone (on the watch, in an ERROR event, or a continue token
 * that expired) relists with resourceVersion "" (the latest).  Failures back
 * off exponentially with jitter, so nodes do not come back in step after
 * an API server restart.  The bearer token file is re-read when it changes
 * (projected tokens are rotated by the kubelet) and after a 401.
 *
 * Locking: the thread owns the reflectors; k->lock guards what other
 * threads read (the stores, the status, the publication state).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "k8s.h"
#include "k8s_internal.h"
#include "log.h"
#include "sl_build_config.h"
#include "util.h"

#define SL_K8S_BACKOFF_MIN_MS 800
#define SL_K8S_TOKEN_MAX 65536

enum sl_refl_state {
	SL_R_IDLE,  /* waiting for next_at, then list or watch */
	SL_R_LIST,  /* a list page in flight */
	SL_R_WATCH, /* a watch stream open */
};

struct sl_refl {
	struct sl_k8s *k;
	const struct sl_k8s_res *res;
	size_t vi; /* res->versions[vi] is tried / served */
	enum sl_refl_state state;
	bool need_list;	 /* the next request is a list */
	bool list_fresh; /* list at the latest resourceVersion ("") */
	bool gone;	 /* the watch said 410: relist */
	bool streaming;	 /* the watch answered 200: lines are events */
	bool progress;	 /* the watch delivered something */
	CURL *easy;
	struct curl_slist *hdrs;
	char *buf; /* a list's body, a watch's partial line, an error body */
	size_t len, cap;
	bool overflow;
	char rv[64];  /* last resourceVersion synced to */
	char *cont;   /* the next list page's continue token */
	struct sl_k8s_lscan ls; /* a list page, read as it arrives */
	char page_rv[64]; /* its metadata.resourceVersion ("": none yet) */
	char *page_cont;  /* its metadata.continue, or NULL */
	struct sl_k8s_store staging; /* a list in progress */
	struct sl_k8s_store store;   /* under k->lock */
	uint64_t next_at;
	unsigned int backoff_ms;
	struct sl_k8s_res_status st; /* under k->lock */
};

struct sl_k8s {
	struct sl_kube_creds creds;
	struct sl_k8s_opts o;
	CURLM *multi;
	pthread_t thr;
	bool thr_started;
	_Atomic bool stop;
	int efd;
	json_tokener *tok;
	uint64_t rng;

	char *token; /* the bearer token in use */
	struct timespec token_mtime;
	off_t token_size;
	bool token_reread; /* a 401: read the file again */

	pthread_mutex_t lock;
	struct sl_refl *refl;
	bool dirty;	 /* something changed since the last publication */
	uint64_t dirty_at;
	bool published;	 /* the first full sync is done */
	uint64_t serial; /* views published */
};

struct sl_k8s_view {
	atomic_uint refs;
	uint64_t serial;
	size_t n;
	struct sl_config_doc *docs;
	struct sl_k8s_doc **held;
};

static uint64_t sl_k8s_rand(struct sl_k8s *k)
{
	/* xorshift64*: jitter only */
	k->rng ^= k->rng >> 12;
	k->rng ^= k->rng << 25;
	k->rng ^= k->rng >> 27;
	return k->rng * 2685821657736338717ull;
}

static void sl_refl_error(struct sl_refl *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sl_refl_error(struct sl_refl *r, const char *fmt, ...)
{
	char msg[sizeof(r->st.last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sl_log_warn("kubernetes: %s: %s", r->res->name, msg);
	pthread_mutex_lock(&r->k->lock);
	r->st.errors++;
	sl_strlcpy(r->st.last_error, msg, sizeof(r->st.last_error));
	pthread_mutex_unlock(&r->k->lock);
}

/* the next attempt after a failure: exponential, jittered in [1/2, 1] */
static void sl_refl_backoff(struct sl_refl *r)
{
	struct sl_k8s *k = r->k;
	uint64_t ms;

	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 :
					SL_K8S_BACKOFF_MIN_MS;
	if (r->backoff_ms > k->o.backoff_max_ms)
		r->backoff_ms = k->o.backoff_max_ms;
	ms = r->backoff_ms / 2 + sl_k8s_rand(k) % (r->backoff_ms / 2 + 1);
	r->next_at = sl_now_ns() + ms * 1000000ull;
	r->state = SL_R_IDLE;
}

static void sl_refl_soon(struct sl_refl *r)
{
	r->next_at = sl_now_ns();
	r->state = SL_R_IDLE;
}

static void sl_k8s_mark_dirty(struct sl_k8s *k)
{
	/* under k->lock */
	if (!k->dirty) {
		k->dirty = true;
		k->dirty_at = sl_now_ns();
	}
}

/* ---- the bearer token ------------------------------------------------ */

static void sl_wipe_str(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* re-read the token file when it changed (or after a 401) */
static void sl_k8s_token_refresh(struct sl_k8s *k)
{
	struct stat sb;
	char *buf = NULL;
	size_t n = 0;
	int ret;

	if (!k->creds.token_file)
		return;
	if (stat(k->creds.token_file, &sb) < 0) {
		sl_log_warn("kubernetes: token file %s: %s%s",
			    k->creds.token_file, strerror(errno),
			    k->token ? " (keeping the token read before)" : "");
		return;
	}
	if (k->token && !k->token_reread &&
	    sb.st_mtim.tv_sec == k->token_mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == k->token_mtime.tv_nsec &&
	    sb.st_size == k->token_size)
		return;
	ret = sl_read_file(k->creds.token_file, SL_K8S_TOKEN_MAX, &buf, &n);
	if (ret < 0) {
		sl_log_warn("kubernetes: token file %s: %s", k->creds.token_file,
			    strerror(-ret));
		return;
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
		     buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (!n || memchr(buf, '\0', n) || strpbrk(buf, "\r\n")) {
		sl_log_warn("kubernetes: token file %s holds no usable token",
			    k->creds.token_file);
		explicit_bzero(buf, n);
		free(buf);
		return;
	}
	if (k->token && strcmp(k->token, buf))
		sl_log_info("kubernetes: token file %s changed: using the new token",
			    k->creds.token_file);
	sl_wipe_str(k->token);
	k->token = buf;
	k->token_mtime = sb.st_mtim;
	k->token_size = sb.st_size;
	k->token_reread = false;
}

/* ---- requests --------------------------------------------------------- */

static void sl_refl_end_request(struct sl_refl *r)
{
	if (r->easy) {
		curl_multi_remove_handle(r->k->multi, r->easy);
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	if (r->hdrs) {
		for (struct curl_slist *h = r->hdrs; h; h = h->next)
			explicit_bzero(h->data, strlen(h->data));
		curl_slist_free_all(r->hdrs);
		r->hdrs = NULL;
	}
	r->len = 0;
	r->overflow = false;
}

static int sl_buf_append(struct sl_refl *r, const char *p, size_t n,
			 size_t max)
{
	if (r->len + n > max) {
		r->overflow = true;
		return -E2BIG;
	}
	if (r->len + n + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 16384;
		char *b;

		while (cap < r->len + n + 1)
			cap *= 2;
		b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	r->buf[r->len] = '\0';
	return 0;
}

static json_object *sl_parse(struct sl_k8s *k, const char *s, size_t n)
{
	json_object *o;

	json_tokener_reset(k->tok);
	o = json_tokener_parse_ex(k->tok, s, (int)n);
	if (o && k->tok->char_offset < (int)n) {
		/* trailing bytes: only whitespace is allowed */
		for (size_t i = (size_t)k->tok->char_offset; i < n; i++)
			if (s[i] != ' ' && s[i] != '\n' && s[i] != '\r' &&
			    s[i] != '\t') {
				json_object_put(o);
				return NULL;
			}
	}
	return o;
}

static const char *sl_jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static json_object *sl_jget(json_object *o, const char *key)
{
	json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* @a and @b give the same documents and flags (NULL: no object) */
static bool sl_k8s_obj_same(const struct sl_k8s_obj *a,
			    const struct sl_k8s_obj *b)
{
	if (!a || !b)
		return false;
	if (a->flags != b->flags || a->n_docs != b->n_docs ||
	    a->n_ips != b->n_ips)
		return false;
	for (size_t i = 0; i < a->n_ips; i++)
		if (!sl_ip_equal(&a->ips[i], &b->ips[i]))
			return false;
	for (size_t i = 0; i < a->n_docs; i++)
		if (a->docs[i]->len != b->docs[i]->len ||
		    memcmp(a->docs[i]->text, b->docs[i]->text, a->docs[i]->len))
			return false;
	return true;
}

/* apply an object: into @s (the store or the staging one) */
static int sl_refl_apply(struct sl_refl *r, struct sl_k8s_store *s,
			 json_object *o, bool del, bool locked)
{
	struct sl_k8s_obj *obj = NULL;
	const char *ns, *name;
	char why[160] = "", *key = NULL;
	bool changed = false;
	int ret = 0;

	if (!sl_k8s_meta(o, &ns, &name)) {
		sl_refl_error(r, "an object without metadata.name: skipped");
		return 0;
	}
	if (!del) {
		ret = r->res->convert(r->res, o, &obj, why, sizeof(why));
		if (ret == -EINVAL) {
			sl_refl_error(r, "%s/%s: %s: skipped", ns, name, why);
			ret = 0;
		}
		if (ret < 0)
			return ret;
	}
	if (locked)
		pthread_mutex_lock(&r->k->lock);
	if (locked && sl_k8s_obj_same(sl_k8s_store_find(s, obj ? obj->key : ""),
				      obj)) {
		/* a change that changes nothing sluice uses (a pod's
		   conditions, a resourceVersion): no new view */
		pthread_mutex_unlock(&r->k->lock);
		sl_k8s_obj_free(obj);
		return 0;
	}
	if (obj) {
		ret = sl_k8s_store_put(s, obj);
		changed = true;
	} else if (asprintf(&key, "%s/%s", ns, name) >= 0) {
		changed = sl_k8s_store_del(s, key);
		free(key);
	} else {
		ret = -ENOMEM;
	}
	if (locked) {
		if (changed)
			sl_k8s_mark_dirty(r->k);
		pthread_mutex_unlock(&r->k->lock);
	}
	return ret;
}

static void sl_refl_set_rv(struct sl_refl *r, json_object *o)
{
	const char *rv = sl_jstr(sl_jget(o, "metadata"), "resourceVersion");

	if (rv && *rv)
		sl_strlcpy(r->rv, rv, sizeof(r->rv));
}

/* one watch event line; false ends the stream (error or 410) */
static bool sl_refl_event(struct sl_refl *r, const char *line, size_t n)
{
	json_object *ev = sl_parse(r->k, line, n), *o;
	const char *type;
	bool ok = true;

	if (!ev || !json_object_is_type(ev, json_type_object)) {
		sl_refl_error(r, "watch: an event that is not a JSON object (%.60s)",
			      line);
		json_object_put(ev);
		return false;
	}
	type = sl_jstr(ev, "type");
	o = sl_jget(ev, "object");
	if (!type || !o || !json_object_is_type(o, json_type_object)) {
		sl_refl_error(r, "watch: an event without type or object");
		json_object_put(ev);
		return false;
	}
	if (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED") ||
	    !strcmp(type, "DELETED")) {
		if (sl_refl_apply(r, &r->store, o, type[0] == 'D', true) < 0) {
			sl_refl_error(r, "watch: out of memory");
			ok = false;
		}
		sl_refl_set_rv(r, o);
	} else if (!strcmp(type, "BOOKMARK")) {
		sl_refl_set_rv(r, o);
	} else if (!strcmp(type, "ERROR")) {
		json_object *code = sl_jget(o, "code");
		const char *msg = sl_jstr(o, "message");

		if (code && json_object_get_int(code) == 410) {
			r->gone = true;
			sl_log_info("kubernetes: %s: watch: 410 Gone (%s): relisting",
				    r->res->name, msg ? msg : "expired");
		} else {
			sl_refl_error(r, "watch: ERROR event %d: %s",
				      code ? json_object_get_int(code) : 0,
				      msg ? msg : "(no message)");
		}
		ok = false;
	} else {
		sl_refl_error(r, "watch: unknown event type \"%.20s\"", type);
		ok = false;
	}
	if (ok) {
		r->progress = true;
		r->backoff_ms = 0;
		pthread_mutex_lock(&r->k->lock);
		r->st.events++;
		r->st.last_event = time(NULL);
		sl_strlcpy(r->st.resource_version, r->rv,
			   sizeof(r->st.resource_version));
		pthread_mutex_unlock(&r->k->lock);
	}
	json_object_put(ev);
	return ok;
}

static size_t sl_refl_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sl_refl *r = arg;
	size_t n = size * nmemb;
	long code = 0;

	if (!r->streaming) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		r->streaming = code == 200;
	}
	if (!r->streaming) /* an error's Status body */
		return sl_buf_append(r, p, n, SL_K8S_MAX_PAGE) < 0 ? 0 : n;
	if (r->state == SL_R_LIST)
		return sl_k8s_lscan_feed(&r->ls, p, n) < 0 ? 0 : n;
	if (sl_buf_append(r, p, n, SL_K8S_MAX_EVENT) < 0) {
		sl_refl_error(r, "watch: an event longer than %u bytes",
			      SL_K8S_MAX_EVENT);
		return 0;
	}
	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		size_t ll;

		if (!nl)
			break;
		ll = (size_t)(nl - r->buf);
		if (ll && !sl_refl_event(r, r->buf, ll))
			return 0; /* ends the transfer: done() decides */
		memmove(r->buf, nl + 1, r->len - ll - 1);
		r->len -= ll + 1;
	}
	return n;
}

/* one item of a list page: into the staging store */
static int sl_refl_list_item(void *arg, const char *text, size_t n)
{
	struct sl_refl *r = arg;
	json_object *o = sl_parse(r->k, text, n);
	int ret;

	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -EINVAL;
	}
	ret = sl_refl_apply(r, &r->staging, o, false, false);
	json_object_put(o);
	return ret;
}

/* a list page's metadata: its resourceVersion and continue token */
static int sl_refl_list_meta(void *arg, const char *text, size_t n)
{
	struct sl_refl *r = arg;
	json_object *m = sl_parse(r->k, text, n);
	const char *rv = sl_jstr(m, "resourceVersion");
	const char *cont = sl_jstr(m, "continue");
	int ret = 0;

	if (rv && *rv)
		sl_strlcpy(r->page_rv, rv, sizeof(r->page_rv));
	free(r->page_cont);
	r->page_cont = cont && *cont ? strdup(cont) : NULL;
	if (cont && *cont && !r->page_cont)
		ret = -ENOMEM;
	json_object_put(m);
	return ret;
}

static char *sl_refl_url(struct sl_refl *r, bool watch)
{
	struct sl_k8s *k = r->k;
	const char *ver = r->res->versions[r->vi];
	char *url = NULL, *cont = NULL;
	int w;

	if (!watch && r->cont) {
		cont = curl_easy_escape(NULL, r->cont, 0);
		if (!cont)
			return NULL;
	}
	if (watch) {
		unsigned int t = k->o.watch_timeout_s;

		t += (unsigned int)(sl_k8s_rand(k) % (t / 2 + 1));
		w = asprintf(&url,
			     "%s/%s%s/%s/%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u",
			     k->creds.server, r->res->group ? "apis/" : "api",
			     r->res->group ? r->res->group : "", ver,
			     r->res->plural, r->rv, t);
	} else {
		/* the first list may come from the API server's watch cache
		   (resourceVersion 0, as client-go's first list); a relist
		   (after a 410, or a failed list) asks for the latest */
		const char *rvq = cont || r->st.lists || r->list_fresh ?
					  "" : "&resourceVersion=0";

		w = asprintf(&url, "%s/%s%s/%s/%s?limit=%u%s%s%s",
			     k->creds.server, r->res->group ? "apis/" : "api",
			     r->res->group ? r->res->group : "", ver,
			     r->res->plural, k->o.page_size,
			     cont ? "&continue=" : "", cont ? cont : "", rvq);
	}
	curl_free(cont);
	return w < 0 ? NULL : url;
}

static int sl_refl_begin(struct sl_refl *r)
{
	struct sl_k8s *k = r->k;
	bool watch = !r->need_list;
	char *url, *auth = NULL;
	CURL *e;

	url = sl_refl_url(r, watch);
	if (!url)
		return -ENOMEM;
	e = curl_easy_init();
	if (!e) {
		free(url);
		return -ENOMEM;
	}
	sl_k8s_token_refresh(k);
	r->hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (k->token || k->creds.token) {
		if (asprintf(&auth, "Authorization: Bearer %s",
			     k->token ? k->token : k->creds.token) < 0)
			auth = NULL;
		if (auth) {
			struct curl_slist *h = curl_slist_append(r->hdrs, auth);

			explicit_bzero(auth, strlen(auth));
			free(auth);
			if (h)
				r->hdrs = h;
		}
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sl_refl_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sluiced/" SL_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
			 watch ? (long)(k->o.watch_timeout_s * 2 + 60) * 1000L :
				 60000L);
	if (k->creds.ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, k->creds.ca_file);
	if (k->creds.ca_pem) {
		struct curl_blob b = { k->creds.ca_pem, k->creds.ca_pem_len,
				       CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
	}
	if (k->creds.cert_file)
		curl_easy_setopt(e, CURLOPT_SSLCERT, k->creds.cert_file);
	if (k->creds.key_file)
		curl_easy_setopt(e, CURLOPT_SSLKEY, k->creds.key_file);
	if (k->creds.cert_pem) {
		struct curl_blob b = { k->creds.cert_pem,
				       k->creds.cert_pem_len,
				       CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (k->creds.key_pem) {
		struct curl_blob b = { k->creds.key_pem, k->creds.key_pem_len,
				       CURL_BLOB_NOCOPY };

		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &b);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	free(url);
	r->easy = e;
	r->len = 0;
	if (!watch) {
		sl_k8s_lscan_init(&r->ls, SL_K8S_MAX_EVENT, sl_refl_list_item,
				  sl_refl_list_meta, r);
		r->page_rv[0] = '\0';
		free(r->page_cont);
		r->page_cont = NULL;
	}
	r->streaming = false;
	r->progress = false;
	r->gone = false;
	if (curl_multi_add_handle(k->multi, e) != CURLM_OK) {
		sl_refl_end_request(r);
		return -ENOMEM;
	}
	r->state = watch ? SL_R_WATCH : SL_R_LIST;
	if (watch) {
		pthread_mutex_lock(&k->lock);
		r->st.watches++;
		r->st.watching = true;
		pthread_mutex_unlock(&k->lock);
	}
	return 0;
}

/* "403: pods is forbidden: ..." from a Status body, or the HTTP code */
static void sl_refl_http_error(struct sl_refl *r, const char *what, long code)
{
	json_object *st = r->len ? sl_parse(r->k, r->buf, r->len) : NULL;
	const char *msg = sl_jstr(st, "message");

	sl_refl_error(r, "%s: HTTP %ld%s%s", what, code, msg ? ": " : "",
		      msg ? msg : "");
	json_object_put(st);
}

static const char *sl_lscan_why(int err)
{
	return err == -E2BIG ? "an item too large" :
	       err == -ENOMEM ? "out of memory" :
				"the answer is not a JSON list";
}

/* a list page arrived whole (200): its items are in the staging store */
static int sl_refl_page(struct sl_refl *r)
{
	int ret = sl_k8s_lscan_end(&r->ls);

	if (ret < 0) {
		sl_refl_error(r, "list: %s", sl_lscan_why(ret));
		return ret;
	}
	if (!r->page_rv[0]) {
		sl_refl_error(r, "list: no metadata.resourceVersion");
		return -EINVAL;
	}
	free(r->cont);
	r->cont = r->page_cont;
	r->page_cont = NULL;
	if (!r->cont)
		sl_strlcpy(r->rv, r->page_rv, sizeof(r->rv));
	return 0;
}

/* the last page: the staging store replaces the store */
static void sl_refl_synced(struct sl_refl *r)
{
	struct sl_k8s *k = r->k;
	struct sl_k8s_store old;

	pthread_mutex_lock(&k->lock);
	old = r->store;
	r->store = r->staging;
	memset(&r->staging, 0, sizeof(r->staging));
	r->st.synced = true;
	r->st.absent = false;
	r->st.lists++;
	r->st.last_sync = time(NULL);
	snprintf(r->st.version, sizeof(r->st.version), "%s",
		 r->res->versions[r->vi]);
	sl_strlcpy(r->st.resource_version, r->rv,
		   sizeof(r->st.resource_version));
	sl_k8s_mark_dirty(k);
	pthread_mutex_unlock(&k->lock);
	sl_k8s_store_clear(&old);
	sl_log_info("kubernetes: %s: listed %zu object%s at resourceVersion %s",
		    r->res->name, r->store.n, r->store.n == 1 ? "" : "s",
		    r->rv);
	r->need_list = false;
	r->list_fresh = false;
	r->backoff_ms = 0;
	sl_refl_soon(r);
}

/* the server does not serve this resource in any version we know */
static void sl_refl_absent(struct sl_refl *r)
{
	struct sl_k8s *k = r->k;
	struct sl_k8s_store old;
	bool was;

	pthread_mutex_lock(&k->lock);
	was = r->st.absent;
	old = r->store;
	memset(&r->store, 0, sizeof(r->store));
	r->st.absent = true;
	r->st.version[0] = '\0';
	if (old.n)
		sl_k8s_mark_dirty(k);
	pthread_mutex_unlock(&k->lock);
	sl_k8s_store_clear(&old);
	if (!was)
		sl_log_notice("kubernetes: %s: not served (its CustomResourceDefinition is not installed): asking again every %u s",
			      r->res->name, k->o.absent_retry_s);
	r->vi = 0;
	r->next_at = sl_now_ns() + k->o.absent_retry_s * 1000000000ull;
	r->state = SL_R_IDLE;
}

static void sl_refl_relist(struct sl_refl *r, bool fresh)
{
	sl_k8s_store_clear(&r->staging);
	free(r->cont);
	r->cont = NULL;
	r->need_list = true;
	r->list_fresh = fresh;
	if (fresh) {
		pthread_mutex_lock(&r->k->lock);
		r->st.relists_gone++;
		pthread_mutex_unlock(&r->k->lock);
	}
}

static void sl_refl_list_done(struct sl_refl *r, CURLcode res, long code)
{
	if (res != CURLE_OK) {
		if (res == CURLE_WRITE_ERROR && r->ls.err)
			sl_refl_error(r, "list: %s", sl_lscan_why(r->ls.err));
		else
			sl_refl_error(r, "list: %s%s", curl_easy_strerror(res),
				      r->overflow ? " (answer too large)" : "");
		sl_refl_relist(r, r->list_fresh);
		sl_refl_backoff(r);
		return;
	}
	if (code == 200) {
		int ret = sl_refl_page(r);

		if (ret < 0) {
			sl_refl_relist(r, r->list_fresh);
			sl_refl_backoff(r);
		} else if (r->cont) {
			sl_refl_soon(r); /* the next page */
		} else {
			sl_refl_synced(r);
		}
		return;
	}
	if (code == 404 && r->res->group) {
		sl_refl_relist(r, false);
		if (r->res->versions[++r->vi])
			sl_refl_soon(r);
		else
			sl_refl_absent(r);
		return;
	}
	if (code == 410) {
		sl_log_info("kubernetes: %s: list: 410 Gone (the continue token expired): listing again",
			    r->res->name);
		sl_refl_relist(r, true);
		sl_refl_soon(r);
		return;
	}
	if (code == 401)
		r->k->token_reread = true;
	sl_refl_http_error(r, "list", code);
	sl_refl_relist(r, r->list_fresh);
	sl_refl_backoff(r);
}

static void sl_refl_watch_done(struct sl_refl *r, CURLcode res, long code)
{
	pthread_mutex_lock(&r->k->lock);
	r->st.watching = false;
	pthread_mutex_unlock(&r->k->lock);
	if (r->gone || code == 410) {
		sl_refl_relist(r, true);
		sl_refl_soon(r);
		return;
	}
	if (code && code != 200) {
		if (code == 401)
			r->k->token_reread = true;
		sl_refl_http_error(r, "watch", code);
		sl_refl_backoff(r);
		return;
	}
	if (res == CURLE_OK) {
		/* the server ended it (timeoutSeconds): resume at once */
		sl_log_debug("kubernetes: %s: watch ended: resuming at %s",
			     r->res->name, r->rv);
		sl_refl_soon(r);
		return;
	}
	if (res != CURLE_WRITE_ERROR)
		sl_refl_error(r, "watch: %s: resuming at resourceVersion %s",
			      curl_easy_strerror(res), r->rv);
	if (r->progress)
		sl_refl_soon(r);
	else
		sl_refl_backoff(r);
}

static void sl_refl_done(struct sl_refl *r, CURLcode res)
{
	long code = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (r->state == SL_R_LIST) {
		/* keep the body: the handlers read it */
		curl_multi_remove_handle(r->k->multi, r->easy);
		sl_refl_list_done(r, res, code);
	} else {
		sl_refl_watch_done(r, res, code);
	}
	sl_refl_end_request(r);
	if (r->state != SL_R_IDLE)
		r->state = SL_R_IDLE;
}

/* ---- the thread ------------------------------------------------------- */

static bool sl_k8s_all_synced(struct sl_k8s *k)
{
	for (size_t i = 0; i < sl_k8s_n_resources; i++)
		if (!k->refl[i].st.synced && !k->refl[i].st.absent)
			return false;
	return true;
}

static void sl_k8s_signal(struct sl_k8s *k)
{
	uint64_t one = 1;

	if (write(k->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		sl_log_warn("kubernetes: eventfd: %s", strerror(errno));
}

/* publish when the first full sync is done, then coalesced changes */
static uint64_t sl_k8s_publish(struct sl_k8s *k, uint64_t now)
{
	uint64_t wait = UINT64_MAX;
	bool fire = false;

	pthread_mutex_lock(&k->lock);
	if (k->dirty && sl_k8s_all_synced(k)) {
		if (!k->published || now >= k->dirty_at + k->o.coalesce_ns) {
			if (!k->published)
				sl_log_info("kubernetes: first full sync done");
			k->published = true;
			k->dirty = false;
			k->serial++;
			fire = true;
		} else {
			wait = k->dirty_at + k->o.coalesce_ns - now;
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (fire)
		sl_k8s_signal(k);
	return wait;
}

static void *sl_k8s_thread(void *arg)
{
	struct sl_k8s *k = arg;

	while (!atomic_load(&k->stop)) {
		uint64_t now = sl_now_ns(), wait_ns = 1000000000ull, w;
		struct CURLMsg *m;
		int running, q;

		for (size_t i = 0; i < sl_k8s_n_resources; i++) {
			struct sl_refl *r = &k->refl[i];

			if (r->state != SL_R_IDLE)
				continue;
			if (now >= r->next_at) {
				if (sl_refl_begin(r) < 0) {
					sl_refl_error(r, "cannot start a request: out of memory");
					sl_refl_backoff(r);
				}
			} else if (r->next_at - now < wait_ns) {
				wait_ns = r->next_at - now;
			}
		}
		curl_multi_perform(k->multi, &running);
		while ((m = curl_multi_info_read(k->multi, &q))) {
			struct sl_refl *r = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					  (char **)&r);
			if (r)
				sl_refl_done(r, m->data.result);
		}
		w = sl_k8s_publish(k, sl_now_ns());
		if (w < wait_ns)
			wait_ns = w;
		/* idle reflectors due now: no wait */
		for (size_t i = 0; i < sl_k8s_n_resources; i++)
			if (k->refl[i].state == SL_R_IDLE &&
			    k->refl[i].next_at <= sl_now_ns())
				wait_ns = 0;
		curl_multi_poll(k->multi, NULL, 0,
				(int)(wait_ns / 1000000ull) + (wait_ns ? 1 : 0),
				NULL);
	}
	return NULL;
}

/* ---- lifetime ----------------------------------------------------------- */

static int sl_creds_copy(struct sl_kube_creds *d, const struct sl_kube_creds *s)
{
#define SL_DUP(f)                                                              \
	do {                                                                   \
		if (s->f && !(d->f = strdup(s->f)))                            \
			return -ENOMEM;                                        \
	} while (0)
#define SL_DUPN(f, n)                                                          \
	do {                                                                   \
		if (s->f) {                                                    \
			d->f = malloc(s->n + 1);                               \
			if (!d->f)                                             \
				return -ENOMEM;                                \
			memcpy(d->f, s->f, s->n + 1);                          \
			d->n = s->n;                                           \
		}                                                              \
	} while (0)
	memset(d, 0, sizeof(*d));
	SL_DUP(origin);
	SL_DUP(server);
	SL_DUP(ca_file);
	SL_DUPN(ca_pem, ca_pem_len);
	SL_DUP(token);
	SL_DUP(token_file);
	SL_DUP(cert_file);
	SL_DUP(key_file);
	SL_DUPN(cert_pem, cert_pem_len);
	SL_DUPN(key_pem, key_pem_len);
	return 0;
#undef SL_DUP
#undef SL_DUPN
}

static void sl_curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int sl_k8s_start(const struct sl_k8s_opts *opts, struct sl_k8s **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct sl_k8s *k;
	int ret = -ENOMEM;

	if (!opts || !opts->creds || !opts->creds->server)
		return -EINVAL;
	/* curl_global_init is not thread safe: once, before any thread uses
	   libcurl (the daemon has no other libcurl user) */
	pthread_once(&once, sl_curl_init);
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	pthread_mutex_init(&k->lock, NULL);
	k->efd = -1;
	k->o = *opts;
	k->o.creds = NULL;
	if (!k->o.page_size)
		k->o.page_size = 500;
	if (!k->o.watch_timeout_s)
		k->o.watch_timeout_s = 300;
	if (!k->o.coalesce_ns)
		k->o.coalesce_ns = 100000000ull;
	if (!k->o.backoff_max_ms)
		k->o.backoff_max_ms = 30000;
	if (k->o.backoff_max_ms < SL_K8S_BACKOFF_MIN_MS)
		k->o.backoff_max_ms = SL_K8S_BACKOFF_MIN_MS;
	if (!k->o.absent_retry_s)
		k->o.absent_retry_s = 60;
	k->rng = sl_now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull;
	if (!k->rng)
		k->rng = 1;
	if (sl_creds_copy(&k->creds, opts->creds) < 0)
		goto err;
	k->refl = calloc(sl_k8s_n_resources, sizeof(*k->refl));
	k->tok = json_tokener_new_ex(64);
	k->multi = curl_multi_init();
	if (!k->refl || !k->tok || !k->multi)
		goto err;
	for (size_t i = 0; i < sl_k8s_n_resources; i++) {
		struct sl_refl *r = &k->refl[i];

		r->k = k;
		r->res = &sl_k8s_resources[i];
		r->need_list = true;
		r->st.name = r->res->name;
		r->state = SL_R_IDLE;
		r->next_at = 0;
	}
	k->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->efd < 0) {
		ret = -errno;
		goto err;
	}
	{
		/* the thread takes no signal: they are the daemon's main
		   loop's (signalfd), and a default action would kill it */
		sigset_t all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ret = -pthread_create(&k->thr, NULL, sl_k8s_thread, k);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (ret < 0)
		goto err;
	k->thr_started = true;
	sl_log_info("kubernetes: watching %s (%s)", k->creds.server,
		    k->creds.origin ? k->creds.origin : "");
	*out = k;
	return 0;
err:
	sl_k8s_stop(k);
	return ret;
}

void sl_k8s_stop(struct sl_k8s *k)
{
	if (!k)
		return;
	if (k->thr_started) {
		atomic_store(&k->stop, true);
		curl_multi_wakeup(k->multi);
		pthread_join(k->thr, NULL);
	}
	for (size_t i = 0; k->refl && i < sl_k8s_n_resources; i++) {
		struct sl_refl *r = &k->refl[i];

		sl_refl_end_request(r);
		sl_k8s_store_clear(&r->store);
		sl_k8s_store_clear(&r->staging);
		free(r->buf);
		free(r->cont);
		free(r->page_cont);
		sl_k8s_lscan_free(&r->ls);
	}
	free(k->refl);
	if (k->multi)
		curl_multi_cleanup(k->multi);
	if (k->tok)
		json_tokener_free(k->tok);
	if (k->efd >= 0)
		close(k->efd);
	sl_wipe_str(k->token);
	sl_kube_creds_free(&k->creds);
	pthread_mutex_destroy(&k->lock);
	free(k);
}

int sl_k8s_fd(const struct sl_k8s *k)
{
	return k->efd;
}

bool sl_k8s_synced(struct sl_k8s *k)
{
	bool p;

	pthread_mutex_lock(&k->lock);
	p = k->published;
	pthread_mutex_unlock(&k->lock);
	return p;
}

const char *sl_k8s_server(const struct sl_k8s *k, const char **origin)
{
	if (origin)
		*origin = k->creds.origin;
	return k->creds.server;
}

/* ---- the view ----------------------------------------------------------- */

static bool sl_k8s_ns_meshed(const struct sl_k8s_store *nss, const char *ns)
{
	char key[320];
	const struct sl_k8s_obj *o;

	if (snprintf(key, sizeof(key), "/%s", ns) >= (int)sizeof(key))
		return false;
	o = sl_k8s_store_find(nss, key);
	return o && (o->flags & SL_K8S_MESHED);
}

static bool sl_k8s_counts(const struct sl_k8s_store *nss,
			  const struct sl_k8s_obj *o)
{
	if (!(o->flags & SL_K8S_NS_GATED))
		return true;
	return !(o->flags & SL_K8S_OPT_OUT) && sl_k8s_ns_meshed(nss, o->ns);
}

struct sl_k8s_view *sl_k8s_view(struct sl_k8s *k)
{
	const struct sl_k8s_store *nss = &k->refl[0].store;
	struct sl_k8s_view *v = calloc(1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return NULL;
	atomic_init(&v->refs, 1);
	pthread_mutex_lock(&k->lock);
	if (!k->published) {
		pthread_mutex_unlock(&k->lock);
		free(v);
		return NULL;
	}
	v->serial = k->serial;
	for (size_t i = 1; i < sl_k8s_n_resources; i++) {
		const struct sl_k8s_store *s = &k->refl[i].store;

		for (size_t j = 0; j < s->n; j++)
			if (sl_k8s_counts(nss, s->v[j]))
				n += s->v[j]->n_docs;
	}
	v->docs = calloc(n ? n : 1, sizeof(*v->docs));
	v->held = calloc(n ? n : 1, sizeof(*v->held));
	if (!v->docs || !v->held) {
		pthread_mutex_unlock(&k->lock);
		sl_k8s_view_put(v);
		return NULL;
	}
	for (size_t i = 1; i < sl_k8s_n_resources; i++) {
		const struct sl_k8s_store *s = &k->refl[i].store;

		for (size_t j = 0; j < s->n; j++) {
			const struct sl_k8s_obj *o = s->v[j];

			if (!sl_k8s_counts(nss, o))
				continue;
			for (size_t d = 0; d < o->n_docs; d++) {
				struct sl_k8s_doc *doc = o->docs[d];

				v->held[v->n] = sl_k8s_doc_get(doc);
				v->docs[v->n] = (struct sl_config_doc){
					.name = doc->name,
					.path = doc->path,
					.buf = doc->text,
					.len = doc->len,
					.api = true,
				};
				v->n++;
			}
		}
	}
	pthread_mutex_unlock(&k->lock);
	return v;
}

const struct sl_config_doc *sl_k8s_view_docs(const struct sl_k8s_view *v,
					     size_t *n)
{
	*n = v->n;
	return v->docs;
}

uint64_t sl_k8s_view_serial(const struct sl_k8s_view *v)
{
	return v->serial;
}

void sl_k8s_view_put(struct sl_k8s_view *v)
{
	if (!v || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (size_t i = 0; i < v->n; i++)
		sl_k8s_doc_put(v->held[i]);
	free(v->held);
	free(v->docs);
	free(v);
}

int sl_k8s_node_of(struct sl_k8s *k, const struct sl_ip *ip, char *name,
		   size_t len)
{
	const struct sl_k8s_store *s = NULL;
	int ret = -ENOENT;

	for (size_t i = 0; i < sl_k8s_n_resources; i++)
		if (!strcmp(sl_k8s_resources[i].name, "nodes"))
			s = &k->refl[i].store;
	if (!s)
		return -ENOENT;
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < s->n && ret < 0; i++) {
		const struct sl_k8s_obj *o = s->v[i];

		for (size_t j = 0; j < o->n_ips; j++) {
			if (!sl_ip_equal(&o->ips[j], ip))
				continue;
			/* the key is "/<name>" */
			sl_strlcpy(name, o->key + 1, len);
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&k->lock);
	return ret;
}

size_t sl_k8s_status(struct sl_k8s *k, struct sl_k8s_res_status *st,
		     size_t cap)
{
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < sl_k8s_n_resources && i < cap; i++) {
		st[i] = k->refl[i].st;
		st[i].objects = k->refl[i].store.n;
	}
	pthread_mutex_unlock(&k->lock);
	return sl_k8s_n_resources;
}
