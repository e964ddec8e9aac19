/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Batch text generation for the "inet sluice" table: validation of every
 * value that is printed, then fprintf from the struct.  Nothing the user
 * wrote is ever pasted into the batch: names are checked against a strict
 * alphabet, addresses are re-formatted with inet_ntop and ports/marks are
 * integers.  The ruleset itself is explained at the top of nft/steer.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "steer_internal.h"
#include "util.h"

static const uint16_t mesh_ports[] = {
	SL_NFT_OUTBOUND_PORT, SL_NFT_INBOUND_PLAIN_PORT, SL_NFT_INBOUND_PORT,
	SL_NFT_METRICS_PORT,
};

void sl_nft_config_init(struct sl_nft_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->table = SL_NFT_TABLE_DEFAULT;
	cfg->outbound_port = SL_NFT_OUTBOUND_PORT;
	cfg->inbound_port = SL_NFT_INBOUND_PORT;
	cfg->inbound_plain_port = SL_NFT_INBOUND_PLAIN_PORT;
	cfg->metrics_port = SL_NFT_METRICS_PORT;
	cfg->tproxy_mark = SL_NFT_TPROXY_MARK;
	cfg->bypass_mark = SL_NFT_BYPASS_MARK;
	cfg->route_table = SL_NFT_ROUTE_TABLE;
	cfg->rule_priority = SL_NFT_RULE_PRIORITY;
}

