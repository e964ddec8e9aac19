/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the relay tests (see relay_test.h). */
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ca.h"
#include "identity.h"
#include "loop.h"
#include "relay_test.h"
#include "stats.h"
#include "tls.h"

#define TD "cluster.local"
#define PEER_ID "spiffe://cluster.local/ns/test/sa/peer"
#define RELAY_ID "spiffe://cluster.local/ns/test/sa/relay"

static char ca_dir[64];
static struct sl_identity *id_peer, *id_relay;
static struct sl_tls_ctx *ctx;

int rt_pki_init(void)
{
	struct sl_trust *trust = NULL;
	struct sl_ca *ca = NULL;
	int ret;

	snprintf(ca_dir, sizeof(ca_dir), "/tmp/sl-relay-test.XXXXXX");
	if (!mkdtemp(ca_dir))
		return -errno;
	ret = sl_ca_init_dir(ca_dir, TD, 1, 1);
	if (!ret)
		ret = sl_ca_load_dir(ca_dir, &ca);
	if (!ret)
		ret = sl_ca_issue(ca, PEER_ID, 3600, &id_peer);
	if (!ret)
		ret = sl_ca_issue(ca, RELAY_ID, 3600, &id_relay);
	if (!ret)
		ret = sl_trust_load(sl_ca_cert_path(ca), TD, &trust);
	if (!ret)
		ret = sl_tls_ctx_new(trust, &ctx);
	sl_trust_put(trust);
	sl_ca_free(ca);
	return ret;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void rt_pki_fini(void)
{
	sl_tls_ctx_free(ctx);
	sl_identity_put(id_peer);
	sl_identity_put(id_relay);
	if (ca_dir[0])
		nftw(ca_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void set_bufs(int fd, int bufsz)
{
	if (!bufsz)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
}

int rt_tcp_pair(int *a, int *b, int bufsz)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct timeval tmo = { .tv_sec = 15 };
	int lfd, cfd = -1, one = 1, ret = -errno;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	set_bufs(lfd, bufsz);
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(lfd, 4) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) < 0)
		goto err;
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cfd < 0)
		goto err;
	set_bufs(cfd, bufsz);
	if (connect(cfd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto err;
	*b = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (*b < 0)
		goto err;
	/* a relay that hangs fails the test instead of hanging it */
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(*b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*a = cfd;
	close(lfd);
	return 0;
err:
	ret = -errno;
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	return ret;
}

int rt_peer_flush(struct sl_tls_conn *c, int fd)
{
	uint8_t buf[16384];
	size_t n;

	while ((n = sl_tls_conn_take_output(c, buf, sizeof(buf))) > 0)
		if (rt_write_full(fd, buf, n) < 0)
			return -errno;
	return 0;
}

/* one handshake step of @c: advance, send, read at most what it wants */
static int hs_step(struct sl_tls_conn *c, int fd, bool *done, bool *progress)
{
	uint8_t buf[16384];
	size_t want;
	ssize_t n;
	int ret;

	if (*done)
		return 0;
	ret = sl_tls_conn_handshake(c);
	if (rt_peer_flush(c, fd) < 0)
		return -EIO;
	if (ret == 0) {
		*done = true;
		*progress = true;
		return 0;
	}
	if (ret != -EAGAIN)
		return ret;
	want = sl_tls_conn_want(c);
	if (!want)
		return 0;
	n = recv(fd, buf, want < sizeof(buf) ? want : sizeof(buf),
		 MSG_DONTWAIT);
	if (n == 0)
		return -ECONNRESET;
	if (n < 0)
		return errno == EAGAIN ? 0 : -errno;
	*progress = true;
	return sl_tls_conn_feed(c, buf, (size_t)n);
}

int rt_tls_pair(int cfd, int sfd, struct sl_tls_conn **client,
		struct sl_tls_conn **server)
{
	struct sl_tls_conn *c = NULL, *s = NULL;
	bool cdone = false, sdone = false;
	int ret, spins = 0;

	ret = sl_tls_conn_new(ctx, SL_TLS_CLIENT, id_peer, RELAY_ID, &c);
	if (!ret)
		ret = sl_tls_conn_new(ctx, SL_TLS_SERVER, id_relay, NULL, &s);
	while (!ret && !(cdone && sdone)) {
		bool progress = false;

		ret = hs_step(c, cfd, &cdone, &progress);
		if (!ret)
			ret = hs_step(s, sfd, &sdone, &progress);
		if (!progress) {
			if (++spins > 5000)
				ret = -ETIMEDOUT;
			usleep(1000);
		}
	}
	if (ret) {
		fprintf(stderr, "handshake failed: %s (%s / %s)\n",
			strerror(-ret), c ? sl_tls_conn_fail_detail(c) : "",
			s ? sl_tls_conn_fail_detail(s) : "");
		sl_tls_conn_free(c);
		sl_tls_conn_free(s);
		return ret;
	}
	*client = c;
	*server = s;
	return 0;
}

int rt_peer_write(struct sl_tls_conn *c, int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		size_t chunk = len < 16384 ? len : 16384;
		ssize_t n = sl_tls_conn_write(c, p, chunk);

		if (n <= 0)
			return n ? (int)n : -EIO;
		p += n;
		len -= (size_t)n;
		if (rt_peer_flush(c, fd) < 0)
			return -errno;
	}
	return 0;
}

ssize_t rt_peer_read(struct sl_tls_conn *c, int fd, void *buf, size_t cap)
{
	uint8_t tmp[16384];

	for (;;) {
		ssize_t n = sl_tls_conn_read(c, buf, cap), r;

		rt_peer_flush(c, fd); /* KeyUpdate answers */
		if (n != -EAGAIN)
			return n;
		r = recv(fd, tmp, sizeof(tmp), 0);
		if (r < 0)
			return -errno;
		if (r == 0)
			sl_tls_conn_feed_eof(c);
		else if (sl_tls_conn_feed(c, tmp, (size_t)r) < 0)
			return -ENOMEM;
	}
}

int rt_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int rt_write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int rt_read_end(int fd)
{
	uint8_t buf[16384];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
	}
}

