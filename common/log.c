/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static _Atomic int sl_log_max = SL_LOG_INFO;
static const char *sl_log_ident = "sluice";
static bool sl_log_journal;

static const char *const sl_log_names[] = {
	[SL_LOG_ERR] = "err",     [SL_LOG_WARN] = "warn",
	[SL_LOG_NOTICE] = "notice", [SL_LOG_INFO] = "info",
	[SL_LOG_DEBUG] = "debug",
};

void sl_log_init(const char *ident, enum sl_log_level level)
{
	if (ident)
		sl_log_ident = ident;
	sl_log_journal = getenv("JOURNAL_STREAM") != NULL;
	sl_log_set_level(level);
}

void sl_log_set_level(enum sl_log_level level)
{
	if (level < SL_LOG_ERR)
		level = SL_LOG_ERR;
	if (level > SL_LOG_DEBUG)
		level = SL_LOG_DEBUG;
	atomic_store(&sl_log_max, (int)level);
}

enum sl_log_level sl_log_get_level(void)
{
	return (enum sl_log_level)atomic_load(&sl_log_max);
}

int sl_log_level_parse(const char *name, enum sl_log_level *out)
{
	for (int i = SL_LOG_ERR; i <= SL_LOG_DEBUG; i++) {
		if (strcmp(name, sl_log_names[i]) == 0) {
			*out = (enum sl_log_level)i;
			return 0;
		}
	}
	if (strcmp(name, "error") == 0) {
		*out = SL_LOG_ERR;
		return 0;
	}
	if (strcmp(name, "warning") == 0) {
		*out = SL_LOG_WARN;
		return 0;
	}
	return -EINVAL;
}

const char *sl_log_level_name(enum sl_log_level level)
{
	if (level < SL_LOG_ERR || level > SL_LOG_DEBUG)
		return "unknown";
	return sl_log_names[level];
}

void sl_logv(enum sl_log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	int off, n;

	if ((int)level > atomic_load(&sl_log_max))
		return;
	if (sl_log_journal)
		off = snprintf(line, sizeof(line), "<%d>", (int)level);
	else
		off = snprintf(line, sizeof(line), "%s[%s]: ", sl_log_ident,
			       sl_log_names[level]);
	if (off < 0)
		return;
	n = vsnprintf(line + off, sizeof(line) - (size_t)off - 1, fmt, ap);
	if (n < 0)
		return;
	off += n;
	if ((size_t)off > sizeof(line) - 2)
		off = (int)sizeof(line) - 2;
	line[off++] = '\n';
	/* One write per line keeps lines from different threads whole. */
	while (write(STDERR_FILENO, line, (size_t)off) < 0 && errno == EINTR)
		;
}

void sl_log(enum sl_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sl_logv(level, fmt, ap);
	va_end(ap);
}
