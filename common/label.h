/* SPDX-License-Identifier: Apache-2.0 */
/* A key/value label (Kubernetes labels, header name/value pairs): shared by
 * the config snapshot (config/config.h) and the HTTP library (http/). */
#ifndef SL_LABEL_H
#define SL_LABEL_H

struct sl_label {
	const char *key;
	const char *value;
};

#endif /* SL_LABEL_H */
