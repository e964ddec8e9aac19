/* SPDX-License-Identifier: Apache-2.0 */
/* Socket address conversions and socket setup shared by the flows. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "sock.h"

int sl_sockaddr_to_ip(const struct sockaddr_storage *sa, struct sl_ip *ip,
		      uint16_t *port)
{
	memset(ip, 0, sizeof(*ip));
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		ip->family = AF_INET;
		ip->v4 = s4->sin_addr;
		if (port)
			*port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			ip->family = AF_INET;
			memcpy(&ip->v4, &s6->sin6_addr.s6_addr[12], 4);
		} else {
			ip->family = AF_INET6;
			ip->v6 = s6->sin6_addr;
		}
		if (port)
			*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -EAFNOSUPPORT;
}

socklen_t sl_ip_to_sockaddr(const struct sl_ip *ip, uint16_t port,
			    struct sockaddr_storage *sa)
{
	memset(sa, 0, sizeof(*sa));
	if (ip->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)sa;

		s4->sin_family = AF_INET;
		s4->sin_addr = ip->v4;
		s4->sin_port = htons(port);
		return sizeof(*s4);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)sa;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = ip->v6;
		s6->sin6_port = htons(port);
		return sizeof(*s6);
	}
}

bool sl_ip_is_loopback(const struct sl_ip *ip)
{
	if (ip->family == AF_INET)
		return (ntohl(ip->v4.s_addr) >> 24) == 127;
	return ip->family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&ip->v6);
}

int sl_socket_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

int sl_socket_dial(int family, uint32_t mark)
{
	int fd, ret;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0)
		goto fail;
	ret = sl_socket_nodelay(fd);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
fail:
	ret = -errno;
	close(fd);
	return ret;
}

int sl_socket_keepalive(int fd, uint32_t probes, uint32_t idle_s,
			uint32_t intvl_s)
{
	int one = 1, v;

	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) < 0)
		return -errno;
	v = (int)probes;
	if (probes &&
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v)) < 0)
		return -errno;
	v = (int)idle_s;
	if (idle_s &&
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v)) < 0)
		return -errno;
	v = (int)intvl_s;
	if (intvl_s &&
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v)) < 0)
		return -errno;
	return 0;
}

void sl_socket_reset(int fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

void sl_ns_to_ts(uint64_t ns, struct __kernel_timespec *ts)
{
	ts->tv_sec = (long long)(ns / 1000000000ULL);
	ts->tv_nsec = (long long)(ns % 1000000000ULL);
}
