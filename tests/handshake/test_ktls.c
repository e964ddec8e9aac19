// SPDX-License-Identifier: Apache-2.0
/*
 * test-ktls: kernel TLS with keys from sl_tls_conn.
 *
 * Exits 77 (SKIP) when the kernel has no kTLS, unless SL_REQUIRE_KTLS=1
 * (inside the kTLS VM), where that is a failure.  Cases, each over a
 * connected loopback TCP pair with a record-exact handshake:
 *  1. server on kTLS, client in userspace OpenSSL (through the conn API):
 *     data both ways (1 MB each), close_notify both ways, tls_stat counters;
 *  2. both sides on kTLS;
 *  3. a stock `openssl s_client` against a kTLS server, once per cipher
 *     suite (AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305), skipped only when
 *     the openssl binary is missing;
 *  4. resumption: a handshake that receives a session ticket, then one
 *     that resumes it, both on kTLS both ways at the sequence numbers
 *     after the ticket.
 * A wrong key, IV or record sequence number makes the first record fail to
 * decrypt (EBADMSG), so the data checks prove the key schedule.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hs_test.h"
#include "ktls.h"
#include "util.h"

#define ID_CLIENT "spiffe://" T_TD "/ns/shop/sa/frontend"
#define ID_SERVER "spiffe://" T_TD "/ns/shop/sa/cart"
#define BIG (1 << 20)

static int failures;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__,          \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			failures++;                                            \
			return -1;                                             \
		}                                                              \
	} while (0)

static struct {
	char *dir;
	struct sl_ca *ca;
	struct sl_trust *trust;
	struct sl_tls_ctx *ctx;
	struct sl_identity *cid, *sid;
} g;

static int listen_lo(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0 || getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		return -1;
	*port = ntohs(sa.sin_port);
	return fd;
}

static int tcp_pair(int fds[2])
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint16_t port;
	int lfd = listen_lo(&port);

	if (lfd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	fds[1] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	return fds[1] < 0 ? -1 : 0;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int flush_conn(struct sl_tls_conn *c, int fd)
{
	char buf[16384];
	size_t n;

	while ((n = sl_tls_conn_take_output(c, buf, sizeof(buf))) > 0)
		if (send_all(fd, buf, n))
			return -EIO;
	return 0;
}

/* Handshake over @fd, reading record-exactly.  @retval 0 or -errno */
static int handshake_fd(struct sl_tls_conn *c, int fd)
{
	char buf[17 * 1024];

	for (;;) {
		int rc = sl_tls_conn_handshake(c);
		size_t want;
		ssize_t n;

		if (flush_conn(c, fd))
			return -EIO;
		if (rc != -EAGAIN)
			return rc;
		want = sl_tls_conn_want(c);
		if (want == 0 || want > sizeof(buf))
			return -EPROTO;
		n = recv(fd, buf, want, MSG_WAITALL);
		if (n <= 0) {
			sl_tls_conn_feed_eof(c);
			continue;
		}
		if ((size_t)n != want)
			return -EPROTO;
		sl_tls_conn_feed(c, buf, (size_t)n);
	}
}

/* userspace side: read exactly @len plaintext bytes through the conn */
static int conn_read_exact(struct sl_tls_conn *c, int fd, void *out, size_t len)
{
	char buf[16384];
	size_t got = 0;

	while (got < len) {
		ssize_t r = sl_tls_conn_read(c, (char *)out + got, len - got);
		ssize_t n;

		if (r > 0) {
			got += (size_t)r;
			continue;
		}
		if (r != -EAGAIN)
			return r == 0 ? -ENODATA : (int)r;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			sl_tls_conn_feed_eof(c);
		else
			sl_tls_conn_feed(c, buf, (size_t)n);
	}
	return 0;
}

static int conn_write_all(struct sl_tls_conn *c, int fd, const void *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t w = sl_tls_conn_write(c, (const char *)p + off,
					      SL_MIN(len - off, (size_t)65536));

		if (w <= 0)
			return -EIO;
		off += (size_t)w;
		if (flush_conn(c, fd))
			return -EIO;
	}
	return 0;
}

