/* SPDX-License-Identifier: Apache-2.0 */
/* Retry decisions (retryOn, backoff, budget); see retry.h and
 * docs/HTTP.md.  The rules are Envoy's router (retry_state_impl), as Istio
 * configures it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "retry.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *name;
	unsigned on, ignored;
	bool unsupported;
} tokens[] = {
	{ "5xx", SL_RETRY_ON_5XX, 0, false },
	{ "gateway-error", SL_RETRY_ON_GATEWAY_ERROR, 0, false },
	{ "reset", SL_RETRY_ON_RESET, 0, false },
	{ "connect-failure", SL_RETRY_ON_CONNECT_FAILURE, 0, false },
	{ "refused-stream", SL_RETRY_ON_REFUSED_STREAM, 0, false },
	{ "retriable-4xx", SL_RETRY_ON_RETRIABLE_4XX, 0, false },
	{ "retriable-status-codes", SL_RETRY_ON_STATUS_CODES, 0, false },
	{ "cancelled", 0, SL_RETRY_IGN_CANCELLED, false },
	{ "deadline-exceeded", 0, SL_RETRY_IGN_DEADLINE_EXCEEDED, false },
	{ "internal", 0, SL_RETRY_IGN_INTERNAL, false },
	{ "resource-exhausted", 0, SL_RETRY_IGN_RESOURCE_EXHAUSTED, false },
	{ "unavailable", 0, SL_RETRY_IGN_UNAVAILABLE, false },
	{ "http3-post-connect-failure", 0, SL_RETRY_IGN_HTTP3_POST_CONNECT, false },
	{ "envoy-ratelimited", 0, 0, true },
	{ "retriable-headers", 0, 0, true },
	{ "reset-before-request", 0, 0, true },
};

/* the codes Go's http.StatusText names: Istio accepts those as bare
 * retryOn codes */
static bool known_code(int c)
{
	return (c >= 100 && c <= 103) || (c >= 200 && c <= 208) || c == 226 ||
	       (c >= 300 && c <= 305) || c == 307 || c == 308 ||
	       (c >= 400 && c <= 418) || (c >= 421 && c <= 426) || c == 428 ||
	       c == 429 || c == 431 || c == 451 || (c >= 500 && c <= 508) ||
	       c == 510 || c == 511;
}

static void add_code(struct sl_retry_policy *p, int code)
{
	p->codes[(code - 100) / 64] |= 1ull << ((code - 100) % 64);
}

static bool has_code(const struct sl_retry_policy *p, int code)
{
	if (code < 100 || code > 599)
		return false;
	return p->codes[(code - 100) / 64] & (1ull << ((code - 100) % 64));
}

void sl_retry_default(struct sl_retry_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->attempts = SL_RETRY_DEFAULT_ATTEMPTS;
	p->on = SL_RETRY_ON_CONNECT_FAILURE | SL_RETRY_ON_REFUSED_STREAM |
		SL_RETRY_ON_STATUS_CODES;
	p->ignored = SL_RETRY_IGN_UNAVAILABLE | SL_RETRY_IGN_CANCELLED;
	add_code(p, 503);
}

static int parse_error(char *err, size_t errlen, int ret, const char *what,
		       const char *tok, size_t n)
{
	if (err && errlen)
		snprintf(err, errlen, "retryOn: %s \"%.*s\"", what, (int)n, tok);
	return ret;
}

int sl_retry_parse(const char *retry_on, uint32_t attempts,
		   struct sl_retry_policy *p, char *err, size_t errlen)
{
	const char *s = retry_on;

	if (!p)
		return -EINVAL;
	sl_retry_default(p);
	p->attempts = attempts;
	if (!s)
		return 0;
	if (!*s)
		return 0;   /* "": no retryOn, as Istio reads it */
	/* a retryOn given replaces the default conditions and codes */
	p->on = 0;
	p->ignored = 0;
	memset(p->codes, 0, sizeof(p->codes));
	for (;;) {
		const char *tok = s;
		size_t n = strcspn(s, ",");
		size_t i;

		s += n;
		/* Istio's validation splits on "," and trims nothing: an
		 * empty token or one with spaces is refused there too */
		if (!n)
			return parse_error(err, errlen, -EINVAL, "empty condition", tok, n);
		for (i = 0; i < ARRAY_LEN(tokens); i++)
			if (strlen(tokens[i].name) == n && !memcmp(tokens[i].name, tok, n))
				break;
		if (i == ARRAY_LEN(tokens) && strspn(tok, "0123456789") < n)
			return parse_error(err, errlen, -EINVAL, "unknown condition", tok, n);
		if (i == ARRAY_LEN(tokens)) {
			/* a bare status code that Istio knows (Go's StatusText) */
			int code = n == 3 ? atoi(tok) : 0;

			if (!known_code(code))
				return parse_error(err, errlen, -EINVAL,
						   "not a status code:", tok, n);
			add_code(p, code);
			p->on |= SL_RETRY_ON_STATUS_CODES;
		} else if (tokens[i].unsupported) {
			return parse_error(err, errlen, -ENOTSUP,
					   "condition not supported by sluice:", tok, n);
		} else {
			p->on |= tokens[i].on;
			p->ignored |= tokens[i].ignored;
		}
		if (!*s)
			return 0;
		s++;
	}
}

