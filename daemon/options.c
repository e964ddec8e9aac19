/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluiced's command line (options.h): every option, its default and its
 * checks, with no side effect, so that tests can run it on any argv.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accesslog.h"
#include "gcm.h"
#include "offload.h"
#include "options.h"
#include "policy_query.h"
#include "pool.h"
#include "relay.h"
#include "sl_build_config.h"
#include "util.h"

void sl_options_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s --config DIR [options]\n"
		"  -c, --config DIR            configuration directory (required)\n"
		"  -n, --node NAME             this node's name (default: node config, hostname)\n"
		"  -w, --workers N             worker threads (default: number of CPUs)\n"
		"  -a, --admin-socket PATH     admin socket (default " SL_RUNDIR "/admin.sock)\n"
		"  -k, --ktls auto|on|off      kernel TLS (default: node config, auto)\n"
		"  -l, --log-level LEVEL       err, warn, notice, info, debug (default info)\n"
		"  -s, --stderr                log to stderr (always on; for tlshd compatibility)\n"
		"      --check                 load and validate the configuration, then exit\n"
		"      --handshake-timeout DUR TLS handshake + preamble deadline (default 10s)\n"
		"      --connect-timeout DUR   connect deadline (default 5s)\n"
		"      --idle-timeout DUR      close flows idle for DUR (default 1h, 0: never)\n"
		"      --half-close-timeout DUR reset a flow one side has closed when nothing\n"
		"                              moves either way for DUR (default 60s, 0: never)\n"
		"      --grace DUR             shutdown grace period (default 10s)\n"
		"      --upgrade-drain DUR     after an upgrade (SIGUSR2, sluice upgrade) handed\n"
		"                              over: how long the old process lets its flows\n"
		"                              run (default 5min)\n"
		"      --cert-lifetime DUR     built-in CA leaf lifetime (default 24h, min 10s)\n"
		"      --max-connections N     default of both caps below (else each gets half\n"
		"                              of what RLIMIT_NOFILE leaves)\n"
		"      --max-outbound N        flows of local pods and their pooled connections\n"
		"      --max-inbound N         authenticated and plaintext inbound flows\n"
		"      --max-pending N         inbound mTLS connections not yet authenticated\n"
		"                              (default: RLIMIT_NOFILE/8, at most 1024)\n"
		"      --max-pending-per-source N  of those, per IPv4 address or IPv6 /64\n"
		"                              (default: max-pending/4, at least 8)\n"
		"      --hello-timeout DUR     reset an inbound peer whose first TLS record is\n"
		"                              not in within DUR (default 1s)\n"
		"      --fd-reserve N          fds kept for admin, metrics, reloads (default 128)\n"
		"      --http-head-timeout DUR an HTTP request head must be whole within DUR of\n"
		"                              its first byte, else 408 (default 10s)\n"
		"      --inbound-plain-port PORT plaintext inbound port for PERMISSIVE/DISABLE\n"
		"                              pods (default: node config, 15006)\n"
		"      --pool-size N           ready mTLS connections kept per source identity\n"
		"                              and endpoint (default 2, 0 off)\n"
		"      --pool-max N            a busy key keeps up to N (default 8; its target\n"
		"                              follows its rate of new flows)\n"
		"      --pool-idle-timeout DUR close a pooled connection unused for DUR (default 10s)\n"
		"      --pool-refill-delay DUR refill the pool DUR after a use (default 5ms)\n"
		"      --preamble-timeout DUR  inbound: preamble wait after the mTLS handshake\n"
		"                              (default 15s; covers peers' pooled connections)\n"
		"      --busy-poll DUR         after activity, poll DUR for more before sleeping:\n"
		"                              lower latency for more CPU (default 0, off; max 1ms)\n"
		"      --bulk-buffer SIZE      userspace TLS: relay buffer of a busy flow direction\n"
		"                              (default 1M; 64K..16M, under 128K: none)\n"
		"      --handshake-threads N   threads that run TLS handshake crypto off the\n"
		"                              workers (default: one per worker; 0: on the workers)\n"
		"      --handshake-nice N      their nice value, -20..19 (default 10: a worker\n"
		"                              busy with flows goes first)\n"
		"      --tls-resumption on|off pool refills resume TLS 1.3 sessions, and this\n"
		"                              node resumes its peers' (default on)\n"
		"      --aes-gcm auto|openssl  userspace TLS: AES-GCM on sluice's VAES code where\n"
		"                              the CPU has it (default auto), or always OpenSSL's\n"
		"      --steer                 apply the steering table (nftables) ourselves\n"
		"      --keep-table-on-stop    with --steer: leave the table at stop (fail closed)\n"
		"      --dry-run               print the steering batch --steer would apply, then exit\n"
		"      --remove-steering       remove the steering table and its policy route\n"
		"                              (left by --keep-table-on-stop), then exit\n"
		"      --state-dir DIR         keep the last good configuration in DIR and\n"
		"                              start from it when --config is invalid\n"
		"      --kubernetes            read pods, services, namespaces and Istio resources\n"
		"                              from the Kubernetes API (in-cluster service account)\n"
		"      --kubeconfig FILE       the same, reaching the API as this kubeconfig says\n"
		"      --kube-context NAME     with --kubeconfig: this context (default: current)\n"
		"      --kube-sync-wait DUR    at start, wait this long for the API's first full\n"
		"                              sync before serving the saved view (default 15s)\n"
		"      --telemetry-port PORT   /metrics, /healthz, /ready on the node config's\n"
		"                              metricsAddress (default: its ports.metrics, 15020; 0 off)\n"
		"      --access-log-rate N     access log lines/s on stdout (default 100, 0 off)\n"
		"  -V, --version               print the version\n"
		"  -h, --help                  this help\n",
		prog);
}

