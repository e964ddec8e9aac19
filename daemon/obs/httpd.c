/* SPDX-License-Identifier: Apache-2.0 */
/* The telemetry HTTP server (see httpd.h for why it has its own thread
 * and how it bounds slow clients). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdreg.h"
#include "httpd.h"
#include "log.h"
#include "util.h"

/* ---- parsing --------------------------------------------------------- */

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
}

/* a header line "name: value" (no CRLF); body headers are refused */
static int parse_header(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && p[i] && is_tchar(p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ':')
		return -EINVAL;
	if ((i == 14 && strncasecmp(p, "Content-Length", 14) == 0) ||
	    (i == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0)) {
		/* "Content-Length: 0" is harmless; anything else is a body */
		size_t v = i + 1;

		while (v < n && (p[v] == ' ' || p[v] == '\t'))
			v++;
		if (i != 14 || n - v != 1 || p[v] != '0')
			return -EINVAL;
	}
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return -EINVAL;
	}
	return 0;
}

int sl_httpd_parse(const char *buf, size_t len, struct sl_http_req *req)
{
	const char *end = NULL, *line, *sp1, *sp2, *eol, *p;
	size_t scan = SL_MIN(len, (size_t)SL_HTTPD_REQ_MAX);
	size_t tlen;
	int ret;

	/* find the end of the head within the bound */
	for (size_t i = 0; i + 3 < scan; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
		    buf[i + 3] == '\n') {
			end = buf + i + 4;
			break;
		}
	}
	/* reject garbage early: NUL or bare LF anywhere so far */
	for (size_t i = 0; i < (end ? (size_t)(end - buf) : scan); i++) {
		if (buf[i] == '\0')
			return -EINVAL;
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return -EINVAL;
	}
	if (!end)
		return len >= SL_HTTPD_REQ_MAX ? -E2BIG : -EAGAIN;

	memset(req, 0, sizeof(*req));
	req->header_len = (size_t)(end - buf);
	/* request line: METHOD SP TARGET SP VERSION CRLF */
	eol = memchr(buf, '\r', (size_t)(end - buf));
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	if (!sp1)
		return -EINVAL;
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || memchr(sp2 + 1, ' ', (size_t)(eol - sp2 - 1)))
		return -EINVAL;
	for (p = buf; p < sp1; p++)
		if (!is_tchar(*p))
			return -EINVAL;
	tlen = (size_t)(sp2 - sp1 - 1);
	if (tlen == 0 || sp1[1] != '/')
		return -EINVAL;
	if (tlen > SL_HTTPD_TARGET_MAX)
		return -E2BIG;
	for (p = sp1 + 1; p < sp2; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return -EINVAL;
	if (eol - sp2 - 1 != 8 || strncmp(sp2 + 1, "HTTP/1.", 7) != 0)
		return -EINVAL;
	if (sp2[8] != '0' && sp2[8] != '1')
		return -EPROTONOSUPPORT;
	/* headers */
	for (line = eol + 2; line < end - 2; line = eol + 2) {
		eol = memchr(line, '\r', (size_t)(end - line));
		ret = parse_header(line, (size_t)(eol - line));
		if (ret)
			return ret;
	}
	if (sp1 - buf == 3 && strncmp(buf, "GET", 3) == 0)
		strcpy(req->method, "GET");
	else if (sp1 - buf == 4 && strncmp(buf, "HEAD", 4) == 0)
		strcpy(req->method, "HEAD");
	else
		return -EOPNOTSUPP;
	memcpy(req->target, sp1 + 1, tlen);
	req->target[tlen] = '\0';
	p = strchr(req->target, '?');
	if (p)
		req->target[p - req->target] = '\0';
	return 0;
}

/* ---- serving --------------------------------------------------------- */

#define MS 1000000ull
/* EMFILE/ENFILE: stop polling the listener this long (the backlog keeps the
 * clients; polling a listener we cannot accept from would spin) */
#define ACCEPT_PAUSE_NS (100 * MS)

enum conn_state { C_FREE, C_READ, C_WRITE };

struct conn {
	int fd;
	enum conn_state st;
	uint64_t seq;	      /* accept order: the lowest is the oldest */
	uint64_t head_by, end_by; /* CLOCK_MONOTONIC deadlines */
	size_t len;	      /* request bytes read */
	char *out;	      /* the whole answer (malloc'ed) */
	size_t out_len, out_off;
	char req[SL_HTTPD_REQ_MAX];
};

