/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kubernetes Events for the resources sluice rejects (k8s.h): the set the
 * daemon's reload hands over (sl_k8s_report_rejected, any thread) is kept
 * here under ev->lock; the source's thread (source.c) posts what is due,
 * one request at a time, an easy handle in the watches' multi handle, so
 * posting never holds up a watch.
 *
 * One Event per (object, message), with a name every node computes alike:
 * a DaemonSet's nodes all see the rejection, the first to post creates it
 * and the others' 409 AlreadyExists counts as reported.  Only the first
 * SL_K8S_EVENT_REPORTERS nodes (sorted names of the Nodes watched) post.
 * A token bucket bounds the rate; a 403 stops posting for a while; other
 * failures are retried with backoff a bounded number of times.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "reflector.h"
#include "util.h"

#define SL_EV_RESP_MAX 16384 /* what is kept of an answer (a Status) */
#define SL_EV_BACKOFF_MIN_MS 1000
#define SL_EV_BACKOFF_MAX_MS 60000
#define SL_EV_INSTANCE_MAX 128 /* the API's limit on reportingInstance */
#define SL_EV_HASH_HEX 12

enum sl_ev_state {
	SL_EV_PENDING, /* to post */
	SL_EV_DONE,    /* posted (201), or another node did (409) */
	SL_EV_FAILED,  /* given up */
};

/* one rejection, as reported and as posted */
struct sl_ev_item {
	size_t ri;    /* sl_k8s_resources[ri] */
	char *ns, *name, *note;
	char evname[254]; /* the Event's metadata.name */
	enum sl_ev_state state;
	unsigned int tries;
	uint64_t next_at;
};

struct sl_k8s_events {
	pthread_mutex_t lock; /* everything below but the request */
	char *node;
	struct sl_ev_item *v; /* sorted by evname */
	size_t n;
	struct sl_k8s_events_status st;
	bool forbidden_logged;
	uint64_t forbidden_until;
	bool reporter;	      /* sl_ev_reporter(), asked at reporter_at */
	uint64_t reporter_at; /* 0: ask before the next post */
	/* the token bucket */
	unsigned int tokens;
	uint64_t refill_at;

	/* the request in flight (the thread's only) */
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;
	char evname[254];
	char resp[SL_EV_RESP_MAX];
	size_t resp_len;
};

/* ---- names -------------------------------------------------------------- */

static bool sl_dns_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/*
 * "<object name>.sluice-<hash>": a DNS-1123 subdomain of at most 253
 * characters (the object's name, already one for the kinds reported, is
 * cut to fit and anything else made '-'), the same on every node
 */
static void sl_ev_name(char *out, size_t len, const char *kind,
		       const char *ns, const char *name, const char *note)
{
	uint64_t h = SL_FNV1A_INIT;
	char hex[17];
	size_t max = len - 1 - strlen(".sluice-") - SL_EV_HASH_HEX, o = 0;

	h = sl_fnv1a(h, kind, strlen(kind) + 1);
	h = sl_fnv1a(h, ns, strlen(ns) + 1);
	h = sl_fnv1a(h, name, strlen(name) + 1);
	h = sl_fnv1a(h, note, strlen(note));
	snprintf(hex, sizeof(hex), "%016" PRIx64, h);
	for (const char *p = name; *p && o < max; p++) {
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!sl_dns_alnum(c) && c != '.' && c != '-')
			c = '-';
		if (!o && !sl_dns_alnum(c))
			continue;
		out[o++] = c;
	}
	while (o && !sl_dns_alnum(out[o - 1]))
		o--;
	if (!o)
		o = (size_t)snprintf(out, len, "object");
	snprintf(out + o, len - o, ".sluice-%.*s", SL_EV_HASH_HEX, hex);
}

/* cut @s to @max bytes, not inside a UTF-8 sequence (in place) */
static void sl_utf8_cut(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	s[n] = '\0';
}

