/* SPDX-License-Identifier: Apache-2.0 */
/* Request-path normalization as Envoy does it for Istio's
 * meshConfig.pathNormalization (NONE, BASE, MERGE_SLASHES,
 * DECODE_AND_MERGE_SLASHES), with the refusals of issue 27 (%2F, %5C, %00,
 * fragments).  No allocation, no I/O: the caller gives the output buffer.
 * The normalized path is what is both checked and forwarded.  See
 * docs/HTTP.md "Path normalization" for the modes and every decision with
 * the Envoy/Istio behaviour it follows.  The daemon does not call this yet
 * (issue 27 will).
 */
#ifndef SL_PATH_H
#define SL_PATH_H

#include <stddef.h>
#include <sys/types.h>

/* Istio's meshConfig.pathNormalization.normalization; Istio's DEFAULT is
 * BASE */
enum sl_path_mode {
	SL_PATH_NONE = 0,                 /* forwarded as received */
	SL_PATH_BASE,                     /* Envoy normalize_path: true */
	SL_PATH_MERGE_SLASHES,            /* BASE, then merge_slashes */
	SL_PATH_DECODE_AND_MERGE_SLASHES, /* %2F %5C decoded, then as above */
	SL_PATH_MODE__COUNT
};

/* why a path was refused; sl_path_reason_str() names it */
enum sl_path_reason {
	SL_PATH_OK = 0,
	SL_PATH_E_NOT_ORIGIN,    /* empty, or does not start with '/' */
	SL_PATH_E_FRAGMENT,      /* '#' anywhere in the target */
	SL_PATH_E_ESCAPED_SLASH, /* %2F %2f %5C %5c outside DECODE_AND_MERGE */
	SL_PATH_E_NUL,           /* %00 or a NUL byte in the path */
	SL_PATH_E_TOO_LONG,      /* the result does not fit the output buffer */
	SL_PATH_E__COUNT
};

/* an output buffer of SL_PATH_OUT_MAX(n) bytes always holds the result of
 * an input of n bytes: each path byte becomes at most 3 (a byte Envoy
 * escapes, "<" -> "%3C"), the query is copied as it is */
#define SL_PATH_OUT_MAX(n) (3 * (size_t)(n))

/**
 * struct sl_path_result - what sl_path_normalize() decided
 * @reason: SL_PATH_OK or why the path was refused
 * @status: HTTP status to answer a refused request (400; 414 for
 *          SL_PATH_E_TOO_LONG), 0 when accepted
 * @err_pos: offset in the input where the fault was found
 * @path_len: bytes of the normalized path at the start of the output;
 *            the query ("?..."), unchanged, follows it
 */
struct sl_path_result {
	enum sl_path_reason reason;
	int status;
	size_t err_pos;
	size_t path_len;
};

/**
 * sl_path_normalize - normalize the path of a request target
 * @mode: which normalization (Istio's names)
 * @in: the origin-form target: path, then optionally "?" query; a "#"
 *      anywhere is refused.  For an absolute-form target the caller passes
 *      what follows the authority ("/" when that is empty).
 * @in_len: bytes in @in
 * @out: caller-owned buffer for the result, must not overlap @in
 * @out_cap: bytes in @out; SL_PATH_OUT_MAX(@in_len) is always enough.
 *           The path is written before ".." and merged slashes shorten
 *           it, so a buffer of just the result's size may give 414.
 * @res: filled on every call but -EINVAL
 *
 * In every mode: a fragment, %2F/%5C (either case) in the path unless
 * @mode is SL_PATH_DECODE_AND_MERGE_SLASHES, and %00 or a NUL byte in the
 * path are refused with 400.  The query is never changed nor checked.
 * The result of a normalizing mode starts with "/", has no "." or ".."
 * segment (also none spelt %2e), and normalizing it again in the same mode
 * gives it back unchanged.
 *
 * @retval >=0 the length of the result in @out (not NUL-terminated)
 * @retval -EBADMSG refused: @res says why, with which status, where
 * @retval -EINVAL @in (with @in_len > 0), @out or @res NULL, bad @mode
 */
ssize_t sl_path_normalize(enum sl_path_mode mode, const char *in, size_t in_len,
			  char *out, size_t out_cap, struct sl_path_result *res);

/* static string naming @r ("path-escaped-slash"...), "?" if unknown */
const char *sl_path_reason_str(enum sl_path_reason r);

/* Istio's name of @m ("MERGE_SLASHES"), "?" if unknown */
const char *sl_path_mode_str(enum sl_path_mode m);

/**
 * sl_path_mode_parse - the mode Istio's meshConfig names @name
 * @name: "NONE", "BASE", "DEFAULT" (= BASE), "MERGE_SLASHES",
 *        "DECODE_AND_MERGE_SLASHES"; exact case
 * @retval >=0 the enum sl_path_mode
 * @retval -EINVAL unknown name or NULL
 */
int sl_path_mode_parse(const char *name);

#endif