struct sl_httpd {
	int fd, stop_fd;
	uint16_t port;
	sl_httpd_handler h;
	void *arg;
	struct sl_httpd_stats *st, own_st;
	pthread_t thread;
	/* the server thread's own */
	struct conn conns[SL_HTTPD_CONNS_MAX];
	unsigned int n_open;
	uint64_t next_seq;
	uint64_t accept_paused_until;
};

static void st_inc(atomic_uint_fast64_t *v)
{
	atomic_fetch_add_explicit(v, 1, memory_order_relaxed);
}

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

/* the whole answer in one buffer; NULL on ENOMEM */
static char *format_answer(int status, const char *ctype, const char *body,
			   size_t len, bool head, size_t *out_len)
{
	char hdr[256], *out;
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     status, reason(status), ctype, len);
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return NULL;
	if (head)
		len = 0;
	out = malloc((size_t)n + len);
	if (!out)
		return NULL;
	memcpy(out, hdr, (size_t)n);
	if (len)
		memcpy(out + n, body, len);
	*out_len = (size_t)n + len;
	return out;
}

static char *simple_answer(int status, size_t *out_len)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", reason(status));

	return format_answer(status, "text/plain; charset=utf-8", body,
			     (size_t)n, false, out_len);
}

/* end @c: @rst resets it (nothing it got so far can pass for a complete
 * answer); otherwise a FIN after everything written */
static void conn_close(struct sl_httpd *s, struct conn *c, bool rst)
{
	/* counted before the peer can see the end */
	s->n_open--;
	atomic_fetch_sub_explicit(&s->st->open, 1, memory_order_relaxed);
	if (rst) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };

		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	} else {
		char drain[512];

		shutdown(c->fd, SHUT_WR);
		/* unread bytes (past the head) would turn the close into an
		 * RST that can destroy the answer in flight: take what is
		 * queued, a bounded amount */
		for (int i = 0; i < 8; i++)
			if (recv(c->fd, drain, sizeof(drain), MSG_DONTWAIT) <= 0)
				break;
	}
	close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->st = C_FREE;
}

static void conn_write(struct sl_httpd *s, struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = send(c->fd, c->out + c->out_off,
				 c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			return; /* POLLOUT */
		if (w <= 0) {
			conn_close(s, c, true);
			return;
		}
		c->out_off += (size_t)w;
	}
	st_inc(&s->st->answered);
	conn_close(s, c, false);
}

/* answer @c (its request is complete, or refused with @err) */
static void conn_answer(struct sl_httpd *s, struct conn *c, int err,
			const struct sl_http_req *req)
{
	const char *ctype = "text/plain; charset=utf-8";
	char *body = NULL;
	size_t blen = 0;
	int status = 500;

	switch (err) {
	case 0:
		if (s->h(s->arg, req->target, &status, &ctype, &body, &blen)) {
			c->out = simple_answer(500, &c->out_len);
		} else {
			c->out = format_answer(status, ctype, body ? body : "",
					       blen, strcmp(req->method, "HEAD") == 0,
					       &c->out_len);
		}
		free(body);
		break;
	case -E2BIG:
		c->out = simple_answer(431, &c->out_len);
		break;
	case -EOPNOTSUPP:
		c->out = simple_answer(405, &c->out_len);
		break;
	case -EPROTONOSUPPORT:
		c->out = simple_answer(505, &c->out_len);
		break;
	default:
		c->out = simple_answer(400, &c->out_len);
		break;
	}
	if (!c->out) {
		conn_close(s, c, true);
		return;
	}
	c->out_off = 0;
	c->st = C_WRITE;
	conn_write(s, c);
}

static void conn_read(struct sl_httpd *s, struct conn *c)
{
	struct sl_http_req req;
	ssize_t r;
	int ret;

	r = recv(c->fd, c->req + c->len, sizeof(c->req) - c->len, MSG_DONTWAIT);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) { /* gone before its request was complete */
		conn_close(s, c, r < 0);
		return;
	}
	c->len += (size_t)r;
	ret = sl_httpd_parse(c->req, c->len, &req);
	if (ret == -EAGAIN && c->len < sizeof(c->req))
		return;
	/* a full buffer is -E2BIG already (sl_httpd_parse) */
	conn_answer(s, c, ret == -EAGAIN ? -E2BIG : ret, &req);
}

