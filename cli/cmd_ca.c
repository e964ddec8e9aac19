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

static void ca_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s ca init DIR [--trust-domain TD] [--days N] [--force]\n"
		"       %s ca issue --ca DIR (--spiffe-id ID | --ns NS --sa SA)\n"
		"                 [--trust-domain TD] [--hours H] --out PREFIX\n",
		prog, prog);
}

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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *td = DEFAULT_TD;
	unsigned long days = 3650;
	int force = 0, c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "t:d:fh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			td = optarg;
			break;
		case 'd':
			if (parse_uint(optarg, 36500, &days)) {
				fprintf(stderr, "%s: bad --days %s\n", cli->prog, optarg);
				return SL_EXIT_USAGE;
			}
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			ca_usage(stdout, cli->prog);
			return SL_EXIT_OK;
		default:
			ca_usage(stderr, cli->prog);
			return SL_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		ca_usage(stderr, cli->prog);
		return SL_EXIT_USAGE;
	}
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = NULL, *id = NULL, *ns = NULL, *sa = NULL, *td = NULL;
	const char *out = NULL;
	char idbuf[2100], when[64];
	struct sl_identity *ident = NULL;
	struct sl_ca *ca = NULL;
	unsigned long hours = 24;
	time_t na;
	int c, ret;

	optind = 0;
	while ((c = getopt_long(argc, argv, "c:i:n:a:t:H:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': dir = optarg; break;
		case 'i': id = optarg; break;
		case 'n': ns = optarg; break;
		case 'a': sa = optarg; break;
		case 't': td = optarg; break;
		case 'o': out = optarg; break;
		case 'H':
			if (parse_uint(optarg, 24UL * 3650, &hours)) {
				fprintf(stderr, "%s: bad --hours %s\n", cli->prog, optarg);
				return SL_EXIT_USAGE;
			}
			break;
		case 'h':
			ca_usage(stdout, cli->prog);
			return SL_EXIT_OK;
		default:
			ca_usage(stderr, cli->prog);
			return SL_EXIT_USAGE;
		}
	}
	if (optind != argc || !dir || !out || (!id == !(ns || sa)) ||
	    (!id && (!ns || !sa))) {
		ca_usage(stderr, cli->prog);
		return SL_EXIT_USAGE;
	}
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
	if (argc < 2) {
		ca_usage(stderr, cli->prog);
		return SL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "init") == 0)
		return ca_init(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "issue") == 0)
		return ca_issue(cli, argc - 1, argv + 1);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		ca_usage(stdout, cli->prog);
		return SL_EXIT_OK;
	}
	ca_usage(stderr, cli->prog);
	return SL_EXIT_USAGE;
}
