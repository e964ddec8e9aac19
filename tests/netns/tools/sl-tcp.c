/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sl-tcp: small TCP test tool for the netns end-to-end tests.
 *
 *   sl-tcp serve PORT MODE        MODE: echo | eofreply | rst
 *       echo      echo every byte back; after EOF, half-close and finish
 *                 sending (a forked child per connection)
 *       eofreply  read until EOF, then send "n=<bytes> h=<hash>\n" followed
 *                 by 1 MiB of pattern and close: only works if the client's
 *                 half-close went through and our reply direction stayed up
 *       rst       read a little, then close with RST (SO_LINGER 0)
 *   sl-tcp echo-check IP PORT BYTES [PATTERN]
 *       send BYTES (pseudo-random, or PATTERN repeated), half-close, read
 *       the echo; exit 0 only if exactly the same bytes came back (hash)
 *   sl-tcp eofreply-check IP PORT BYTES
 *       send BYTES, half-close, expect the eofreply answer for them
 *   sl-tcp rst-check IP PORT
 *       send a little, expect ECONNRESET (exit 0), exit 1 on a clean EOF
 *   sl-tcp pingpong-check IP PORT ROUNDS SIZES HOLD
 *       against an echo server: ROUNDS times, for each size in SIZES (comma
 *       separated, each at most 65536), send one message and wait for its echo before sending
 *       the next; a proxy that holds data back until more arrives makes a
 *       reply wait forever (fails after 20 s without it).  Then prints
 *       "pingpong ok" and keeps the connection open HOLD seconds
 *   sl-tcp nodelay-check PID MIN
 *       every connected TCP socket of process PID (pidfd_getfd, root) must
 *       have TCP_NODELAY set, and there must be at least MIN of them
 *   sl-tcp hold IP PORT N SECS [SRC]
 *       keep N bare connections (nothing sent) open for SECS seconds from
 *       SRC (an address to bind, optional), opening a new one 50 ms after
 *       one ends, and say how they ended: reset (ECONNRESET), clean EOF,
 *       data received, connect failed; "fast" resets came within 300 ms of
 *       the connect, "cut" ones later (their lifetimes in ms); "peak" is the
 *       most connections open at once that had lived 300 ms
 *
 * Prints one line of results on stdout; errors on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <poll.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}
#define FNV_INIT 0xcbf29ce484222325ULL

static void fill(uint8_t *buf, size_t n, uint64_t off, const char *pattern)
{
	if (pattern) {
		size_t pl = strlen(pattern);
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)pattern[(off + i) % pl];
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t x = (off + i) * 0x9e3779b97f4a7c15ULL;
		buf[i] = (uint8_t)(x >> 56);
	}
}

static int write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int dial(const char *ip, const char *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd;

	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)atoi(port));
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)atoi(port));
		len = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "sl-tcp: bad address %s\n", ip);
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) < 0) {
		fprintf(stderr, "sl-tcp: connect %s:%s: %m\n", ip, port);
		return -1;
	}
	return fd;
}

/* ---- server ---------------------------------------------------------- */

static void serve_echo(int fd)
{
	uint8_t *buf = malloc(CHUNK);
	ssize_t n;

	while (buf && (n = read(fd, buf, CHUNK)) > 0)
		if (write_all(fd, buf, (size_t)n))
			break;
	shutdown(fd, SHUT_WR);
	free(buf);
}

static void serve_eofreply(int fd)
{
	uint8_t *buf = malloc(CHUNK);
	uint64_t h = FNV_INIT, total = 0;
	char line[128];
	ssize_t n;

	if (!buf)
		return;
	while ((n = read(fd, buf, CHUNK)) > 0) {
		h = fnv(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	snprintf(line, sizeof(line), "n=%llu h=%016llx\n",
		 (unsigned long long)total, (unsigned long long)h);
	if (!write_all(fd, line, strlen(line))) {
		for (uint64_t off = 0; off < 1 << 20; off += CHUNK) {
			fill(buf, CHUNK, off, NULL);
			if (write_all(fd, buf, CHUNK))
				break;
		}
	}
	shutdown(fd, SHUT_WR);
	free(buf);
}

static void serve_rst(int fd)
{
	struct linger lg = { 1, 0 };
	char buf[16];

	if (read(fd, buf, sizeof(buf)) < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static int serve(const char *port, const char *mode)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)atoi(port)) };
	int one = 1, zero = 0, lfd;

	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 128) < 0) {
		fprintf(stderr, "sl-tcp: listen :%s: %m\n", port);
		return 1;
	}
	for (;;) {
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (fork() == 0) {
			close(lfd);
			if (!strcmp(mode, "echo"))
				serve_echo(fd);
			else if (!strcmp(mode, "eofreply"))
				serve_eofreply(fd);
			else
				serve_rst(fd);
			close(fd);
			_exit(0);
		}
		close(fd);
	}
}

