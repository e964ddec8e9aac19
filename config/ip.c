/* SPDX-License-Identifier: Apache-2.0 */
/* IPv4/IPv6 literals (ip.h): used by every decoder and by the daemon. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "ip.h"
#include "util.h"

int sl_ip_parse(const char *s, struct sl_ip *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, s, &out->v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->v6) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

const char *sl_ip_format(const struct sl_ip *ip, char *buf, size_t len)
{
	if (!ip->family || !inet_ntop(ip->family, &ip->v6, buf, (socklen_t)len))
		sl_strlcpy(buf, "-", len);
	return buf;
}

bool sl_ip_equal(const struct sl_ip *a, const struct sl_ip *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return a->v4.s_addr == b->v4.s_addr;
	return memcmp(&a->v6, &b->v6, sizeof(a->v6)) == 0;
}
