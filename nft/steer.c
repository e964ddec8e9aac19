/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Traffic steering with one private nftables table, "inet sluice".
 *
 * Design (docs/STEERING.md has the long version):
 *
 * - sluiced owns exactly one table, family inet (IPv4 and IPv6 alike).  It
 *   is rendered from struct sl_nft_config + the local pods (nft/render.c)
 *   and applied as ONE libnftables batch:
 *	add table inet sluice; delete table inet sluice; table inet sluice {..}
 *   The kernel commits the batch as a single transaction, so a stale table
 *   (crash, older config) is replaced without a moment with no table or two.
 *
 * - Sets: pods4/pods6 (local pod addresses), permissive4/permissive6 (the
 *   subset whose PeerAuthentication is PERMISSIVE; every other pod is
 *   STRICT), exclude_ports (15001 15006 15008 15020 + configured),
 *   exclude4/exclude6 (interval sets of excluded destination CIDRs).  Pods
 *   are added/removed with small element batches, never a rebuild.
 *
 * - chain outbound (nat, prerouting, dstnat): TCP from a local pod, not to
 *   an excluded port/CIDR nor to the node itself, is REDIRECTed to the
 *   outbound port; sluiced reads SO_ORIGINAL_DST.  Same-node pod-to-pod
 *   flows are steered too.  Counter "outbound_redirect".
 *
 * - chain inbound (filter, prerouting, mangle): first, packets that belong
 *   to a transparent, non-wildcard socket of this node (sluiced connecting
 *   to a local pod with the remote client's address as source) get the
 *   tproxy_mark so they are delivered locally instead of being forwarded.
 *   Then TCP to a local pod on the inbound (mTLS/HBONE) port is TPROXY'd
 *   to sluiced's inbound port, with meta mark = tproxy_mark; policy
 *   routing (nft/policyroute.c: fwmark -> table 151 -> local default dev
 *   lo) delivers it locally.  Then, for
 *   traffic not from a local pod and not to an excluded port, TCP to a
 *   PERMISSIVE pod is TPROXY'd to the plaintext inbound port.  Counters
 *   "inbound_tproxy" and "plain_permissive".
 *
 * - chain plaintext (filter, forward): whatever TCP is still forwarded to a
 *   local pod in the original direction (i.e. plaintext to a STRICT pod)
 *   and not to an excluded port is dropped.  Counter "plain_strict_drop".
 *
 * - Every chain starts with "meta mark <bypass_mark> return": sluiced sets
 *   SO_MARK bypass_mark on its own sockets.
 *
 * - Tamper detection: after an apply the table is listed statelessly and
 *   normalized (no counter values, no pod elements); sl_nft_check() lists
 *   again and compares.  The table comment carries a fingerprint of the
 *   rendered rules so a human can tell which config produced it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <nftables/libnftables.h>

#include "log.h"
#include "steer_internal.h"
#include "util.h"

struct sl_nft_ctx {
	struct nft_ctx *nft;
	char table[SL_NFT_TABLE_MAX];
	struct sl_nft_config cfg; /* cfg.table points at table[] */
	uint16_t *exclude_ports;
	struct sl_nft_addr *exclude_cidrs;
	char *applied;	/* normalized listing after the last apply */
	char *last_err; /* libnftables error text of the last failure */
	int *fds_before; /* see cloexec_new_fds(); NULL when done */
	size_t n_fds_before;
};

static int ctx_set_config(struct sl_nft_ctx *ctx,
			  const struct sl_nft_config *cfg)
{
	uint16_t *ports = NULL;
	struct sl_nft_addr *cidrs = NULL;
	int ret;

	ret = sl_nft_config_validate(cfg);
	if (ret)
		return ret;
	if (cfg->n_exclude_ports) {
		ports = calloc(cfg->n_exclude_ports, sizeof(*ports));
		if (!ports)
			return -ENOMEM;
		memcpy(ports, cfg->exclude_ports,
		       cfg->n_exclude_ports * sizeof(*ports));
	}
	if (cfg->n_exclude_cidrs) {
		cidrs = calloc(cfg->n_exclude_cidrs, sizeof(*cidrs));
		if (!cidrs) {
			free(ports);
			return -ENOMEM;
		}
		memcpy(cidrs, cfg->exclude_cidrs,
		       cfg->n_exclude_cidrs * sizeof(*cidrs));
	}
	free(ctx->exclude_ports);
	free(ctx->exclude_cidrs);
	ctx->exclude_ports = ports;
	ctx->exclude_cidrs = cidrs;
	ctx->cfg = *cfg;
	sl_strlcpy(ctx->table, cfg->table, sizeof(ctx->table));
	ctx->cfg.table = ctx->table;
	ctx->cfg.exclude_ports = ports;
	ctx->cfg.exclude_cidrs = cidrs;
	return 0;
}

#define FD_SNAP_MAX 1024

/* the open fds of this process (at most FD_SNAP_MAX) */
static size_t fd_snapshot(int *fds)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	while ((de = readdir(d)) && n < FD_SNAP_MAX)
		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
		    atoi(de->d_name) != dirfd(d))
			fds[n++] = atoi(de->d_name);
	closedir(d);
	return n;
}