/* "kubernetes:<resource>/<ns>/<name>": the resource's index, ns, name */
static int sl_ev_parse_path(const char *path, size_t *ri, char **ns,
			    char **name)
{
	const char *p, *slash;

	if (strncmp(path, "kubernetes:", 11))
		return -EINVAL;
	p = path + 11;
	for (size_t i = 0; i < sl_k8s_n_resources; i++) {
		const struct sl_k8s_res *r = &sl_k8s_resources[i];
		size_t l = strlen(r->name);

		/* Services and Istio's kinds; a Pod's documents are
		   sluice's own WorkloadEntries */
		if (strcmp(r->name, "services") && !r->group)
			continue;
		if (strncmp(p, r->name, l) || p[l] != '/')
			continue;
		p += l + 1;
		slash = strchr(p, '/');
		if (!slash || slash == p || !slash[1] || strchr(slash + 1, '/'))
			return -EINVAL;
		*ns = strndup(p, (size_t)(slash - p));
		*name = strdup(slash + 1);
		if (!*ns || !*name) {
			free(*ns);
			free(*name);
			return -ENOMEM;
		}
		*ri = i;
		return 0;
	}
	return -EINVAL;
}

static void sl_ev_item_free(struct sl_ev_item *it)
{
	free(it->ns);
	free(it->name);
	free(it->note);
}

static int sl_ev_item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sl_ev_item *)a)->evname,
		      ((const struct sl_ev_item *)b)->evname);
}

static struct sl_ev_item *sl_ev_find(struct sl_k8s_events *ev,
				     const char *evname)
{
	struct sl_ev_item key;

	sl_strlcpy(key.evname, evname, sizeof(key.evname));
	return sl_search(&key, ev->v, ev->n, sizeof(*ev->v), sl_ev_item_cmp);
}

static bool sl_ev_reporter(struct sl_k8s *k, const char *node);

/* ---- the set ------------------------------------------------------------ */

int sl_k8s_report_rejected(struct sl_k8s *k, const char *node,
			   const struct sl_k8s_rejection *v, size_t n)
{
	struct sl_k8s_events *ev = k->events;
	struct sl_ev_item *nv, *old;
	size_t nn = 0, n_old;
	uint64_t dropped = 0;
	char *nodecp = strdup(node ? node : "");
	int ret = -ENOMEM;

	nv = calloc(n ? (n < SL_K8S_EVENTS_MAX ? n : SL_K8S_EVENTS_MAX) : 1,
		    sizeof(*nv));
	if (!nv || !nodecp)
		goto err;
	for (size_t i = 0; i < n; i++) {
		struct sl_ev_item it = { 0 };
		int r = sl_ev_parse_path(v[i].path, &it.ri, &it.ns, &it.name);

		if (r == -ENOMEM)
			goto err;
		if (r < 0)
			continue; /* not a kind Events are posted for */
		if (nn == SL_K8S_EVENTS_MAX) {
			sl_ev_item_free(&it);
			dropped++;
			continue;
		}
		it.note = strdup(v[i].message ? v[i].message : "");
		if (!it.note) {
			sl_ev_item_free(&it);
			goto err;
		}
		sl_utf8_cut(it.note, SL_K8S_EVENT_NOTE_MAX);
		sl_ev_name(it.evname, sizeof(it.evname),
			   sl_k8s_resources[it.ri].kind, it.ns, it.name,
			   it.note);
		nv[nn++] = it;
	}
	sl_sort(nv, nn, sizeof(*nv), sl_ev_item_cmp);
	{
		/* one object's same error twice: one Event */
		size_t u = 0;

		for (size_t i = 0; i < nn; i++) {
			if (u && !strcmp(nv[i].evname, nv[u - 1].evname))
				sl_ev_item_free(&nv[i]);
			else
				nv[u++] = nv[i];
		}
		nn = u;
	}
	pthread_mutex_lock(&ev->lock);
	/* what was reported before keeps its state; the rest is new */
	for (size_t i = 0; i < nn; i++) {
		struct sl_ev_item *was = sl_ev_find(ev, nv[i].evname);

		if (was) {
			nv[i].state = was->state;
			nv[i].tries = was->tries;
			nv[i].next_at = was->next_at;
		}
	}
	old = ev->v;
	n_old = ev->n;
	ev->v = nv;
	ev->n = nn;
	free(ev->node);
	ev->node = nodecp;
	ev->reporter_at = 0;
	ev->st.dropped = dropped;
	pthread_mutex_unlock(&ev->lock);
	for (size_t i = 0; i < n_old; i++)
		sl_ev_item_free(&old[i]);
	free(old);
	curl_multi_wakeup(k->multi);
	return 0;
err:
	for (size_t i = 0; nv && i < nn; i++)
		sl_ev_item_free(&nv[i]);
	free(nv);
	free(nodecp);
	return ret;
}