/* ---- clients --------------------------------------------------------- */

struct sender {
	int fd;
	uint64_t bytes;
	const char *pattern;
	uint64_t hash;
	int err;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;
	uint8_t *buf = malloc(CHUNK);
	uint64_t off = 0;

	s->hash = FNV_INIT;
	while (buf && off < s->bytes) {
		size_t n = s->bytes - off < CHUNK ? (size_t)(s->bytes - off) : CHUNK;

		fill(buf, n, off, s->pattern);
		s->hash = fnv(s->hash, buf, n);
		if ((s->err = write_all(s->fd, buf, n)))
			break;
		off += n;
	}
	if (!s->err)
		shutdown(s->fd, SHUT_WR);
	free(buf);
	return NULL;
}

static int echo_check(const char *ip, const char *port, uint64_t bytes,
		      const char *pattern)
{
	struct sender s = { .bytes = bytes, .pattern = pattern };
	uint8_t *buf = malloc(CHUNK);
	uint64_t h = FNV_INIT, total = 0;
	pthread_t t;
	ssize_t n;
	int err = 0;

	s.fd = dial(ip, port);
	if (s.fd < 0 || !buf)
		return 1;
	pthread_create(&t, NULL, send_thread, &s);
	while ((n = read(s.fd, buf, CHUNK)) > 0) {
		h = fnv(h, buf, (size_t)n);
		total += (uint64_t)n;
	}
	if (n < 0)
		err = errno;
	pthread_join(t, NULL);
	close(s.fd);
	printf("sent=%llu sent_hash=%016llx received=%llu received_hash=%016llx%s%s\n",
	       (unsigned long long)bytes, (unsigned long long)s.hash,
	       (unsigned long long)total, (unsigned long long)h,
	       err ? " error=" : "", err ? strerror(err) : "");
	free(buf);
	return (!err && !s.err && total == bytes && h == s.hash) ? 0 : 1;
}

static int eofreply_check(const char *ip, const char *port, uint64_t bytes)
{
	struct sender s = { .bytes = bytes };
	uint8_t *buf = malloc(CHUNK);
	char line[128] = "", want[128];
	uint64_t body = 0, hb = FNV_INIT, hw = FNV_INIT;
	size_t llen = 0;
	pthread_t t;
	ssize_t n;
	int err = 0;

	s.fd = dial(ip, port);
	if (s.fd < 0 || !buf)
		return 1;
	pthread_create(&t, NULL, send_thread, &s);
	while ((n = read(s.fd, buf, CHUNK)) > 0) {
		size_t i = 0;

		while (i < (size_t)n && (llen == 0 || line[llen - 1] != '\n') &&
		       llen < sizeof(line) - 1)
			line[llen++] = (char)buf[i++];
		line[llen] = '\0';
		hb = fnv(hb, buf + i, (size_t)n - i);
		body += (size_t)n - i;
	}
	if (n < 0)
		err = errno;
	pthread_join(t, NULL);
	close(s.fd);
	for (uint64_t off = 0; off < 1 << 20; off += CHUNK) {
		fill(buf, CHUNK, off, NULL);
		hw = fnv(hw, buf, CHUNK);
	}
	snprintf(want, sizeof(want), "n=%llu h=%016llx\n",
		 (unsigned long long)bytes, (unsigned long long)s.hash);
	printf("reply=%.*s body=%llu%s%s\n", (int)(llen ? llen - 1 : 0), line,
	       (unsigned long long)body, err ? " error=" : "",
	       err ? strerror(err) : "");
	free(buf);
	return (!err && !s.err && !strcmp(line, want) && body == 1 << 20 &&
		hb == hw) ? 0 : 1;
}

static int rst_check(const char *ip, const char *port)
{
	char buf[256];
	ssize_t n;
	int fd = dial(ip, port);

	if (fd < 0)
		return 1;
	if (write_all(fd, "hello\n", 6))
		return 1;
	do {
		n = read(fd, buf, sizeof(buf));
	} while (n > 0);
	if (n < 0 && errno == ECONNRESET) {
		printf("reset\n");
		return 0;
	}
	printf(n == 0 ? "clean-eof\n" : "error=%s\n", strerror(errno));
	return 1;
}

