/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One resource's reflector (reflector.h), as client-go's: list in pages
 * (limit/continue; resourceVersion "0" the first time, so that a large
 * cluster's API server answers from its watch cache; each page read as it
 * arrives, listscan.c) into a staging store that replaces the store at the
 * last page, then watch from the list's resourceVersion with
 * allowWatchBookmarks.  A watch that ends (timeout, server gone, stream cut
 * mid-event) resumes from the last resourceVersion it saw; a 410 Gone (on
 * the watch, in an ERROR event, or a continue token that expired) relists
 * at the latest.  Failures back off exponentially with jitter, so nodes do
 * not come back in step after an API server restart.  The bearer token
 * file is re-read when it changes (the kubelet rotates projected tokens)
 * and after a 401.  All of it runs on the source's thread
 * (source.c); the store and the status are written under k->lock.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "reflector.h"
#include "sl_build_config.h"
#include "util.h"

uint64_t sl_k8s_rand(struct sl_k8s *k)
{
	/* xorshift64*: jitter only */
	k->rng ^= k->rng >> 12;
	k->rng ^= k->rng << 25;
	k->rng ^= k->rng >> 27;
	return k->rng * 2685821657736338717ull;
}

void sl_refl_error(struct sl_refl *r, const char *fmt, ...)
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
void sl_refl_backoff(struct sl_refl *r)
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
	/* under k->lock; a store changed: the node index too, maybe */
	k->nodes_stale = true;
	if (!k->dirty) {
		k->dirty = true;
		k->dirty_at = sl_now_ns();
	}
}

/* ---- the bearer token ------------------------------------------------ */

void sl_wipe_str(char *s)
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

void sl_refl_end_request(struct sl_refl *r)
{
	if (r->easy) {
		curl_multi_remove_handle(r->k->multi, r->easy);
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	sl_k8s_headers_free(r->hdrs);
	r->hdrs = NULL;
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
	char *url = NULL, *cont = NULL, *sel = NULL;
	int w;

	if (!watch && r->cont) {
		cont = curl_easy_escape(NULL, r->cont, 0);
		if (!cont)
			return NULL;
	}
	if (r->res->label_selector) {
		sel = curl_easy_escape(NULL, r->res->label_selector, 0);
		if (!sel) {
			curl_free(cont);
			return NULL;
		}
	}
	if (watch) {
		unsigned int t = k->o.watch_timeout_s;

		t += (unsigned int)(sl_k8s_rand(k) % (t / 2 + 1));
		w = asprintf(&url,
			     "%s/%s%s/%s/%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u%s%s",
			     k->creds.server, r->res->group ? "apis/" : "api",
			     r->res->group ? r->res->group : "", ver,
			     r->res->plural, r->rv, t,
			     sel ? "&labelSelector=" : "", sel ? sel : "");
	} else {
		/* the first list may come from the API server's watch cache
		   (resourceVersion 0, as client-go's first list); a relist
		   (after a 410, or a failed list) asks for the latest */
		const char *rvq = cont || r->st.lists || r->list_fresh ?
					  "" : "&resourceVersion=0";

		w = asprintf(&url, "%s/%s%s/%s/%s?limit=%u%s%s%s%s%s",
			     k->creds.server, r->res->group ? "apis/" : "api",
			     r->res->group ? r->res->group : "", ver,
			     r->res->plural, k->o.page_size,
			     cont ? "&continue=" : "", cont ? cont : "", rvq,
			     sel ? "&labelSelector=" : "", sel ? sel : "");
	}
	curl_free(cont);
	curl_free(sel);
	return w < 0 ? NULL : url;
}

struct curl_slist *sl_k8s_headers(struct sl_k8s *k, const char *extra)
{
	struct curl_slist *hdrs, *h;
	char *auth = NULL;

	sl_k8s_token_refresh(k);
	hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (!hdrs)
		return NULL;
	if (extra) {
		h = curl_slist_append(hdrs, extra);
		if (!h)
			goto err;
		hdrs = h;
	}
	if (k->token || k->creds.token) {
		if (asprintf(&auth, "Authorization: Bearer %s",
			     k->token ? k->token : k->creds.token) < 0)
			goto err;
		h = curl_slist_append(hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		if (!h)
			goto err;
		hdrs = h;
	}
	return hdrs;
err:
	sl_k8s_headers_free(hdrs);
	return NULL;
}

void sl_k8s_headers_free(struct curl_slist *hdrs)
{
	for (struct curl_slist *h = hdrs; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(hdrs);
}

void sl_k8s_easy_setup(struct sl_k8s *k, CURL *e, const char *url,
		       struct curl_slist *hdrs, long timeout_ms)
{
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sluiced/" SL_VERSION);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
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
}

int sl_refl_begin(struct sl_refl *r)
{
	struct sl_k8s *k = r->k;
	bool watch = !r->need_list;
	char *url;
	CURL *e;

	url = sl_refl_url(r, watch);
	if (!url)
		return -ENOMEM;
	e = curl_easy_init();
	r->hdrs = e ? sl_k8s_headers(k, NULL) : NULL;
	if (!r->hdrs) {
		if (e)
			curl_easy_cleanup(e);
		free(url);
		return -ENOMEM;
	}
	sl_k8s_easy_setup(k, e, url, r->hdrs,
			  watch ? (long)(k->o.watch_timeout_s * 2 + 60) * 1000L :
				  60000L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, sl_refl_write);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
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

void sl_refl_done(struct sl_refl *r, CURLcode res)
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
