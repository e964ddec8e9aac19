/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Policy routing for TPROXY (rtnetlink via libnl-route):
 *
 *	ip rule add fwmark <tproxy_mark> lookup <table> pref <prio>
 *	ip route add local 0.0.0.0/0 dev lo table <table>
 *	(and the same for IPv6)
 *
 * Packets the inbound chain marked are routed to the local stack, where
 * the TPROXY-assigned transparent socket receives them.  Both operations
 * are idempotent: "exists" on install and "not found" on removal are
 * success.
 */
#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/fib_rules.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <netlink/route/rule.h>

#include "log.h"
#include "steer.h"

static int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NOADDR:
		return -ENOENT;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

static int build_rule(const struct sl_nft_config *cfg, int family,
		      struct rtnl_rule **out)
{
	struct rtnl_rule *rule = rtnl_rule_alloc();

	if (!rule)
		return -ENOMEM;
	rtnl_rule_set_family(rule, family);
	rtnl_rule_set_mark(rule, cfg->tproxy_mark);
	rtnl_rule_set_mask(rule, 0xffffffff);
	rtnl_rule_set_table(rule, cfg->route_table);
	rtnl_rule_set_prio(rule, cfg->rule_priority);
	rtnl_rule_set_action(rule, FR_ACT_TO_TBL);
	*out = rule;
	return 0;
}

static int build_route(const struct sl_nft_config *cfg, int family,
		       struct rtnl_route **out)
{
	struct rtnl_nexthop *nh = NULL;
	struct rtnl_route *route;
	struct nl_addr *dst = NULL;
	unsigned int lo;
	int ret;

	lo = if_nametoindex("lo");
	if (!lo)
		return -errno;
	route = rtnl_route_alloc();
	if (!route)
		return -ENOMEM;
	ret = nl_to_errno(nl_addr_parse(family == AF_INET ? "0.0.0.0/0" : "::/0",
					family, &dst));
	if (ret)
		goto err;
	rtnl_route_set_family(route, (uint8_t)family);
	rtnl_route_set_table(route, cfg->route_table);
	rtnl_route_set_type(route, RTN_LOCAL);
	rtnl_route_set_scope(route, RT_SCOPE_HOST);
	rtnl_route_set_protocol(route, RTPROT_BOOT);
	ret = nl_to_errno(rtnl_route_set_dst(route, dst));
	if (ret)
		goto err;
	nh = rtnl_route_nh_alloc();
	if (!nh) {
		ret = -ENOMEM;
		goto err;
	}
	rtnl_route_nh_set_ifindex(nh, (int)lo);
	rtnl_route_add_nexthop(route, nh); /* route owns nh now */
	nl_addr_put(dst);
	*out = route;
	return 0;
err:
	nl_addr_put(dst);
	rtnl_route_put(route);
	return ret;
}

static int install_family(struct nl_sock *sk, const struct sl_nft_config *cfg,
			  int family)
{
	struct rtnl_route *route = NULL;
	struct rtnl_rule *rule = NULL;
	int ret;

	ret = build_route(cfg, family, &route);
	if (ret)
		return ret;
	ret = nl_to_errno(rtnl_route_add(sk, route, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_route_put(route);
	if (ret && ret != -EEXIST) {
		sl_log_err("%s: local route (family %d, table %u): %s", __func__,
			   family, cfg->route_table, strerror(-ret));
		return ret;
	}
	ret = build_rule(cfg, family, &rule);
	if (ret)
		return ret;
	ret = nl_to_errno(rtnl_rule_add(sk, rule, NLM_F_CREATE | NLM_F_EXCL));
	rtnl_rule_put(rule);
	if (ret && ret != -EEXIST) {
		sl_log_err("%s: fwmark rule (family %d, mark 0x%x): %s", __func__,
			   family, cfg->tproxy_mark, strerror(-ret));
		return ret;
	}
	return 0;
}

static int remove_family(struct nl_sock *sk, const struct sl_nft_config *cfg,
			 int family)
{
	struct rtnl_route *route = NULL;
	struct rtnl_rule *rule = NULL;
	int ret, first = 0;

	ret = build_rule(cfg, family, &rule);
	if (ret)
		return ret;
	ret = nl_to_errno(rtnl_rule_delete(sk, rule, 0));
	rtnl_rule_put(rule);
	if (ret && ret != -ENOENT) {
		sl_log_err("%s: fwmark rule (family %d): %s", __func__, family,
			   strerror(-ret));
		first = ret;
	}
	ret = build_route(cfg, family, &route);
	if (ret)
		return first ? first : ret;
	ret = nl_to_errno(rtnl_route_delete(sk, route, 0));
	rtnl_route_put(route);
	if (ret && ret != -ENOENT && ret != -ESRCH) {
		sl_log_err("%s: local route (family %d): %s", __func__, family,
			   strerror(-ret));
		if (!first)
			first = ret;
	}
	return first;
}

static int open_sock(struct nl_sock **out)
{
	struct nl_sock *sk = nl_socket_alloc();
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = nl_to_errno(nl_connect(sk, NETLINK_ROUTE));
	if (ret) {
		nl_socket_free(sk);
		return ret;
	}
	*out = sk;
	return 0;
}

int sl_nft_policy_route_install(const struct sl_nft_config *cfg)
{
	struct nl_sock *sk = NULL;
	int ret;

	ret = sl_nft_config_validate(cfg);
	if (ret)
		return ret;
	ret = open_sock(&sk);
	if (ret)
		return ret;
	ret = install_family(sk, cfg, AF_INET);
	if (!ret)
		ret = install_family(sk, cfg, AF_INET6);
	if (ret) {
		remove_family(sk, cfg, AF_INET6);
		remove_family(sk, cfg, AF_INET);
	}
	nl_socket_free(sk);
	return ret;
}

int sl_nft_policy_route_remove(const struct sl_nft_config *cfg)
{
	struct nl_sock *sk = NULL;
	int ret, ret6;

	ret = sl_nft_config_validate(cfg);
	if (ret)
		return ret;
	ret = open_sock(&sk);
	if (ret)
		return ret;
	ret = remove_family(sk, cfg, AF_INET);
	ret6 = remove_family(sk, cfg, AF_INET6);
	nl_socket_free(sk);
	return ret ? ret : ret6;
}