bool sl_nft_table_name_valid(const char *name)
{
	size_t i;

	if (!name || !((name[0] >= 'a' && name[0] <= 'z') ||
		       (name[0] >= 'A' && name[0] <= 'Z')))
		return false;
	for (i = 1; name[i]; i++) {
		char c = name[i];

		if (i >= SL_NFT_TABLE_MAX - 1)
			return false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

static bool addr_host_bits_clear(const struct sl_nft_addr *a)
{
	const uint8_t *b;
	unsigned int bits, i;

	if (a->family == AF_INET) {
		b = (const uint8_t *)&a->v4;
		bits = 32;
	} else {
		b = a->v6.s6_addr;
		bits = 128;
	}
	for (i = a->prefix_len; i < bits; i++)
		if (b[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

static bool addr_valid(const struct sl_nft_addr *a)
{
	if (a->family == AF_INET)
		return a->prefix_len <= 32;
	if (a->family == AF_INET6)
		return a->prefix_len <= 128;
	return false;
}

static bool addr_is_host(const struct sl_nft_addr *a)
{
	return (a->family == AF_INET && a->prefix_len == 32) ||
	       (a->family == AF_INET6 && a->prefix_len == 128);
}

int sl_nft_addr_parse(const char *s, struct sl_nft_addr *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct sl_nft_addr a = { 0 };
	char *slash, *end;
	unsigned long len;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, &a.v4) == 1) {
		a.family = AF_INET;
		a.prefix_len = 32;
	} else if (inet_pton(AF_INET6, buf, &a.v6) == 1) {
		a.family = AF_INET6;
		a.prefix_len = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		if (*slash < '0' || *slash > '9')
			return -EINVAL;
		errno = 0;
		len = strtoul(slash, &end, 10);
		if (errno || *end || len > a.prefix_len)
			return -EINVAL;
		a.prefix_len = (uint8_t)len;
	}
	*out = a;
	return 0;
}

int sl_nft_addr_format(const struct sl_nft_addr *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	int n;

	if (!a || !addr_valid(a))
		return -EINVAL;
	if (!inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->v4
						       : (const void *)&a->v6,
		       ip, sizeof(ip)))
		return -EINVAL;
	if (addr_is_host(a))
		n = snprintf(buf, len, "%s", ip);
	else
		n = snprintf(buf, len, "%s/%u", ip, a->prefix_len);
	if (n < 0 || (size_t)n >= len)
		return -ENOSPC;
	return 0;
}

int sl_nft_config_validate(const struct sl_nft_config *cfg)
{
	uint16_t ports[4];
	size_t i, j;

	if (!cfg)
		return -EINVAL;
	if (!sl_nft_table_name_valid(cfg->table)) {
		sl_log_err("%s: bad table name (want [A-Za-z][A-Za-z0-9_]*, < %d chars)",
			   __func__, SL_NFT_TABLE_MAX);
		return -EINVAL;
	}
	ports[0] = cfg->outbound_port;
	ports[1] = cfg->inbound_port;
	ports[2] = cfg->inbound_plain_port;
	ports[3] = cfg->metrics_port;
	for (i = 0; i < SL_ARRAY_SIZE(ports); i++) {
		if (!ports[i]) {
			sl_log_err("%s: port 0 is not allowed", __func__);
			return -EINVAL;
		}
		for (j = 0; j < i; j++)
			if (ports[i] == ports[j]) {
				sl_log_err("%s: port %u used twice", __func__,
					   ports[i]);
				return -EINVAL;
			}
	}
	if (!cfg->tproxy_mark || !cfg->bypass_mark ||
	    cfg->tproxy_mark == cfg->bypass_mark) {
		sl_log_err("%s: marks must be non-zero and different", __func__);
		return -EINVAL;
	}
	if (!cfg->route_table || cfg->route_table >= 252) {
		/* 252..255 are default/main/local/compat */
		sl_log_err("%s: route table %u not allowed", __func__,
			   cfg->route_table);
		return -EINVAL;
	}
	if (cfg->n_exclude_ports > SL_NFT_MAX_EXCLUDES ||
	    cfg->n_exclude_cidrs > SL_NFT_MAX_EXCLUDES ||
	    (cfg->n_exclude_ports && !cfg->exclude_ports) ||
	    (cfg->n_exclude_cidrs && !cfg->exclude_cidrs)) {
		sl_log_err("%s: bad exclusion list", __func__);
		return -EINVAL;
	}
	for (i = 0; i < cfg->n_exclude_ports; i++)
		if (!cfg->exclude_ports[i]) {
			sl_log_err("%s: excluded port 0", __func__);
			return -EINVAL;
		}
	for (i = 0; i < cfg->n_exclude_cidrs; i++) {
		const struct sl_nft_addr *a = &cfg->exclude_cidrs[i];

		if (!addr_valid(a) || !addr_host_bits_clear(a)) {
			sl_log_err("%s: excluded CIDR #%zu is invalid or has host bits set",
				   __func__, i);
			return -EINVAL;
		}
	}
	return 0;
}

static int validate_pods(const struct sl_nft_pod *pods, size_t n)
{
	size_t i, j;

	if (n && !pods)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (!addr_is_host(&pods[i].addr) ||
		    (pods[i].mode != SL_NFT_STRICT &&
		     pods[i].mode != SL_NFT_PERMISSIVE)) {
			sl_log_err("%s: pod #%zu: not a host address or bad mode",
				   __func__, i);
			return -EINVAL;
		}
		for (j = 0; j < i; j++) {
			const struct sl_nft_addr *a = &pods[i].addr;
			const struct sl_nft_addr *b = &pods[j].addr;

			if (a->family == b->family &&
			    !memcmp(&a->v6, &b->v6,
				    a->family == AF_INET ? 4 : 16)) {
				sl_log_err("%s: pod #%zu listed twice", __func__,
					   i);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* elements = { a, b } of one family; @permissive_only filters the mode */
static void put_pod_elements(FILE *out, const struct sl_nft_pod *pods,
			     size_t n, int family, bool permissive_only)
{
	char buf[INET6_ADDRSTRLEN + 4];
	bool first = true;
	size_t i;

	for (i = 0; i < n; i++) {
		if (pods[i].addr.family != family)
			continue;
		if (permissive_only && pods[i].mode != SL_NFT_PERMISSIVE)
			continue;
		if (sl_nft_addr_format(&pods[i].addr, buf, sizeof(buf)))
			continue; /* validated before: cannot happen */
		fprintf(out, "%s%s", first ? "; elements = { " : ", ", buf);
		first = false;
	}
	if (!first)
		fputs(" }", out);
}

static void put_cidr_elements(FILE *out, const struct sl_nft_config *cfg,
			      int family)
{
	char buf[INET6_ADDRSTRLEN + 4];
	bool first = true;
	size_t i;

	for (i = 0; i < cfg->n_exclude_cidrs; i++) {
		if (cfg->exclude_cidrs[i].family != family)
			continue;
		if (sl_nft_addr_format(&cfg->exclude_cidrs[i], buf, sizeof(buf)))
			continue;
		fprintf(out, "%s%s", first ? "; elements = { " : ", ", buf);
		first = false;
	}
	if (!first)
		fputs(" }", out);
}

static void put_port_elements(FILE *out, const struct sl_nft_config *cfg)
{
	uint16_t seen[SL_ARRAY_SIZE(mesh_ports) + 4 + SL_NFT_MAX_EXCLUDES];
	size_t n = 0, i, j;

	for (i = 0; i < SL_ARRAY_SIZE(mesh_ports); i++)
		seen[n++] = mesh_ports[i];
	seen[n++] = cfg->outbound_port;
	seen[n++] = cfg->inbound_port;
	seen[n++] = cfg->inbound_plain_port;
	seen[n++] = cfg->metrics_port;
	for (i = 0; i < cfg->n_exclude_ports; i++)
		seen[n++] = cfg->exclude_ports[i];
	fputs("; elements = { ", out);
	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (seen[j] == seen[i])
				break;
		if (j < i)
			continue; /* duplicate: nft would refuse it */
		fprintf(out, "%s%u", i ? ", " : "", seen[i]);
	}
	fputs(" }", out);
}

/*
 * The table body.  @with_pods false renders the fingerprint input: the
 * same text without pod elements and without the comment.
 */
static void put_table(FILE *out, const struct sl_nft_config *cfg,
		      const struct sl_nft_pod *pods, size_t n_pods,
		      bool with_pods, uint64_t fp)
{
	const char *t = cfg->table;
	uint32_t bm = cfg->bypass_mark, tm = cfg->tproxy_mark;

	fprintf(out, "table inet %s {\n", t);
	if (with_pods)
		fprintf(out, "\tcomment \"sluice fp=%016llx\"\n",
			(unsigned long long)fp);
	fputs("\tcounter outbound_redirect { }\n"
	      "\tcounter inbound_tproxy { }\n"
	      "\tcounter plain_permissive { }\n"
	      "\tcounter plain_strict_drop { }\n", out);
	fputs("\tset pods4 { type ipv4_addr", out);
	if (with_pods)
		put_pod_elements(out, pods, n_pods, AF_INET, false);
	fputs("; }\n\tset pods6 { type ipv6_addr", out);
	if (with_pods)
		put_pod_elements(out, pods, n_pods, AF_INET6, false);
	fputs("; }\n\tset permissive4 { type ipv4_addr", out);
	if (with_pods)
		put_pod_elements(out, pods, n_pods, AF_INET, true);
	fputs("; }\n\tset permissive6 { type ipv6_addr", out);
	if (with_pods)
		put_pod_elements(out, pods, n_pods, AF_INET6, true);
	fputs("; }\n\tset exclude_ports { type inet_service", out);
	put_port_elements(out, cfg);
	fputs("; }\n\tset exclude4 { type ipv4_addr; flags interval", out);
	put_cidr_elements(out, cfg, AF_INET);
	fputs("; }\n\tset exclude6 { type ipv6_addr; flags interval", out);
	put_cidr_elements(out, cfg, AF_INET6);
	fputs("; }\n", out);

	/* pod egress -> REDIRECT to the outbound port (SO_ORIGINAL_DST) */
	fprintf(out,
		"\tchain outbound {\n"
		"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
		"\t\tmeta mark 0x%x return\n"
		"\t\tmeta l4proto != tcp return\n"
		"\t\ttcp dport @exclude_ports return\n"
		"\t\tfib daddr type local return\n"
		"\t\tip daddr @exclude4 return\n"
		"\t\tip6 daddr @exclude6 return\n"
		"\t\tip saddr @pods4 meta l4proto tcp counter name outbound_redirect redirect to :%u\n"
		"\t\tip6 saddr @pods6 meta l4proto tcp counter name outbound_redirect redirect to :%u\n"
		"\t}\n",
		bm, cfg->outbound_port, cfg->outbound_port);
	/*
	 * Packets of sluiced's own transparent (non-wildcard) sockets, e.g.
	 * a pod's replies to a connection sluiced made with the client's
	 * address as source, go to the local stack; then mTLS and PERMISSIVE
	 * plaintext inbound -> TPROXY.
	 */
	fprintf(out,
		"\tchain inbound {\n"
		"\t\ttype filter hook prerouting priority mangle; policy accept;\n"
		"\t\tmeta mark 0x%x return\n"
		"\t\tmeta l4proto != tcp return\n"
		"\t\tmeta l4proto tcp socket transparent 1 socket wildcard 0 meta mark set 0x%x accept\n"
		"\t\tip daddr @pods4 tcp dport %u counter name inbound_tproxy meta mark set 0x%x tproxy ip to :%u accept\n"
		"\t\tip6 daddr @pods6 tcp dport %u counter name inbound_tproxy meta mark set 0x%x tproxy ip6 to :%u accept\n"
		"\t\tip saddr @pods4 return\n"
		"\t\tip6 saddr @pods6 return\n"
		"\t\ttcp dport @exclude_ports return\n"
		"\t\tip daddr @permissive4 meta l4proto tcp counter name plain_permissive meta mark set 0x%x tproxy ip to :%u accept\n"
		"\t\tip6 daddr @permissive6 meta l4proto tcp counter name plain_permissive meta mark set 0x%x tproxy ip6 to :%u accept\n"
		"\t}\n",
		bm, tm, cfg->inbound_port, tm, cfg->inbound_port,
		cfg->inbound_port, tm, cfg->inbound_port,
		tm, cfg->inbound_plain_port, tm, cfg->inbound_plain_port);
	/* STRICT: forwarded plaintext to a local pod is dropped */
	fprintf(out,
		"\tchain plaintext {\n"
		"\t\ttype filter hook forward priority filter; policy accept;\n"
		"\t\tmeta mark 0x%x return\n"
		"\t\tmeta l4proto != tcp return\n"
		"\t\tct direction reply return\n"
		"\t\ttcp dport @exclude_ports return\n"
		"\t\tip daddr @pods4 counter name plain_strict_drop drop\n"
		"\t\tip6 daddr @pods6 counter name plain_strict_drop drop\n"
		"\t}\n"
		"}\n",
		bm);
}

int sl_nft_config_fingerprint(const struct sl_nft_config *cfg, uint64_t *fp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	ret = sl_nft_config_validate(cfg);
	if (ret)
		return ret;
	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	put_table(f, cfg, NULL, 0, false, 0);
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	*fp = sl_fnv1a(SL_FNV1A_INIT, buf, len);
	free(buf);
	return 0;
}

int sl_nft_render(const struct sl_nft_config *cfg,
		  const struct sl_nft_pod *pods, size_t n_pods, FILE *out)
{
	uint64_t fp;
	int ret;

	if (!out)
		return -EINVAL;
	ret = sl_nft_config_fingerprint(cfg, &fp);
	if (ret)
		return ret;
	ret = validate_pods(pods, n_pods);
	if (ret)
		return ret;
	/*
	 * add + delete + add in one transaction: replaces a stale table
	 * (crash, old config) without a moment with no or two tables.
	 */
	fprintf(out, "add table inet %s\ndelete table inet %s\n", cfg->table,
		cfg->table);
	put_table(out, cfg, pods, n_pods, true, fp);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}

int sl_nft_render_pod(const char *table, const struct sl_nft_addr *addr,
		      enum sl_nft_pod_mode mode, bool add, FILE *out)
{
	char buf[INET6_ADDRSTRLEN + 4];
	const char *v;

	if (!sl_nft_table_name_valid(table) || !addr || !addr_is_host(addr) ||
	    (mode != SL_NFT_STRICT && mode != SL_NFT_PERMISSIVE))
		return -EINVAL;
	if (sl_nft_addr_format(addr, buf, sizeof(buf)))
		return -EINVAL;
	v = addr->family == AF_INET ? "4" : "6";
	fprintf(out, "add element inet %s pods%s { %s }\n", table, v, buf);
	if (!add)
		fprintf(out, "delete element inet %s pods%s { %s }\n", table, v,
			buf);
	fprintf(out, "add element inet %s permissive%s { %s }\n", table, v,
		buf);
	if (!add || mode != SL_NFT_PERMISSIVE)
		fprintf(out, "delete element inet %s permissive%s { %s }\n",
			table, v, buf);
	if (fflush(out) || ferror(out))
		return -EIO;
	return 0;
}

static bool is_dynamic_set(const char *line)
{
	static const char *const sets[] = { "pods4", "pods6", "permissive4",
					    "permissive6" };
	size_t i, len;

	while (*line == '\t' || *line == ' ')
		line++;
	if (strncmp(line, "set ", 4))
		return false;
	line += 4;
	for (i = 0; i < SL_ARRAY_SIZE(sets); i++) {
		len = strlen(sets[i]);
		if (!strncmp(line, sets[i], len) && line[len] == ' ')
			return true;
	}
	return false;
}

int sl_nft_normalize_listing(const char *listing, char **out)
{
	bool in_dyn = false, in_elems = false;
	const char *p = listing, *nl, *s;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return -ENOMEM;
	while (*p) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		for (s = p; s < nl && (*s == '\t' || *s == ' '); s++)
			;
		if (in_elems) {
			if (memchr(s, '}', (size_t)(nl - s)))
				in_elems = false;
		} else if (!strncmp(s, "set ", 4)) {
			in_dyn = is_dynamic_set(s);
			fwrite(p, 1, (size_t)(nl - p), f);
			fputc('\n', f);
		} else if (in_dyn && !strncmp(s, "elements = {", 12)) {
			in_elems = !memchr(s, '}', (size_t)(nl - s));
		} else if (!strncmp(s, "packets ", 8)) {
			/* counter values */
		} else {
			if (!strncmp(s, "}", 1))
				in_dyn = false;
			fwrite(p, 1, (size_t)(nl - p), f);
			fputc('\n', f);
		}
		p = *nl ? nl + 1 : nl;
	}
	if (fclose(f)) {
		free(buf);
		return -ENOMEM;
	}
	*out = buf;
	return 0;
}