/* conn side: expect a clean close_notify (read returns 0) */
static int conn_expect_eof(struct sl_tls_conn *c, int fd)
{
	char buf[256];

	for (;;) {
		ssize_t r = sl_tls_conn_read(c, buf, sizeof(buf));
		ssize_t n;

		if (r == 0)
			return 0;
		if (r != -EAGAIN)
			return -EPROTO;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			sl_tls_conn_feed_eof(c);
		else
			sl_tls_conn_feed(c, buf, (size_t)n);
	}
}

static int ktls_read_exact(int fd, void *out, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)out + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;
		got += (size_t)n;
	}
	return 0;
}

/* kTLS side: the next record must be a close_notify alert */
static int ktls_expect_close_notify(int fd)
{
	uint8_t buf[64], type = 0;
	ssize_t n;

	/* a plain read of a control record fails with EIO */
	n = recv(fd, buf, sizeof(buf), MSG_PEEK);
	if (!(n < 0 && errno == EIO))
		return -EPROTO;
	n = sl_ktls_recv_record(fd, buf, sizeof(buf), &type);
	if (n != 2 || type != SL_TLS_RT_ALERT ||
	    !sl_ktls_alert_is_close_notify(buf, (size_t)n))
		return -EPROTO;
	return 0;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 31 + seed + (i >> 11));
}

static long tls_stat(const char *name)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/net/tls_stat", "r");
	size_t nl = strlen(name);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, name, nl) == 0 && (line[nl] == ' ' || line[nl] == '\t'))
			v = strtol(line + nl, NULL, 10);
	fclose(f);
	return v;
}

/* ---- the client thread of cases 1 and 2 --------------------------------- */

struct peer {
	int fd;
	bool ktls;
	int rc;
	const char *step;
	/* case 4: ask for a ticket, offering @resume; what came of it */
	bool ticket;
	struct sl_tls_session *resume, *got;
	bool resumed;
};

/* the ticket the server promised: greedy reads, the server sends nothing
 * else until the client has spoken */
static int read_ticket_fd(struct sl_tls_conn *c, int fd)
{
	char buf[4096];
	int rc;

	while ((rc = sl_tls_conn_read_ticket(c)) == -EAGAIN) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			return -ENODATA;
		sl_tls_conn_feed(c, buf, (size_t)n);
	}
	return rc;
}

static void *client_main(void *arg)
{
	struct peer *p = arg;
	struct sl_tls_conn *c = NULL;
	unsigned char *big = malloc(BIG), *got = malloc(BIG);

	p->rc = -EIO;
	p->step = "setup";
	if (!big || !got ||
	    sl_tls_conn_new(g.ctx, SL_TLS_CLIENT, g.cid, ID_SERVER, &c))
		goto out;
	if (p->ticket && (p->rc = sl_tls_conn_ask_ticket(c, p->resume)) != 0)
		goto out;
	p->step = "handshake";
	if ((p->rc = handshake_fd(c, p->fd)) != 0)
		goto out;
	if (p->ticket) {
		p->step = "ticket";
		p->resumed = sl_tls_conn_resumed(c);
		if ((p->rc = read_ticket_fd(c, p->fd)) != 0)
			goto out;
		p->got = sl_tls_conn_take_session(c);
	}
	p->rc = -EIO;
	fill(big, BIG, 1);
	if (p->ktls) {
		p->step = "install";
		if ((p->rc = sl_ktls_install(p->fd, c)) != 0)
			goto out;
		p->step = "ktls send";
		p->rc = -EIO;
		if (send_all(p->fd, big, BIG))
			goto out;
		p->step = "ktls recv";
		if (ktls_read_exact(p->fd, got, BIG))
			goto out;
		fill(big, BIG, 2);
		p->step = "ktls data check";
		if (memcmp(big, got, BIG) != 0)
			goto out;
		p->step = "ktls close_notify";
		if (ktls_expect_close_notify(p->fd) ||
		    sl_ktls_send_close_notify(p->fd))
			goto out;
	} else {
		p->step = "conn send";
		if (conn_write_all(c, p->fd, big, BIG))
			goto out;
		p->step = "conn recv";
		if (conn_read_exact(c, p->fd, got, BIG))
			goto out;
		fill(big, BIG, 2);
		p->step = "conn data check";
		if (memcmp(big, got, BIG) != 0)
			goto out;
		p->step = "conn close_notify";
		if (conn_expect_eof(c, p->fd))
			goto out;
		if (sl_tls_conn_close_notify(c) || flush_conn(c, p->fd))
			goto out;
	}
	p->rc = 0;
out:
	sl_tls_conn_free(c);
	free(big);
	free(got);
	return NULL;
}