enum {
	OPT_CHECK = 256,
	OPT_HS_TIMEOUT,
	OPT_CONNECT_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_GRACE,
	OPT_UPGRADE_DRAIN,
	OPT_MAX_CONNS,
	OPT_STEER,
	OPT_KEEP_TABLE,
	OPT_DRY_RUN,
	OPT_REMOVE_STEERING,
	OPT_STATE_DIR,
	OPT_TELEMETRY_PORT,
	OPT_ACCESS_LOG_RATE,
	OPT_CERT_LIFETIME,
	OPT_PLAIN_PORT,
	OPT_POOL_SIZE,
	OPT_POOL_MAX,
	OPT_POOL_IDLE,
	OPT_POOL_REFILL_DELAY,
	OPT_PREAMBLE_TIMEOUT,
	OPT_BUSY_POLL,
	OPT_HS_THREADS,
	OPT_HS_NICE,
	OPT_RESUMPTION,
	OPT_BULK_BUFFER,
	OPT_AES_GCM,
	OPT_HALF_CLOSE_TIMEOUT,
	OPT_MAX_OUTBOUND,
	OPT_MAX_INBOUND,
	OPT_MAX_PENDING,
	OPT_MAX_PENDING_SRC,
	OPT_HELLO_TIMEOUT,
	OPT_HTTP_HEAD_TIMEOUT,
	OPT_FD_RESERVE,
	OPT_KUBERNETES,
	OPT_KUBECONFIG,
	OPT_KUBE_CONTEXT,
	OPT_KUBE_SYNC_WAIT,
};

