/* SPDX-License-Identifier: Apache-2.0 */
/* Socket helpers (sock.c). */
#ifndef SL_DAEMON_SOCK_H
#define SL_DAEMON_SOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <linux/time_types.h>

#include "ip.h"

/** sl_sockaddr_to_ip - address and port of @sa (AF_INET/AF_INET6; v4-mapped
 * IPv6 addresses become IPv4) @retval 0 or -EAFNOSUPPORT */
int sl_sockaddr_to_ip(const struct sockaddr_storage *sa, struct sl_ip *ip,
		      uint16_t *port);

/** sl_ip_to_sockaddr - build a socket address; @retval its length */
socklen_t sl_ip_to_sockaddr(const struct sl_ip *ip, uint16_t port,
			    struct sockaddr_storage *sa);

/** sl_ip_is_loopback - 127.0.0.0/8 or ::1 */
bool sl_ip_is_loopback(const struct sl_ip *ip);

/**
 * sl_socket_dial - a non-blocking TCP socket for dialing @family, with
 * SO_MARK @mark and TCP_NODELAY  @retval fd or -errno
 */
int sl_socket_dial(int family, uint32_t mark);

/**
 * sl_socket_keepalive - turn on TCP keepalive on @fd (SO_KEEPALIVE), with
 * TCP_KEEPCNT @probes, TCP_KEEPIDLE @idle_s and TCP_KEEPINTVL @intvl_s
 * (each 0: the kernel's default, net.ipv4.tcp_keepalive_*)
 * @retval 0 or -errno
 */
int sl_socket_keepalive(int fd, uint32_t probes, uint32_t idle_s,
			uint32_t intvl_s);

/**
 * sl_socket_nodelay - set TCP_NODELAY on @fd: the relays forward each
 * chunk as soon as it is read, and Nagle would hold a small segment back
 * until the previous one is acknowledged (a delayed ACK, or the next
 * message on the flow)
 * @retval 0 or -errno
 */
int sl_socket_nodelay(int fd);

/** sl_socket_reset - close @fd with an RST (SO_LINGER 0); -1 is ignored */
void sl_socket_reset(int fd);

/** sl_ns_from_ts - fill a kernel timespec from nanoseconds */
void sl_ns_to_ts(uint64_t ns, struct __kernel_timespec *ts);

#endif /* SL_DAEMON_SOCK_H */