/* server side of cases 1, 2 and 4: always kTLS.  @cl: the client's
 * parameters (ktls, ticket, resume); its results are left in it. */
static int run_peer(struct peer *clp)
{
	struct peer cl = *clp;
	bool client_ktls = cl.ktls;
	struct sl_tls_conn *s = NULL;
	unsigned char *big = malloc(BIG), *got = malloc(BIG);
	long tx0 = tls_stat("TlsTxSw"), rx0 = tls_stat("TlsRxSw");
	pthread_t t;
	int fds[2], rc;

	CHECK(big && got, "oom");
	CHECK(tcp_pair(fds) == 0, "tcp pair: %m");
	cl.fd = fds[0];
	CHECK(sl_tls_conn_new(g.ctx, SL_TLS_SERVER, g.sid, NULL, &s) == 0, "conn");
	CHECK(pthread_create(&t, NULL, client_main, &cl) == 0, "thread");
	rc = handshake_fd(s, fds[1]);
	if (rc == 0) {
		CHECK(strcmp(sl_tls_conn_peer_id(s), ID_CLIENT) == 0, "peer id");
		fprintf(stderr, "  cipher %s\n", sl_tls_conn_cipher(s));
		rc = sl_ktls_install(fds[1], s);
		if (rc)
			fprintf(stderr, "  install: %s\n", strerror(-rc));
	}
	if (rc == 0) {
		fill(big, BIG, 1);
		rc = ktls_read_exact(fds[1], got, BIG);
		if (rc || memcmp(big, got, BIG) != 0) {
			fprintf(stderr, "  server: bad data from the client: %s\n",
				strerror(-rc));
			rc = -EBADMSG;
		}
	}
	if (rc == 0) {
		fill(big, BIG, 2);
		rc = send_all(fds[1], big, BIG);
	}
	if (rc == 0)
		rc = sl_ktls_send_close_notify(fds[1]);
	if (rc == 0)
		rc = ktls_expect_close_notify(fds[1]);
	if (rc)
		shutdown(fds[1], SHUT_RDWR); /* unblock the client */
	pthread_join(t, NULL);
	close(fds[0]);
	close(fds[1]);
	if (cl.ticket)
		fprintf(stderr, "  server: ticketed %d, resumed %d\n",
			sl_tls_conn_ticketed(s), sl_tls_conn_resumed(s));
	if (rc == 0 && cl.ticket && !sl_tls_conn_ticketed(s))
		rc = -ENOMSG; /* the server should have sent a ticket */
	if (rc == 0 && cl.ticket && sl_tls_conn_resumed(s) != (cl.resume != NULL))
		rc = -EPROTO; /* resumption must match the offer */
	sl_tls_conn_free(s);
	free(big);
	free(got);
	*clp = cl;
	CHECK(rc == 0, "server side: %s", strerror(-rc));
	CHECK(cl.rc == 0, "client side at %s: %s", cl.step, strerror(-cl.rc));
	if (tx0 >= 0) {
		long tx1 = tls_stat("TlsTxSw"), rx1 = tls_stat("TlsRxSw");

		fprintf(stderr, "  tls_stat TlsTxSw %ld -> %ld, TlsRxSw %ld -> %ld\n",
			tx0, tx1, rx0, rx1);
		CHECK(tx1 >= tx0 + (client_ktls ? 2 : 1), "TlsTxSw did not rise");
		CHECK(rx1 >= rx0 + (client_ktls ? 2 : 1), "TlsRxSw did not rise");
	}
	return 0;
}