bool sl_retry_should(const struct sl_retry_policy *p, int status,
		     enum sl_retry_failure failure)
{
	const unsigned no_response = SL_RETRY_ON_5XX | SL_RETRY_ON_GATEWAY_ERROR |
				     SL_RETRY_ON_RESET;

	if (!p)
		return false;
	switch (failure) {
	case SL_RETRY_F_RESET:
	case SL_RETRY_F_TIMEOUT:
		return p->on & no_response;
	case SL_RETRY_F_CONNECT_FAILURE:
		return p->on & (no_response | SL_RETRY_ON_CONNECT_FAILURE);
	case SL_RETRY_F_NONE:
		break;
	default:
		return false;
	}
	if ((p->on & SL_RETRY_ON_5XX) && status >= 500 && status <= 599)
		return true;
	if ((p->on & SL_RETRY_ON_GATEWAY_ERROR) &&
	    (status == 502 || status == 503 || status == 504))
		return true;
	if ((p->on & SL_RETRY_ON_RETRIABLE_4XX) && status == 409)
		return true;
	if ((p->on & SL_RETRY_ON_STATUS_CODES) && has_code(p, status))
		return true;
	return false;
}

uint64_t sl_retry_backoff_base_ns(uint64_t base_ns, uint32_t retry, uint64_t rnd)
{
	uint64_t max, interval;

	if (!base_ns)
		return 0;
	max = base_ns > UINT64_MAX / 10 ? UINT64_MAX : base_ns * 10;
	interval = base_ns;
	for (uint32_t i = 1; i < retry && interval < max; i++)
		interval = interval > max / 2 ? max : interval * 2;
	return rnd % interval;
}

uint64_t sl_retry_backoff_ns(uint32_t retry, uint64_t rnd)
{
	return sl_retry_backoff_base_ns(SL_RETRY_BACKOFF_BASE_NS, retry, rnd);
}

/* ---- budget ---- */

void sl_retry_budget_init(struct sl_retry_budget *b, unsigned percent, unsigned min)
{
	atomic_init(&b->active, 0);
	atomic_init(&b->retries, 0);
	atomic_init(&b->overflow, 0);
	b->percent = percent > 100 ? 100 : percent;
	b->min = min;
}

static struct sl_retry_budget process_budget = {
	.percent = SL_RETRY_BUDGET_PERCENT,
	.min = SL_RETRY_BUDGET_MIN,
};

struct sl_retry_budget *sl_retry_budget_process(void)
{
	return &process_budget;
}

void sl_retry_budget_req_begin(struct sl_retry_budget *b)
{
	atomic_fetch_add_explicit(&b->active, 1, memory_order_relaxed);
}

void sl_retry_budget_req_end(struct sl_retry_budget *b)
{
	atomic_fetch_sub_explicit(&b->active, 1, memory_order_relaxed);
}

bool sl_retry_budget_take(struct sl_retry_budget *b)
{
	uint_fast64_t active = atomic_load_explicit(&b->active, memory_order_relaxed);
	uint_fast64_t limit = active * b->percent / 100;
	uint_fast64_t cur = atomic_load_explicit(&b->retries, memory_order_relaxed);

	if (limit < b->min)
		limit = b->min;
	do {
		if (cur >= limit) {
			atomic_fetch_add_explicit(&b->overflow, 1, memory_order_relaxed);
			return false;
		}
	} while (!atomic_compare_exchange_weak_explicit(&b->retries, &cur, cur + 1,
						       memory_order_relaxed,
						       memory_order_relaxed));
	return true;
}

void sl_retry_budget_put(struct sl_retry_budget *b)
{
	atomic_fetch_sub_explicit(&b->retries, 1, memory_order_relaxed);
}
