/* SPDX-License-Identifier: Apache-2.0 */
/* Process-wide daemon state accessors (daemon.h). */
#include <pthread.h>

#include "certstore.h"
#include "daemon.h"

struct sl_daemon *sl_daemon;

struct sl_config *sl_daemon_config(struct sl_daemon *d)
{
	struct sl_config *c;

	pthread_mutex_lock(&d->cfg_lock);
	c = sl_config_get(d->cfg);
	pthread_mutex_unlock(&d->cfg_lock);
	return c;
}

int sl_daemon_identity(struct sl_daemon *d, const char *spiffe_id,
		       struct sl_identity **out)
{
	return sl_certstore_get(d->certs, spiffe_id, out);
}
