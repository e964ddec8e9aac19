/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Regular expressions for route matches: a C face on RE2 (http/re.cc), the
 * engine Istio and Envoy use (safe_regex), so a pattern means in sluice
 * what it means there.  RE2 runs in time linear in the input and compiles
 * within a bounded memory budget (SL_RE_MAX_MEM): a pathological pattern
 * such as (a+)+$ cannot stall a worker, and a pattern too large to compile
 * in the budget is refused at config load.
 */
#ifndef SL_RE_H
#define SL_RE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* RE2 memory budget of one compiled pattern, in bytes */
#define SL_RE_MAX_MEM (1u << 20)

struct sl_re;

/**
 * sl_re_compile - compile @pattern (RE2 syntax, UTF-8)
 * @pattern: NUL-terminated
 * @out: on success the compiled pattern; free it with sl_re_free()
 * @err, @errlen: on -EINVAL, RE2's message (e.g. "missing ): (a"); may be
 *                NULL/0
 * @retval 0; -EINVAL when the pattern is invalid or over SL_RE_MAX_MEM;
 *         -ENOMEM
 */
int sl_re_compile(const char *pattern, struct sl_re **out, char *err,
		  size_t errlen);

/**
 * sl_re_full_match - does @re match all of @s (not a substring)?  Safe from
 * several threads at once on the same @re.
 * @s, @len: the subject; need not be NUL-terminated, may hold NUL bytes
 * @retval false too when @re is NULL
 */
bool sl_re_full_match(const struct sl_re *re, const char *s, size_t len);

/** sl_re_free - NULL-safe */
void sl_re_free(struct sl_re *re);

#ifdef __cplusplus
}
#endif

#endif /* SL_RE_H */
