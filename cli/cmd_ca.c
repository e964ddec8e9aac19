// SPDX-License-Identifier: Apache-2.0
/*
 * sluice ca: create the built-in mesh CA and issue workload certificates
 * with it (for tests, demos and external-certificate setups).
 *
 *   sluice ca init DIR [--trust-domain TD] [--days N] [--force]
 *   sluice ca issue --ca DIR (--spiffe-id ID | --ns NS --sa SA)
 *                   [--trust-domain TD] [--hours H] --out PREFIX
 *
 * issue writes PREFIX.crt (leaf, then the CA certificate) and PREFIX.key
 * (mode 0600, written atomically).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "ca.h"
#include "commands.h"
#include "identity.h"
#include "util.h"

#define DEFAULT_TD "cluster.local"

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > max || s[0] == '-')
		return -EINVAL;
	*out = v;
	return 0;
}

static int ca_init(struct sl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "trust-domain", required_argument, NULL, 't' },
		{ "days", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		SL_CLI_LONGOPTS,
	};
	const char *td = DEFAULT_TD;
	unsigned long days = 3650;
	int force = 0, c, ret;

	while ((c = getopt_long(argc, argv, ":t:d:f" SL_CLI_SHORTOPTS, opts, NULL)) != -1) {
		switch (c) {
		case 't':
			td = optarg;
			break;
		case 'd':
			if (parse_uint(optarg, 36500, &days))
				return sl_cli_usage_error(cli,
					"bad --days '%s' (want 1 to 36500)", optarg);
			break;
		case 'f':
			force = 1;
			break;
		default:
			if (sl_cli_common_opt(cli, c, argv))
				return cli->exit;
		}
	}
	if (optind >= argc)
		return sl_cli_usage_error(cli, "init needs the directory DIR");
	if (optind + 1 < argc)
		return sl_cli_usage_error(cli, "unexpected argument '%s'",
					  argv[optind + 1]);
	ret = sl_ca_init_dir(argv[optind], td, (unsigned int)days, force);
	if (ret == -EEXIST) {
		fprintf(stderr, "%s: a CA already exists in %s (use --force)\n",
			cli->prog, argv[optind]);
		return SL_EXIT_FAIL;
	}
	if (ret) {
		fprintf(stderr, "%s: ca init %s: %s\n", cli->prog, argv[optind],
			ret == -EINVAL ? "invalid trust domain" : strerror(-ret));
		return SL_EXIT_FAIL;
	}
	printf("created CA for trust domain %s in %s\n", td, argv[optind]);
	return SL_EXIT_OK;
}

static int write_identity(const char *prefix, struct sl_identity *id)
{
	char crt[4096], key[4096];
	BIO *mem = NULL;
	char *data;
	long n;
	int ret = -ENOMEM;
	STACK_OF(X509) *chain = sl_identity_chain(id);

	if (snprintf(crt, sizeof(crt), "%s.crt", prefix) >= (int)sizeof(crt) ||
	    snprintf(key, sizeof(key), "%s.key", prefix) >= (int)sizeof(key))
		return -ENAMETOOLONG;
	mem = BIO_new(BIO_s_secmem());
	if (!mem)
		return -ENOMEM;
	if (PEM_write_bio_PrivateKey(mem, sl_identity_key(id), NULL, NULL, 0,
				     NULL, NULL) != 1)
		goto out;
	n = BIO_get_mem_data(mem, &data);
	ret = sl_write_file_atomic(key, data, (size_t)n, 0600);
	if (ret)
		goto out;
	BIO_free(mem);
	mem = BIO_new(BIO_s_mem());
	ret = -ENOMEM;
	if (!mem || PEM_write_bio_X509(mem, sl_identity_cert(id)) != 1)
		goto out;
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (PEM_write_bio_X509(mem, sk_X509_value(chain, i)) != 1)
			goto out;
	n = BIO_get_mem_data(mem, &data);
	ret = sl_write_file_atomic(crt, data, (size_t)n, 0644);
out:
	BIO_free(mem); /* the secure-heap BIO wipes the key on free */
	return ret;
}

