/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File descriptors that outlive one sluiced: the listening sockets (with
 * their backlogs), the telemetry listener and the one-per-node locks.
 *
 * In: what a predecessor left, by name.  After a systemd restart that is
 * the fd store (LISTEN_FDS/LISTEN_FDNAMES, sl_fdreg_inherit_systemd); on
 * an upgrade it is what the old process sent (control/upgrade.c,
 * sl_fdreg_inherit).  sl_fdreg_take() gives one out (ownership passes to
 * the caller); sl_fdreg_drop_unused() closes whatever nobody took.
 *
 * Out: sl_fdreg_publish() records a live fd under a name, so that the next
 * upgrade passes it on (sl_fdreg_snapshot), and with @store keeps a
 * duplicate in systemd's fd store (FDSTORE=1; the unit's
 * FileDescriptorStoreMax): a `systemctl restart` or a crash restart then
 * finds the listening sockets as they were, and connections that arrived
 * in between wait in their backlog instead of being refused.
 * sl_fdreg_withdraw() forgets an fd before its owner closes it.
 *
 * Thread-safe (one mutex); names are at most SL_FDREG_NAME_MAX - 1 bytes
 * of [A-Za-z0-9_.-] (what systemd accepts as FDNAME).
 */
#ifndef SL_FDREG_H
#define SL_FDREG_H

#include <stdbool.h>
#include <stddef.h>

#define SL_FDREG_NAME_MAX 48

/** One named fd (sl_fdreg_snapshot). */
struct sl_fdreg_ent {
	int fd;
	char name[SL_FDREG_NAME_MAX];
	bool store; /* published for systemd's fd store too */
};

/**
 * sl_fdreg_inherit - take @fd over under @name (FD_CLOEXEC is set)
 * @retval 0; -EINVAL for a bad name (@fd is closed); -ENOMEM (closed)
 */
int sl_fdreg_inherit(int fd, const char *name);

/**
 * sl_fdreg_inherit_systemd - take the fds systemd passed (the fd store
 * after a restart): those named "sl-*"; others are closed with a warning.
 * Unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.
 * @retval how many were taken, or -errno
 */
int sl_fdreg_inherit_systemd(void);

/**
 * sl_fdreg_take - one inherited fd named @name (the oldest); the caller
 * owns it  @retval the fd or -ENOENT
 */
int sl_fdreg_take(const char *name);

struct sockaddr;

/**
 * sl_fdreg_take_listener - sl_fdreg_take for a listening socket: the fd is
 * given out only if it is a TCP socket listening on exactly @want
 * (family, address, port); otherwise it is closed with a warning
 * @retval the fd, -ENOENT when none of that name is left, -ENOTSOCK when
 *         the one inherited was something else
 */
int sl_fdreg_take_listener(const char *name, const struct sockaddr *want);

/**
 * sl_fdreg_inherited - how many fds named @name were inherited in all
 * (taken or not): what workers divide among themselves
 */
unsigned int sl_fdreg_inherited(const char *name);

/**
 * sl_fdreg_drop_unused - close the inherited fds nobody took (a port the
 * configuration no longer uses), and remove their names from systemd's fd
 * store  @retval how many were closed
 */
unsigned int sl_fdreg_drop_unused(void);

/**
 * sl_fdreg_publish - pass @fd (still owned by the caller) on at the next
 * upgrade under @name; with @store also into systemd's fd store, when
 * sluiced runs under systemd  @retval 0 or -errno
 */
int sl_fdreg_publish(int fd, const char *name, bool store);

/**
 * sl_fdreg_store_hold - while on, sl_fdreg_publish sends nothing to the fd
 * store (a process started by an upgrade is not the service's main PID
 * yet: systemd refuses its messages); turning it off sends every fd
 * published for the store meanwhile
 */
void sl_fdreg_store_hold(bool on);

/** sl_fdreg_withdraw - forget @fd (before its owner closes it) */
void sl_fdreg_withdraw(int fd);

/**
 * sl_fdreg_snapshot - duplicates (F_DUPFD_CLOEXEC) of every published fd
 * with its name, in publication order; free with sl_fdreg_snapshot_free
 * @retval 0 or -errno
 */
int sl_fdreg_snapshot(struct sl_fdreg_ent **out, size_t *n);

/** sl_fdreg_snapshot_free - close the duplicates and free @v */
void sl_fdreg_snapshot_free(struct sl_fdreg_ent *v, size_t n);

/** sl_fdreg_name_ok - whether @name is a valid fd name */
bool sl_fdreg_name_ok(const char *name);

/** sl_fdreg_reset - close and forget everything (tests) */
void sl_fdreg_reset(void);

#endif /* SL_FDREG_H */
