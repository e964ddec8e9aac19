/* SPDX-License-Identifier: Apache-2.0 */
/* Trace context: W3C Trace Context (Level 1), B3 and x-request-id; see
 * trace.h and docs/HTTP.md. */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "trace.h"

static const char *const trace_names[] = {
	"traceparent", "tracestate", "x-b3-traceid", "x-b3-spanid",
	"x-b3-parentspanid", "x-b3-sampled", "x-b3-flags", "b3", "x-request-id",
};

const struct sl_http_header_ops sl_trace_header_ops = {
	.remove = trace_names,
	.n_remove = sizeof(trace_names) / sizeof(trace_names[0]),
};

int sl_trace_getrandom(void *arg, void *buf, size_t len)
{
	uint8_t *p = buf;

	(void)arg;
	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- hex ---- */

static int lhex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;  /* uppercase too: W3C and B3 are lowercase */
}

/* @n hex digits at @s into @out (n/2 bytes); false on a non-lowercase-hex */
static bool unhex(const char *s, size_t n, uint8_t *out)
{
	for (size_t i = 0; i < n; i += 2) {
		int hi = lhex((unsigned char)s[i]), lo = lhex((unsigned char)s[i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void tohex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

static bool all_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

/* random id, never all zero (W3C and B3 make zero invalid) */
static int random_id(uint8_t *b, size_t n, sl_trace_rnd_fn rnd, void *arg)
{
	for (int tries = 0; tries < 4; tries++) {
		int r = rnd(arg, b, n);

		if (r)
			return r;
		if (!all_zero(b, n))
			return 0;
	}
	b[n - 1] = 1;
	return 0;
}

/* ---- header access ---- */

static bool hdr_is(const struct sl_h1_msg *m, const char *buf, size_t i,
		   const char *name)
{
	size_t n = strlen(name);

	return m->hdr[i].name.len == n && !strncasecmp(buf + m->hdr[i].name.off, name, n);
}

/* the value of the only field named @name; NULL when absent, and when
 * @unique and there are several */
static const char *field(const struct sl_h1_msg *m, const char *buf,
			 const char *name, bool unique, size_t *len)
{
	const char *v = NULL;

	for (size_t i = 0; i < m->nhdr; i++) {
		if (!hdr_is(m, buf, i, name))
			continue;
		if (v)
			return unique ? NULL : v;
		v = buf + m->hdr[i].value.off;
		*len = m->hdr[i].value.len;
	}
	return v;
}

/* ---- W3C traceparent ---- */

static bool parse_traceparent(struct sl_trace *t, const char *v, size_t n)
{
	uint8_t ver, tid[16], pid[8], flags;

	/* version "-" trace-id "-" parent-id "-" flags: 2+1+32+1+16+1+2 */
	if (n < 55 || !unhex(v, 2, &ver) || ver == 0xff)
		return false;
	/* version 00 is exactly 55 bytes; a later version may add fields
	 * after a dash */
	if (ver == 0 ? n != 55 : (n > 55 && v[55] != '-'))
		return false;
	if (v[2] != '-' || v[35] != '-' || v[52] != '-')
		return false;
	if (!unhex(v + 3, 32, tid) || !unhex(v + 36, 16, pid) || !unhex(v + 53, 2, &flags))
		return false;
	if (all_zero(tid, 16) || all_zero(pid, 8))
		return false;
	memcpy(t->trace_id, tid, 16);
	memcpy(t->parent_id, pid, 8);
	t->has_parent = true;
	t->sampled = flags & 1;
	t->origin = SL_TRACE_W3C;
	return true;
}

/* ---- W3C tracestate ---- */

#define TS_MEMBERS_MAX 32

struct member {
	const char *p;
	size_t len;   /* whole member */
	size_t klen;  /* its key */
};

static bool is_lcalpha(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_keychar(unsigned char c)
{
	return is_lcalpha(c) || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '*' || c == '/';
}

static bool valid_key(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);

	if (!at) {
		if (n < 1 || n > 256 || !is_lcalpha((unsigned char)k[0]))
			return false;
		for (size_t i = 1; i < n; i++)
			if (!is_keychar((unsigned char)k[i]))
				return false;
		return true;
	}
	/* tenant-id "@" system-id */
	size_t tn = (size_t)(at - k), sn = n - tn - 1;

	if (tn < 1 || tn > 241 || sn < 1 || sn > 14)
		return false;
	if (!is_lcalpha((unsigned char)k[0]) && !(k[0] >= '0' && k[0] <= '9'))
		return false;
	for (size_t i = 1; i < tn; i++)
		if (!is_keychar((unsigned char)k[i]))
			return false;
	if (!is_lcalpha((unsigned char)at[1]))
		return false;
	for (size_t i = 1; i < sn; i++)
		if (!is_keychar((unsigned char)at[1 + i]))
			return false;
	return true;
}

static bool valid_value(const char *v, size_t n)
{
	if (n < 1 || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)v[i];

		if (c < 0x20 || c > 0x7e || c == ',' || c == '=')
			return false;
	}
	return true;
}

/* collects the members of every tracestate field; false when one is
 * invalid, when there are more than 32, or a key repeats (W3C: then the
 * whole tracestate is dropped) */
static bool collect_members(const struct sl_h1_msg *m, const char *buf,
			    struct member *mem, size_t *n_mem)
{
	*n_mem = 0;
	for (size_t i = 0; i < m->nhdr; i++) {
		const char *v, *end;

		if (!hdr_is(m, buf, i, "tracestate"))
			continue;
		v = buf + m->hdr[i].value.off;
		end = v + m->hdr[i].value.len;
		while (v <= end) {
			const char *s = v, *e, *eq;

			while (v < end && *v != ',')
				v++;
			e = v++;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
				e--;
			if (s == e)
				continue;   /* empty list member: allowed */
			if (*n_mem == TS_MEMBERS_MAX)
				return false;
			eq = memchr(s, '=', (size_t)(e - s));
			if (!eq || !valid_key(s, (size_t)(eq - s)) ||
			    !valid_value(eq + 1, (size_t)(e - eq - 1)))
				return false;
			for (size_t k = 0; k < *n_mem; k++)
				if (mem[k].klen == (size_t)(eq - s) &&
				    !memcmp(mem[k].p, s, mem[k].klen))
					return false;
			mem[*n_mem] = (struct member){ s, (size_t)(e - s), (size_t)(eq - s) };
			(*n_mem)++;
		}
	}
	return true;
}

static size_t joined_len(const struct member *mem, const bool *keep, size_t n)
{
	size_t len = 0, cnt = 0;

	for (size_t i = 0; i < n; i++)
		if (keep[i]) {
			len += mem[i].len;
			cnt++;
		}
	return cnt ? len + cnt - 1 : 0;
}

static void take_tracestate(struct sl_trace *t, const struct sl_h1_msg *m,
			    const char *buf)
{
	struct member mem[TS_MEMBERS_MAX];
	bool keep[TS_MEMBERS_MAX];
	size_t n, pos = 0;

	t->tracestate[0] = 0;
	if (!collect_members(m, buf, mem, &n))
		return;
	for (size_t i = 0; i < n; i++)
		keep[i] = true;
	/* over 512 bytes: members over 128 go first, then the others; both
	 * from the end (a vendor puts its member first, so the end holds the
	 * oldest), only as many as needed */
	for (size_t i = n; i > 0 && joined_len(mem, keep, n) > SL_TRACE_STATE_MAX; i--)
		if (mem[i - 1].len > 128)
			keep[i - 1] = false;
	for (size_t i = n; i > 0 && joined_len(mem, keep, n) > SL_TRACE_STATE_MAX; i--)
		keep[i - 1] = false;
	for (size_t i = 0; i < n; i++) {
		if (!keep[i])
			continue;
		if (pos)
			t->tracestate[pos++] = ',';
		memcpy(t->tracestate + pos, mem[i].p, mem[i].len);
		pos += mem[i].len;
	}
	t->tracestate[pos] = 0;
}

/* ---- B3 ---- */

/* "1", "0", "d" (b3 single) or "true"/"false" (x-b3-sampled, old
 * clients); -2 for anything else */
static int sampling(const char *v, size_t n, bool *debug)
{
	if (n == 1 && v[0] == '1')
		return 1;
	if (n == 1 && v[0] == '0')
		return 0;
	if (n == 1 && v[0] == 'd' && debug) {
		*debug = true;
		return 1;
	}
	if (!debug && n == 4 && !strncasecmp(v, "true", 4))
		return 1;
	if (!debug && n == 5 && !strncasecmp(v, "false", 5))
		return 0;
	return -2;
}

static bool b3_trace_id(const char *v, size_t n, uint8_t out[16], bool *is64)
{
	memset(out, 0, 16);
	if (n == 16) {
		*is64 = true;
		return unhex(v, 16, out + 8) && !all_zero(out, 16);
	}
	*is64 = false;
	return n == 32 && unhex(v, 32, out) && !all_zero(out, 16);
}

static bool b3_span_id(const char *v, size_t n, uint8_t out[8])
{
	return n == 16 && unhex(v, 16, out) && !all_zero(out, 8);
}

/* b3: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]], or a
 * sampling state alone (which sets only the decision: no ids) */
static bool parse_b3_single(struct sl_trace *t, const char *v, size_t n)
{
	const char *part[5];
	size_t plen[5], np = 0;
	const char *s = v, *end = v + n;
	uint8_t tid[16], sid[8], pid[8];
	bool is64, debug = false;
	int smp = -1;

	while (np < 5) {
		const char *d = memchr(s, '-', (size_t)(end - s));

		part[np] = s;
		plen[np++] = (size_t)((d ? d : end) - s);
		if (!d)
			break;
		s = d + 1;
	}
	if (np == 1) {
		smp = sampling(v, n, &debug);
		if (smp >= 0) {
			t->sampled = smp;
			t->debug = debug;
		}
		return false;
	}
	if (np > 4 || !b3_trace_id(part[0], plen[0], tid, &is64) ||
	    !b3_span_id(part[1], plen[1], sid))
		return false;
	if (np >= 3) {
		smp = sampling(part[2], plen[2], &debug);
		if (smp < 0)
			return false;
	}
	/* the parent of the client's span is not ours: checked, not kept */
	if (np == 4 && !b3_span_id(part[3], plen[3], pid))
		return false;
	memcpy(t->trace_id, tid, 16);
	memcpy(t->parent_id, sid, 8);
	t->has_parent = true;
	t->b3_64 = is64;
	t->sampled = smp;
	t->debug = debug;
	t->origin = SL_TRACE_B3_SINGLE;
	return true;
}

static bool parse_b3_multi(struct sl_trace *t, const struct sl_h1_msg *m,
			   const char *buf)
{
	const char *tv, *sv, *v;
	size_t tn = 0, sn = 0, n = 0;
	uint8_t tid[16], sid[8], pid[8];
	bool is64;
	int smp = -1;
	bool debug = false;

	v = field(m, buf, "x-b3-flags", true, &n);
	if (v && n == 1 && v[0] == '1')
		debug = true;
	v = field(m, buf, "x-b3-sampled", true, &n);
	if (v) {
		smp = sampling(v, n, NULL);
		if (smp < -1)
			smp = -1;
	}
	if (debug)
		smp = 1;
	tv = field(m, buf, "x-b3-traceid", true, &tn);
	sv = field(m, buf, "x-b3-spanid", true, &sn);
	if (!tv || !sv || !b3_trace_id(tv, tn, tid, &is64) || !b3_span_id(sv, sn, sid)) {
		/* no ids: a decision alone still counts for a new trace */
		if (t->sampled < 0 && smp >= 0) {
			t->sampled = smp;
			t->debug = debug;
		}
		return false;
	}
	v = field(m, buf, "x-b3-parentspanid", true, &n);
	if (v && !b3_span_id(v, n, pid))
		return false;
	memcpy(t->trace_id, tid, 16);
	memcpy(t->parent_id, sid, 8);
	t->has_parent = true;
	t->b3_64 = is64;
	t->sampled = smp;
	t->debug = debug;
	t->origin = SL_TRACE_B3;
	return true;
}

/* ---- x-request-id ---- */

static bool request_id_ok(const char *v, size_t n)
{
	if (n < 1 || n > SL_TRACE_REQID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			return false;
	return true;
}

static int uuid4(char out[37], sl_trace_rnd_fn rnd, void *arg)
{
	uint8_t b[16];
	char hex[33];
	int r = rnd(arg, b, sizeof(b));

	if (r)
		return r;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);  /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);  /* variant 10 */
	tohex(b, 16, hex);
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = 0;
	return 0;
}

/* ---- API ---- */

int sl_trace_new_span(struct sl_trace *t, sl_trace_rnd_fn rnd, void *arg)
{
	if (!t || !rnd)
		return -EINVAL;
	return random_id(t->span_id, sizeof(t->span_id), rnd, arg);
}

int sl_trace_from_request(struct sl_trace *t, const struct sl_h1_msg *m,
			  const char *buf, sl_trace_rnd_fn rnd, void *arg)
{
	const char *v;
	size_t n = 0;
	int r;

	if (!t || !m || !buf || !rnd)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->sampled = -1;

	/* a second traceparent makes it invalid (W3C test suite) */
	v = field(m, buf, "traceparent", true, &n);
	if (v && parse_traceparent(t, v, n)) {
		take_tracestate(t, m, buf);
	} else {
		v = field(m, buf, "b3", true, &n);
		if (!(v && parse_b3_single(t, v, n)))
			parse_b3_multi(t, m, buf);
	}
	if (t->origin == SL_TRACE_NEW) {
		r = random_id(t->trace_id, sizeof(t->trace_id), rnd, arg);
		if (r)
			return r;
	}
	/* a client that speaks b3 gets it back, whatever the trace came from */
	t->b3_single = field(m, buf, "b3", false, &n) != NULL;

	v = field(m, buf, "x-request-id", false, &n);
	if (v && request_id_ok(v, n)) {
		memcpy(t->request_id, v, n);
		t->request_id[n] = 0;
		t->request_id_kept = true;
	} else {
		r = uuid4(t->request_id, rnd, arg);
		if (r)
			return r;
	}
	return sl_trace_new_span(t, rnd, arg);
}

void sl_trace_id_hex(const struct sl_trace *t, char out[33])
{
	tohex(t->trace_id, 16, out);
}

ssize_t sl_trace_headers(struct sl_trace *t, struct sl_h1_extra *extra, size_t cap)
{
	size_t n = 0;
	char *p;

#define ADD(nm, val) do {                                  \
		if (n == cap)                              \
			return -ENOSPC;                    \
		extra[n++] = (struct sl_h1_extra){ nm, val }; \
	} while (0)

	if (!t || (!extra && cap))
		return -EINVAL;
	/* traceparent: version 00, only the sampled flag */
	p = t->f_traceparent;
	memcpy(p, "00-", 3);
	tohex(t->trace_id, 16, p + 3);
	p[35] = '-';
	tohex(t->span_id, 8, p + 36);
	p[52] = '-';
	memcpy(p + 53, t->sampled == 1 ? "01" : "00", 3);
	ADD("traceparent", t->f_traceparent);
	if (t->tracestate[0])
		ADD("tracestate", t->tracestate);

	if (t->b3_64)
		tohex(t->trace_id + 8, 8, t->f_traceid);
	else
		tohex(t->trace_id, 16, t->f_traceid);
	tohex(t->span_id, 8, t->f_spanid);
	tohex(t->parent_id, 8, t->f_parentid);
	ADD("x-b3-traceid", t->f_traceid);
	ADD("x-b3-spanid", t->f_spanid);
	if (t->has_parent)
		ADD("x-b3-parentspanid", t->f_parentid);
	/* B3: debug implies sampled, and is sent instead of it */
	if (t->debug)
		ADD("x-b3-flags", "1");
	else if (t->sampled >= 0)
		ADD("x-b3-sampled", t->sampled ? "1" : "0");
	if (t->b3_single) {
		p = t->f_b3;
		p += strlen(strcpy(p, t->f_traceid));
		*p++ = '-';
		p += strlen(strcpy(p, t->f_spanid));
		if (t->debug || t->sampled >= 0) {
			*p++ = '-';
			*p++ = t->debug ? 'd' : (char)('0' + t->sampled);
			if (t->has_parent) {
				*p++ = '-';
				strcpy(p, t->f_parentid);
				p += 16;
			}
		}
		*p = 0;
		ADD("b3", t->f_b3);
	}
	ADD("x-request-id", t->request_id);
#undef ADD
	return (ssize_t)n;
}