int sl_k8s_report_config(struct sl_k8s *k, const struct sl_config *cfg)
{
	static const char pre[] = "REJECTED: ";
	static const char out[] = "left out of the mesh: ";
	const struct sl_config_error *w;
	struct sl_k8s_rejection *v;
	char **notes;
	size_t n, m = 0;
	int ret = -ENOMEM;

	w = sl_config_warnings(cfg, &n);
	v = calloc(n ? n : 1, sizeof(*v));
	notes = calloc(n ? n : 1, sizeof(*notes));
	if (!v || !notes)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const char *msg = w[i].message, *rest;

		if (!w[i].file || strncmp(msg, pre, sizeof(pre) - 1))
			continue;
		/* config.c: "REJECTED: this resource is left out of the
		   mesh: <error>": "left out of the mesh: <field>: <error>" */
		rest = strstr(msg, out);
		rest = rest ? rest + sizeof(out) - 1 : msg + sizeof(pre) - 1;
		if (asprintf(&notes[m], "%s%s%s%s", out,
			     w[i].path ? w[i].path : "",
			     w[i].path && *w[i].path ? ": " : "", rest) < 0) {
			notes[m] = NULL;
			goto out;
		}
		v[m].path = w[i].file;
		v[m].message = notes[m];
		m++;
	}
	ret = sl_k8s_report_rejected(k, sl_config_node(cfg)->name, v, m);
out:
	for (size_t i = 0; notes && i < m; i++)
		free(notes[i]);
	free(notes);
	free(v);
	return ret;
}

void sl_k8s_events_status(struct sl_k8s *k, struct sl_k8s_events_status *st)
{
	struct sl_k8s_events *ev = k->events;

	pthread_mutex_lock(&ev->lock);
	*st = ev->st;
	/* ev->lock, then k->lock: the order everywhere */
	st->reporter = sl_ev_reporter(k, ev->node ? ev->node : "");
	st->pending = 0;
	for (size_t i = 0; i < ev->n; i++)
		if (ev->v[i].state == SL_EV_PENDING)
			st->pending++;
	pthread_mutex_unlock(&ev->lock);
}

/* ---- posting (the thread) ----------------------------------------------- */

int sl_k8s_events_new(struct sl_k8s *k)
{
	struct sl_k8s_events *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	pthread_mutex_init(&ev->lock, NULL);
	ev->tokens = SL_K8S_EVENT_BURST;
	k->events = ev;
	return 0;
}

static void sl_ev_end_request(struct sl_k8s *k)
{
	struct sl_k8s_events *ev = k->events;

	if (ev->easy) {
		curl_multi_remove_handle(k->multi, ev->easy);
		curl_easy_cleanup(ev->easy);
		ev->easy = NULL;
	}
	sl_k8s_headers_free(ev->hdrs);
	ev->hdrs = NULL;
	free(ev->body);
	ev->body = NULL;
	ev->resp_len = 0;
	ev->resp[0] = '\0';
}

void sl_k8s_events_free(struct sl_k8s *k)
{
	struct sl_k8s_events *ev = k->events;

	if (!ev)
		return;
	sl_ev_end_request(k);
	for (size_t i = 0; i < ev->n; i++)
		sl_ev_item_free(&ev->v[i]);
	free(ev->v);
	free(ev->node);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
	k->events = NULL;
}