/* the head deadline passed: a best-effort 408, then close */
static void conn_head_timeout(struct sl_httpd *s, struct conn *c)
{
	size_t n;
	char *a = simple_answer(408, &n);

	st_inc(&s->st->timeouts);
	if (a)
		(void)send(c->fd, a, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(a);
	conn_close(s, c, false);
}

static void expire(struct sl_httpd *s, uint64_t now)
{
	for (unsigned int i = 0; i < SL_HTTPD_CONNS_MAX; i++) {
		struct conn *c = &s->conns[i];

		if (c->st == C_READ && now >= c->head_by) {
			conn_head_timeout(s, c);
		} else if (c->st == C_WRITE && now >= c->end_by) {
			st_inc(&s->st->timeouts);
			conn_close(s, c, true);
		}
	}
}

static struct conn *oldest(struct sl_httpd *s)
{
	struct conn *o = NULL;

	for (unsigned int i = 0; i < SL_HTTPD_CONNS_MAX; i++) {
		struct conn *c = &s->conns[i];

		if (c->st != C_FREE && (!o || c->seq < o->seq))
			o = c;
	}
	return o;
}

static void accept_all(struct sl_httpd *s, uint64_t now)
{
	/* bounded per round so that open connections get their turn */
	for (int n = 0; n < 2 * SL_HTTPD_CONNS_MAX; n++) {
		struct conn *c = NULL;
		int fd;

		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				st_inc(&s->st->accept_errors);
				s->accept_paused_until = now + ACCEPT_PAUSE_NS;
				return;
			}
			if (errno == EAGAIN)
				return;
			continue; /* ECONNABORTED, EINTR...: the next one */
		}
		st_inc(&s->st->accepted);
		if (s->n_open == SL_HTTPD_CONNS_MAX) {
			st_inc(&s->st->shed);
			conn_close(s, oldest(s), true);
		}
		for (unsigned int i = 0; i < SL_HTTPD_CONNS_MAX && !c; i++)
			if (s->conns[i].st == C_FREE)
				c = &s->conns[i];
		c->fd = fd;
		c->st = C_READ;
		c->seq = s->next_seq++;
		c->head_by = now + SL_HTTPD_HEAD_MS * MS;
		c->end_by = now + SL_HTTPD_CONN_MS * MS;
		c->len = 0;
		s->n_open++;
		atomic_fetch_add_explicit(&s->st->open, 1, memory_order_relaxed);
	}
}

/* poll timeout until the next deadline, in ms rounded up; -1: none */
static int next_timeout(const struct sl_httpd *s, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (s->accept_paused_until > now)
		next = s->accept_paused_until;
	for (unsigned int i = 0; i < SL_HTTPD_CONNS_MAX; i++) {
		const struct conn *c = &s->conns[i];

		if (c->st == C_READ)
			next = SL_MIN(next, c->head_by);
		else if (c->st == C_WRITE)
			next = SL_MIN(next, c->end_by);
	}
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)((next - now + MS - 1) / MS);
}

static void *httpd_thread(void *arg)
{
	struct sl_httpd *s = arg;
	/* stop fd, listener, then one slot per connection */
	struct pollfd pfd[2 + SL_HTTPD_CONNS_MAX];
	struct conn *polled[SL_HTTPD_CONNS_MAX];

	for (;;) {
		uint64_t now = sl_now_ns();
		nfds_t n = 0, first_conn;
		bool listening;
		int ret;

		expire(s, now);
		pfd[n++] = (struct pollfd){ .fd = s->stop_fd, .events = POLLIN };
		listening = now >= s->accept_paused_until;
		if (listening)
			pfd[n++] = (struct pollfd){ .fd = s->fd, .events = POLLIN };
		first_conn = n;
		for (unsigned int i = 0; i < SL_HTTPD_CONNS_MAX; i++) {
			struct conn *c = &s->conns[i];

			if (c->st == C_FREE)
				continue;
			polled[n - first_conn] = c;
			pfd[n++] = (struct pollfd){
				.fd = c->fd,
				.events = c->st == C_READ ? POLLIN : POLLOUT,
			};
		}
		ret = poll(pfd, n, next_timeout(s, now));
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			sl_log_err("%s: poll: %m", __func__);
			break;
		}
		if (pfd[0].revents)
			break;
		for (nfds_t i = first_conn; i < n; i++) {
			struct conn *c = polled[i - first_conn];

			if (!pfd[i].revents)
				continue;
			if (c->st == C_READ)
				conn_read(s, c);
			else if (c->st == C_WRITE)
				conn_write(s, c);
		}
		if (listening && (pfd[1].revents & POLLIN))
			accept_all(s, sl_now_ns());
	}
	for (unsigned int i = 0; i < SL_HTTPD_CONNS_MAX; i++)
		if (s->conns[i].st != C_FREE)
			conn_close(s, &s->conns[i], true);
	return NULL;
}

