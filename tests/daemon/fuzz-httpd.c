/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the telemetry HTTP request parser must never crash or
 * read past @len, and what it accepts must be a sane GET/HEAD request whose
 * head lies within the bounds. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_http_req r;
	int ret = sl_httpd_parse((const char *)data, size, &r);

	if (ret == 0) {
		if (r.header_len > size || r.header_len > SL_HTTPD_REQ_MAX ||
		    r.target[0] != '/' || strlen(r.target) > SL_HTTPD_TARGET_MAX ||
		    (strcmp(r.method, "GET") && strcmp(r.method, "HEAD")) ||
		    memcmp(data + r.header_len - 4, "\r\n\r\n", 4) != 0)
			abort();
	} else if (ret != -EAGAIN && ret != -E2BIG && ret != -EINVAL &&
		   ret != -EOPNOTSUPP && ret != -EPROTONOSUPPORT) {
		abort();
	} else if (ret == -EAGAIN && size >= SL_HTTPD_REQ_MAX) {
		abort(); /* a full buffer must never ask for more */
	}
	return 0;
}
