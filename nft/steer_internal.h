/* SPDX-License-Identifier: Apache-2.0 */
/* Private helpers of the nft module, shared by its .c files and unit tests. */
#ifndef SL_NFT_STEER_INTERNAL_H
#define SL_NFT_STEER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "steer.h"

/**
 * sl_nft_table_name_valid - [A-Za-z][A-Za-z0-9_]{0,30}
 */
bool sl_nft_table_name_valid(const char *name);

/**
 * sl_nft_render_pod - write the element batch that adds (@add) or removes
 * one pod.  Every statement is idempotent: a removal is written as
 * "add element" + "delete element" in the same transaction.
 * @retval 0, -EINVAL for a bad table name or address, -EIO
 */
int sl_nft_render_pod(const char *table, const struct sl_nft_addr *addr,
		      enum sl_nft_pod_mode mode, bool add, FILE *out);

/**
 * sl_nft_normalize_listing - turn "nft -s list table" output into the text
 * sl_nft_check() compares: counter values and the elements of the pod sets
 * (pods4/6, permissive4/6, which change without a rebuild) are removed.
 * @listing: NUL-terminated listing
 * @out: on success a malloc'd string; caller frees it
 * @retval 0, -ENOMEM
 */
int sl_nft_normalize_listing(const char *listing, char **out);

/**
 * sl_nft_config_fingerprint - 64-bit FNV-1a over the rendered rules
 * without pods; written into the table comment
 * @retval 0, -EINVAL, -ENOMEM
 */
int sl_nft_config_fingerprint(const struct sl_nft_config *cfg, uint64_t *fp);

#endif /* SL_NFT_STEER_INTERNAL_H */