/*
 * libnftables 1.0.6 opens its netlink socket lazily, without SOCK_CLOEXEC,
 * and has no API to reach it.  The fds open before nft_ctx_new() are
 * remembered; after each command, until libnftables' socket has shown up,
 * every new fd without FD_CLOEXEC gets it.  Best effort.
 */
static void cloexec_new_fds(struct sl_nft_ctx *ctx)
{
	int now[FD_SNAP_MAX];
	bool found = false;
	size_t n, i, j;
	int fl;

	if (!ctx->fds_before)
		return;
	n = fd_snapshot(now);
	for (i = 0; i < n; i++) {
		for (j = 0; j < ctx->n_fds_before; j++)
			if (ctx->fds_before[j] == now[i])
				break;
		if (j < ctx->n_fds_before)
			continue;
		fl = fcntl(now[i], F_GETFD);
		if (fl < 0)
			continue;
		if (!(fl & FD_CLOEXEC))
			fcntl(now[i], F_SETFD, fl | FD_CLOEXEC);
		found = true;
	}
	if (found) { /* libnftables' socket exists now: done */
		free(ctx->fds_before);
		ctx->fds_before = NULL;
	}
}

int sl_nft_ctx_new(const struct sl_nft_config *cfg, struct sl_nft_ctx **out)
{
	struct sl_nft_ctx *ctx;
	int ret;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ret = ctx_set_config(ctx, cfg);
	if (ret)
		goto err_free;
	ctx->fds_before = calloc(FD_SNAP_MAX, sizeof(int));
	if (ctx->fds_before)
		ctx->n_fds_before = fd_snapshot(ctx->fds_before);
	ctx->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx->nft) {
		ret = -ENOMEM;
		goto err_free;
	}
	if (nft_ctx_buffer_output(ctx->nft) || nft_ctx_buffer_error(ctx->nft)) {
		ret = -ENOMEM;
		goto err_nft;
	}
	*out = ctx;
	return 0;

err_nft:
	nft_ctx_free(ctx->nft);
err_free:
	free(ctx->fds_before);
	free(ctx->exclude_ports);
	free(ctx->exclude_cidrs);
	free(ctx);
	return ret;
}

void sl_nft_ctx_free(struct sl_nft_ctx *ctx)
{
	if (!ctx)
		return;
	nft_ctx_free(ctx->nft);
	free(ctx->fds_before);
	free(ctx->exclude_ports);
	free(ctx->exclude_cidrs);
	free(ctx->applied);
	free(ctx->last_err);
	free(ctx);
}

const char *sl_nft_last_error(const struct sl_nft_ctx *ctx)
{
	return ctx && ctx->last_err ? ctx->last_err : "";
}

/*
 * libnftables reports failure as -1 with text only; map the text of the
 * common cases back to an errno so callers can tell them apart.
 */
static int errno_from_text(const char *err)
{
	if (strstr(err, "No such file or directory"))
		return -ENOENT;
	if (strstr(err, "Operation not permitted"))
		return -EPERM;
	if (strstr(err, "File exists"))
		return -EEXIST;
	if (strstr(err, "Cannot allocate memory"))
		return -ENOMEM;
	if (strstr(err, "Operation not supported") ||
	    strstr(err, "not supported"))
		return -EOPNOTSUPP;
	if (strstr(err, "syntax error") || strstr(err, "Error:"))
		return -EINVAL;
	return -EIO;
}

/*
 * Run one batch; on success *@output (if not NULL) is a malloc'd copy of
 * the output buffer.  @quiet_enoent suppresses the log for "not there".
 */
static int run(struct sl_nft_ctx *ctx, const char *cmd, char **output,
	       bool quiet_enoent)
{
	const char *err, *o;
	int rc, ret = 0;

	free(ctx->last_err);
	ctx->last_err = NULL;
	rc = nft_run_cmd_from_buffer(ctx->nft, cmd);
	cloexec_new_fds(ctx);
	err = nft_ctx_get_error_buffer(ctx->nft);
	o = nft_ctx_get_output_buffer(ctx->nft);
	if (rc) {
		ret = errno_from_text(err ? err : "");
		ctx->last_err = strdup(err ? err : "");
		if (!(quiet_enoent && ret == -ENOENT))
			sl_log_err("%s: table inet %s: libnftables: %s", __func__,
				   ctx->table, err && *err ? err : "failed");
		return ret;
	}
	if (output) {
		*output = strdup(o ? o : "");
		if (!*output)
			return -ENOMEM;
	}
	return 0;
}

