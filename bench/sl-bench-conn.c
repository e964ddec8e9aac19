/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sl-bench-conn: connection tool for the sluice benchmark harness.
 * Built by bench/run with cc into a scratch directory (not part of the
 * meson build, not a test).
 *
 *   sl-bench-conn serve PORT
 *       epoll echo server: every connection is kept until the peer closes,
 *       every byte received is sent back.  Holds any number of connections.
 *   sl-bench-conn newflow IP PORT SECONDS THREADS
 *       THREADS loops of: connect, send 1 byte, read the 1-byte echo,
 *       close; for SECONDS.  Prints one JSON object: flows, flows_per_s,
 *       errors and the latency of a flow (connect .. echo received) as
 *       p50_us/p99_us/p999_us/mean_us.
 *   sl-bench-conn paced IP PORT SECONDS RATE
 *       open loop: flows start on a fixed schedule, RATE per second (one
 *       every 1/RATE s, whatever earlier flows do; 16 threads take the
 *       scheduled starts in turn), each connect, send 1 byte, read the
 *       echo, close.  The latency of a flow counts from its scheduled
 *       start, so a late start (queueing) is included (no coordinated
 *       omission).  Same JSON as newflow plus "rate" and "late" (flows
 *       that started more than 1 ms after their scheduled time).
 *   sl-bench-conn fwd LISTEN_IP DST_IP LPORT:DPORT [LPORT:DPORT ...]
 *       the relay floor: a plaintext TCP forwarder (one thread, epoll,
 *       TCP_NODELAY, read/write through a 64 KiB buffer per busy
 *       direction, half-close passed on), listening on LISTEN_IP:LPORT and
 *       forwarding to DST_IP:DPORT.  Two of them, one per node, are what
 *       any two-hop userspace proxy costs before TLS and policy.
 *   sl-bench-conn idle IP PORT N INFLIGHT
 *       open N connections (at most INFLIGHT connecting at once), each
 *       sends 1 byte and waits for the echo so that the flow is fully
 *       established through any proxy; then prints
 *       "ready ok=K err=E secs=S" and holds them until SIGTERM/SIGINT.
 *
 * HTTP/1.1 (issue 26's rows; requests are "GET / HTTP/1.1" with
 * "Host: my-service", the canary Service of the sluice mode):
 *   sl-bench-conn httpserve PORT SIZE
 *       the upstream: epoll, one thread, keep-alive; answers every request
 *       head with 200 and a SIZE-byte body (Content-Length), in order
 *       (pipelined heads too); closes after the response when the request
 *       says "Connection: close" or is HTTP/1.0.  Request bodies are not
 *       supported (the harness sends GETs only).
 *   sl-bench-conn httpclose IP PORT SECONDS THREADS
 *       a new connection per request: THREADS loops of connect, GET with
 *       "Connection: close", read the whole response, close.  JSON as
 *       newflow with "requests" and "requests_per_s"; the latency counts
 *       from before connect() to the last body byte.
 *   sl-bench-conn httppaced IP PORT SECONDS RATE CONNS
 *       open loop on CONNS keep-alive connections (one thread each,
 *       connected before the clock starts): requests start on a fixed
 *       schedule, RATE per second, taken in turn by whichever connection
 *       is free; the latency counts from the scheduled start to the last
 *       body byte (no coordinated omission; "late" counts starts more than
 *       1 ms behind).  JSON as paced.
 *   sl-bench-conn httpidle IP PORT N INFLIGHT
 *       open N keep-alive connections (at most INFLIGHT in set-up at
 *       once), each sends one GET and reads the whole response, so that
 *       the connection is idle between requests through any proxy; then
 *       "ready ok=K err=E secs=S", held until SIGTERM/SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void raise_nofile(void)
{
	struct rlimit rl = { 1048576, 1048576 };

	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int mkaddr(const char *ip, const char *port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
		fprintf(stderr, "bad IPv4 address %s\n", ip);
		return -1;
	}
	return 0;
}

/* a non-blocking listening socket on @sa, or -1 (errno set) */
static int listen_on(const struct sockaddr_in *sa)
{
	int one = 1, e;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ||
	    listen(fd, 4096) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- serve ------------------------------------------------------------ */

static int do_serve(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[256];
	char buf[65536];
	int one = 1, lfd, ep;

	sa.sin_port = htons((uint16_t)atoi(port));
	lfd = listen_on(&sa);
	if (lfd < 0)
		return perror("socket/bind/listen"), 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.fd = lfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.fd = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
				}
				continue;
			}
			ssize_t r = read(fd, buf, sizeof(buf));

			if (r > 0) {
				/* small echoes only (1-byte probes): a short write is
				 * not worth buffering here */
				if (write(fd, buf, (size_t)r) < 0 && errno != EAGAIN)
					r = 0;
			}
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
			}
		}
	}
}

