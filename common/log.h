/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sluice logging: the one log module of the project.
 *
 * Messages go to stderr, one line each.  Under systemd (JOURNAL_STREAM set)
 * lines carry a "<N>" syslog priority prefix so journald files them at the
 * right level.  Callers start messages with "%s: ", __func__ where the
 * location helps.  Debug messages cost one branch when debug is off.
 *
 * Thread safety: every call writes its line with one write(2); the level is
 * an atomic int.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum sl_log_level {
	SL_LOG_ERR = 3,
	SL_LOG_WARN = 4,
	SL_LOG_NOTICE = 5,
	SL_LOG_INFO = 6,
	SL_LOG_DEBUG = 7,
};

/**
 * sl_log_init - set up logging for a program
 * @ident: program name put in front of each line when not under journald
 * @level: initial maximum level that is printed
 */
void sl_log_init(const char *ident, enum sl_log_level level);

/** sl_log_set_level - change the maximum printed level at run time */
void sl_log_set_level(enum sl_log_level level);

/** sl_log_get_level - the current maximum printed level */
enum sl_log_level sl_log_get_level(void);

/**
 * sl_log_level_parse - parse "err", "warn", "notice", "info" or "debug"
 * @retval 0 and *out set on success, -EINVAL for an unknown name
 */
int sl_log_level_parse(const char *name, enum sl_log_level *out);

/** sl_log_level_name - the name sl_log_level_parse() accepts for @level */
const char *sl_log_level_name(enum sl_log_level level);

void sl_log(enum sl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sl_logv(enum sl_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

#define sl_log_err(...) sl_log(SL_LOG_ERR, __VA_ARGS__)
#define sl_log_warn(...) sl_log(SL_LOG_WARN, __VA_ARGS__)
#define sl_log_notice(...) sl_log(SL_LOG_NOTICE, __VA_ARGS__)
#define sl_log_info(...) sl_log(SL_LOG_INFO, __VA_ARGS__)
#define sl_log_debug(...)                                                      \
	do {                                                                   \
		if (sl_log_get_level() >= SL_LOG_DEBUG)                        \
			sl_log(SL_LOG_DEBUG, __VA_ARGS__);                     \
	} while (0)

#endif /* SL_LOG_H */