static int snapshot(struct sl_nft_ctx *ctx, char **norm)
{
	char cmd[64 + SL_NFT_TABLE_MAX];
	unsigned int flags;
	char *raw = NULL;
	int ret;

	snprintf(cmd, sizeof(cmd), "list table inet %s", ctx->table);
	flags = nft_ctx_output_get_flags(ctx->nft);
	nft_ctx_output_set_flags(ctx->nft, flags | NFT_CTX_OUTPUT_STATELESS);
	ret = run(ctx, cmd, &raw, true);
	nft_ctx_output_set_flags(ctx->nft, flags);
	if (ret)
		return ret;
	ret = sl_nft_normalize_listing(raw, norm);
	free(raw);
	return ret;
}

static int render_to_string(const struct sl_nft_config *cfg,
			    const struct sl_nft_pod *pods, size_t n,
			    char **out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	ret = sl_nft_render(cfg, pods, n, f);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	return 0;
}

int sl_nft_apply(struct sl_nft_ctx *ctx, const struct sl_nft_config *cfg,
		 const struct sl_nft_pod *pods, size_t n_pods)
{
	char *batch = NULL, *norm = NULL;
	int ret;

	if (!ctx)
		return -EINVAL;
	if (cfg) {
		if (!cfg->table || strcmp(cfg->table, ctx->table)) {
			sl_log_err("%s: the table name cannot change", __func__);
			return -EINVAL;
		}
		ret = ctx_set_config(ctx, cfg);
		if (ret)
			return ret;
	}
	ret = render_to_string(&ctx->cfg, pods, n_pods, &batch);
	if (ret)
		return ret;
	ret = run(ctx, batch, NULL, false);
	if (ret)
		goto out;
	ret = snapshot(ctx, &norm);
	if (ret) {
		sl_log_err("%s: cannot list table inet %s after apply: %s",
			   __func__, ctx->table, strerror(-ret));
		goto out;
	}
	free(ctx->applied);
	ctx->applied = norm;
	sl_log_info("%s: table inet %s applied (%zu pods)", __func__,
		    ctx->table, n_pods);
out:
	free(batch);
	return ret;
}

static int pod_batch(struct sl_nft_ctx *ctx, const struct sl_nft_addr *addr,
		     enum sl_nft_pod_mode mode, bool add)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (!ctx)
		return -EINVAL;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	ret = sl_nft_render_pod(ctx->table, addr, mode, add, f);
	if (fclose(f) && !ret)
		ret = -ENOMEM;
	if (!ret)
		ret = run(ctx, buf, NULL, false);
	free(buf);
	return ret;
}

int sl_nft_pod_add(struct sl_nft_ctx *ctx, const struct sl_nft_addr *addr,
		   enum sl_nft_pod_mode mode)
{
	return pod_batch(ctx, addr, mode, true);
}

int sl_nft_pod_del(struct sl_nft_ctx *ctx, const struct sl_nft_addr *addr)
{
	return pod_batch(ctx, addr, SL_NFT_STRICT, false);
}

int sl_nft_remove(struct sl_nft_ctx *ctx)
{
	char cmd[64 + 2 * SL_NFT_TABLE_MAX];
	int ret;

	if (!ctx)
		return -EINVAL;
	snprintf(cmd, sizeof(cmd), "add table inet %s\ndelete table inet %s\n",
		 ctx->table, ctx->table);
	ret = run(ctx, cmd, NULL, false);
	if (!ret) {
		free(ctx->applied);
		ctx->applied = NULL;
	}
	return ret;
}

int sl_nft_check(struct sl_nft_ctx *ctx)
{
	char *norm = NULL;
	int ret;

	if (!ctx)
		return -EINVAL;
	if (!ctx->applied)
		return -ENODATA;
	ret = snapshot(ctx, &norm);
	if (ret)
		return ret;
	ret = strcmp(norm, ctx->applied) ? -ESTALE : 0;
	if (ret)
		sl_log_warn("%s: table inet %s was modified outside sluiced",
			    __func__, ctx->table);
	free(norm);
	return ret;
}

int sl_nft_list(struct sl_nft_ctx *ctx, FILE *out)
{
	char cmd[64 + SL_NFT_TABLE_MAX];
	char *raw = NULL;
	int ret;

	if (!ctx || !out)
		return -EINVAL;
	snprintf(cmd, sizeof(cmd), "list table inet %s", ctx->table);
	ret = run(ctx, cmd, &raw, true);
	if (ret)
		return ret;
	if (fputs(raw, out) == EOF)
		ret = -EIO;
	free(raw);
	return ret;
}
