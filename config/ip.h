/* SPDX-License-Identifier: Apache-2.0 */
/* IPv4/IPv6 address literals: parse, print, compare (ip.c). */
#ifndef SL_CONFIG_IP_H
#define SL_CONFIG_IP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>

/** An IPv4 or IPv6 address; family is AF_INET or AF_INET6 (0 = unset). */
struct sl_ip {
	int family;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

/** sl_ip_parse - parse a literal IPv4/IPv6 address; 0 or -EINVAL */
int sl_ip_parse(const char *s, struct sl_ip *out);
/** sl_ip_format - format into @buf (INET6_ADDRSTRLEN is enough) */
const char *sl_ip_format(const struct sl_ip *ip, char *buf, size_t len);
/** sl_ip_equal - true when both are the same family and address */
bool sl_ip_equal(const struct sl_ip *a, const struct sl_ip *b);

#endif /* SL_CONFIG_IP_H */
