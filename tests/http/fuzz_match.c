/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target of http/match.c and http/re.cc.  Input: a pattern line
 * (up to the first LF), a name line (up to the second LF), then a request
 * head.  The pattern is compiled with RE2 (it may be refused) and used as
 * exact, prefix and regex value of every condition, the name as header and
 * query parameter name; the head is parsed with http/h1.c and, when it is
 * a complete request, evaluated.  Invariants: no crash, no sanitizer
 * report, evaluation terminates; exact implies prefix for one field;
 * withoutHeaders is the negation of headers when the header is present
 * and its absence when not; a query parameter found by sl_http_query_param
 * lies inside the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/match.h"
#include "http/re.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool eval_one(struct sl_http_match *m, const struct sl_http_req_view *v)
{
	return sl_http_match_eval(m, v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nl1, *nl2;
	char pat[256], name[64], *buf;
	struct sl_h1_msg msg;
	struct sl_http_req_view v = { 0 };
	struct sl_re *re = NULL;
	size_t plen, nlen, hlen;
	ssize_t r;

	nl1 = memchr(in, '\n', size);
	if (!nl1)
		return 0;
	nl2 = memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - in));
	if (!nl2)
		return 0;
	plen = (size_t)(nl1 - in);
	nlen = (size_t)(nl2 - nl1 - 1);
	if (plen >= sizeof(pat) || nlen >= sizeof(name) ||
	    memchr(in, '\0', plen) || memchr(nl1 + 1, '\0', nlen))
		return 0;
	memcpy(pat, in, plen);
	pat[plen] = '\0';
	memcpy(name, nl1 + 1, nlen);
	name[nlen] = '\0';
	hlen = size - (size_t)(nl2 + 1 - in);
	/* a copy of exactly the head bytes, so ASan sees any overread */
	buf = malloc(hlen ? hlen : 1);
	if (!buf)
		return 0;
	memcpy(buf, nl2 + 1, hlen);
	sl_h1_msg_init(&msg, NULL);
	r = sl_h1_parse_request(&msg, buf, hlen);
	(void)sl_re_compile(pat, &re, NULL, 0);
	if (r > 0 && msg.host >= 0) {
		struct sl_str_match ex = { SL_SM_EXACT, pat, plen, NULL };
		struct sl_str_match px = { SL_SM_PREFIX, pat, plen, NULL };
		struct sl_str_match rx = { SL_SM_REGEX, pat, plen, re };
		struct sl_str_match pr = { SL_SM_PRESENT, "", 0, NULL };
		struct sl_str_match *kinds[] = { &ex, &px, &rx, &pr };
		struct sl_http_kv_match kv;
		const char *qv;
		size_t ql;
		bool e, p;

		v.buf = buf;
		v.msg = &msg;
		v.method = buf + msg.method.off;
		v.method_len = msg.method.len;
		v.path = buf + msg.target.off;
		v.path_len = msg.target.len;
		v.authority = buf + msg.hdr[msg.host].value.off;
		v.authority_len = msg.hdr[msg.host].value.len;
		v.scheme = "http";
		v.port = 80;
		for (size_t k = 0; k < 4; k++) {
			struct sl_http_match m = { 0 };

			m.uri = *kinds[k];
			(void)eval_one(&m, &v);
			m.ignore_uri_case = true;
			(void)eval_one(&m, &v);
			memset(&m, 0, sizeof(m));
			m.method = *kinds[k];
			m.authority = *kinds[k];
			m.scheme = *kinds[k];
			(void)eval_one(&m, &v);
			memset(&m, 0, sizeof(m));
			kv.name = name;
			kv.m = *kinds[k];
			m.query = &kv;
			m.n_query = 1;
			(void)eval_one(&m, &v);
		}
		/* exact implies prefix: header, method, authority */
		memset(&kv, 0, sizeof(kv));
		kv.name = name;
		for (int f = 0; f < 3; f++) {
			struct sl_http_match me = { 0 }, mp = { 0 };

			if (f == 0) {
				struct sl_http_kv_match kp = { name, px };

				kv.m = ex;
				me.headers = &kv;
				me.n_headers = 1;
				mp.headers = &kp;
				mp.n_headers = 1;
				e = eval_one(&me, &v);
				p = eval_one(&mp, &v);
			} else {
				if (f == 1) {
					me.method = ex;
					mp.method = px;
				} else {
					me.authority = ex;
					mp.authority = px;
				}
				e = eval_one(&me, &v);
				p = eval_one(&mp, &v);
			}
			if (e && !p)
				abort();
		}
		/* withoutHeaders == !headers for a present header, true for an
		 * absent one */
		for (size_t k = 0; k < 4; k++) {
			struct sl_http_match mh = { 0 }, mw = { 0 };
			bool present = false;

			for (size_t i = 0; i < msg.nhdr; i++)
				present |= msg.hdr[i].name.len == nlen &&
					   strncasecmp(buf + msg.hdr[i].name.off,
						       name, nlen) == 0;
			if (!nlen)
				present = false;
			kv.name = name;
			kv.m = *kinds[k];
			mh.headers = &kv;
			mh.n_headers = 1;
			mw.without_headers = &kv;
			mw.n_without_headers = 1;
			e = eval_one(&mh, &v);
			p = eval_one(&mw, &v);
			if (present ? e == p : (e || !p))
				abort();
		}
		if (sl_http_query_param(v.path, v.path_len, name, &qv, &ql) &&
		    (qv < v.path || qv + ql > v.path + v.path_len))
			abort();
	}
	sl_re_free(re);
	free(buf);
	return 0;
}
