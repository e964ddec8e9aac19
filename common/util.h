/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers used everywhere.  Nothing here allocates unless it says so. */
#ifndef SL_UTIL_H
#define SL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define SL_MIN(a, b) ((a) < (b) ? (a) : (b))
#define SL_MAX(a, b) ((a) > (b) ? (a) : (b))
#define SL_EXPORT __attribute__((visibility("default")))
#define SL_UNUSED __attribute__((unused))

/**
 * sl_read_file - read a whole regular file into memory (never blocks on a
 * FIFO or device: those are refused with -EINVAL without waiting)
 * @path: file to read
 * @max: largest accepted size in bytes
 * @out: on success a NUL-terminated buffer; caller frees it with free(3)
 * @len: on success the size without the terminating NUL
 * @retval 0 on success, -EFBIG when the file is larger than @max,
 *         -EISDIR/-EINVAL for a non-regular file, -errno otherwise
 */
int sl_read_file(const char *path, size_t max, char **out, size_t *len);

/**
 * sl_write_file_atomic - write @len bytes to @path via a temp file + rename
 * @retval 0 on success, -errno on failure (the old file is left in place)
 */
int sl_write_file_atomic(const char *path, const void *buf, size_t len,
			 unsigned int mode);

/**
 * sl_utf8_len - length of the well-formed UTF-8 sequence at @s (RFC 3629,
 * Unicode's Table 3-7: no overlong form, no surrogate, nothing above
 * U+10FFFF): 1 for ASCII (NUL included), 2 to 4, or 0 when the byte at @s
 * starts none.  Reads no byte past a NUL.
 */
size_t sl_utf8_len(const char *s);

/* FNV-1a, 64 bit: start with SL_FNV1A_INIT, feed pieces with sl_fnv1a */
#define SL_FNV1A_INIT 0xcbf29ce484222325ULL

/** sl_fnv1a - @h continued over @len bytes at @p (FNV-1a, 64 bit) */
uint64_t sl_fnv1a(uint64_t h, const void *p, size_t len);

/** sl_now_ns - CLOCK_MONOTONIC in nanoseconds */
uint64_t sl_now_ns(void);

/** sl_realtime_ns - CLOCK_REALTIME in nanoseconds */
uint64_t sl_realtime_ns(void);

/**
 * sl_parse_duration - parse a protobuf/Istio duration ("1.5s", "300ms",
 * "2m", "1h", "10us"), as nanoseconds
 * @retval 0 on success, -EINVAL for bad syntax, -ERANGE on overflow
 */
int sl_parse_duration(const char *s, uint64_t *out_ns);

/**
 * sl_parse_size - parse a byte count: digits with an optional binary suffix
 * K, KiB, M, MiB, G or GiB (1K = 1024); no fraction, no sign
 * @retval 0 on success, -EINVAL for bad syntax, -ERANGE on overflow
 */
int sl_parse_size(const char *s, uint64_t *out);

/**
 * sl_mkdir_parent - create the directory that holds @path (one level,
 * mode @mode); an existing one is fine
 * @retval 0, or -errno (-ENOMEM; mkdir(2)'s error)
 */
int sl_mkdir_parent(const char *path, unsigned int mode);

/**
 * sl_sort - qsort(3) that accepts an empty array (@base may then be NULL:
 * glibc declares qsort's pointer nonnull, so qsort(NULL, 0, ...) is
 * undefined behaviour that UBSan reports)
 */
void sl_sort(void *base, size_t n, size_t size,
	     int (*cmp)(const void *, const void *));

/** sl_search - bsearch(3) that accepts an empty array; NULL when absent */
void *sl_search(const void *key, const void *base, size_t n, size_t size,
		int (*cmp)(const void *, const void *));

/** sl_strlcpy - strlcpy(3); returns strlen(src) */
size_t sl_strlcpy(char *dst, const char *src, size_t size);

#endif /* SL_UTIL_H */
