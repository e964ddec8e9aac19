/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice traffic steering: the "inet sluice" nftables table.
 *
 * The table is generated from a struct sl_nft_config plus the list of local
 * pods, always applied as ONE atomic libnftables batch, and afterwards kept
 * current with small element batches (one per pod change).  The design and
 * the exact rules are described at the top of nft/steer.c and in
 * docs/STEERING.md.
 *
 * Usage:
 *	struct sl_nft_config cfg;
 *	sl_nft_config_init(&cfg);		   defaults, table "sluice"
 *	sl_nft_render(&cfg, pods, n, stdout);	   "sluiced --dry-run"
 *	sl_nft_ctx_new(&cfg, &ctx);
 *	sl_nft_apply(ctx, NULL, pods, n);	   at start and after a flush
 *	sl_nft_pod_add(ctx, &ip, SL_NFT_STRICT);   podwatch events
 *	sl_nft_check(ctx);			   periodic tamper check
 *	sl_nft_list(ctx, stdout);		   "sluice rules"
 *	sl_nft_remove(ctx); sl_nft_ctx_free(ctx);  at stop
 *
 * Thread safety: a context is used by one thread at a time.
 */
#ifndef SL_NFT_STEER_H
#define SL_NFT_STEER_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_NFT_TABLE_DEFAULT "sluice"
#define SL_NFT_TABLE_MAX 32 /* including the NUL */
#define SL_NFT_OUTBOUND_PORT 15001
#define SL_NFT_INBOUND_PORT 15008
#define SL_NFT_INBOUND_PLAIN_PORT 15006
#define SL_NFT_METRICS_PORT 15020
#define SL_NFT_TPROXY_MARK 0x5100
#define SL_NFT_BYPASS_MARK 0x5101
#define SL_NFT_ROUTE_TABLE 151
#define SL_NFT_RULE_PRIORITY 1000
#define SL_NFT_MAX_EXCLUDES 256

/** An IPv4 or IPv6 address or prefix; family AF_INET or AF_INET6. */
struct sl_nft_addr {
	int family;
	uint8_t prefix_len; /* 32/128 for a host address */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	};
};

/** PeerAuthentication mode of a local pod for plaintext inbound traffic. */
enum sl_nft_pod_mode {
	SL_NFT_STRICT = 0,  /* plaintext to the pod is dropped (default) */
	SL_NFT_PERMISSIVE, /* plaintext is TPROXY'd to inbound_plain_port */
};

/** A local pod: a host address and its mode. */
struct sl_nft_pod {
	struct sl_nft_addr addr;
	enum sl_nft_pod_mode mode;
};

/**
 * Steering configuration.  Pointers are borrowed: sl_nft_ctx_new() and
 * sl_nft_apply() copy what they keep.
 */
struct sl_nft_config {
	const char *table;	     /* table name in family inet */
	uint16_t outbound_port;	     /* REDIRECT target for pod egress */
	uint16_t inbound_port;	     /* mTLS inbound, TPROXY target */
	uint16_t inbound_plain_port; /* TPROXY target for PERMISSIVE plaintext */
	uint16_t metrics_port;	     /* always excluded */
	uint32_t tproxy_mark;	     /* set on TPROXY'd packets; policy routed */
	uint32_t bypass_mark;	     /* SO_MARK of sluiced's own sockets */
	uint32_t route_table;	     /* routing table of the local route */
	uint32_t rule_priority;	     /* priority of the fwmark ip rule */
	const uint16_t *exclude_ports; /* extra excluded destination ports */
	size_t n_exclude_ports;
	const struct sl_nft_addr *exclude_cidrs; /* excluded destinations */
	size_t n_exclude_cidrs;
};

struct sl_nft_ctx;

/**
 * sl_nft_config_init - fill @cfg with the defaults (table "sluice", ports
 * 15001/15008/15006/15020, marks 0x5100/0x5101, route table 151, no extra
 * exclusions)
 * @cfg: configuration to initialise
 */
void sl_nft_config_init(struct sl_nft_config *cfg);

/**
 * sl_nft_config_validate - check a configuration before it is rendered
 * @cfg: configuration
 * @retval 0 when valid; -EINVAL (logged) for a bad table name, a zero or
 *         duplicate port, zero or equal marks, a bad or non-canonical CIDR
 *         (host bits set) or too many exclusions
 */
int sl_nft_config_validate(const struct sl_nft_config *cfg);

/**
 * sl_nft_addr_parse - parse "198.18.1.11", "fd00:5a1c::/32", "10.0.0.0/8"
 * @s: text; a host address when no "/len" is given
 * @out: the address; prefix_len is 32 or 128 without "/len"
 * @retval 0 on success, -EINVAL for bad syntax or a prefix out of range
 */
int sl_nft_addr_parse(const char *s, struct sl_nft_addr *out);

