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

/* ---- serve ------------------------------------------------------------ */

static int do_serve(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev, evs[256];
	char buf[65536];
	int one = 1, lfd, ep;

	sa.sin_port = htons((uint16_t)atoi(port));
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return perror("socket"), 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
		return perror("bind/listen"), 1;
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
	int one = 1;

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
		ls[i].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		setsockopt(ls[i].fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ls[i].fd < 0 || bind(ls[i].fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(ls[i].fd, 4096) < 0)
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

static int do_newflow(const char *ip, const char *port, double secs, int nthreads)
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
		pthread_create(&t[i].tid, NULL, nf_run, &t[i]);
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
	printf("{\"flows\": %zu, \"errors\": %lu, \"seconds\": %.3f, \"threads\": %d, "
	       "\"flows_per_s\": %.1f, \"mean_us\": %.1f, \"p50_us\": %.1f, "
	       "\"p99_us\": %.1f, \"p999_us\": %.1f}\n",
	       n, errors, el, nthreads, (double)n / el, n ? sum / (double)n : -1,
	       pct(all, n, 0.5), pct(all, n, 0.99), pct(all, n, 0.999));
	free(all);
	free(t);
	return n ? 0 : 1;
}

/* ---- paced (open loop) -------------------------------------------------- */

#define PC_THREADS 16

struct pc_shared {
	struct sockaddr_in sa;
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
};

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
		if (one_flow(&sh->sa, &tc) < 0) {
			t->errors++;
			continue;
		}
		t1 = now_s();
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

static int do_paced(const char *ip, const char *port, double secs, double rate)
{
	struct pc_shared sh = { .next = 0 };
	struct pc_thread t[PC_THREADS];
	unsigned long errors = 0, late = 0;
	struct pc_sample *all;
	double *tmp, sum = 0, el, p50, p99, p999, lag50, conn50;
	size_t n = 0, k = 0;

	if (rate <= 0 || secs <= 0)
		return 2;
	memset(t, 0, sizeof(t));
	if (mkaddr(ip, port, &sh.sa) < 0)
		return 2;
	pthread_mutex_init(&sh.lock, NULL);
	sh.interval = 1.0 / rate;
	sh.t0 = now_s() + 0.05;
	sh.end = sh.t0 + secs;
	for (int i = 0; i < PC_THREADS; i++) {
		t[i].sh = &sh;
		pthread_create(&t[i].tid, NULL, pc_run, &t[i]);
	}
	for (int i = 0; i < PC_THREADS; i++) {
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
	for (int i = 0; i < PC_THREADS; i++) {
		memcpy(all + k, t[i].s, t[i].n * sizeof(*all));
		k += t[i].n;
		free(t[i].s);
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
	       "\"start_lag_p50_us\": %.1f, \"connect_p50_us\": %.1f}\n",
	       n, errors, late, el, rate, (double)n / el, n ? sum / (double)n : -1,
	       p50, p99, p999, lag50, conn50);
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

static int do_idle(const char *ip, const char *port, long total, long inflight)
{
	struct sockaddr_in sa;
	struct epoll_event ev, evs[512];
	long started = 0, busy = 0, ok = 0, err = 0;
	int ep, one = 1;
	double t0 = now_s();

	if (mkaddr(ip, port, &sa) < 0)
		return 2;
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
				if (soerr || write(fd, &c, 1) != 1)
					goto fail;
				ev.events = EPOLLIN;
				ev.data.u64 = (uint64_t)fd << 8 | C_WAITING;
				epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
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
		return do_newflow(argv[2], argv[3], atof(argv[4]), atoi(argv[5]));
	if (argc == 6 && !strcmp(argv[1], "paced"))
		return do_paced(argv[2], argv[3], atof(argv[4]), atof(argv[5]));
	if (argc >= 5 && !strcmp(argv[1], "fwd"))
		return do_fwd(argv[2], argv[3], argc - 4, argv + 4);
	if (argc == 6 && !strcmp(argv[1], "idle"))
		return do_idle(argv[2], argv[3], atol(argv[4]), atol(argv[5]));
	fprintf(stderr, "usage: sl-bench-conn serve PORT | newflow IP PORT SECONDS THREADS |"
		" paced IP PORT SECONDS RATE | fwd LISTEN_IP DST_IP LPORT:DPORT... |"
		" idle IP PORT N INFLIGHT\n");
	return 2;
}