int rt_wait_reset(int fd, int ms)
{
	for (int waited = 0;; waited += 10) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
			return -errno;
		if (ti.tcpi_state == TCP_CLOSE)
			return 0;
		if (waited >= ms)
			return -ETIMEDOUT;
		usleep(10 * 1000);
	}
}

uint64_t rt_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void rt_pattern(uint32_t seed, uint64_t off, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t x = (off + i) * 0x9e3779b97f4a7c15ull ^ seed;

		x ^= x >> 29;
		buf[i] = (uint8_t)(x ^ (x >> 17));
	}
}

/* ---- one relay on a worker -------------------------------------------- */

static void run_done(void *arg, const struct sl_relay_result *r)
{
	struct rt_run *run = arg;

	pthread_mutex_lock(&run->mu);
	run->done_count++;
	run->res = *r;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
}

static int run_hook(struct sl_worker *w, void *arg)
{
	struct rt_run *run = arg;

	run->p.done = run_done;
	run->p.done_arg = run;
	if (run->plain)
		run->start_ret = sl_relay_start_plain(w, run->plain_fd,
						      run->tls_fd, run->initial,
						      run->initial_len, &run->p);
	else
		run->start_ret = sl_relay_start(w, run->plain_fd, run->tls_fd,
						run->tls, run->ktls,
						run->initial,
						run->initial_len, &run->p);
	return run->start_ret;
}

int rt_run_start(struct rt_run *run)
{
	struct sl_worker_hooks hooks = { .start = run_hook, .arg = run };

	pthread_mutex_init(&run->mu, NULL);
	pthread_cond_init(&run->cv, NULL);
	return sl_workers_start(1, &hooks, NULL, &run->ws);
}

int rt_run_wait(struct rt_run *run, int ms)
{
	struct timespec ts;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&run->mu);
	while (!run->done_count)
		if (pthread_cond_timedwait(&run->cv, &run->mu, &ts))
			break;
	n = run->done_count;
	pthread_mutex_unlock(&run->mu);
	return n;
}

int rt_run_stop(struct rt_run *run)
{
	if (run->ws) {
		sl_worker_request_stop(run->ws[0]);
		sl_workers_join(run->ws, 1);
		run->ws = NULL;
	}
	pthread_cond_destroy(&run->cv);
	pthread_mutex_destroy(&run->mu);
	return run->done_count;
}

int rt_half_close_ended(struct rt_run *run, uint64_t t0, uint64_t before)
{
	uint64_t took;
	int n = rt_run_wait(run, RT_HALF_MS + RT_HALF_SLACK_MS);

	took = rt_now_ms() - t0;
	fprintf(stderr, "ended %llu ms after the last byte, FIN or EOF\n",
		(unsigned long long)took);
	if (n != 1) {
		fprintf(stderr, "%s: done() ran %d times, want 1\n", __func__, n);
		return -1;
	}
	if (took + 20 < RT_HALF_MS) { /* 20: the coarse clock's tick */
		fprintf(stderr, "%s: ended before the timeout\n", __func__);
		return -1;
	}
	if (run->res.end != SL_RELAY_END_HALF_CLOSE) {
		fprintf(stderr, "%s: end %d, want the half-close timeout\n",
			__func__, (int)run->res.end);
		return -1;
	}
	if (sl_stat_get(SL_STAT_RELAY_HALF_CLOSE) - before != 1) {
		fprintf(stderr, "%s: relay_half_close_timeouts rose by %llu, want 1\n",
			__func__, (unsigned long long)(sl_stat_get(SL_STAT_RELAY_HALF_CLOSE) - before));
		return -1;
	}
	return 0;
}