static int run_case(bool client_ktls)
{
	struct peer cl = { .ktls = client_ktls };

	return run_peer(&cl);
}

/*
 * Case 4: resumption (PROTOCOL.md).  A full handshake with a ticket, then
 * one that resumes it; both sides on kTLS each time, installed after the
 * ticket (server TX and client RX at record sequence 1), 1 MB each way.
 */
static int run_resumption(void)
{
	struct peer full = { .ktls = true, .ticket = true };
	struct peer res = { .ktls = true, .ticket = true };
	int rc = 0;

	sl_tls_ctx_set_resumption(g.ctx, true);
	if (run_peer(&full))
		rc = -1;
	else if (!full.got || full.resumed) {
		fprintf(stderr, "  full handshake: session %p, resumed %d\n",
			(void *)full.got, full.resumed);
		failures++;
		rc = -1;
	}
	if (rc == 0) {
		res.resume = full.got;
		if (run_peer(&res))
			rc = -1;
		else if (!res.resumed || !res.got) {
			fprintf(stderr, "  second handshake: resumed %d, session %p\n",
				res.resumed, (void *)res.got);
			failures++;
			rc = -1;
		}
	}
	sl_tls_session_put(full.got);
	sl_tls_session_put(res.got);
	sl_tls_ctx_set_resumption(g.ctx, false);
	return rc;
}

/* ---- case 3: stock openssl s_client ------------------------------------- */

static bool have_openssl(void)
{
	return system("openssl version >/dev/null 2>&1") == 0;
}

