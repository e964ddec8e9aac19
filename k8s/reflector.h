/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to k8s/source.c (the thread, its lifetime, the status),
 * reflector.c (one resource's list and watch over libcurl) and view.c
 * (what other threads read: the view, a node's addresses).
 */
#ifndef SL_K8S_REFLECTOR_H
#define SL_K8S_REFLECTOR_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <curl/curl.h>

#include "k8s.h"
#include "k8s_internal.h"

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
	/* every Node's addresses, sorted (view.c, sl_k8s_node_of): rebuilt
	   after any store changed (nodes_stale, set with dirty) */
	struct sl_k8s_node_addr *node_addrs;
	size_t n_node_addrs;
	bool nodes_stale;
	/* the addresses saved with the last good view (sl_k8s_nodes_seed):
	   sl_k8s_node_of() answers from them until the Nodes are listed;
	   every key is its own allocation */
	struct sl_k8s_node_addr *seed_addrs;
	size_t n_seed_addrs;
	struct sl_k8s_events *events; /* Events for rejected resources
					 (events.c) */
};

/** One address of one Node (its key "/<name>" is in the nodes store). */
struct sl_k8s_node_addr {
	struct sl_ip ip;
	const char *key;
};

/** sl_k8s_seed_free - free the saved addresses (under k->lock) */
void sl_k8s_seed_free(struct sl_k8s *k);

struct sl_k8s_view {
	atomic_uint refs;
	uint64_t serial;
	size_t n;
	struct sl_config_doc *docs;
	struct sl_k8s_doc **held;
};

/* the reflector (reflector.c); everything below runs on the thread */

/** sl_refl_begin - start @r's next request (a list page or a watch) */
int sl_refl_begin(struct sl_refl *r);
/** sl_refl_done - @r's request ended with @res: decide what comes next */
void sl_refl_done(struct sl_refl *r, CURLcode res);
/** sl_refl_end_request - drop @r's request and its headers (wiped) */
void sl_refl_end_request(struct sl_refl *r);
/** sl_refl_backoff - the next attempt after a failure, jittered */
void sl_refl_backoff(struct sl_refl *r);
/** sl_refl_error - log, count and keep @r's last error */
void sl_refl_error(struct sl_refl *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** sl_wipe_str - wipe and free a secret string; NULL-safe */
void sl_wipe_str(char *s);
/** sl_k8s_rand - a pseudo-random number, for jitter only */
uint64_t sl_k8s_rand(struct sl_k8s *k);

/* what every request to the API server shares (reflector.c) */

/**
 * sl_k8s_headers - "Accept: application/json", @extra (or NULL) and the
 * bearer token (the file read again if it changed)
 * @retval the list, to free with sl_k8s_headers_free(); NULL on ENOMEM
 */
struct curl_slist *sl_k8s_headers(struct sl_k8s *k, const char *extra);
/** sl_k8s_headers_free - wipe (the token) and free; NULL-safe */
void sl_k8s_headers_free(struct curl_slist *hdrs);
/** sl_k8s_easy_setup - @e to @url with @hdrs (kept by the caller), the
 * API server's TLS settings and client credentials, and timeouts */
void sl_k8s_easy_setup(struct sl_k8s *k, CURL *e, const char *url,
		       struct curl_slist *hdrs, long timeout_ms);

/* Events for the resources sluice rejects (events.c), on the thread but
   for sl_k8s_report_rejected() and sl_k8s_events_status() */

/** sl_k8s_events_new - k->events; -ENOMEM */
int sl_k8s_events_new(struct sl_k8s *k);
/** sl_k8s_events_free - its request ended, everything freed; NULL-safe */
void sl_k8s_events_free(struct sl_k8s *k);
/**
 * sl_k8s_events_run - post the next Event if one is due and allowed
 * @retval nanoseconds until something is due (UINT64_MAX: nothing)
 */
uint64_t sl_k8s_events_run(struct sl_k8s *k, uint64_t now);
/** sl_k8s_events_done - the Event's request (an easy handle without
 * CURLOPT_PRIVATE) ended with @res */
void sl_k8s_events_done(struct sl_k8s *k, CURL *easy, CURLcode res);

#endif /* SL_K8S_REFLECTOR_H */
