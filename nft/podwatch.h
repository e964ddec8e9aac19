/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local pod discovery from the routing table.
 *
 * CNI plugins (Calico, Cilium in routed mode, ptp, ...) give each pod a
 * veth and put a host route (/32 or /128) to the pod address via that veth
 * into the main table.  The pod watcher reports exactly those routes: a
 * dump at start, then live RTM_NEWROUTE/RTM_DELROUTE events on a
 * non-blocking, close-on-exec rtnetlink socket that the caller polls.
 *
 * Each change is reported once: the watcher keeps the set of known pods,
 * so duplicate events and re-dumps (after NLM_F_DUMP_INTR or a socket
 * overrun) only report differences.  IPv4 routes vanish without an event
 * when their device goes down or away; the watcher re-dumps on such link
 * events.
 */
#ifndef SL_NFT_PODWATCH_H
#define SL_NFT_PODWATCH_H

#include <stdbool.h>

#include "steer.h"

struct sl_podwatch;

/**
 * sl_podwatch_cb - called for every pod that appears or disappears
 * @addr: host address of the pod (prefix_len 32 or 128)
 * @ifindex: the veth the host route points at
 * @added: true when the pod appeared, false when it went away
 * @arg: the caller's pointer given to sl_podwatch_new()
 */
typedef void (*sl_podwatch_cb)(const struct sl_nft_addr *addr, int ifindex,
			       bool added, void *arg);

/**
 * sl_podwatch_new - open the watcher and report the current pods
 * @cb: callback; runs inside sl_podwatch_new() (initial dump) and
 *      sl_podwatch_process()
 * @arg: passed to @cb
 * @out: on success the watcher; free it with sl_podwatch_free()
 * @retval 0 on success, -ENOMEM, -errno from netlink
 */
int sl_podwatch_new(sl_podwatch_cb cb, void *arg, struct sl_podwatch **out);

/**
 * sl_podwatch_free - close the sockets and free the watcher; NULL-safe
 */
void sl_podwatch_free(struct sl_podwatch *pw);

/**
 * sl_podwatch_fd - the non-blocking fd to poll for POLLIN
 * @retval the fd (owned by @pw)
 */
int sl_podwatch_fd(const struct sl_podwatch *pw);

/**
 * sl_podwatch_process - read every pending event and report changes; call
 * when sl_podwatch_fd() is readable.  Never blocks.
 * @retval 0 on success (also when nothing was pending), -errno on failure
 */
int sl_podwatch_process(struct sl_podwatch *pw);

/**
 * sl_podwatch_resync - dump the routing table again and report the
 * differences to what is known
 * @retval 0 on success, -EAGAIN when the dump kept being interrupted,
 *         -errno otherwise
 */
int sl_podwatch_resync(struct sl_podwatch *pw);

#endif /* SL_NFT_PODWATCH_H */