/* ---- fwd: the relay floor ----------------------------------------------- */

#define FWD_BUF 65536

struct fwd_pair;

/* one socket of a pair; its buffer holds what was read from it and is
 * not yet written to the other socket (allocated only while non-empty) */
struct fwd_end {
	struct fwd_pair *p;
	int fd;
	uint32_t events; /* registered with epoll */
	char *buf;
	size_t off, len;
	int eof;	 /* read 0 */
	int shut;	 /* the other side's EOF passed on: SHUT_WR done */
};

struct fwd_pair {
	struct fwd_end e[2]; /* 0: accepted, 1: dialled */
	int connected;
	int dead;		/* closed: freed after the epoll batch */
	struct fwd_pair *next_dead;
};

struct fwd_listener {
	int fd;
	struct sockaddr_in dst;
};

static int fwd_ep;
static struct fwd_pair *fwd_dead; /* closed in this batch, freed after it */

static void fwd_close(struct fwd_pair *p)
{
	for (int i = 0; i < 2; i++) {
		epoll_ctl(fwd_ep, EPOLL_CTL_DEL, p->e[i].fd, NULL);
		close(p->e[i].fd);
		free(p->e[i].buf);
	}
	p->dead = 1;
	p->next_dead = fwd_dead;
	fwd_dead = p;
}

/* what each socket waits for, from the pair's state */
static void fwd_update(struct fwd_pair *p)
{
	for (int i = 0; i < 2; i++) {
		struct fwd_end *e = &p->e[i], *o = &p->e[!i];
		uint32_t want = 0;
		struct epoll_event ev;

		if (i == 1 && !p->connected)
			want = EPOLLOUT;
		else {
			if (p->connected && !e->eof && !e->len)
				want |= EPOLLIN;
			if (o->len)
				want |= EPOLLOUT;
		}
		if (want == e->events)
			continue;
		ev.events = want;
		ev.data.ptr = e;
		epoll_ctl(fwd_ep, EPOLL_CTL_MOD, e->fd, &ev);
		e->events = want;
	}
}