static int read_exact(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EPIPE;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int pingpong_check(const char *ip, const char *port, long rounds,
			  const char *sizes, long hold)
{
	/* generous: a hold never ends by itself, a slow machine does */
	struct timeval tv = { .tv_sec = 20 };
	uint8_t *out = malloc(CHUNK), *in = malloc(CHUNK);
	int fd = dial(ip, port), ret = 1;
	uint64_t off = 0;

	if (fd < 0 || !out || !in)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	for (long r = 0; r < rounds; r++) {
		const char *p = sizes;

		while (*p) {
			char *end;
			unsigned long n = strtoul(p, &end, 10);
			int err;

			if (end == p || n == 0 || n > CHUNK ||
			    (*end && *end != ',')) {
				fprintf(stderr, "sl-tcp: bad sizes %s\n", sizes);
				goto out;
			}
			p = *end ? end + 1 : end;
			fill(out, n, off, NULL);
			off += n;
			if ((err = write_all(fd, out, n)) ||
			    (err = read_exact(fd, in, n))) {
				printf("round=%ld size=%lu error=%s\n", r, n,
				       err == -EAGAIN ? "no reply within 20 s (held back?)"
						      : strerror(-err));
				goto out;
			}
			if (memcmp(in, out, n)) {
				printf("round=%ld size=%lu error=echo differs\n",
				       r, n);
				goto out;
			}
		}
	}
	printf("pingpong ok rounds=%ld sizes=%s\n", rounds, sizes);
	fflush(stdout);
	if (hold > 0)
		sleep((unsigned int)hold);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(out);
	free(in);
	return ret;
}

static int nodelay_check(const char *pidstr, long min)
{
	int pid = atoi(pidstr), pidfd, checked = 0, missing = 0;
	char dir[64];
	struct dirent *de;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", pid);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	d = opendir(dir);
	if (pidfd < 0 || !d) {
		fprintf(stderr, "sl-tcp: pid %d: %m\n", pid);
		return 1;
	}
	while ((de = readdir(d))) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int target = atoi(de->d_name), fd, type = 0, nd = 0;
		socklen_t ol = sizeof(type);

		if (de->d_name[0] == '.')
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, target, 0);
		if (fd < 0)
			continue; /* closed meanwhile, or not ours to take */
		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &ol) == 0 &&
		    type == SOCK_STREAM &&
		    getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) &&
		    getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
			ol = sizeof(nd);
			if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nd, &ol))
				nd = 0;
			checked++;
			if (!nd) {
				missing++;
				printf("fd %d: connected TCP socket without TCP_NODELAY\n",
				       target);
			}
		}
		close(fd);
	}
	closedir(d);
	close(pidfd);
	printf("nodelay: %d connected TCP sockets, %d without TCP_NODELAY\n",
	       checked, missing);
	return checked >= min && !missing ? 0 : 1;
}

/* ---- hold: many bare connections ------------------------------------- */

#define HOLD_FAST_MS 300