static int run_s_client(const char *suite)
{
	static const char req[] = "hello-from-s_client\n";
	static const char reply[] = "hello-from-ktls-server\n";
	char crt[512], key[512], cafile[512], portstr[16], out[8192] = "";
	struct sl_identity *cid = NULL;
	struct sl_tls_conn *s = NULL;
	int in_pipe[2], out_pipe[2], lfd, fd, st, rc;
	size_t have = 0;
	uint16_t port;
	char line[64];
	pid_t pid;

	/* the workload cert s_client presents, via our CA */
	CHECK(sl_ca_issue(g.ca, ID_CLIENT, 3600, &cid) == 0, "issue");
	snprintf(crt, sizeof(crt), "%s/client.crt", g.dir);
	snprintf(key, sizeof(key), "%s/client.key", g.dir);
	snprintf(cafile, sizeof(cafile), "%s/ca.crt", g.dir);
	CHECK(t_write_cert(crt, sl_identity_cert(cid), sl_ca_cert(g.ca)) == 0, "crt");
	CHECK(t_write_key(key, sl_identity_key(cid)) == 0, "key");
	sl_identity_put(cid);
	lfd = listen_lo(&port);
	CHECK(lfd >= 0, "listen: %m");
	snprintf(portstr, sizeof(portstr), "127.0.0.1:%u", port);
	CHECK(pipe(in_pipe) == 0 && pipe(out_pipe) == 0, "pipe");
	pid = fork();
	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		dup2(in_pipe[0], 0);
		dup2(out_pipe[1], 1);
		close(in_pipe[1]);
		close(out_pipe[0]);
		execlp("openssl", "openssl", "s_client", "-connect", portstr,
		       "-tls1_3", "-ciphersuites", suite, "-alpn", "sluice/1",
		       "-cert", crt, "-key", key,
		       "-CAfile", cafile, "-verify_return_error", "-quiet",
		       (char *)NULL);
		_exit(127);
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	/* s_client sends its line as soon as it is connected */
	rc = (int)write(in_pipe[1], req, sizeof(req) - 1);
	close(in_pipe[1]);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	CHECK(fd >= 0, "accept: %m");
	CHECK(sl_tls_conn_new(g.ctx, SL_TLS_SERVER, g.sid, NULL, &s) == 0, "conn");
	rc = handshake_fd(s, fd);
	if (rc)
		fprintf(stderr, "  handshake with s_client: %s (%s: %s)\n",
			strerror(-rc), sl_tls_fail_name(sl_tls_conn_fail(s)),
			sl_tls_conn_fail_detail(s));
	if (rc == 0 && strcmp(sl_tls_conn_peer_id(s), ID_CLIENT) != 0)
		rc = -EACCES;
	if (rc == 0 && strcmp(sl_tls_conn_cipher(s), suite) != 0) {
		fprintf(stderr, "  negotiated %s, not %s\n",
			sl_tls_conn_cipher(s), suite);
		rc = -EPROTO;
	}
	if (rc == 0)
		rc = sl_ktls_install(fd, s);
	if (rc == 0) {
		memset(line, 0, sizeof(line));
		rc = ktls_read_exact(fd, line, sizeof(req) - 1);
		if (rc == 0 && memcmp(line, req, sizeof(req) - 1) != 0)
			rc = -EBADMSG;
	}
	if (rc == 0)
		rc = send_all(fd, reply, sizeof(reply) - 1);
	if (rc == 0)
		rc = sl_ktls_send_close_notify(fd);
	shutdown(fd, SHUT_WR);
	/* collect what s_client printed (it exits on our close_notify) */
	for (;;) {
		struct pollfd pfd = { .fd = out_pipe[0], .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 10000) <= 0)
			break;
		n = read(out_pipe[0], out + have, sizeof(out) - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(out_pipe[0]);
	close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	sl_tls_conn_free(s);
	CHECK(rc == 0, "server with s_client: %s", strerror(-rc));
	CHECK(strstr(out, reply) != NULL, "s_client printed: %s", out);
	return 0;
}

static int setup(void)
{
	STACK_OF(X509) *roots = sk_X509_new_null();

	g.ca = t_new_ca(T_TD, &g.dir);
	if (!g.ca || !roots)
		return -1;
	sk_X509_push(roots, sl_ca_cert(g.ca));
	if (sl_trust_new(roots, T_TD, &g.trust) ||
	    sl_tls_ctx_new(g.trust, &g.ctx) ||
	    sl_ca_issue(g.ca, ID_CLIENT, 3600, &g.cid) ||
	    sl_ca_issue(g.ca, ID_SERVER, 3600, &g.sid))
		return -1;
	sk_X509_free(roots);
	return 0;
}

static void teardown(void)
{
	sl_identity_put(g.cid);
	sl_identity_put(g.sid);
	sl_tls_ctx_free(g.ctx);
	sl_trust_put(g.trust);
	sl_ca_free(g.ca);
	t_rmdir(g.dir);
}

int main(void)
{
	const char *req = getenv("SL_REQUIRE_KTLS");
	bool require = req && strcmp(req, "1") == 0;
	int rc = sl_ktls_probe();

	signal(SIGPIPE, SIG_IGN);
	if (rc) {
		fprintf(stderr, "test-ktls: kernel TLS not available: %s%s\n",
			strerror(-rc),
			require ? " (SL_REQUIRE_KTLS=1: failing)" : "; SKIP");
		return require ? 1 : 77;
	}
	if (setup()) {
		fprintf(stderr, "test-ktls: setup failed\n");
		return 1;
	}
	fprintf(stderr, "case 1: kTLS server, userspace client\n");
	run_case(false);
	fprintf(stderr, "case 2: kTLS on both sides\n");
	run_case(true);
	fprintf(stderr, "case 4: session ticket, then resumption, kTLS on both sides\n");
	run_resumption();
	if (have_openssl()) {
		static const char *const suites[] = {
			"TLS_AES_128_GCM_SHA256",
			"TLS_AES_256_GCM_SHA384",
			"TLS_CHACHA20_POLY1305_SHA256",
		};

		for (size_t i = 0; i < SL_ARRAY_SIZE(suites); i++) {
			fprintf(stderr, "case 3: openssl s_client against a kTLS "
				"server, %s\n", suites[i]);
			run_s_client(suites[i]);
		}
	} else {
		fprintf(stderr, "case 3: SKIP: no openssl binary\n");
	}
	teardown();
	fprintf(stderr, "test-ktls: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}
