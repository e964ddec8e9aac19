// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target: sl_spiffe_id_parse, and format/parse round trips.
 * Whatever parses must format back to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char td[300], ns[300], sa[300], again[3000];
	char *id = malloc(size + 1);

	if (!id)
		return 0;
	memcpy(id, data, size);
	id[size] = '\0';
	if (sl_spiffe_id_parse(id, td, sizeof(td), ns, sizeof(ns), sa,
			       sizeof(sa)) == 0) {
		if (sl_spiffe_id_format(again, sizeof(again), td, ns, sa) != 0 ||
		    strcmp(again, id) != 0)
			abort();
	}
	free(id);
	return 0;
}