struct hold_slot {
	int fd;
	bool connected;
	uint64_t t0_ms;	  /* connect started / completed */
	uint64_t next_ms; /* closed: reopen at */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons(port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, ip, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	fprintf(stderr, "sl-tcp: bad address %s\n", ip);
	return -1;
}

static void hold_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static int hold(const char *ip, const char *port, int n, int secs,
		const char *src)
{
	struct sockaddr_storage dst, sa;
	socklen_t dlen, slen = 0;
	struct hold_slot *sl = calloc((size_t)n, sizeof(*sl));
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	long opened = 0, rst = 0, eof = 0, data = 0, failed = 0, fast = 0,
	     cut = 0, cut_min = -1, cut_max = -1, peak = 0;
	uint64_t end;

	if (!sl || !pf || parse_addr(ip, (uint16_t)atoi(port), &dst, &dlen) ||
	    (src && parse_addr(src, 0, &sa, &slen)))
		return 2;
	for (int i = 0; i < n; i++)
		sl[i].fd = -1;
	end = now_ms() + (uint64_t)secs * 1000;
	while (now_ms() < end) {
		uint64_t now = now_ms();
		long live = 0;

		for (int i = 0; i < n; i++) {
			struct hold_slot *h = &sl[i];

			if (h->fd < 0 && now >= h->next_ms) {
				h->fd = socket(dst.ss_family,
					       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
				if (h->fd < 0) {
					fprintf(stderr, "sl-tcp: socket: %m\n");
					return 2;
				}
				if (src && bind(h->fd, (struct sockaddr *)&sa, slen) < 0) {
					fprintf(stderr, "sl-tcp: bind %s: %m\n", src);
					return 2;
				}
				h->connected = false;
				h->t0_ms = now;
				opened++;
				if (connect(h->fd, (struct sockaddr *)&dst, dlen) == 0)
					h->connected = true;
				else if (errno != EINPROGRESS) {
					failed++;
					close(h->fd);
					h->fd = -1;
					h->next_ms = now + 50;
				}
			}
			if (h->connected && now - h->t0_ms >= HOLD_FAST_MS)
				live++;
			pf[i].fd = h->fd;
			pf[i].events = h->fd < 0 ? 0 : h->connected ? POLLIN : POLLOUT;
			pf[i].revents = 0;
		}
		if (live > peak)
			peak = live;
		if (poll(pf, (nfds_t)n, 10) < 0 && errno != EINTR) {
			fprintf(stderr, "sl-tcp: poll: %m\n");
			return 2;
		}
		now = now_ms();
		for (int i = 0; i < n; i++) {
			struct hold_slot *h = &sl[i];
			int err = 0;
			socklen_t el = sizeof(err);
			char c;
			ssize_t r;
			long life;

			if (h->fd < 0 || !pf[i].revents)
				continue;
			if (!h->connected) {
				getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (!err) {
					h->connected = true;
					h->t0_ms = now;
					continue;
				}
				if (err == ECONNRESET) {
					/* reset as soon as it was accepted */
					rst++;
					fast++;
				} else {
					failed++;
				}
			} else {
				r = recv(h->fd, &c, 1, MSG_DONTWAIT);
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				life = (long)(now - h->t0_ms);
				if (r > 0) {
					data++;
				} else if (r == 0) {
					eof++;
				} else if (errno == ECONNRESET) {
					rst++;
					if (life < HOLD_FAST_MS) {
						fast++;
					} else {
						cut++;
						if (cut_min < 0 || life < cut_min)
							cut_min = life;
						if (life > cut_max)
							cut_max = life;
					}
				} else {
					failed++;
				}
			}
			close(h->fd);
			h->fd = -1;
			h->next_ms = now + 50;
		}
	}
	long open = 0;
	for (int i = 0; i < n; i++)
		if (sl[i].fd >= 0) {
			open += sl[i].connected;
			hold_reset(sl[i].fd);
		}
	printf("hold: opened=%ld rst=%ld eof=%ld data=%ld failed=%ld open=%ld fast=%ld cut=%ld cut_min_ms=%ld cut_max_ms=%ld peak=%ld\n",
	       opened, rst, eof, data, failed, open, fast, cut, cut_min, cut_max,
	       peak);
	free(sl);
	free(pf);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argv[3]);
	if ((argc == 5 || argc == 6) && !strcmp(argv[1], "echo-check"))
		return echo_check(argv[2], argv[3], strtoull(argv[4], NULL, 0),
				  argc == 6 ? argv[5] : NULL);
	if (argc == 5 && !strcmp(argv[1], "eofreply-check"))
		return eofreply_check(argv[2], argv[3], strtoull(argv[4], NULL, 0));
	if (argc == 4 && !strcmp(argv[1], "rst-check"))
		return rst_check(argv[2], argv[3]);
	if (argc == 7 && !strcmp(argv[1], "pingpong-check"))
		return pingpong_check(argv[2], argv[3], atol(argv[4]), argv[5],
				      atol(argv[6]));
	if (argc == 4 && !strcmp(argv[1], "nodelay-check"))
		return nodelay_check(argv[2], atol(argv[3]));
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "hold"))
		return hold(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]),
			    argc == 7 ? argv[6] : NULL);
	fprintf(stderr, "usage: sl-tcp serve PORT echo|eofreply|rst | "
			"echo-check IP PORT BYTES [PATTERN] | "
			"eofreply-check IP PORT BYTES | rst-check IP PORT | "
			"pingpong-check IP PORT ROUNDS SIZES HOLD | "
			"nodelay-check PID MIN | hold IP PORT N SECS [SRC]\n");
	return 2;
}