/*
 * Is this node one that posts?  Its name among the first
 * SL_K8S_EVENT_REPORTERS of the Nodes (the store is sorted by "/<name>"),
 * or no Node known at all.
 */
static bool sl_ev_reporter(struct sl_k8s *k, const char *node)
{
	const struct sl_k8s_store *s = NULL;
	bool yes;

	for (size_t i = 0; i < sl_k8s_n_resources; i++)
		if (!strcmp(sl_k8s_resources[i].name, "nodes"))
			s = &k->refl[i].store;
	if (!s)
		return true;
	pthread_mutex_lock(&k->lock);
	yes = s->n == 0;
	for (size_t i = 0; i < s->n && i < SL_K8S_EVENT_REPORTERS; i++)
		if (!strcmp(s->v[i]->key + 1, node))
			yes = true;
	pthread_mutex_unlock(&k->lock);
	return yes;
}

/* "2026-12-08T00:33:27.123456Z": a MicroTime */
static void sl_ev_microtime(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char s[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%06uZ", s,
		 (unsigned int)(ts.tv_nsec / 1000) % 1000000u);
}

static int sl_jadd_str(json_object *o, const char *key, const char *v)
{
	json_object *s = json_object_new_string(v);

	if (!s || json_object_object_add(o, key, s) < 0) {
		json_object_put(s);
		return -ENOMEM;
	}
	return 0;
}

/* the Event's JSON (malloc'd) for @it, reported by @node */
static char *sl_ev_body(struct sl_k8s *k, const struct sl_ev_item *it,
			const char *node)
{
	const struct sl_k8s_res *r = &sl_k8s_resources[it->ri];
	json_object *o = json_object_new_object();
	json_object *md = json_object_new_object();
	json_object *reg = json_object_new_object();
	char when[48], inst[SL_EV_INSTANCE_MAX + 1], av[96], ver[16];
	char *out = NULL;

	pthread_mutex_lock(&k->lock);
	sl_strlcpy(ver, k->refl[it->ri].st.version, sizeof(ver));
	pthread_mutex_unlock(&k->lock);
	if (!ver[0])
		sl_strlcpy(ver, r->versions[0], sizeof(ver));
	snprintf(av, sizeof(av), "%s%s%s", r->group ? r->group : "",
		 r->group ? "/" : "", ver);
	snprintf(inst, sizeof(inst), "sluiced-%s", node);
	sl_ev_microtime(when, sizeof(when));
	if (!o || !md || !reg)
		goto out;
	if (sl_jadd_str(md, "name", it->evname) ||
	    sl_jadd_str(md, "namespace", it->ns) ||
	    sl_jadd_str(reg, "apiVersion", av) ||
	    sl_jadd_str(reg, "kind", r->kind) ||
	    sl_jadd_str(reg, "namespace", it->ns) ||
	    sl_jadd_str(reg, "name", it->name) ||
	    sl_jadd_str(o, "apiVersion", "events.k8s.io/v1") ||
	    sl_jadd_str(o, "kind", "Event"))
		goto out;
	json_object_object_add(o, "metadata", md);
	md = NULL;
	if (sl_jadd_str(o, "eventTime", when) ||
	    sl_jadd_str(o, "reportingController", "sluice.io/sluiced") ||
	    sl_jadd_str(o, "reportingInstance", inst) ||
	    sl_jadd_str(o, "action", "Validate") ||
	    sl_jadd_str(o, "reason", "Rejected") ||
	    sl_jadd_str(o, "type", "Warning"))
		goto out;
	json_object_object_add(o, "regarding", reg);
	reg = NULL;
	if (sl_jadd_str(o, "note", it->note))
		goto out;
	out = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
out:
	json_object_put(md);
	json_object_put(reg);
	json_object_put(o);
	return out;
}

static size_t sl_ev_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct sl_k8s_events *ev = arg;
	size_t n = size * nmemb, room = sizeof(ev->resp) - 1 - ev->resp_len;

	/* a Status is small: what does not fit is dropped, not an error */
	if (n < room)
		room = n;
	memcpy(ev->resp + ev->resp_len, p, room);
	ev->resp_len += room;
	ev->resp[ev->resp_len] = '\0';
	return n;
}