/* write what @from holds to the other socket; -1 on a hard error */
static int fwd_flush(struct fwd_end *from)
{
	struct fwd_end *to = &from->p->e[from == &from->p->e[0]];

	while (from->len) {
		ssize_t w = write(to->fd, from->buf + from->off, from->len);

		if (w < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		from->off += (size_t)w;
		from->len -= (size_t)w;
	}
	free(from->buf);
	from->buf = NULL;
	from->off = 0;
	if (from->eof && !to->shut) {
		shutdown(to->fd, SHUT_WR);
		to->shut = 1;
	}
	return 0;
}

static int fwd_read(struct fwd_end *e)
{
	ssize_t r;

	if (!e->buf && !(e->buf = malloc(FWD_BUF)))
		return -1;
	r = read(e->fd, e->buf, FWD_BUF);
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (r == 0)
		e->eof = 1;
	e->off = 0;
	e->len = (size_t)r;
	return fwd_flush(e);
}

static void fwd_event(struct fwd_end *e, uint32_t ev)
{
	struct fwd_pair *p = e->p;
	struct fwd_end *o = &p->e[e == &p->e[0]];

	if (p->dead)
		return;
	if (e == &p->e[1] && !p->connected) {
		int err = 0;
		socklen_t l = sizeof(err);

		getsockopt(e->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err) {
			fwd_close(p);
			return;
		}
		p->connected = 1;
		/* what the client sent while the dial was in flight */
		if (fwd_read(o) < 0) {
			fwd_close(p);
			return;
		}
		fwd_update(p);
		return;
	}
	if ((ev & EPOLLOUT) && fwd_flush(o) < 0) {
		fwd_close(p);
		return;
	}
	if ((ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !e->len && !e->eof &&
	    fwd_read(e) < 0) {
		fwd_close(p);
		return;
	}
	if (((ev & EPOLLERR) && !(ev & EPOLLIN)) ||
	    ((ev & EPOLLHUP) && e->eof && e->shut)) {
		fwd_close(p);
		return;
	}
	if (p->e[0].eof && p->e[1].eof && !p->e[0].len && !p->e[1].len) {
		fwd_close(p);
		return;
	}
	fwd_update(p);
}

static void fwd_accept(struct fwd_listener *l)
{
	int one = 1, c;

	while ((c = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct fwd_pair *p = calloc(1, sizeof(*p));
		struct epoll_event ev;
		int u;

		u = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (!p || u < 0) {
			free(p);
			close(c);
			if (u >= 0)
				close(u);
			continue;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		p->e[0] = (struct fwd_end){ .p = p, .fd = c };
		p->e[1] = (struct fwd_end){ .p = p, .fd = u, .events = EPOLLOUT };
		if (connect(u, (struct sockaddr *)&l->dst, sizeof(l->dst)) < 0 &&
		    errno != EINPROGRESS) {
			close(c);
			close(u);
			free(p);
			continue;
		}
		ev.events = 0;
		ev.data.ptr = &p->e[0];
		epoll_ctl(fwd_ep, EPOLL_CTL_ADD, c, &ev);
		ev.events = EPOLLOUT;
		ev.data.ptr = &p->e[1];
		epoll_ctl(fwd_ep, EPOLL_CTL_ADD, u, &ev);
	}
}

static int do_fwd(const char *lip, const char *dip, int n, char **maps)
{
	struct fwd_listener *ls = calloc((size_t)n, sizeof(*ls));
	struct epoll_event ev, evs[256];

	fwd_ep = epoll_create1(EPOLL_CLOEXEC);
	if (!ls || fwd_ep < 0)
		return perror("fwd"), 1;
	for (int i = 0; i < n; i++) {
		char lp[16], *dp = strchr(maps[i], ':');
		struct sockaddr_in sa;

		if (!dp || dp - maps[i] >= (long)sizeof(lp)) {
			fprintf(stderr, "fwd: bad LPORT:DPORT '%s'\n", maps[i]);
			return 2;
		}
		memcpy(lp, maps[i], (size_t)(dp - maps[i]));
		lp[dp - maps[i]] = 0;
		if (mkaddr(lip, lp, &sa) || mkaddr(dip, dp + 1, &ls[i].dst))
			return 2;
		ls[i].fd = listen_on(&sa);
		if (ls[i].fd < 0)
			return perror("fwd: bind/listen"), 1;
		ev.events = EPOLLIN;
		ev.data.ptr = &ls[i];
		epoll_ctl(fwd_ep, EPOLL_CTL_ADD, ls[i].fd, &ev);
	}
	for (;;) {
		int k = epoll_wait(fwd_ep, evs, 256, -1);

		for (int i = 0; i < k; i++) {
			void *ptr = evs[i].data.ptr;

			if (ptr >= (void *)ls && ptr < (void *)(ls + n))
				fwd_accept(ptr);
			else
				fwd_event(ptr, evs[i].events);
		}
		while (fwd_dead) {
			struct fwd_pair *p = fwd_dead;

			fwd_dead = p->next_dead;
			free(p);
		}
	}
}

/* ---- newflow ------------------------------------------------------------ */

struct nf_thread {
	pthread_t tid;
	struct sockaddr_in sa;
	double end;
	double *lat;
	size_t n, cap;
	unsigned long errors;
};

/* @t_conn: when not NULL, set to the time connect() returned */
static int one_flow(const struct sockaddr_in *sa, double *t_conn)
{
	int one = 1, fd, ret = -1;
	char c = 'x';

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		goto out;
	if (t_conn)
		*t_conn = now_s();
	if (write(fd, &c, 1) != 1)
		goto out;
	if (read(fd, &c, 1) != 1)
		goto out;
	ret = 0;
out:
	close(fd);
	return ret;
}

/* ---- HTTP/1.1 ------------------------------------------------------------ */

static const char http_get[] = "GET / HTTP/1.1\r\nHost: my-service\r\n"
			       "User-Agent: sl-bench-conn\r\n\r\n";
static const char http_get_close[] = "GET / HTTP/1.1\r\nHost: my-service\r\n"
				     "User-Agent: sl-bench-conn\r\nConnection: close\r\n\r\n";

/* the value of header @name (lower case, with the colon) in a head, or -1 */
static long head_num(const char *head, size_t len, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i + nl < len; i++) {
		if ((i == 0 || head[i - 1] == '\n') && !strncasecmp(head + i, name, nl))
			return strtol(head + i + nl, NULL, 10);
	}
	return -1;
}

static int head_has(const char *head, size_t len, const char *needle)
{
	return memmem(head, len, needle, strlen(needle)) != NULL;
}

/*
 * One whole response on @fd (blocking): head, then Content-Length bytes.
 * Returns 0 for a 200, -1 otherwise.  @buf holds at least 64 KiB.
 */
static int http_read_resp(int fd, char *buf, size_t cap)
{
	size_t have = 0, hl = 0;
	long cl = -1;

	for (;;) {
		ssize_t r = read(fd, buf + have, cap - have);

		if (r <= 0)
			return -1;
		have += (size_t)r;
		if (!hl) {
			char *e = memmem(buf, have, "\r\n\r\n", 4);

			if (!e) {
				if (have == cap)
					return -1;
				continue;
			}
			hl = (size_t)(e - buf) + 4;
			if (have < 12 || memcmp(buf + 9, "200", 3))
				return -1;
			cl = head_num(buf, hl, "content-length:");
			if (cl < 0)
				return -1;
		}
		if (have >= hl + (size_t)cl)
			return have == hl + (size_t)cl ? 0 : -1;
		if (have == cap) /* bigger than the buffer: not what we serve */
			return -1;
	}
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int dial(const struct sockaddr_in *sa)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* httpserve: one connection's state */
struct hs_conn {
	int fd;
	int closing;       /* close once @out is sent */
	size_t in_len, out_len, out_off;
	char in[8192];
	char out[16384];
};

static char *hs_resp, *hs_resp_close;
static size_t hs_resp_len, hs_resp_close_len;

static void hs_free(int ep, struct hs_conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* send what is queued; 1: all sent, 0: wait for EPOLLOUT, -1: error */
static int hs_flush(struct hs_conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

		if (w < 0)
			return errno == EAGAIN ? 0 : -1;
		c->out_off += (size_t)w;
	}
	c->out_off = c->out_len = 0;
	return 1;
}

/* answer every whole request head in @in that fits in @out */
static void hs_parse(struct hs_conn *c)
{
	char *e;

	while (!c->closing && (e = memmem(c->in, c->in_len, "\r\n\r\n", 4))) {
		size_t hl = (size_t)(e - c->in) + 4;
		/* HTTP/1.0 closes (the harness never sends it) */
		int cl = head_has(c->in, hl, "HTTP/1.0\r\n");
		const char *conn = NULL;

		for (size_t i = 0; i + 11 < hl; i++)
			if ((i == 0 || c->in[i - 1] == '\n') &&
			    !strncasecmp(c->in + i, "connection:", 11)) {
				conn = c->in + i + 11;
				break;
			}
		if (conn && !strncasecmp(conn + strspn(conn, " \t"), "close", 5))
			cl = 1;
		if (c->out_len + hs_resp_close_len > sizeof(c->out))
			break; /* wait until the queued responses are sent */
		memcpy(c->out + c->out_len, cl ? hs_resp_close : hs_resp,
		       cl ? hs_resp_close_len : hs_resp_len);
		c->out_len += cl ? hs_resp_close_len : hs_resp_len;
		c->closing = cl;
		memmove(c->in, c->in + hl, c->in_len - hl);
		c->in_len -= hl;
	}
}

static int do_httpserve(const char *port, long size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[256];
	int one = 1, lfd, ep;
	char hd[160];
	int hn;

	if (size < 0 || size > 8192)
		return fprintf(stderr, "httpserve: SIZE 0..8192\n"), 2;
	hn = snprintf(hd, sizeof(hd), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				      "Content-Length: %ld\r\n\r\n", size);
	hs_resp_len = (size_t)hn + (size_t)size;
	hs_resp = malloc(hs_resp_len);
	hn = snprintf(hd, sizeof(hd), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				      "Content-Length: %ld\r\nConnection: close\r\n\r\n", size);
	hs_resp_close_len = (size_t)hn + (size_t)size;
	hs_resp_close = malloc(hs_resp_close_len);
	if (!hs_resp || !hs_resp_close)
		return 1;
	memcpy(hs_resp_close, hd, (size_t)hn);
	memset(hs_resp_close + hn, 'x', (size_t)size);
	hn = snprintf(hd, sizeof(hd), "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				      "Content-Length: %ld\r\n\r\n", size);
	memcpy(hs_resp, hd, (size_t)hn);
	memset(hs_resp + hn, 'x', (size_t)size);

	sa.sin_port = htons((uint16_t)atoi(port));
	lfd = listen_on(&sa);
	if (lfd < 0)
		return perror("socket/bind/listen"), 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);

		for (int i = 0; i < n; i++) {
			struct hs_conn *c = evs[i].data.ptr;
			int fd, f;

			if (!c) {
				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
					c = calloc(1, sizeof(*c));
					if (!c) {
						close(fd);
						continue;
					}
					c->fd = fd;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev.events = EPOLLIN;
					ev.data.ptr = c;
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				ssize_t r = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);

				if (r == 0 || (r < 0 && errno != EAGAIN) ||
				    (r < 0 && c->in_len == sizeof(c->in))) {
					hs_free(ep, c);
					continue;
				}
				if (r > 0)
					c->in_len += (size_t)r;
				if (c->in_len == sizeof(c->in) &&
				    !memmem(c->in, c->in_len, "\r\n\r\n", 4)) {
					hs_free(ep, c); /* a head over 8 KiB */
					continue;
				}
			}
			for (;;) {
				hs_parse(c);
				f = hs_flush(c);
				if (f != 1 || c->closing || !memmem(c->in, c->in_len, "\r\n\r\n", 4))
					break;
			}
			if (f < 0 || (f == 1 && c->closing)) {
				hs_free(ep, c);
				continue;
			}
			ev.events = f == 0 ? EPOLLOUT : EPOLLIN;
			ev.data.ptr = c;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		}
	}
}

/* httpclose: a new connection per request (closed loop) */
static void *hc_run(void *arg)
{
	struct nf_thread *t = arg;
	char *buf = malloc(65536);

	while (buf && now_s() < t->end) {
		double t0 = now_s();
		int fd = dial(&t->sa);

		if (fd < 0 || write_all(fd, http_get_close, sizeof(http_get_close) - 1) < 0 ||
		    http_read_resp(fd, buf, 65536) < 0) {
			if (fd >= 0)
				close(fd);
			t->errors++;
			usleep(1000);
			continue;
		}
		close(fd);
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16384;
			double *p = realloc(t->lat, cap * sizeof(*p));

			if (!p)
				break;
			t->lat = p;
			t->cap = cap;
		}
		t->lat[t->n++] = (now_s() - t0) * 1e6;
	}
	free(buf);
	return NULL;
}

static void *nf_run(void *arg)
{
	struct nf_thread *t = arg;

	while (now_s() < t->end) {
		double t0 = now_s();

		if (one_flow(&t->sa, NULL) < 0) {
			t->errors++;
			if (t->errors > 1000)
				break;
			usleep(1000);
			continue;
		}
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 65536;
			double *p = realloc(t->lat, cap * sizeof(*p));

			if (!p)
				break;
			t->lat = p;
			t->cap = cap;
		}
		t->lat[t->n++] = (now_s() - t0) * 1e6;
	}
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return -1;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* @run: the thread body (nf_run or hc_run); @what: "flows" or "requests" */
static int do_newflow(const char *ip, const char *port, double secs, int nthreads,
		      void *(*run)(void *), const char *what)
{
	struct nf_thread *t = calloc((size_t)nthreads, sizeof(*t));
	unsigned long errors = 0;
	double *all, sum = 0, t0, el;
	size_t n = 0, k = 0;

	if (!t)
		return 1;
	t0 = now_s();
	for (int i = 0; i < nthreads; i++) {
		if (mkaddr(ip, port, &t[i].sa) < 0)
			return 2;
		t[i].end = t0 + secs;
		pthread_create(&t[i].tid, NULL, run, &t[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i].tid, NULL);
		n += t[i].n;
		errors += t[i].errors;
	}
	el = now_s() - t0;
	all = malloc((n ? n : 1) * sizeof(*all));
	if (!all)
		return 1;
	for (int i = 0; i < nthreads; i++) {
		memcpy(all + k, t[i].lat, t[i].n * sizeof(*all));
		k += t[i].n;
		free(t[i].lat);
	}
	qsort(all, n, sizeof(*all), cmp_d);
	for (size_t i = 0; i < n; i++)
		sum += all[i];
	printf("{\"%s\": %zu, \"errors\": %lu, \"seconds\": %.3f, \"threads\": %d, "
	       "\"%s_per_s\": %.1f, \"mean_us\": %.1f, \"p50_us\": %.1f, "
	       "\"p99_us\": %.1f, \"p999_us\": %.1f}\n",
	       what, n, errors, el, nthreads, what, (double)n / el, n ? sum / (double)n : -1,
	       pct(all, n, 0.5), pct(all, n, 0.99), pct(all, n, 0.999));
	free(all);
	free(t);
	return n ? 0 : 1;
}

/* ---- paced (open loop) -------------------------------------------------- */

#define PC_THREADS 16 /* paced */
#define PC_MAX_THREADS 256 /* httppaced: one per connection */

struct pc_shared {
	struct sockaddr_in sa;
	int http; /* httppaced: a GET on the thread's keep-alive connection */
	double t0, interval, end;
	pthread_mutex_t lock;
	unsigned long next;
};

struct pc_sample {
	double lat;  /* scheduled start to the echo read (the flow's latency) */
	double lag;  /* scheduled start to the actual start (the client's own delay) */
	double conn; /* actual start to connect() returned */
	double st;   /* scheduled start, s after the first one */
};

struct pc_thread {
	pthread_t tid;
	struct pc_shared *sh;
	struct pc_sample *s;
	size_t n, cap;
	unsigned long errors, late;
	int fd;    /* httppaced: the keep-alive connection */
	char *buf; /* httppaced: the response */
};

/* httppaced: one GET on @t's connection (re-dialled after an error) */
static int pc_http(struct pc_thread *t)
{
	if (t->fd < 0 && (t->fd = dial(&t->sh->sa)) < 0)
		return -1;
	if (write_all(t->fd, http_get, sizeof(http_get) - 1) < 0 ||
	    http_read_resp(t->fd, t->buf, 65536) < 0) {
		close(t->fd);
		t->fd = -1;
		return -1;
	}
	return 0;
}

static void sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void *pc_run(void *arg)
{
	struct pc_thread *t = arg;
	struct pc_shared *sh = t->sh;

	/* the default 50 us timer slack would delay every start: the
	 * client's own lateness is reported apart (lag) and kept small */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	for (;;) {
		unsigned long k;
		double st, t0, t1, tc = 0;

		pthread_mutex_lock(&sh->lock);
		k = sh->next++;
		pthread_mutex_unlock(&sh->lock);
		st = sh->t0 + (double)k * sh->interval;
		if (st >= sh->end)
			break;
		sleep_until(st);
		t0 = now_s();
		if (t0 - st > 0.001)
			t->late++;
		if (sh->http ? pc_http(t) : one_flow(&sh->sa, &tc)) {
			t->errors++;
			continue;
		}
		t1 = now_s();
		if (sh->http)
			tc = t0;
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16384;
			struct pc_sample *p = realloc(t->s, cap * sizeof(*p));

			if (!p)
				break;
			t->s = p;
			t->cap = cap;
		}
		t->s[t->n].lat = (t1 - st) * 1e6;
		t->s[t->n].lag = (t0 - st) * 1e6;
		t->s[t->n].conn = (tc - t0) * 1e6;
		t->s[t->n].st = st - sh->t0;
		t->n++;
	}
	return NULL;
}

