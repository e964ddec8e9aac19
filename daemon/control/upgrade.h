/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Upgrades without a gap (upgrade.c): the running sluiced starts the
 * binary now installed at its own path, passes it the listening sockets,
 * the telemetry listener and the locks (fdreg.h) over a private socket
 * pair, and hands over only once the new process says it is ready; then
 * it tells systemd the new main PID, stops accepting and drains.  A new
 * process that fails or dies before that changes nothing: the old one
 * never stopped accepting.
 *
 * Protocol (SOCK_SEQPACKET, one message per datagram, text):
 *   new -> old  "HELLO <pid>"
 *   old -> new  "FDS <n>\n<name>\n..." with n fds (SCM_RIGHTS), repeated
 *   old -> new  "END"
 *   new -> old  "READY"           workers run, steering applied
 *   old -> new  "MAIN"            systemd was told MAINPID=<new pid>
 * The new process accepts on the inherited sockets only after "MAIN".
 */
#ifndef SL_DAEMON_UPGRADE_H
#define SL_DAEMON_UPGRADE_H

#include <stdbool.h>

struct sl_daemon;

/** The environment variable that names the new process's end. */
#define SL_UPGRADE_ENV "SLUICE_UPGRADE_FD"

/**
 * sl_upgrade_init - remember how this process was started (@argv is
 * copied; the binary is /proc/self/exe's path now), for a later upgrade
 * @retval 0 or -errno
 */
int sl_upgrade_init(char *const *argv);

/**
 * sl_upgrade_begin - start an upgrade (SIGUSR2, admin "upgrade"): a thread
 * runs it; when the new process has taken over, @handed_over(@d) runs on
 * that thread (main: stop accepting, drain, exit)
 * @retval 0 started; -EALREADY while one runs; -errno
 */
int sl_upgrade_begin(struct sl_daemon *d,
		     void (*handed_over)(struct sl_daemon *d));

/**
 * sl_upgrade_result - what the last upgrade came to, for `sluice status`:
 * "none", "running", "handed over to pid N" or "failed: why"
 */
const char *sl_upgrade_result(void);

/**
 * sl_upgrade_child_begin - in a process started by an upgrade (SL_UPGRADE_ENV
 * set): greet the old process and take its fds into fdreg
 * @retval 0 not an upgrade; 1 fds taken; -errno (the caller exits)
 */
int sl_upgrade_child_begin(void);

/** sl_upgrade_child - whether this process was started by an upgrade */
bool sl_upgrade_child(void);

/**
 * sl_upgrade_child_commit - tell the old process we are ready and wait
 * until it has handed over (systemd told; it no longer accepts)
 * @retval 0; -errno when the old process refused or vanished (the caller
 *         exits: the old one keeps serving)
 */
int sl_upgrade_child_commit(void);

#endif /* SL_DAEMON_UPGRADE_H */