/* take a token; false (and *@wait) when the bucket is empty */
static bool sl_ev_take(struct sl_k8s_events *ev, uint64_t now, uint64_t *wait)
{
	const uint64_t step = SL_K8S_EVENT_REFILL_MS * 1000000ull;

	if (ev->tokens < SL_K8S_EVENT_BURST) {
		if (!ev->refill_at)
			ev->refill_at = now + step;
		while (ev->tokens < SL_K8S_EVENT_BURST && now >= ev->refill_at) {
			ev->tokens++;
			ev->refill_at += step;
		}
		if (ev->tokens == SL_K8S_EVENT_BURST)
			ev->refill_at = 0;
	}
	if (!ev->tokens) {
		*wait = ev->refill_at - now;
		return false;
	}
	if (ev->tokens-- == SL_K8S_EVENT_BURST)
		ev->refill_at = now + step;
	return true;
}

static int sl_ev_start(struct sl_k8s *k, struct sl_ev_item *it,
		       const char *node)
{
	struct sl_k8s_events *ev = k->events;
	char *url = NULL, *ns;
	int ret = -ENOMEM;

	ns = curl_easy_escape(NULL, it->ns, 0);
	if (!ns || asprintf(&url, "%s/apis/events.k8s.io/v1/namespaces/%s/events",
			    k->creds.server, ns) < 0) {
		url = NULL;
		goto out;
	}
	ev->body = sl_ev_body(k, it, node);
	ev->easy = curl_easy_init();
	ev->hdrs = sl_k8s_headers(k, "Content-Type: application/json");
	if (!ev->body || !ev->easy || !ev->hdrs)
		goto out;
	sl_k8s_easy_setup(k, ev->easy, url, ev->hdrs, 30000L);
	curl_easy_setopt(ev->easy, CURLOPT_POSTFIELDS, ev->body);
	curl_easy_setopt(ev->easy, CURLOPT_WRITEFUNCTION, sl_ev_write);
	curl_easy_setopt(ev->easy, CURLOPT_WRITEDATA, ev);
	sl_strlcpy(ev->evname, it->evname, sizeof(ev->evname));
	ev->resp_len = 0;
	ev->resp[0] = '\0';
	if (curl_multi_add_handle(k->multi, ev->easy) != CURLM_OK)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		sl_ev_end_request(k);
	curl_free(ns);
	free(url);
	return ret;
}

uint64_t sl_k8s_events_run(struct sl_k8s *k, uint64_t now)
{
	struct sl_k8s_events *ev = k->events;
	struct sl_ev_item *next = NULL;
	uint64_t wait = UINT64_MAX;

	if (ev->easy)
		return UINT64_MAX; /* one at a time: its end wakes the loop */
	pthread_mutex_lock(&ev->lock);
	for (size_t i = 0; i < ev->n; i++) {
		struct sl_ev_item *it = &ev->v[i];

		if (it->state != SL_EV_PENDING)
			continue;
		if (it->next_at <= now) {
			if (!next)
				next = it;
		} else if (it->next_at - now < wait) {
			wait = it->next_at - now;
		}
	}
	if (!next || !ev->node)
		goto out;
	/* the Nodes change: asked again at most once a second (the loop
	   runs at least that often), and after a new set */
	if (!ev->reporter_at || now - ev->reporter_at >= 1000000000ull) {
		ev->reporter = sl_ev_reporter(k, ev->node);
		ev->reporter_at = now ? now : 1;
	}
	if (!ev->reporter) {
		wait = UINT64_MAX;
		goto out;
	}
	if (ev->forbidden_until && now < ev->forbidden_until) {
		wait = ev->forbidden_until - now;
		goto out;
	}
	if (!sl_ev_take(ev, now, &wait))
		goto out;
	wait = UINT64_MAX;
	if (sl_ev_start(k, next, ev->node) < 0) {
		next->next_at = now + SL_EV_BACKOFF_MIN_MS * 1000000ull;
		sl_strlcpy(ev->st.last_error, "cannot start a request: out of memory",
			   sizeof(ev->st.last_error));
		wait = SL_EV_BACKOFF_MIN_MS * 1000000ull;
	}
out:
	pthread_mutex_unlock(&ev->lock);
	return wait;
}

