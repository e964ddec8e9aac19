/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Same-node handoff table.  When an outbound flow's endpoint is a workload
 * of this node, sluiced dials its own inbound listener over loopback and
 * records here, keyed by the dialing socket's local port, which local
 * workload is meant.  The inbound side (possibly another worker) takes the
 * entry when it accepts a loopback connection; a loopback connection with
 * no entry is refused.  Only sluiced itself can add entries, so a local
 * process cannot pick an identity.  The entry also carries the source
 * pod's address for the inbound AuthorizationPolicy check (ipBlocks).
 * See docs/PROTOCOL.md, "Same node".
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "daemon.h"
#include "handoff.h"

struct handoff {
	bool used;
	bool has_src;
	struct sl_ip dst;
	struct sl_ip src; /* the source pod (AuthorizationPolicy ipBlocks) */
};

/* one slot per local port: 64 Ki entries of ~44 bytes, allocated lazily */
static struct handoff *table;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int sl_handoff_put(uint16_t port, const struct sl_ip *dst)
{
	return sl_handoff_put_src(port, dst, NULL);
}

int sl_handoff_put_src(uint16_t port, const struct sl_ip *dst,
		       const struct sl_ip *src)
{
	int ret = 0;

	pthread_mutex_lock(&lock);
	if (!table)
		table = calloc(65536, sizeof(*table));
	if (!table)
		ret = -ENOMEM;
	else if (table[port].used)
		ret = -EEXIST;
	else {
		table[port].used = true;
		table[port].dst = *dst;
		table[port].has_src = src != NULL;
		if (src)
			table[port].src = *src;
	}
	pthread_mutex_unlock(&lock);
	return ret;
}

int sl_handoff_take(uint16_t port, struct sl_ip *dst)
{
	return sl_handoff_take_src(port, dst, NULL, NULL);
}

int sl_handoff_take_src(uint16_t port, struct sl_ip *dst, struct sl_ip *src,
			bool *has_src)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&lock);
	if (table && table[port].used) {
		*dst = table[port].dst;
		if (src && has_src) {
			*has_src = table[port].has_src;
			*src = table[port].src;
		}
		table[port].used = false;
		ret = 0;
	}
	pthread_mutex_unlock(&lock);
	return ret;
}

void sl_handoff_drop(uint16_t port)
{
	pthread_mutex_lock(&lock);
	if (table)
		table[port].used = false;
	pthread_mutex_unlock(&lock);
}
