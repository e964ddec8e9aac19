/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Local pod watcher: host routes via veths in the main table (see
 * podwatch.h).  Two rtnetlink sockets (libnl, SOCK_CLOEXEC):
 *  - "ev": subscribed to IPv4/IPv6 route and link groups, non-blocking;
 *    the caller polls its fd.  It is subscribed BEFORE the dump, so no
 *    change can fall between dump and events; duplicates are harmless
 *    because changes are computed against the known set.
 *  - "sync": blocking, for the route dump.
 *  - "query": blocking, for link kind lookups (they may happen while a dump
 *    is being read on "sync", so they need their own socket).
 *
 * NLM_F_DUMP_INTR (the table changed while the kernel was dumping) makes
 * the dump unreliable: it is repeated, a few times at most.  An event
 * socket overrun (ENOBUFS) loses events: a re-dump repairs the state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/rtnl.h>

#include "log.h"
#include "podwatch.h"

#define DUMP_TRIES 5

struct known_pod {
	struct sl_nft_addr addr;
	int ifindex;
	unsigned int gen;
};

struct sl_podwatch {
	struct nl_sock *ev;
	struct nl_sock *sync;
	struct nl_sock *query;
	struct nl_cb *evcb; /* reference to ev's callbacks */
	sl_podwatch_cb cb;
	void *arg;
	struct known_pod *pods;
	size_t n, cap;
	unsigned int gen;   /* current dump generation */
	bool dumping;	    /* messages come from a dump */
	bool dump_intr;	    /* NLM_F_DUMP_INTR seen in this dump */
	bool need_resync;   /* a link event or overrun asks for a dump */
};

static int nl_err(int e)
{
	switch (e < 0 ? -e : e) {
	case 0:
		return 0;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_PERM:
		return -EPERM;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_DUMP_INTR:
		return -EINTR;
	default:
		return -EIO;
	}
}

static bool same_addr(const struct sl_nft_addr *a, const struct sl_nft_addr *b)
{
	return a->family == b->family &&
	       !memcmp(&a->v6, &b->v6, a->family == AF_INET ? 4 : 16);
}

static struct known_pod *find(struct sl_podwatch *pw,
			      const struct sl_nft_addr *a)
{
	size_t i;

	for (i = 0; i < pw->n; i++)
		if (same_addr(&pw->pods[i].addr, a))
			return &pw->pods[i];
	return NULL;
}

static void forget(struct sl_podwatch *pw, struct known_pod *kp)
{
	struct known_pod gone = *kp;

	*kp = pw->pods[--pw->n];
	pw->cb(&gone.addr, gone.ifindex, false, pw->arg);
}

static void learn(struct sl_podwatch *pw, const struct sl_nft_addr *a,
		  int ifindex)
{
	struct known_pod *kp = find(pw, a), *np;

	if (kp && kp->ifindex == ifindex) {
		kp->gen = pw->gen;
		return;
	}
	if (kp) /* moved to another veth: report as gone, then new */
		forget(pw, kp);
	if (pw->n == pw->cap) {
		size_t cap = pw->cap ? pw->cap * 2 : 16;

		np = realloc(pw->pods, cap * sizeof(*np));
		if (!np) {
			sl_log_err("%s: out of memory, pod ignored", __func__);
			pw->need_resync = true;
			return;
		}
		pw->pods = np;
		pw->cap = cap;
	}
	kp = &pw->pods[pw->n++];
	kp->addr = *a;
	kp->ifindex = ifindex;
	kp->gen = pw->gen;
	pw->cb(a, ifindex, true, pw->arg);
}

static bool is_veth(struct sl_podwatch *pw, int ifindex)
{
	struct rtnl_link *link = NULL;
	const char *type;
	bool ret;

	if (rtnl_link_get_kernel(pw->query, ifindex, NULL, &link) < 0 || !link)
		return false;
	type = rtnl_link_get_type(link);
	ret = type && !strcmp(type, "veth");
	rtnl_link_put(link);
	return ret;
}

static void handle_route(struct sl_podwatch *pw, struct nlmsghdr *nlh)
{
	struct nlattr *tb[RTA_MAX + 1];
	struct sl_nft_addr a = { 0 };
	struct rtmsg *rtm;
	struct known_pod *kp;
	uint32_t table;
	int oif;

	if (nlmsg_parse(nlh, sizeof(*rtm), tb, RTA_MAX, NULL) < 0)
		return;
	rtm = nlmsg_data(nlh);
	table = tb[RTA_TABLE] ? nla_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	/*
	 * RTPROT_KERNEL routes come from addresses configured on the node
	 * (an IPv6 /128 on a veth gives one); CNI routes are boot/static/...
	 */
	if (table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST ||
	    rtm->rtm_protocol == RTPROT_KERNEL ||
	    !tb[RTA_DST] || !tb[RTA_OIF] || tb[RTA_GATEWAY] ||
	    tb[RTA_MULTIPATH])
		return;
	if (rtm->rtm_family == AF_INET && rtm->rtm_dst_len == 32 &&
	    nla_len(tb[RTA_DST]) == 4) {
		a.family = AF_INET;
		a.prefix_len = 32;
		memcpy(&a.v4, nla_data(tb[RTA_DST]), 4);
	} else if (rtm->rtm_family == AF_INET6 && rtm->rtm_dst_len == 128 &&
		   nla_len(tb[RTA_DST]) == 16) {
		a.family = AF_INET6;
		a.prefix_len = 128;
		memcpy(&a.v6, nla_data(tb[RTA_DST]), 16);
	} else {
		return;
	}
	oif = (int)nla_get_u32(tb[RTA_OIF]);
	if (nlh->nlmsg_type == RTM_DELROUTE) {
		kp = find(pw, &a);
		if (kp && kp->ifindex == oif)
			forget(pw, kp);
		return;
	}
	if (is_veth(pw, oif))
		learn(pw, &a, oif);
}

