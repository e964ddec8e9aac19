/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One sluiced per node: a lock file beside the admin socket (and in the
 * state directory), and a probe of the ports before the workers bind them
 * with SO_REUSEPORT (which would otherwise let a second daemon share them
 * silently).
 */
#ifndef SL_DAEMON_INSTANCE_H
#define SL_DAEMON_INSTANCE_H

#include <stdint.h>

/**
 * sl_instance_lock - take the exclusive lock @path (created 0600, parent
 * directory created 0755 if missing) and write our PID into it
 * @fd: on success the open lock; keep it open for the process's life
 *      (close(2) releases it)
 * @holder: on -EBUSY the PID the file names (0 when unreadable)
 * @retval 0; -EBUSY when another process holds it; -errno otherwise
 */
int sl_instance_lock(const char *path, int *fd, long *holder);

/**
 * sl_instance_lock_adopt - take over the lock @fd that the process before
 * this one (an upgrade) held on @path: it must be that file and hold the
 * lock (shared with its old owner until that one exits); our PID is
 * written into it.  The caller keeps @fd open.
 * @retval 0; -ESTALE when @fd is not @path's file; -errno
 */
int sl_instance_lock_adopt(int fd, const char *path);

/**
 * sl_instance_port_free - can TCP port @port be bound on the wildcard
 * address without SO_REUSEPORT?  (SO_REUSEADDR is set, so connections in
 * TIME_WAIT do not count; a listening socket does.)
 * @retval 0 when free; -EADDRINUSE when something listens; -errno
 */
int sl_instance_port_free(uint16_t port);

#endif /* SL_DAEMON_INSTANCE_H */
