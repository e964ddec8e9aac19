/* SPDX-License-Identifier: Apache-2.0 */
/* The telemetry HTTP server (see httpd.h for why it has its own thread). */
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

#include "httpd.h"
#include "log.h"
#include "util.h"

struct sl_httpd {
	int fd, stop_fd;
	uint16_t port;
	sl_httpd_handler h;
	void *arg;
	pthread_t thread;
};

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

/* write everything before @deadline; false on error or timeout */
static bool send_all(int fd, const char *p, size_t n, uint64_t deadline)
{
	while (n) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		uint64_t now = sl_now_ns();
		ssize_t w;

		if (now >= deadline ||
		    poll(&pfd, 1, (int)((deadline - now) / 1000000ull) + 1) <= 0)
			return false;
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static void respond(int fd, int status, const char *ctype, const char *body,
		    size_t len, bool head, uint64_t deadline)
{
	char hdr[256];
	int n;

	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     status, reason(status), ctype, len);
	if (!send_all(fd, hdr, (size_t)n, deadline) || head)
		return;
	send_all(fd, body, len, deadline);
}

static void simple(int fd, int status, uint64_t deadline)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", reason(status));

	respond(fd, status, "text/plain; charset=utf-8", body, (size_t)n,
		false, deadline);
}

static void serve(struct sl_httpd *s, int fd)
{
	uint64_t deadline = sl_now_ns() + SL_HTTPD_DEADLINE_MS * 1000000ull;
	char buf[SL_HTTPD_REQ_MAX];
	struct sl_http_req req;
	size_t len = 0;
	int ret = -EAGAIN;

	while (ret == -EAGAIN && len < sizeof(buf)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = sl_now_ns();
		ssize_t r;

		if (now >= deadline) {
			simple(fd, 408, deadline + 100000000ull);
			return;
		}
		if (poll(&pfd, 1, (int)((deadline - now) / 1000000ull) + 1) <= 0)
			continue; /* re-checks the deadline */
		r = recv(fd, buf + len, sizeof(buf) - len, MSG_DONTWAIT);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return;
		len += (size_t)r;
		ret = sl_httpd_parse(buf, len, &req);
	}
	switch (ret) {
	case 0:
		break;
	case -EAGAIN: /* buffer full: sl_httpd_parse said -E2BIG already */
	case -E2BIG:
		simple(fd, 431, deadline);
		return;
	case -EOPNOTSUPP:
		simple(fd, 405, deadline);
		return;
	case -EPROTONOSUPPORT:
		simple(fd, 505, deadline);
		return;
	default:
		simple(fd, 400, deadline);
		return;
	}
	{
		const char *ctype = "text/plain; charset=utf-8";
		char *body = NULL;
		size_t blen = 0;
		int status = 500;

		if (s->h(s->arg, req.target, &status, &ctype, &body, &blen)) {
			free(body);
			simple(fd, 500, deadline);
			return;
		}
		respond(fd, status, ctype, body ? body : "", blen,
			strcmp(req.method, "HEAD") == 0, deadline);
		free(body);
	}
}

static void *httpd_thread(void *arg)
{
	struct sl_httpd *s = arg;

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = s->fd, .events = POLLIN },
			{ .fd = s->stop_fd, .events = POLLIN },
		};
		int fd;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			sl_log_err("%s: poll: %m", __func__);
			break;
		}
		if (pfd[1].revents)
			break;
		if (!(pfd[0].revents & POLLIN))
			continue;
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			continue; /* EAGAIN, ECONNABORTED, EMFILE: next time */
		serve(s, fd);
		/* let the client read everything before the FIN */
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

int sl_httpd_start(const char *addr, uint16_t port, sl_httpd_handler h,
		   void *arg, struct sl_httpd **out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	socklen_t slen = sizeof(sin);
	sigset_t all, old;
	struct sl_httpd *s;
	int one = 1, ret;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->h = h;
	s->arg = arg;
	s->stop_fd = -1;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(s->fd, 16) < 0 ||
	    getsockname(s->fd, (struct sockaddr *)&sin, &slen) < 0) {
		ret = -errno;
		sl_log_err("%s: %s:%u: %s", __func__, addr, port, strerror(-ret));
		goto err_close;
	}
	s->port = ntohs(sin.sin_port);
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
	close(s->fd);
	free(s);
}