static void handle_link(struct sl_podwatch *pw, struct nlmsghdr *nlh)
{
	struct ifinfomsg *ifi = nlmsg_data(nlh);
	size_t i;

	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return;
	if (nlh->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP))
		return;
	for (i = 0; i < pw->n; i++)
		if (pw->pods[i].ifindex == ifi->ifi_index)
			pw->need_resync = true;
}

static int on_msg(struct nl_msg *msg, void *arg)
{
	struct sl_podwatch *pw = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);

	switch (nlh->nlmsg_type) {
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		handle_route(pw, nlh);
		break;
	case RTM_NEWLINK:
	case RTM_DELLINK:
		if (!pw->dumping)
			handle_link(pw, nlh);
		break;
	default:
		break;
	}
	return NL_OK;
}

static int on_dump_intr(struct nl_msg *msg, void *arg)
{
	struct sl_podwatch *pw = arg;

	pw->dump_intr = true;
	return NL_OK;
}

int sl_podwatch_resync(struct sl_podwatch *pw)
{
	int tries, ret = 0;
	size_t i;

	for (tries = 0; tries < DUMP_TRIES; tries++) {
		pw->gen++;
		pw->dump_intr = false;
		pw->dumping = true;
		ret = nl_err(nl_rtgen_request(pw->sync, RTM_GETROUTE, AF_UNSPEC,
					      NLM_F_DUMP));
		if (!ret)
			ret = nl_err(nl_recvmsgs_default(pw->sync));
		pw->dumping = false;
		if (ret && ret != -EINTR)
			return ret;
		if (!ret && !pw->dump_intr)
			break;
		sl_log_debug("%s: route dump interrupted, repeating", __func__);
	}
	if (tries == DUMP_TRIES) {
		sl_log_warn("%s: route dump interrupted %d times", __func__,
			    DUMP_TRIES);
		return -EAGAIN;
	}
	/* whatever the complete dump did not show is gone */
	for (i = pw->n; i-- > 0;)
		if (pw->pods[i].gen != pw->gen)
			forget(pw, &pw->pods[i]);
	pw->need_resync = false;
	return 0;
}

int sl_podwatch_process(struct sl_podwatch *pw)
{
	int ret;

	for (;;) {
		ret = nl_recvmsgs_report(pw->ev, pw->evcb);
		if (ret == 0 || ret == -NLE_AGAIN)
			break;
		if (ret == -NLE_NOMEM) {
			/* ENOBUFS: the kernel dropped events */
			sl_log_warn("%s: netlink overrun, re-reading routes",
				    __func__);
			pw->need_resync = true;
			continue;
		}
		if (ret < 0) {
			sl_log_err("%s: %s", __func__, nl_geterror(ret));
			return nl_err(ret);
		}
	}
	if (pw->need_resync)
		return sl_podwatch_resync(pw);
	return 0;
}

static int open_sock(struct sl_podwatch *pw, struct nl_sock **out)
{
	struct nl_sock *sk;
	int ret;

	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	ret = nl_err(nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, on_msg,
					 pw));
	if (!ret)
		ret = nl_err(nl_socket_modify_cb(sk, NL_CB_DUMP_INTR,
						 NL_CB_CUSTOM, on_dump_intr,
						 pw));
	if (!ret)
		ret = nl_err(nl_connect(sk, NETLINK_ROUTE)); /* SOCK_CLOEXEC */
	if (ret) {
		nl_socket_free(sk);
		return ret;
	}
	*out = sk;
	return 0;
}

int sl_podwatch_new(sl_podwatch_cb cb, void *arg, struct sl_podwatch **out)
{
	struct sl_podwatch *pw;
	int ret;

	if (!cb || !out)
		return -EINVAL;
	pw = calloc(1, sizeof(*pw));
	if (!pw)
		return -ENOMEM;
	pw->cb = cb;
	pw->arg = arg;
	ret = open_sock(pw, &pw->ev);
	if (ret)
		goto err;
	nl_socket_disable_seq_check(pw->ev);
	ret = nl_err(nl_socket_add_memberships(pw->ev, RTNLGRP_IPV4_ROUTE,
					       RTNLGRP_IPV6_ROUTE, RTNLGRP_LINK,
					       0));
	if (!ret)
		ret = nl_err(nl_socket_set_nonblocking(pw->ev));
	if (ret)
		goto err;
	pw->evcb = nl_socket_get_cb(pw->ev);
	ret = open_sock(pw, &pw->sync);
	if (!ret)
		ret = open_sock(pw, &pw->query);
	if (ret)
		goto err;
	ret = sl_podwatch_resync(pw);
	if (ret)
		goto err;
	*out = pw;
	return 0;
err:
	sl_log_err("%s: %s", __func__, strerror(-ret));
	sl_podwatch_free(pw);
	return ret;
}

void sl_podwatch_free(struct sl_podwatch *pw)
{
	if (!pw)
		return;
	nl_socket_free(pw->query);
	nl_socket_free(pw->sync);
	if (pw->evcb)
		nl_cb_put(pw->evcb);
	nl_socket_free(pw->ev);
	free(pw->pods);
	free(pw);
}

int sl_podwatch_fd(const struct sl_podwatch *pw)
{
	return nl_socket_get_fd(pw->ev);
}