/* one column of @s, at byte offset @off, copied into @out and sorted */
static void pc_sorted(const struct pc_sample *s, size_t n, size_t off,
		      double *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = *(const double *)((const char *)&s[i] + off);
	qsort(out, n, sizeof(*out), cmp_d);
}

/*
 * SL_BENCH_SAMPLES=FILE: every paced flow as one line "start lat lag conn"
 * (scheduled start in s, the rest in us), for looking at the tail by hand
 */
static void dump_samples(const struct pc_sample *s, size_t n)
{
	const char *path = getenv("SL_BENCH_SAMPLES");
	FILE *f;

	if (!path || !*path)
		return;
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		return;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%.6f %.1f %.1f %.1f\n", s[i].st, s[i].lat, s[i].lag,
			s[i].conn);
	if (fclose(f))
		perror(path);
}

/* @conns: 0 for paced (new flows, PC_THREADS threads), else httppaced's
 * keep-alive connections (one thread each) */
static int do_paced(const char *ip, const char *port, double secs, double rate,
		    int conns)
{
	struct pc_shared sh = { .next = 0, .http = conns > 0 };
	struct pc_thread t[PC_MAX_THREADS];
	int nth = conns > 0 ? conns : PC_THREADS;
	unsigned long errors = 0, late = 0;
	struct pc_sample *all;
	double *tmp, sum = 0, el, p50, p99, p999, lag50, conn50;
	size_t n = 0, k = 0;

	if (rate <= 0 || secs <= 0 || nth > PC_MAX_THREADS)
		return 2;
	memset(t, 0, sizeof(t));
	if (mkaddr(ip, port, &sh.sa) < 0)
		return 2;
	for (int i = 0; i < nth; i++) {
		t[i].fd = -1;
		if (!sh.http)
			continue;
		/* connected (and one request served) before the clock starts */
		t[i].sh = &sh;
		t[i].buf = malloc(65536);
		if (!t[i].buf || pc_http(&t[i]) < 0) {
			fprintf(stderr, "httppaced: connection %d: the first request failed\n", i);
			return 1;
		}
	}
	pthread_mutex_init(&sh.lock, NULL);
	sh.interval = 1.0 / rate;
	sh.t0 = now_s() + 0.05;
	sh.end = sh.t0 + secs;
	for (int i = 0; i < nth; i++) {
		t[i].sh = &sh;
		pthread_create(&t[i].tid, NULL, pc_run, &t[i]);
	}
	for (int i = 0; i < nth; i++) {
		pthread_join(t[i].tid, NULL);
		n += t[i].n;
		errors += t[i].errors;
		late += t[i].late;
	}
	el = now_s() - sh.t0;
	all = malloc((n ? n : 1) * sizeof(*all));
	tmp = malloc((n ? n : 1) * sizeof(*tmp));
	if (!all || !tmp)
		return 1;
	for (int i = 0; i < nth; i++) {
		memcpy(all + k, t[i].s, t[i].n * sizeof(*all));
		k += t[i].n;
		free(t[i].s);
		free(t[i].buf);
		if (t[i].fd >= 0)
			close(t[i].fd);
	}
	for (size_t i = 0; i < n; i++)
		sum += all[i].lat;
	dump_samples(all, n);
	pc_sorted(all, n, offsetof(struct pc_sample, lat), tmp);
	p50 = pct(tmp, n, 0.5);
	p99 = pct(tmp, n, 0.99);
	p999 = pct(tmp, n, 0.999);
	pc_sorted(all, n, offsetof(struct pc_sample, lag), tmp);
	lag50 = pct(tmp, n, 0.5);
	pc_sorted(all, n, offsetof(struct pc_sample, conn), tmp);
	conn50 = pct(tmp, n, 0.5);
	/* start_lag: the client's own delay, included in the latency (open
	 * loop); connect: the part of a flow before its first byte */
	printf("{\"flows\": %zu, \"errors\": %lu, \"late\": %lu, \"seconds\": %.3f, "
	       "\"rate\": %.1f, \"flows_per_s\": %.1f, \"mean_us\": %.1f, "
	       "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
	       "\"start_lag_p50_us\": %.1f, \"connect_p50_us\": %.1f, \"conns\": %d}\n",
	       n, errors, late, el, rate, (double)n / el, n ? sum / (double)n : -1,
	       p50, p99, p999, lag50, conn50, conns);
	free(all);
	free(tmp);
	pthread_mutex_destroy(&sh.lock);
	return n ? 0 : 1;
}

