/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the handshake tests (not part of any module). */
#ifndef SL_HS_TEST_H
#define SL_HS_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "ca.h"
#include "identity.h"
#include "tls.h"

#define T_TD "cluster.local"
#define T_ID_CLIENT "spiffe://" T_TD "/ns/shop/sa/frontend"
#define T_ID_SERVER "spiffe://" T_TD "/ns/shop/sa/cart"

/* a CA in a temporary directory, its trust bundle, a TLS context, and a
 * client (T_ID_CLIENT) and a server (T_ID_SERVER) identity */
struct t_fx {
	char *dir;
	struct sl_ca *ca;
	struct sl_trust *trust;
	struct sl_tls_ctx *ctx;
	struct sl_identity *client_id, *server_id;
};

/** t_fx_setup / t_fx_teardown - cmocka group setup and teardown of a
 * struct t_fx in *@state */
int t_fx_setup(void **state);
int t_fx_teardown(void **state);

/** make a fresh temporary directory; caller frees the string */
char *t_tmpdir(void);
/** rm -rf @dir (only under /tmp) and free it */
void t_rmdir(char *dir);

/** a new CA in a new temp dir; @dir_out gets the dir (t_rmdir it) */
struct sl_ca *t_new_ca(const char *td, char **dir_out);

/** the CA's key, read back from @dir/ca.key */
EVP_PKEY *t_ca_key(const char *dir);

/** Options for a hand-made leaf (things sl_ca_issue never does). */
struct t_cert_opts {
	const char *uri[3]; /* URI SANs, NULL-terminated */
	const char *dns;    /* an extra DNS SAN, or NULL */
	bool ca;	    /* basicConstraints CA:TRUE, keyUsage keyCertSign */
	const char *bc;	    /* basicConstraints instead ("": none) */
	bool no_eku;
	bool server_only;   /* EKU serverAuth only */
	time_t not_before, not_after; /* 0: now-60, now+3600 */
};

/** build and sign a leaf with @ca_cert/@ca_key; @key_out gets the new key */
X509 *t_make_cert(X509 *ca_cert, EVP_PKEY *ca_key,
		  const struct t_cert_opts *o, EVP_PKEY **key_out);

/** a raw OpenSSL peer (for certificates sl_identity refuses to hold);
 * with @alpn a client offers sluice/1 and a server selects it */
SSL *t_raw_ssl(bool server, X509 *cert, EVP_PKEY *key, X509 *chain_ca,
	       bool alpn);

/** One side of an in-memory connection. */
struct t_end {
	struct sl_tls_conn *c; /* either c ... */
	SSL *raw;	       /* ... or a raw OpenSSL peer */
	int rc;		       /* last handshake result (-EAGAIN ...) */
	bool done;
	bool failed;
};

/** bytes in flight in one direction (the "socket") */
struct t_pipe {
	uint8_t buf[1 << 16];
	size_t len;
};

/**
 * t_pump - run the handshake between @a and @b, moving bytes record-exactly
 * into sl_tls_conn sides.  Stops when both are done or one failed and the
 * other cannot progress.  @retval number of rounds
 */
int t_pump(struct t_end *a, struct t_end *b, struct t_pipe *a2b,
	   struct t_pipe *b2a);

/** advance @e's handshake once with what it was fed (sets rc, done,
 * failed); nothing once it is done or failed */
void t_step(struct t_end *e);

/** move everything pending from @from's output into @p */
void t_flush(struct t_end *from, struct t_pipe *p);
/** feed all of @p into @to */
void t_deliver(struct t_pipe *p, struct t_end *to);

/** run "openssl verify ..." on @leaf_pem against @ca; @retval exit status */
int t_openssl_verify(const char *ca_file, const char *leaf_pem,
		     const char *purpose);

/** write a cert (and optionally the CA after it) / key as PEM files */
int t_write_cert(const char *path, X509 *cert, X509 *chain_ca);
int t_write_key(const char *path, EVP_PKEY *key);

#endif /* SL_HS_TEST_H */
