/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice status | routes [HOST] | workloads | certs | conns | stats | rules |
 * log-level [LEVEL] | reload [--allow-empty] | upgrade: ask the running
 * sluiced over its admin socket.
 *
 * One connection per command: send "COMMAND [ARG] [format=table|dump]\n",
 * read one JSON object (daemon/control/admin_cmds.h).  -o json prints the daemon's
 * object as it came; table and dump print the "text" member the daemon
 * rendered.  An {"error":...} answer prints "sluice: CMD: ERROR" (exit 1).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "commands.h"

#define ANSWER_MAX (64u << 20)
#define TIMEOUT_MS 10000

/* connect, send @req + "\n", read until EOF; @retval 0 or -errno */
static int admin_call(const char *path, const char *req, char **out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = TIMEOUT_MS / 1000 };
	size_t len = 0, cap = 0, rlen = strlen(req);
	char *buf = NULL;
	int fd, ret;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    send(fd, req, rlen, MSG_NOSIGNAL) != (ssize_t)rlen ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (cap - len < 4096) {
			char *nb;

			cap = cap ? 2 * cap : 65536;
			if (cap > ANSWER_MAX) {
				ret = -EFBIG;
				goto out;
			}
			nb = realloc(buf, cap);
			if (!nb) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = recv(fd, buf + len, cap - len - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (!len) {
		ret = -ECONNRESET;
		goto out;
	}
	buf[len] = '\0';
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	*out = buf;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * If @obj is exactly {"@key":"..."} (what the daemon sends for text answers
 * and errors), unescape the string in place into @out.  Handles the escapes
 * common/json.c writes (\" \\ \n \r \t \uXXXX for ASCII control bytes).
 * @retval true when it matched
 */
static bool single_string(char *obj, const char *key, char **out)
{
	size_t klen = strlen(key);
	char *p, *w;

	if (strncmp(obj, "{\"", 2) || strncmp(obj + 2, key, klen) ||
	    strncmp(obj + 2 + klen, "\":\"", 3))
		return false;
	p = w = obj + 2 + klen + 3;
	*out = w;
	while (*p && *p != '"') {
		if (*p != '\\') {
			*w++ = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case 'n': *w++ = '\n'; break;
		case 'r': *w++ = '\r'; break;
		case 't': *w++ = '\t'; break;
		case 'u': {
			int v = 0;

			for (int i = 1; i <= 4; i++) {
				int h = hexval(p[i]);

				if (h < 0)
					return false;
				v = v * 16 + h;
			}
			*w++ = v < 0x80 ? (char)v : '?';
			p += 4;
			break;
		}
		case '\0':
			return false;
		default:
			*w++ = *p; /* \" \\ \/ */
		}
		p++;
	}
	if (strcmp(p, "\"}") != 0)
		return false;
	*w = '\0';
	return true;
}

static int run(struct sl_cli *cli, const char *cmd, const char *arg)
{
	char req[512], *ans = NULL, *s;
	int ret;

	snprintf(req, sizeof(req), "%s%s%s%s", cmd, arg ? " " : "", arg ? arg : "",
		 cli->fmt == SL_OUT_TABLE ? " format=table" :
		 cli->fmt == SL_OUT_DUMP ? " format=dump" : "");
	ret = admin_call(cli->admin_socket, req, &ans);
	if (ret) {
		fprintf(stderr, "sluice: cannot reach sluiced at %s: %s\n",
			cli->admin_socket, strerror(-ret));
		return SL_EXIT_UNREACHABLE;
	}
	if (single_string(ans, "error", &s)) {
		fprintf(stderr, "sluice: %s: %s\n", cmd, s);
		free(ans);
		return SL_EXIT_FAIL;
	}
	if (cli->fmt == SL_OUT_JSON) {
		puts(ans);
	} else if (single_string(ans, "text", &s)) {
		fputs(s, stdout);
	} else {
		fprintf(stderr, "sluice: %s: unexpected answer from sluiced\n", cmd);
		free(ans);
		return SL_EXIT_FAIL;
	}
	free(ans);
	return fflush(stdout) ? SL_EXIT_FAIL : SL_EXIT_OK;
}

/* commands without arguments */
static int simple(struct sl_cli *cli, int argc, char **argv, const char *cmd)
{
	int ret = sl_cli_parse_args(cli, argc, argv, NULL, NULL, 0, NULL);

	return ret >= 0 ? ret : run(cli, cmd, NULL);
}

int sl_cmd_status(struct sl_cli *cli, int argc, char **argv)
{
	return simple(cli, argc, argv, "status");
}

int sl_cmd_workloads(struct sl_cli *cli, int argc, char **argv)
{
	return simple(cli, argc, argv, "workloads");
}

int sl_cmd_certs(struct sl_cli *cli, int argc, char **argv)
{
	return simple(cli, argc, argv, "certs");
}

int sl_cmd_conns(struct sl_cli *cli, int argc, char **argv)
{
	return simple(cli, argc, argv, "conns");
}

int sl_cmd_stats(struct sl_cli *cli, int argc, char **argv)
{
	return simple(cli, argc, argv, "stats");
}

int sl_cmd_rules(struct sl_cli *cli, int argc, char **argv)
{
	return simple(cli, argc, argv, "rules");
}

static bool valid_word(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == 0x7f)
			return false;
	return true;
}

int sl_cmd_log_level(struct sl_cli *cli, int argc, char **argv)
{
	char *level = NULL;
	int ret = sl_cli_parse_args(cli, argc, argv, NULL, NULL, 1, &level);

	if (ret >= 0)
		return ret;
	if (level && !valid_word(level))
		return sl_cli_usage_error(cli, "bad level '%s' (want err, warn, notice, info or debug)",
					  level);
	return run(cli, "log-level", level);
}

int sl_cmd_routes(struct sl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		SL_CLI_LONGOPTS,
	};
	const char *dir = NULL, *host = NULL;
	int c;

	while ((c = getopt_long(argc, argv, ":c:" SL_CLI_SHORTOPTS, opts, NULL)) != -1) {
		if (c == 'c')
			dir = optarg;
		else if (sl_cli_common_opt(cli, c, argv))
			return cli->exit;
	}
	if (optind < argc)
		host = argv[optind++];
	if (optind < argc)
		return sl_cli_usage_error(cli, "unexpected argument '%s'",
					  argv[optind]);
	/* --config DIR: the offline mode of cmd_config.c */
	if (dir)
		return sl_routes_offline(cli, dir, host);
	if (host && !valid_word(host))
		return sl_cli_usage_error(cli, "bad host '%s'", host);
	return run(cli, "routes", host);
}

int sl_cmd_reload(struct sl_cli *cli, int argc, char **argv)
{
	bool allow_empty = false;
	int ret = sl_cli_parse_args(cli, argc, argv, "allow-empty", &allow_empty, 0, NULL);

	if (ret >= 0)
		return ret;
	return run(cli, "reload", allow_empty ? "allow-empty" : NULL);
}

/* the integer after "@key": in a JSON object, or -1 */
static long json_int(const char *obj, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(obj, pat);
	return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* the string after "@key": in a JSON object (no escapes), into @buf */
static bool json_str(const char *obj, const char *key, char *buf, size_t len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	p = strstr(obj, pat);
	if (!p)
		return false;
	p += strlen(pat);
	e = strchr(p, '"');
	if (!e || (size_t)(e - p) >= len)
		return false;
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
	return true;
}

/*
 * upgrade: the running sluiced starts the binary now at its path and hands
 * over to it (daemon/control/upgrade.h); wait until a sluiced with another
 * PID answers ready on the admin socket, or the old one says it failed.
 */
int sl_cmd_upgrade(struct sl_cli *cli, int argc, char **argv)
{
	char *ans = NULL, *s, result[160];
	long old_pid, pid = -1;
	int ret = sl_cli_parse_args(cli, argc, argv, NULL, NULL, 0, NULL);

	if (ret >= 0)
		return ret;
	ret = admin_call(cli->admin_socket, "upgrade", &ans);
	if (ret) {
		fprintf(stderr, "sluice: cannot reach sluiced at %s: %s\n",
			cli->admin_socket, strerror(-ret));
		return SL_EXIT_UNREACHABLE;
	}
	if (single_string(ans, "error", &s)) {
		fprintf(stderr, "sluice: upgrade: %s\n", s);
		free(ans);
		return SL_EXIT_FAIL;
	}
	old_pid = json_int(ans, "pid");
	free(ans);
	/* the new process loads the configuration and issues certificates
	 * first: the old one waits up to 2 minutes for it */
	for (int i = 0; i < 1300; i++) {
		usleep(100000);
		ans = NULL;
		if (admin_call(cli->admin_socket, "status", &ans))
			continue; /* between the two admin sockets */
		pid = json_int(ans, "pid");
		if (pid == old_pid && json_str(ans, "upgrade", result, sizeof(result)) &&
		    !strncmp(result, "failed", 6)) {
			fprintf(stderr, "sluice: upgrade: %s (pid %ld keeps serving)\n",
				result, old_pid);
			free(ans);
			return SL_EXIT_FAIL;
		}
		if (pid > 0 && pid != old_pid && strstr(ans, "\"ready\":true")) {
			free(ans);
			if (cli->fmt == SL_OUT_JSON)
				printf("{\"outcome\":\"upgraded\",\"old_pid\":%ld,\"pid\":%ld}\n",
				       old_pid, pid);
			else
				printf("upgraded: pid %ld handed over to pid %ld\n",
				       old_pid, pid);
			return fflush(stdout) ? SL_EXIT_FAIL : SL_EXIT_OK;
		}
		free(ans);
	}
	fprintf(stderr, "sluice: upgrade: no new sluiced ready after 130 s (last pid %ld)\n",
		pid);
	return SL_EXIT_FAIL;
}