static int ca_issue(struct sl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'c' },
		{ "spiffe-id", required_argument, NULL, 'i' },
		{ "ns", required_argument, NULL, 'n' },
		{ "sa", required_argument, NULL, 'a' },
		{ "trust-domain", required_argument, NULL, 't' },
		{ "hours", required_argument, NULL, 'H' },
		{ "out", required_argument, NULL, 'o' },
		SL_CLI_LONGOPTS,
	};
	const char *dir = NULL, *id = NULL, *ns = NULL, *sa = NULL, *td = NULL;
	const char *out = NULL;
	char idbuf[2100], when[64];
	struct sl_identity *ident = NULL;
	struct sl_ca *ca = NULL;
	unsigned long hours = 24;
	time_t na;
	int c, ret;

	/* -o is --out here (the common --output keeps its long form) */
	while ((c = getopt_long(argc, argv, ":c:i:n:a:t:H:o:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': dir = optarg; break;
		case 'i': id = optarg; break;
		case 'n': ns = optarg; break;
		case 'a': sa = optarg; break;
		case 't': td = optarg; break;
		case 'o': out = optarg; break;
		case 'H':
			if (parse_uint(optarg, 24UL * 3650, &hours))
				return sl_cli_usage_error(cli,
					"bad --hours '%s' (want 1 to 87600)", optarg);
			break;
		default:
			if (sl_cli_common_opt(cli, c, argv))
				return cli->exit;
		}
	}
	if (optind < argc)
		return sl_cli_usage_error(cli, "unexpected argument '%s'",
					  argv[optind]);
	if (!dir || !out)
		return sl_cli_usage_error(cli, "issue needs --ca DIR and --out PREFIX");
	if (!id == !(ns || sa) || (!id && (!ns || !sa)))
		return sl_cli_usage_error(cli, "issue needs either --spiffe-id ID or both --ns NS and --sa SA");
	ret = sl_ca_load_dir(dir, &ca);
	if (ret) {
		fprintf(stderr, "%s: cannot load the CA in %s: %s\n", cli->prog,
			dir, strerror(-ret));
		return SL_EXIT_FAIL;
	}
	if (!td)
		td = sl_ca_trust_domain(ca)[0] ? sl_ca_trust_domain(ca) : DEFAULT_TD;
	if (!id) {
		if (sl_spiffe_id_format(idbuf, sizeof(idbuf), td, ns, sa)) {
			fprintf(stderr, "%s: invalid trust domain, namespace or "
				"service account\n", cli->prog);
			ret = SL_EXIT_USAGE;
			goto out;
		}
		id = idbuf;
	}
	ret = sl_ca_issue(ca, id, (uint64_t)hours * 3600, &ident);
	if (ret) {
		fprintf(stderr, "%s: cannot issue %s: %s\n", cli->prog, id,
			ret == -EINVAL ? "not a SPIFFE ID of the form "
					 "spiffe://TD/ns/NS/sa/SA"
				       : strerror(-ret));
		ret = ret == -EINVAL ? SL_EXIT_USAGE : SL_EXIT_FAIL;
		goto out;
	}
	ret = write_identity(out, ident);
	if (ret) {
		fprintf(stderr, "%s: cannot write %s.crt/.key: %s\n", cli->prog,
			out, strerror(-ret));
		ret = SL_EXIT_FAIL;
		goto out;
	}
	na = sl_identity_not_after(ident);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&na));
	printf("issued %s serial %s valid until %s: %s.crt %s.key\n",
	       sl_identity_spiffe_id(ident), sl_identity_serial(ident), when,
	       out, out);
	ret = SL_EXIT_OK;
out:
	sl_identity_put(ident);
	sl_ca_free(ca);
	return ret;
}

int sl_cmd_ca(struct sl_cli *cli, int argc, char **argv)
{
	static const struct option opts[] = { SL_CLI_LONGOPTS };
	int c;

	/* options before init/issue: the common ones ('+': stop at init) */
	while ((c = getopt_long(argc, argv, "+:" SL_CLI_SHORTOPTS, opts, NULL)) != -1)
		if (sl_cli_common_opt(cli, c, argv))
			return cli->exit;
	if (optind >= argc)
		return sl_cli_usage_error(cli, "init or issue is missing");
	argc -= optind;
	argv += optind;
	optind = 0;
	if (strcmp(argv[0], "init") == 0)
		return ca_init(cli, argc, argv);
	if (strcmp(argv[0], "issue") == 0)
		return ca_issue(cli, argc, argv);
	return sl_cli_usage_error(cli, "unknown command '%s' (want init or issue)",
				  argv[0]);
}