/* ---- idle ------------------------------------------------------------------- */

enum { C_CONNECTING = 1, C_WAITING, C_DONE };

static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	(void)s;
	stop = 1;
}

/* httpidle: has @b (@n bytes) a whole response?  1 yes, 0 not yet, -1 bad */
static int resp_done(const char *b, size_t n)
{
	const char *e = memmem(b, n, "\r\n\r\n", 4);
	size_t hl;
	long cl;

	if (!e)
		return 0;
	hl = (size_t)(e - b) + 4;
	if (n < 12 || memcmp(b + 9, "200", 3) ||
	    (cl = head_num(b, hl, "content-length:")) < 0)
		return -1;
	return n >= hl + (size_t)cl;
}

#define IDLE_RBUF 4096

/* @http: send a GET and read its response instead of the 1-byte echo */
static int do_idle(const char *ip, const char *port, long total, long inflight, int http)
{
	struct rlimit rl;
	char **rbuf = NULL; /* httpidle: per descriptor, while in set-up */
	size_t *rlen = NULL;
	size_t maxfd = 0;
	struct sockaddr_in sa;
	struct epoll_event ev, evs[512];
	long started = 0, busy = 0, ok = 0, err = 0;
	int ep, one = 1;
	double t0 = now_s();

	if (mkaddr(ip, port, &sa) < 0)
		return 2;
	if (http) {
		getrlimit(RLIMIT_NOFILE, &rl);
		maxfd = rl.rlim_cur == RLIM_INFINITY ? 1048576 : rl.rlim_cur;
		rbuf = calloc(maxfd, sizeof(*rbuf));
		rlen = calloc(maxfd, sizeof(*rlen));
		if (!rbuf || !rlen)
			return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	while (ok + err < total) {
		while (busy < inflight && started < total) {
			int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

			started++;
			if (fd < 0) {
				perror("socket");
				err++;
				continue;
			}
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
			    errno != EINPROGRESS) {
				close(fd);
				err++;
				continue;
			}
			ev.events = EPOLLOUT;
			ev.data.u64 = (uint64_t)fd << 8 | C_CONNECTING;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			busy++;
		}
		int n = epoll_wait(ep, evs, 512, 10000);

		if (n == 0) {
			fprintf(stderr, "idle: no progress for 10 s (ok=%ld err=%ld busy=%ld)\n",
				ok, err, busy);
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = (int)(evs[i].data.u64 >> 8);
			int st = (int)(evs[i].data.u64 & 0xff), soerr = 0;
			socklen_t sl = sizeof(soerr);
			char c = 'i';

			if (st == C_CONNECTING) {
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
				if (soerr)
					goto fail;
				if (http) {
					if ((size_t)fd >= maxfd ||
					    !(rbuf[fd] = malloc(IDLE_RBUF)) ||
					    write(fd, http_get, sizeof(http_get) - 1) !=
						    (ssize_t)(sizeof(http_get) - 1))
						goto fail;
					rlen[fd] = 0;
				} else if (write(fd, &c, 1) != 1) {
					goto fail;
				}
				ev.events = EPOLLIN;
				ev.data.u64 = (uint64_t)fd << 8 | C_WAITING;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
			} else if (http) {
				ssize_t r = read(fd, rbuf[fd] + rlen[fd], IDLE_RBUF - rlen[fd]);
				int d;

				if (r <= 0)
					goto fail;
				rlen[fd] += (size_t)r;
				d = resp_done(rbuf[fd], rlen[fd]);
				if (d < 0 || (!d && rlen[fd] == IDLE_RBUF))
					goto fail;
				if (!d)
					continue;
				free(rbuf[fd]);
				rbuf[fd] = NULL;
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				ok++;
				busy--;
			} else {
				if (read(fd, &c, 1) != 1)
					goto fail;
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				ok++;
				busy--;
			}
			continue;
fail:
			epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
			if (http && (size_t)fd < maxfd) {
				free(rbuf[fd]);
				rbuf[fd] = NULL;
			}
			close(fd);
			err++;
			busy--;
		}
	}
	printf("ready ok=%ld err=%ld secs=%.2f\n", ok, err, now_s() - t0);
	fflush(stdout);
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);
	while (!stop)
		pause();
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (argc == 3 && !strcmp(argv[1], "serve"))
		return do_serve(argv[2]);
	if (argc == 6 && !strcmp(argv[1], "newflow"))
		return do_newflow(argv[2], argv[3], atof(argv[4]), atoi(argv[5]), nf_run,
				  "flows");
	if (argc == 6 && !strcmp(argv[1], "httpclose"))
		return do_newflow(argv[2], argv[3], atof(argv[4]), atoi(argv[5]), hc_run,
				  "requests");
	if (argc == 4 && !strcmp(argv[1], "httpserve"))
		return do_httpserve(argv[2], atol(argv[3]));
	if (argc == 7 && !strcmp(argv[1], "httppaced"))
		return do_paced(argv[2], argv[3], atof(argv[4]), atof(argv[5]), atoi(argv[6]));
	if (argc == 6 && !strcmp(argv[1], "httpidle"))
		return do_idle(argv[2], argv[3], atol(argv[4]), atol(argv[5]), 1);
	if (argc == 6 && !strcmp(argv[1], "paced"))
		return do_paced(argv[2], argv[3], atof(argv[4]), atof(argv[5]), 0);
	if (argc >= 5 && !strcmp(argv[1], "fwd"))
		return do_fwd(argv[2], argv[3], argc - 4, argv + 4);
	if (argc == 6 && !strcmp(argv[1], "idle"))
		return do_idle(argv[2], argv[3], atol(argv[4]), atol(argv[5]), 0);
	fprintf(stderr, "usage: sl-bench-conn serve PORT | newflow IP PORT SECONDS THREADS |"
		" paced IP PORT SECONDS RATE | fwd LISTEN_IP DST_IP LPORT:DPORT... |"
		" idle IP PORT N INFLIGHT | httpserve PORT SIZE | httpclose IP PORT SECONDS THREADS |"
		" httppaced IP PORT SECONDS RATE CONNS | httpidle IP PORT N INFLIGHT\n");
	return 2;
}