/* "HTTP 403: events.events.k8s.io is forbidden: ..." from a Status */
static void sl_ev_error(struct sl_k8s_events *ev, long code, CURLcode res,
			char *buf, size_t len)
{
	json_object *st = NULL, *m;
	const char *msg = NULL;

	if (code) {
		st = json_tokener_parse(ev->resp);
		if (st && json_object_object_get_ex(st, "message", &m) &&
		    json_object_is_type(m, json_type_string))
			msg = json_object_get_string(m);
		snprintf(buf, len, "HTTP %ld%s%s", code, msg ? ": " : "",
			 msg ? msg : "");
	} else {
		snprintf(buf, len, "%s", curl_easy_strerror(res));
	}
	json_object_put(st);
}

void sl_k8s_events_done(struct sl_k8s *k, CURL *easy, CURLcode res)
{
	struct sl_k8s_events *ev = k->events;
	struct sl_ev_item *it;
	char err[sizeof(ev->st.last_error)] = "";
	uint64_t now = sl_now_ns();
	long code = 0;

	if (easy != ev->easy)
		return;
	if (res == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200 && code != 201 && code != 409)
		sl_ev_error(ev, code, res, err, sizeof(err));
	pthread_mutex_lock(&ev->lock);
	it = sl_ev_find(ev, ev->evname); /* NULL: no longer rejected */
	if (code == 200 || code == 201 || code == 409) {
		if (code == 409)
			ev->st.already++;
		else
			ev->st.posted++;
		if (it)
			it->state = SL_EV_DONE;
		if (ev->st.forbidden)
			sl_log_notice("kubernetes: events: posting Events is allowed again");
		ev->st.forbidden = false;
		ev->forbidden_logged = false;
		ev->forbidden_until = 0;
		sl_log_debug("kubernetes: events: %s %s", ev->evname,
			     code == 409 ? "already posted by another node" :
					   "posted");
	} else if (code == 403) {
		/* RBAC does not grant create on events.k8s.io events: the
		   Event stays pending, nothing is posted for a while */
		ev->st.forbidden = true;
		ev->forbidden_until = now + SL_K8S_EVENT_FORBIDDEN_S *
						    1000000000ull;
		sl_strlcpy(ev->st.last_error, err, sizeof(ev->st.last_error));
		if (!ev->forbidden_logged)
			sl_log_warn("kubernetes: events: cannot post Events for rejected resources (%s): not trying again for %u s; grant create on events in API group events.k8s.io",
				    err, SL_K8S_EVENT_FORBIDDEN_S);
		ev->forbidden_logged = true;
	} else {
		bool retry = !code || code == 401 || code == 429 || code >= 500;

		if (code == 401)
			k->token_reread = true;
		sl_strlcpy(ev->st.last_error, err, sizeof(ev->st.last_error));
		if (it && retry && ++it->tries < SL_K8S_EVENT_TRIES) {
			uint64_t ms = SL_EV_BACKOFF_MIN_MS << (it->tries - 1);

			if (ms > SL_EV_BACKOFF_MAX_MS)
				ms = SL_EV_BACKOFF_MAX_MS;
			ms = ms / 2 + sl_k8s_rand(k) % (ms / 2 + 1);
			it->next_at = now + ms * 1000000ull;
			sl_log_warn("kubernetes: events: %s: %s: trying again in %" PRIu64 " ms",
				    ev->evname, err, ms);
		} else {
			if (it)
				it->state = SL_EV_FAILED;
			ev->st.failed++;
			sl_log_warn("kubernetes: events: %s: %s: given up",
				    ev->evname, err);
		}
	}
	pthread_mutex_unlock(&ev->lock);
	sl_ev_end_request(k);
}
