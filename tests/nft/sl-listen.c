/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sl-listen: test TCP listener that reports what steering did to a flow.
 *
 * usage: sl-listen [-6] [-T] PORT
 *        sl-listen -c SRC DST PORT
 *   -6  listen on [::]:PORT (dual stack) instead of 0.0.0.0:PORT
 *   -T  set IP_TRANSPARENT / IPV6_TRANSPARENT (needed for TPROXY)
 * For every connection one line is written to the client and to stdout:
 *   local=ADDR:PORT orig=ADDR:PORT peer=ADDR:PORT
 * local is getsockname() (TPROXY keeps the original destination there),
 * orig is SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST ("-" when the flow was
 * not NATed, i.e. REDIRECT shows the real destination here).
 * Runs until killed.
 *
 * -c: connect from SRC (any address, IP_TRANSPARENT: a spoofed source as
 * sluiced uses to deliver to a local pod) to DST:PORT, print the first line
 * received and exit 0; exit 1 on failure (5 s timeout).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			snprintf(buf, len, "%s:%u", ip + 7,
				 ntohs(s6->sin6_port));
		else
			snprintf(buf, len, "[%s]:%u", ip, ntohs(s6->sin6_port));
	} else {
		snprintf(buf, len, "-");
	}
}

static int parse(const char *ip, int port, struct sockaddr_storage *ss,
		 socklen_t *len)
{
	struct sockaddr_in *s4 = (void *)ss;
	struct sockaddr_in6 *s6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return AF_INET6;
	}
	return -1;
}

static int spoofed_connect(const char *src, const char *dst, int port)
{
	struct sockaddr_storage s, d;
	struct timeval tv = { .tv_sec = 5 };
	socklen_t sl, dl;
	char buf[512];
	int fam, fd, one = 1;
	ssize_t n;

	fam = parse(src, 0, &s, &sl);
	if (fam < 0 || parse(dst, port, &d, &dl) != fam)
		return 2;
	fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, fam == AF_INET ? SOL_IP : SOL_IPV6,
		       fam == AF_INET ? IP_TRANSPARENT : IPV6_TRANSPARENT, &one,
		       sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    bind(fd, (void *)&s, sl) || connect(fd, (void *)&d, dl)) {
		perror("sl-listen: spoofed connect");
		return 1;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		perror("sl-listen: read");
		return 1;
	}
	buf[n] = '\0';
	fputs(buf, stdout);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	bool v6 = false, tr = false;
	int opt, fd, one = 1, port;
	socklen_t sl;

	while ((opt = getopt(argc, argv, "6Tc")) != -1) {
		if (opt == 'c') {
			if (argc - optind != 3)
				return 2;
			return spoofed_connect(argv[optind], argv[optind + 1],
					       atoi(argv[optind + 2]));
		}
		if (opt == '6')
			v6 = true;
		else if (opt == 'T')
			tr = true;
		else
			return 2;
	}
	if (optind != argc - 1)
		return 2;
	port = atoi(argv[optind]);
	fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (tr && (v6 ? setsockopt(fd, SOL_IPV6, IPV6_TRANSPARENT, &one,
				   sizeof(one))
		      : setsockopt(fd, SOL_IP, IP_TRANSPARENT, &one,
				   sizeof(one)))) {
		perror("sl-listen: transparent");
		return 1;
	}
	if (v6) {
		struct sockaddr_in6 *s6 = (void *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		s6->sin6_addr = in6addr_any;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (void *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	}
	if (bind(fd, (void *)&ss, sl) || listen(fd, 16)) {
		perror("sl-listen: bind/listen");
		return 1;
	}
	for (;;) {
		struct sockaddr_storage loc = { 0 }, orig = { 0 }, peer = { 0 };
		char l[80], o[80], p[80], line[300];
		socklen_t len = sizeof(peer);
		int c = accept(fd, (void *)&peer, &len);

		if (c < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		len = sizeof(loc);
		getsockname(c, (void *)&loc, &len);
		len = sizeof(orig);
		if (loc.ss_family == AF_INET6 &&
		    !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&loc)->sin6_addr)) {
			if (getsockopt(c, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &orig,
				       &len))
				orig.ss_family = 0;
		} else if (getsockopt(c, SOL_IP, SO_ORIGINAL_DST, &orig, &len)) {
			orig.ss_family = 0;
		}
		fmt(&loc, l, sizeof(l));
		fmt(&orig, o, sizeof(o));
		fmt(&peer, p, sizeof(p));
		snprintf(line, sizeof(line), "local=%s orig=%s peer=%s\n", l, o,
			 p);
		if (write(c, line, strlen(line)) < 0)
			perror("sl-listen: write");
		fputs(line, stdout);
		fflush(stdout);
		close(c);
	}
}