static const struct option long_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "node", required_argument, NULL, 'n' },
	{ "workers", required_argument, NULL, 'w' },
	{ "handshake-threads", required_argument, NULL, OPT_HS_THREADS },
	{ "handshake-nice", required_argument, NULL, OPT_HS_NICE },
	{ "tls-resumption", required_argument, NULL, OPT_RESUMPTION },
	{ "aes-gcm", required_argument, NULL, OPT_AES_GCM },
	{ "admin-socket", required_argument, NULL, 'a' },
	{ "ktls", required_argument, NULL, 'k' },
	{ "log-level", required_argument, NULL, 'l' },
	{ "stderr", no_argument, NULL, 's' },
	{ "check", no_argument, NULL, OPT_CHECK },
	{ "handshake-timeout", required_argument, NULL, OPT_HS_TIMEOUT },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "half-close-timeout", required_argument, NULL, OPT_HALF_CLOSE_TIMEOUT },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "upgrade-drain", required_argument, NULL, OPT_UPGRADE_DRAIN },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-outbound", required_argument, NULL, OPT_MAX_OUTBOUND },
	{ "max-inbound", required_argument, NULL, OPT_MAX_INBOUND },
	{ "max-pending", required_argument, NULL, OPT_MAX_PENDING },
	{ "max-pending-per-source", required_argument, NULL, OPT_MAX_PENDING_SRC },
	{ "hello-timeout", required_argument, NULL, OPT_HELLO_TIMEOUT },
	{ "http-head-timeout", required_argument, NULL, OPT_HTTP_HEAD_TIMEOUT },
	{ "fd-reserve", required_argument, NULL, OPT_FD_RESERVE },
	{ "steer", no_argument, NULL, OPT_STEER },
	{ "keep-table-on-stop", no_argument, NULL, OPT_KEEP_TABLE },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "remove-steering", no_argument, NULL, OPT_REMOVE_STEERING },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "kubernetes", no_argument, NULL, OPT_KUBERNETES },
	{ "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
	{ "kube-context", required_argument, NULL, OPT_KUBE_CONTEXT },
	{ "kube-sync-wait", required_argument, NULL, OPT_KUBE_SYNC_WAIT },
	{ "telemetry-port", required_argument, NULL, OPT_TELEMETRY_PORT },
	{ "access-log-rate", required_argument, NULL, OPT_ACCESS_LOG_RATE },
	{ "cert-lifetime", required_argument, NULL, OPT_CERT_LIFETIME },
	{ "inbound-plain-port", required_argument, NULL, OPT_PLAIN_PORT },
	{ "pool-size", required_argument, NULL, OPT_POOL_SIZE },
	{ "pool-max", required_argument, NULL, OPT_POOL_MAX },
	{ "pool-idle-timeout", required_argument, NULL, OPT_POOL_IDLE },
	{ "pool-refill-delay", required_argument, NULL, OPT_POOL_REFILL_DELAY },
	{ "preamble-timeout", required_argument, NULL, OPT_PREAMBLE_TIMEOUT },
	{ "busy-poll", required_argument, NULL, OPT_BUSY_POLL },
	{ "bulk-buffer", required_argument, NULL, OPT_BULK_BUFFER },
	{ "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* the long name of option @c, for errors */
static const char *opt_name(int c)
{
	for (const struct option *o = long_opts; o->name; o++)
		if (o->val == c)
			return o->name;
	return "?";
}

static int parse_uint(const char *s, unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > max)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

int sl_options_parse(int argc, char **argv, struct sl_options *x, FILE *out,
		     FILE *err)
{
	bool pool_max_set = false;
	int c;

	*x = (struct sl_options){
		.level = SL_LOG_INFO,
		.telemetry_port = UINT_MAX,
		.log_rate = SL_ACCESSLOG_DEFAULT_RATE,
		.aes_gcm = -1,
		.o = {
			.admin_socket = SL_RUNDIR "/admin.sock",
			.ktls = -1,
			.handshake_timeout_ns = 10000000000ULL,
			.connect_timeout_ns = 5000000000ULL,
			.idle_timeout_ns = SL_POLICY_IDLE_TIMEOUT_NS,
			.grace_ns = 10000000000ULL,
			.upgrade_drain_ns = 300000000000ULL,
			.pool_size = SL_POOL_DEFAULT_SIZE,
			.pool_max = SL_POOL_DEFAULT_MAX,
			.pool_idle_ns = SL_POOL_DEFAULT_IDLE_NS,
			.pool_refill_delay_ns = SL_POOL_DEFAULT_REFILL_DELAY_NS,
			.preamble_timeout_ns = 15000000000ULL,
			.hs_threads = -1,
			.hs_nice = SL_OFFLOAD_DEFAULT_NICE,
			.bulk_buf_size = SL_RELAY_DEFAULT_BULK_SIZE,
			.hello_timeout_ns = 1000000000ULL,
			.http_head_timeout_ns = 10000000000ULL,
			.kube_sync_wait_ns = 15000000000ULL,
		},
	};
	optind = 0; /* a fresh getopt scan (glibc), also for repeated calls */
	opterr = 0; /* our own messages, to @err */
	while ((c = getopt_long(argc, argv, ":c:n:w:a:k:l:sVh", long_opts, NULL)) != -1) {
		uint64_t ns;

		switch (c) {
		case 'c':
			x->o.config_dir = optarg;
			break;
		case 'n':
			x->o.node = optarg;
			break;
		case 'w':
			if (parse_uint(optarg, 1024, &x->o.workers) || !x->o.workers)
				goto bad_arg;
			break;
		case 'a':
			x->o.admin_socket = optarg;
			break;
		case 'k':
			if (!strcmp(optarg, "auto"))
				x->o.ktls = SL_KTLS_AUTO;
			else if (!strcmp(optarg, "on"))
				x->o.ktls = SL_KTLS_ON;
			else if (!strcmp(optarg, "off"))
				x->o.ktls = SL_KTLS_OFF;
			else
				goto bad_arg;
			break;
		case 'l':
			if (sl_log_level_parse(optarg, &x->level))
				goto bad_arg;
			break;
		case 's':
			break;
		case OPT_CHECK:
			x->check = true;
			break;
		case OPT_STEER:
			x->o.steer = true;
			break;
		case OPT_KEEP_TABLE:
			x->o.keep_table = true;
			break;
		case OPT_REMOVE_STEERING:
			x->remove_steering = true;
			break;
		case OPT_DRY_RUN:
			x->dry_run = true;
			break;
		case OPT_STATE_DIR:
			x->o.state_dir = optarg;
			break;
		case OPT_KUBERNETES:
			x->o.kubernetes = true;
			break;
		case OPT_KUBECONFIG:
			x->o.kubeconfig = optarg;
			break;
		case OPT_KUBE_CONTEXT:
			x->o.kube_context = optarg;
			break;
		case OPT_TELEMETRY_PORT:
			if (parse_uint(optarg, 65535, &x->telemetry_port))
				goto bad_arg;
			break;
		case OPT_ACCESS_LOG_RATE:
			if (parse_uint(optarg, 1000000, &x->log_rate))
				goto bad_arg;
			break;
		case OPT_HS_TIMEOUT:
		case OPT_CONNECT_TIMEOUT:
		case OPT_IDLE_TIMEOUT:
		case OPT_GRACE:
		case OPT_UPGRADE_DRAIN:
			/* "0" (no unit): --idle-timeout 0 turns it off */
			if (strcmp(optarg, "0") == 0)
				ns = 0;
			else if (sl_parse_duration(optarg, &ns))
				goto bad_arg;
			if (c == OPT_HS_TIMEOUT)
				x->o.handshake_timeout_ns = ns;
			else if (c == OPT_CONNECT_TIMEOUT)
				x->o.connect_timeout_ns = ns;
			else if (c == OPT_IDLE_TIMEOUT)
				x->o.idle_timeout_ns = ns;
			else if (c == OPT_UPGRADE_DRAIN)
				x->o.upgrade_drain_ns = ns;
			else
				x->o.grace_ns = ns;
			break;
		case OPT_HALF_CLOSE_TIMEOUT:
			/* "0" (no unit) turns it off; read by each relay */
			if (strcmp(optarg, "0") == 0)
				ns = 0;
			else if (sl_parse_duration(optarg, &ns))
				goto bad_arg;
			x->half_close_ns = ns;
			x->half_close_set = true;
			break;
		case OPT_POOL_SIZE:
			if (parse_uint(optarg, SL_POOL_MAX_SIZE, &x->o.pool_size))
				goto bad_arg;
			break;
		case OPT_POOL_MAX:
			if (parse_uint(optarg, SL_POOL_MAX_SIZE, &x->o.pool_max))
				goto bad_arg;
			pool_max_set = true;
			break;
		case OPT_POOL_REFILL_DELAY:
			if (sl_parse_duration(optarg, &ns))
				goto bad_arg;
			x->o.pool_refill_delay_ns = ns;
			break;
		case OPT_POOL_IDLE:
		case OPT_PREAMBLE_TIMEOUT:
			if (sl_parse_duration(optarg, &ns) || !ns)
				goto bad_arg;
			if (c == OPT_POOL_IDLE)
				x->o.pool_idle_ns = ns;
			else
				x->o.preamble_timeout_ns = ns;
			break;
		case OPT_HS_THREADS: {
			unsigned int n;

			if (parse_uint(optarg, SL_OFFLOAD_MAX_THREADS, &n))
				goto bad_arg;
			x->o.hs_threads = (int)n;
			break;
		}
		case OPT_HS_NICE: {
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < -20 || v > 19)
				goto bad_arg;
			x->o.hs_nice = (int)v;
			break;
		}
		case OPT_RESUMPTION:
			if (!strcmp(optarg, "on"))
				x->o.no_resumption = false;
			else if (!strcmp(optarg, "off"))
				x->o.no_resumption = true;
			else
				goto bad_arg;
			break;
		case OPT_AES_GCM:
			if (!strcmp(optarg, "auto"))
				x->aes_gcm = SL_GCM_AUTO;
			else if (!strcmp(optarg, "openssl"))
				x->aes_gcm = SL_GCM_OPENSSL;
			else
				goto bad_arg;
			break;
		case OPT_BUSY_POLL:
			/* a longer window is spinning, not polling */
			if (sl_parse_duration(optarg, &ns) || ns > 1000000ULL)
				goto bad_arg;
			x->o.busy_poll_ns = ns;
			break;
		case OPT_BULK_BUFFER: {
			uint64_t sz;

			if (sl_parse_size(optarg, &sz) ||
			    sz < SL_RELAY_DEFAULT_BUF_SIZE ||
			    sz > SL_RELAY_MAX_BULK_SIZE)
				goto bad_arg;
			x->o.bulk_buf_size = (uint32_t)sz;
			break;
		}
		case OPT_CERT_LIFETIME:
			if (sl_parse_duration(optarg, &ns) || ns < 10000000000ULL)
				goto bad_arg;
			x->o.cert_lifetime_s = ns / 1000000000ULL;
			break;
		case OPT_PLAIN_PORT: {
			unsigned int port;

			if (parse_uint(optarg, 65535, &port) || !port)
				goto bad_arg;
			x->o.inbound_plain_port = (uint16_t)port;
			break;
		}
		case OPT_MAX_CONNS:
			if (parse_uint(optarg, UINT_MAX, &x->o.max_conns) || !x->o.max_conns)
				goto bad_arg;
			break;
		case OPT_MAX_OUTBOUND:
		case OPT_MAX_INBOUND:
		case OPT_MAX_PENDING:
		case OPT_MAX_PENDING_SRC:
		case OPT_FD_RESERVE: {
			unsigned int v;

			if (parse_uint(optarg, INT_MAX, &v) || !v)
				goto bad_arg;
			if (c == OPT_MAX_OUTBOUND)
				x->o.max_outbound = v;
			else if (c == OPT_MAX_INBOUND)
				x->o.max_inbound = v;
			else if (c == OPT_MAX_PENDING)
				x->o.max_pending = v;
			else if (c == OPT_MAX_PENDING_SRC)
				x->o.max_pending_src = v;
			else
				x->o.fd_reserve = v;
			break;
		}
		case OPT_HELLO_TIMEOUT:
			if (sl_parse_duration(optarg, &ns) || !ns)
				goto bad_arg;
			x->o.hello_timeout_ns = ns;
			break;
		case OPT_HTTP_HEAD_TIMEOUT:
			if (sl_parse_duration(optarg, &ns) || !ns)
				goto bad_arg;
			x->o.http_head_timeout_ns = ns;
			break;
		case OPT_KUBE_SYNC_WAIT:
			if (strcmp(optarg, "0") == 0)
				ns = 0;
			else if (sl_parse_duration(optarg, &ns))
				goto bad_arg;
			x->o.kube_sync_wait_ns = ns;
			break;
		case 'V':
			fprintf(out, "sluiced %s\n", SL_VERSION);
			return 1;
		case 'h':
			sl_options_usage(out, argv[0]);
			return 1;
		case ':':
			fprintf(err, "%s: --%s needs a value (see --help)\n",
				argv[0], opt_name(optopt));
			return -EINVAL;
		case '?':
			if (optopt)
				fprintf(err, "%s: unknown option -%c (see --help)\n",
					argv[0], optopt);
			else
				fprintf(err, "%s: unknown option '%s' (see --help)\n",
					argv[0], argv[optind - 1]);
			return -EINVAL;
		default:
			sl_options_usage(err, argv[0]);
			return -EINVAL;
		}
		continue;
bad_arg:
		fprintf(err, "%s: bad value for --%s: '%s' (see --help)\n",
			argv[0], opt_name(c), optarg);
		return -EINVAL;
	}
	if (x->o.pool_max < x->o.pool_size) {
		if (pool_max_set) {
			fprintf(err, "%s: --pool-max %u is below --pool-size %u\n",
				argv[0], x->o.pool_max, x->o.pool_size);
			return -EINVAL;
		}
		x->o.pool_max = x->o.pool_size;
	}
	if (optind < argc) {
		fprintf(err, "%s: unexpected argument '%s' (see --help)\n",
			argv[0], argv[optind]);
		return -EINVAL;
	}
	if (x->o.kubernetes && x->o.kubeconfig) {
		fprintf(err, "%s: --kubernetes and --kubeconfig exclude each other (see --help)\n",
			argv[0]);
		return -EINVAL;
	}
	if (x->o.kube_context && !x->o.kubeconfig) {
		fprintf(err, "%s: --kube-context needs --kubeconfig\n", argv[0]);
		return -EINVAL;
	}
	if (!x->o.config_dir && !x->remove_steering) {
		fprintf(err, "%s: --config DIR is required (see --help)\n",
			argv[0]);
		return -EINVAL;
	}
	return 0;
}
