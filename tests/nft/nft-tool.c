/* SPDX-License-Identifier: Apache-2.0 */
/*
 * nft-tool: drive the nft module from tests (not installed).
 *
 * usage: nft-tool [-t TABLE] [-x PORT]... [-X CIDR]... [-R] CMD [ARGS] [+ CMD [ARGS]]...
 *   -t TABLE   table name (default "sluice")
 *   -x PORT    extra excluded port       -X CIDR   excluded destination
 *   -R         do not touch policy routing on apply/remove
 * commands (run in order in one process, so "check" compares with the
 * preceding "apply"):
 *   dry-run POD...      print the batch (POD: ADDR or ADDR=permissive)
 *   apply POD...        apply the table (+ policy routing unless -R)
 *   pod-add ADDR [strict|permissive]     pod-del ADDR
 *   remove              delete the table (+ policy routing unless -R)
 *   check               exit 0 intact, 3 modified, 4 gone
 *   list                print the live table
 *   sh 'COMMAND'        run a shell command (must succeed)
 *   sleep SECONDS
 *   watch SECONDS [STOPFILE]  run the pod watcher: print "+ ADDR IFINDEX"
 *                       / "- ADDR IFINDEX" and update the table's pod sets;
 *                       ends after SECONDS or once STOPFILE exists
 * Exit status: 0, 1 for a failed command, 2 for bad usage, 3/4 from check.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "podwatch.h"
#include "steer.h"
#include "util.h"

#define MAX_ITEMS 64

struct tool {
	struct sl_nft_config cfg;
	struct sl_nft_ctx *ctx;
	bool routes;
};

static int parse_pods(char **args, int n, struct sl_nft_pod *pods)
{
	char buf[128], *eq;
	int i;

	for (i = 0; i < n; i++) {
		sl_strlcpy(buf, args[i], sizeof(buf));
		pods[i].mode = SL_NFT_STRICT;
		eq = strchr(buf, '=');
		if (eq) {
			*eq++ = '\0';
			if (!strcmp(eq, "permissive"))
				pods[i].mode = SL_NFT_PERMISSIVE;
			else if (strcmp(eq, "strict"))
				return -EINVAL;
		}
		if (sl_nft_addr_parse(buf, &pods[i].addr)) {
			fprintf(stderr, "nft-tool: bad address %s\n", args[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static void on_pod(const struct sl_nft_addr *addr, int ifindex, bool added,
		   void *arg)
{
	struct tool *t = arg;
	char buf[INET6_ADDRSTRLEN + 4];
	int ret;

	sl_nft_addr_format(addr, buf, sizeof(buf));
	printf("%c %s %d\n", added ? '+' : '-', buf, ifindex);
	fflush(stdout);
	if (added)
		ret = sl_nft_pod_add(t->ctx, addr, SL_NFT_STRICT);
	else
		ret = sl_nft_pod_del(t->ctx, addr);
	if (ret)
		fprintf(stderr, "nft-tool: pod %s: %s\n", buf, strerror(-ret));
}

static int watch(struct tool *t, int seconds, const char *stopfile)
{
	struct sl_podwatch *pw = NULL;
	uint64_t end = sl_now_ns() + (uint64_t)seconds * 1000000000ULL;
	struct pollfd pfd;
	int ret;

	ret = sl_podwatch_new(on_pod, t, &pw);
	if (ret)
		return ret;
	printf("watching\n");
	fflush(stdout);
	pfd.fd = sl_podwatch_fd(pw);
	pfd.events = POLLIN;
	while (sl_now_ns() < end && !(stopfile && !access(stopfile, F_OK))) {
		ret = poll(&pfd, 1, 100);
		if (ret < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		ret = 0;
		if (pfd.revents & POLLIN) {
			ret = sl_podwatch_process(pw);
			if (ret)
				break;
		}
	}
	sl_podwatch_free(pw);
	return ret;
}

/* run one command: args[0] is the verb; returns exit status */
static int run_cmd(struct tool *t, char **args, int n)
{
	struct sl_nft_pod pods[MAX_ITEMS];
	struct sl_nft_addr addr;
	const char *c = args[0];
	int ret;

	if (!strcmp(c, "dry-run") || !strcmp(c, "apply")) {
		if (n - 1 > MAX_ITEMS || parse_pods(args + 1, n - 1, pods))
			return 2;
		if (!strcmp(c, "dry-run"))
			return sl_nft_render(&t->cfg, pods, (size_t)n - 1,
					     stdout) ? 1 : 0;
		ret = sl_nft_apply(t->ctx, NULL, pods, (size_t)n - 1);
		if (!ret && t->routes)
			ret = sl_nft_policy_route_install(&t->cfg);
	} else if (!strcmp(c, "pod-add") && (n == 2 || n == 3)) {
		enum sl_nft_pod_mode mode = SL_NFT_STRICT;

		if (n == 3 && !strcmp(args[2], "permissive"))
			mode = SL_NFT_PERMISSIVE;
		else if (n == 3 && strcmp(args[2], "strict"))
			return 2;
		if (sl_nft_addr_parse(args[1], &addr))
			return 2;
		ret = sl_nft_pod_add(t->ctx, &addr, mode);
	} else if (!strcmp(c, "pod-del") && n == 2) {
		if (sl_nft_addr_parse(args[1], &addr))
			return 2;
		ret = sl_nft_pod_del(t->ctx, &addr);
	} else if (!strcmp(c, "remove") && n == 1) {
		ret = sl_nft_remove(t->ctx);
		if (!ret && t->routes)
			ret = sl_nft_policy_route_remove(&t->cfg);
	} else if (!strcmp(c, "check") && n == 1) {
		ret = sl_nft_check(t->ctx);
		printf("check: %s\n", ret ? strerror(-ret) : "intact");
		fflush(stdout);
		if (ret == -ESTALE)
			return 3;
		if (ret == -ENOENT)
			return 4;
	} else if (!strcmp(c, "list") && n == 1) {
		ret = sl_nft_list(t->ctx, stdout);
		fflush(stdout);
	} else if (!strcmp(c, "sh") && n == 2) {
		fflush(stdout);
		ret = system(args[1]) == 0 ? 0 : -ECHILD;
	} else if (!strcmp(c, "sleep") && n == 2) {
		sleep((unsigned int)atoi(args[1]));
		ret = 0;
	} else if (!strcmp(c, "watch") && (n == 2 || n == 3)) {
		ret = watch(t, atoi(args[1]), n == 3 ? args[2] : NULL);
	} else {
		fprintf(stderr, "nft-tool: bad command %s (%d args)\n", c, n);
		return 2;
	}
	if (ret) {
		fprintf(stderr, "nft-tool: %s: %s\n", c, strerror(-ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint16_t ports[MAX_ITEMS];
	struct sl_nft_addr cidrs[MAX_ITEMS];
	struct tool t = { .routes = true };
	int opt, i, start, ret = 0;

	sl_log_init("nft-tool", SL_LOG_INFO);
	sl_nft_config_init(&t.cfg);
	while ((opt = getopt(argc, argv, "+t:x:X:R")) != -1) {
		switch (opt) {
		case 't':
			t.cfg.table = optarg;
			break;
		case 'x':
			if (t.cfg.n_exclude_ports == MAX_ITEMS)
				return 2;
			ports[t.cfg.n_exclude_ports++] = (uint16_t)atoi(optarg);
			break;
		case 'X':
			if (t.cfg.n_exclude_cidrs == MAX_ITEMS ||
			    sl_nft_addr_parse(optarg,
					      &cidrs[t.cfg.n_exclude_cidrs++]))
				return 2;
			break;
		case 'R':
			t.routes = false;
			break;
		default:
			return 2;
		}
	}
	t.cfg.exclude_ports = ports;
	t.cfg.exclude_cidrs = cidrs;
	if (optind >= argc)
		return 2;
	/* dry-run needs no kernel access */
	if (strcmp(argv[optind], "dry-run")) {
		ret = sl_nft_ctx_new(&t.cfg, &t.ctx);
		if (ret) {
			fprintf(stderr, "nft-tool: %s\n", strerror(-ret));
			return 1;
		}
	}
	for (start = i = optind; i <= argc && !ret; i++) {
		if (i < argc && strcmp(argv[i], "+"))
			continue;
		if (i > start)
			ret = run_cmd(&t, argv + start, i - start);
		start = i + 1;
	}
	sl_nft_ctx_free(t.ctx);
	return ret;
}