/**
 * sl_nft_addr_format - format an address (with "/len" unless a host address)
 * @a: address
 * @buf: output buffer; INET6_ADDRSTRLEN + 4 bytes are always enough
 * @len: size of @buf
 * @retval 0 on success, -EINVAL for a bad family or prefix, -ENOSPC
 */
int sl_nft_addr_format(const struct sl_nft_addr *a, char *buf, size_t len);

/**
 * sl_nft_render - write the complete atomic batch for @cfg and @pods
 * @cfg: validated with sl_nft_config_validate() first
 * @pods: local pods (host addresses), may be NULL when @n_pods is 0
 * @n_pods: number of pods
 * @out: stream that receives the batch text (what sluiced --dry-run prints)
 * @retval 0 on success; -EINVAL for a bad config or pod (bad family, not a
 *         host address, duplicate); -EIO when writing fails
 */
int sl_nft_render(const struct sl_nft_config *cfg,
		  const struct sl_nft_pod *pods, size_t n_pods, FILE *out);

/**
 * sl_nft_ctx_new - create a steering context (a libnftables context)
 * @cfg: configuration; validated and copied
 * @out: on success the context; free it with sl_nft_ctx_free()
 * @retval 0 on success, -EINVAL for a bad config, -ENOMEM
 */
int sl_nft_ctx_new(const struct sl_nft_config *cfg, struct sl_nft_ctx **out);

/**
 * sl_nft_ctx_free - free a context; leaves the kernel table alone; NULL-safe
 * @ctx: context or NULL
 */
void sl_nft_ctx_free(struct sl_nft_ctx *ctx);

/**
 * sl_nft_apply - create or replace the table in one atomic transaction
 * @ctx: context
 * @cfg: new configuration (validated and copied), or NULL to keep the
 *       current one; the table name may not change (-EINVAL)
 * @pods: local pods; @n_pods their number
 * After success sl_nft_check() compares against this table.  A stale table
 * left by a crashed daemon is replaced in the same transaction.
 * @retval 0 on success; -EINVAL for bad input; -errno (libnftables error
 *         text logged) when the kernel refuses the batch
 */
int sl_nft_apply(struct sl_nft_ctx *ctx, const struct sl_nft_config *cfg,
		 const struct sl_nft_pod *pods, size_t n_pods);

/**
 * sl_nft_pod_add - add or update one local pod (one small atomic batch; the
 * table is not rebuilt).  Idempotent.
 * @ctx: context whose table exists
 * @addr: host address of the pod
 * @mode: STRICT or PERMISSIVE
 * @retval 0 on success, -EINVAL for a bad address, -errno from libnftables
 */
int sl_nft_pod_add(struct sl_nft_ctx *ctx, const struct sl_nft_addr *addr,
		   enum sl_nft_pod_mode mode);

/**
 * sl_nft_pod_del - remove one local pod; idempotent (absent is fine)
 * @retval 0 on success, -EINVAL for a bad address, -errno from libnftables
 */
int sl_nft_pod_del(struct sl_nft_ctx *ctx, const struct sl_nft_addr *addr);

/**
 * sl_nft_remove - delete the table; idempotent (absent is fine)
 * @retval 0 on success, -errno from libnftables
 */
int sl_nft_remove(struct sl_nft_ctx *ctx);

/**
 * sl_nft_check - does the live table still match what sl_nft_apply() made?
 * Compares the normalized listing (no counter values, no pod set elements)
 * with the one taken right after the last apply, so a flush, a deleted or
 * an edited rule/set/chain is detected.
 * @retval 0 intact; -ENOENT the table is gone; -ESTALE it differs;
 *         -ENODATA nothing was applied with this context; other -errno
 */
int sl_nft_check(struct sl_nft_ctx *ctx);

/**
 * sl_nft_list - write the live table (with counter values) to @out, as
 * "nft list table inet <name>" prints it ("sluice rules")
 * @retval 0 on success, -ENOENT when the table does not exist, -errno
 */
int sl_nft_list(struct sl_nft_ctx *ctx, FILE *out);

/**
 * sl_nft_last_error - libnftables error text of the last failed call
 * @retval a string owned by @ctx, valid until the next call; "" if none
 */
const char *sl_nft_last_error(const struct sl_nft_ctx *ctx);

/**
 * sl_nft_policy_route_install - add "ip rule fwmark <tproxy_mark> lookup
 * <route_table>" and "local default dev lo table <route_table>" for IPv4
 * and IPv6 (rtnetlink via libnl); idempotent
 * @cfg: configuration (marks, table, priority)
 * @retval 0 on success, -errno (partial state is removed again)
 */
int sl_nft_policy_route_install(const struct sl_nft_config *cfg);

/**
 * sl_nft_policy_route_remove - remove what sl_nft_policy_route_install()
 * added; idempotent (absent entries are fine)
 * @retval 0 on success, -errno for the first failure (all are attempted)
 */
int sl_nft_policy_route_remove(const struct sl_nft_config *cfg);

#endif /* SL_NFT_STEER_H */
