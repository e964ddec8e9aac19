/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the preamble parser must never crash, never read past
 * @len, and anything it accepts must re-encode to a preamble that parses to
 * the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preamble.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_preamble p, q;
	uint8_t buf[SL_PREAMBLE_MAX_LEN];
	size_t used = 0, used2 = 0;
	ssize_t n;

	(void)sl_preamble_need(data, size);
	if (sl_preamble_parse(data, size, &p, &used) != 0)
		return 0;
	if (used > size || used > SL_PREAMBLE_MAX_LEN || !p.dst_port)
		abort();
	n = sl_preamble_encode(&p, buf, sizeof(buf));
	if (n < 0)
		abort();
	if (sl_preamble_parse(buf, (size_t)n, &q, &used2) != 0 ||
	    used2 != (size_t)n || q.dst_port != p.dst_port ||
	    q.orig_dst_family != p.orig_dst_family ||
	    memcmp(q.orig_dst, p.orig_dst, sizeof(p.orig_dst)) != 0 ||
	    strcmp(q.src_name, p.src_name) || strcmp(q.src_ns, p.src_ns) ||
	    q.has_flow_id != p.has_flow_id || q.flow_id != p.flow_id)
		abort();
	return 0;
}