int sl_httpd_start(const char *addr, uint16_t port, sl_httpd_handler h,
		   void *arg, struct sl_httpd_stats *stats,
		   struct sl_httpd **out)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} sa;
	socklen_t slen;
	char name[SL_FDREG_NAME_MAX];
	sigset_t all, old;
	struct sl_httpd *s;
	int one = 1, zero = 0, ret;

	memset(&sa, 0, sizeof(sa));
	if (inet_pton(AF_INET, addr, &sa.v4.sin_addr) == 1) {
		sa.v4.sin_family = AF_INET;
		sa.v4.sin_port = htons(port);
		slen = sizeof(sa.v4);
	} else if (inet_pton(AF_INET6, addr, &sa.v6.sin6_addr) == 1) {
		sa.v6.sin6_family = AF_INET6;
		sa.v6.sin6_port = htons(port);
		slen = sizeof(sa.v6);
	} else {
		sl_log_err("%s: \"%s\" is not an IPv4 or IPv6 address", __func__,
			   addr);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->h = h;
	s->arg = arg;
	s->st = stats ? stats : &s->own_st;
	for (unsigned int i = 0; i < SL_HTTPD_CONNS_MAX; i++)
		s->conns[i].fd = -1;
	s->stop_fd = -1;
	/* a fixed port: the predecessor's socket (fdreg.h) when it left
	 * one, since binding it again fails while the old process lives */
	snprintf(name, sizeof(name), "sl-telemetry-%u", port);
	s->fd = port ? sl_fdreg_take_listener(name, &sa.sa) : -1;
	if (s->fd < 0) {
		s->fd = socket(sa.sa.sa_family,
			       SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s->fd < 0) {
			ret = -errno;
			sl_log_err("%s: %s: socket: %s", __func__, addr,
				   strerror(-ret));
			goto err_free;
		}
		setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* "::" serves IPv4 too, whatever net.ipv6.bindv6only says */
		if (sa.sa.sa_family == AF_INET6)
			setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero,
				   sizeof(zero));
		if (bind(s->fd, &sa.sa, slen) < 0 ||
		    listen(s->fd, SL_HTTPD_CONNS_MAX) < 0) {
			ret = -errno;
			sl_log_err("%s: %s port %u: %s", __func__, addr, port,
				   strerror(-ret));
			goto err_close;
		}
	}
	if (getsockname(s->fd, &sa.sa, &slen) < 0) {
		ret = -errno;
		goto err_close;
	}
	s->port = ntohs(sa.sa.sa_family == AF_INET6 ? sa.v6.sin6_port :
						       sa.v4.sin_port);
	if (port)
		(void)sl_fdreg_publish(s->fd, name, true);
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		ret = -errno;
		goto err_close;
	}
	/* the thread must not take process signals (SIGTERM, SIGHUP are
	 * read from a signalfd by worker 0): create it with all blocked */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&s->thread, NULL, httpd_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		goto err_stop;
	*out = s;
	return 0;
err_stop:
	close(s->stop_fd);
err_close:
	sl_fdreg_withdraw(s->fd);
	close(s->fd);
err_free:
	free(s);
	return ret;
}

uint16_t sl_httpd_port(const struct sl_httpd *s)
{
	return s->port;
}

void sl_httpd_stop(struct sl_httpd *s)
{
	uint64_t one = 1;

	if (!s)
		return;
	if (write(s->stop_fd, &one, sizeof(one)) != sizeof(one))
		sl_log_warn("%s: eventfd: %m", __func__);
	pthread_join(s->thread, NULL);
	close(s->stop_fd);
	sl_fdreg_withdraw(s->fd);
	close(s->fd);
	free(s);
}
