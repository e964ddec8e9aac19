/* SPDX-License-Identifier: Apache-2.0 */
/* Upgrades without a gap (upgrade.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "fdreg.h"
#include "log.h"
#include "notify.h"
#include "upgrade.h"
#include "util.h"

/* fds per FDS message (SCM_MAX_FD is 253) */
#define BATCH 64
#define MSG_MAX (BATCH * SL_FDREG_NAME_MAX + 32)

/* how long the old process waits for the new one's HELLO and READY: it
 * loads the configuration and issues certificates before READY */
#define HELLO_MS 30000
#define READY_MS 120000
/* how long the new process waits for the old one's fds and its MAIN */
#define CHILD_MS 30000


static struct {
	pthread_mutex_t lock;
	char exe[PATH_MAX];
	char **argv;
	bool running;
	char result[160];
	int child_fd; /* the new process's end, while it is being started */
} U = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.result = "none",
	.child_fd = -1,
};

struct job {
	struct sl_daemon *d;
	void (*handed_over)(struct sl_daemon *d);
};

static void set_result(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_result(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&U.lock);
	va_start(ap, fmt);
	vsnprintf(U.result, sizeof(U.result), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&U.lock);
}

int sl_upgrade_init(char *const *argv)
{
	ssize_t n;
	size_t argc = 0;
	char *del;

	n = readlink("/proc/self/exe", U.exe, sizeof(U.exe) - 1);
	if (n < 0)
		return -errno;
	U.exe[n] = '\0';
	/* replaced under us already: the path is what we want */
	del = strstr(U.exe, " (deleted)");
	if (del && !del[10])
		*del = '\0';
	while (argv[argc])
		argc++;
	U.argv = calloc(argc + 1, sizeof(*U.argv));
	if (!U.argv)
		return -ENOMEM;
	for (size_t i = 0; i < argc; i++) {
		U.argv[i] = strdup(argv[i]);
		if (!U.argv[i])
			return -ENOMEM;
	}
	return 0;
}

const char *sl_upgrade_result(void)
{
	static __thread char copy[sizeof(U.result)];

	pthread_mutex_lock(&U.lock);
	memcpy(copy, U.result, sizeof(copy));
	pthread_mutex_unlock(&U.lock);
	return copy;
}

/* ---- messages -------------------------------------------------------- */

/* wait up to @ms for @fd to be readable  @retval 0, -ETIMEDOUT, -errno */
static int wait_in(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

/*
 * receive one message into @buf (NUL-terminated), fds into @fds (up to
 * @max_fds; the count in @n_fds)  @retval its length, -EPIPE at EOF,
 * -ETIMEDOUT, -errno
 */
static ssize_t recv_msg(int sock, char *buf, size_t len, int *fds,
			unsigned int max_fds, unsigned int *n_fds, int ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * BATCH)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { .iov_base = buf, .iov_len = len - 1 };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cb.buf,
		.msg_controllen = sizeof(cb.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int ret;

	if (n_fds)
		*n_fds = 0;
	ret = wait_in(sock, ms);
	if (ret)
		return ret;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EPIPE;
	buf[n] = '\0';
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		unsigned int k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned int i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fds && n_fds && *n_fds < max_fds)
				fds[(*n_fds)++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		return -EMSGSIZE;
	return n;
}

static int send_msg(int sock, const char *msg, const int *fds,
		    unsigned int n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * BATCH)];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { .iov_base = (void *)msg, .iov_len = strlen(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (n_fds) {
		struct cmsghdr *c;

		memset(&cb, 0, sizeof(cb));
		mh.msg_control = cb.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)iov.iov_len ? 0 : -EMSGSIZE;
}

/* ---- the old process ------------------------------------------------- */

/* the environment of the new process: ours plus SL_UPGRADE_ENV=@fd */
static char **child_env(int fd)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], SL_UPGRADE_ENV "=",
			    sizeof(SL_UPGRADE_ENV)))
			env[k++] = environ[i];
	if (asprintf(&env[k], SL_UPGRADE_ENV "=%d", fd) < 0) {
		free(env);
		return NULL;
	}
	return env;
}

/*
 * Start the binary at our path with our arguments, as a grandchild: the
 * middle process exits at once, so the new sluiced is reparented to the
 * service manager (or init), which then supervises it as the main PID it
 * is about to become (systemd only notices the exit of a main PID that is
 * its own child).  @pid: the new process's.
 */
static int spawn(int child_end, pid_t *pid)
{
	char **env = child_env(child_end);
	int pp[2] = { -1, -1 };
	sigset_t none;
	pid_t mid, got = -1;
	ssize_t n;
	int ret = 0;

	if (!env)
		return -ENOMEM;
	if (pipe2(pp, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	sigemptyset(&none);
	mid = fork();
	if (mid < 0) {
		ret = -errno;
		goto out;
	}
	if (mid == 0) {
		pid_t p;

		/* only async-signal-safe calls until exec */
		p = fork();
		if (p != 0) {
			/* the middle: report the new process's PID, go */
			if (p > 0 && write(pp[1], &p, sizeof(p)) != sizeof(p))
				_exit(126);
			_exit(p > 0 ? 0 : 127);
		}
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (fcntl(child_end, F_SETFD, 0) < 0)
			_exit(127);
		execve(U.exe, U.argv, env);
		_exit(127);
	}
	close(pp[1]);
	pp[1] = -1;
	do
		n = read(pp[0], &got, sizeof(got));
	while (n < 0 && errno == EINTR);
	while (waitpid(mid, NULL, 0) < 0 && errno == EINTR)
		;
	if (n != sizeof(got) || got <= 0)
		ret = -ECHILD;
	else
		*pid = got;
out:
	if (pp[0] >= 0)
		close(pp[0]);
	if (pp[1] >= 0)
		close(pp[1]);
	for (size_t i = 0; env[i]; i++)
		if (!strncmp(env[i], SL_UPGRADE_ENV "=", sizeof(SL_UPGRADE_ENV)))
			free(env[i]);
	free(env);
	return ret;
}

/* send every published fd, in batches  @retval 0 or -errno */
static int send_fds(int sock)
{
	struct sl_fdreg_ent *v = NULL;
	size_t n = 0;
	int ret;

	ret = sl_fdreg_snapshot(&v, &n);
	if (ret)
		return ret;
	for (size_t i = 0; !ret && i < n; i += BATCH) {
		unsigned int k = (unsigned int)(n - i < BATCH ? n - i : BATCH);
		char msg[MSG_MAX];
		int fds[BATCH];
		size_t off;

		off = (size_t)snprintf(msg, sizeof(msg), "FDS %u", k);
		for (unsigned int j = 0; j < k; j++) {
			off += (size_t)snprintf(msg + off, sizeof(msg) - off,
						"\n%s", v[i + j].name);
			fds[j] = v[i + j].fd;
		}
		ret = send_msg(sock, msg, fds, k);
	}
	sl_fdreg_snapshot_free(v, n);
	if (!ret)
		ret = send_msg(sock, "END", NULL, 0);
	return ret;
}

/* the new process did not take over: make sure it is gone (it is not our
 * child: init reaps it) */
static void child_abandon(pid_t pid)
{
	if (pid > 0)
		kill(pid, SIGKILL);
}

static void *upgrade_main(void *arg)
{
	struct job *job = arg;
	char buf[128];
	const char *step = "starting";
	pid_t pid = -1, hello_pid = 0;
	int sv[2] = { -1, -1 };
	ssize_t n;
	int ret;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = -errno;
		goto fail;
	}
	sl_log_notice("%s: starting %s", __func__, U.exe);
	ret = spawn(sv[1], &pid);
	close(sv[1]);
	sv[1] = -1;
	if (ret)
		goto fail;
	step = "waiting for its HELLO";
	n = recv_msg(sv[0], buf, sizeof(buf), NULL, 0, NULL, HELLO_MS);
	if (n < 0) {
		ret = (int)n;
		goto fail;
	}
	if (sscanf(buf, "HELLO %d", &hello_pid) != 1 || hello_pid != pid) {
		ret = -EPROTO;
		goto fail;
	}
	step = "passing the sockets";
	ret = send_fds(sv[0]);
	if (ret)
		goto fail;
	step = "waiting until it is ready";
	n = recv_msg(sv[0], buf, sizeof(buf), NULL, 0, NULL, READY_MS);
	if (n < 0) {
		ret = (int)n;
		goto fail;
	}
	if (strcmp(buf, "READY")) {
		ret = -EPROTO;
		goto fail;
	}
	/* from here on the new process is the service */
	if (getenv("NOTIFY_SOCKET")) {
		char msg[64];

		/* our own notify thread must not speak for the service any
		 * more (systemd would refuse it from a non-main PID) */
		sl_notify_stop();
		snprintf(msg, sizeof(msg), "MAINPID=%d\nSTATUS=handed over to pid %d",
			 (int)pid, (int)pid);
		ret = sd_notify(0, msg);
		if (ret < 0)
			sl_log_warn("%s: sd_notify MAINPID: %s", __func__,
				    strerror(-ret));
	}
	step = "handing over";
	ret = send_msg(sv[0], "MAIN", NULL, 0);
	if (ret)
		sl_log_warn("%s: telling pid %d it is main: %s (it will exit)",
			    __func__, (int)pid, strerror(-ret));
	close(sv[0]);
	sl_log_notice("%s: pid %d took over: draining", __func__, (int)pid);
	set_result("handed over to pid %d", (int)pid);
	job->handed_over(job->d);
	free(job);
	return NULL;
fail:
	sl_log_err("%s: upgrade failed %s: %s; this process keeps serving",
		   __func__, step, ret == -EPIPE ? "the new process exited" :
		   strerror(-ret));
	set_result("failed %s: %s", step,
		   ret == -EPIPE ? "the new process exited" : strerror(-ret));
	if (sv[0] >= 0)
		close(sv[0]);
	child_abandon(pid);
	pthread_mutex_lock(&U.lock);
	U.running = false;
	pthread_mutex_unlock(&U.lock);
	free(job);
	return NULL;
}

int sl_upgrade_begin(struct sl_daemon *d,
		     void (*handed_over)(struct sl_daemon *d))
{
	pthread_attr_t at;
	pthread_t t;
	sigset_t all, old;
	struct job *job;
	int ret;

	if (!U.argv)
		return -ENOEXEC;
	pthread_mutex_lock(&U.lock);
	if (U.running) {
		pthread_mutex_unlock(&U.lock);
		return -EALREADY;
	}
	U.running = true;
	snprintf(U.result, sizeof(U.result), "running");
	pthread_mutex_unlock(&U.lock);
	job = calloc(1, sizeof(*job));
	if (!job) {
		ret = -ENOMEM;
		goto fail;
	}
	job->d = d;
	job->handed_over = handed_over;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = -pthread_create(&t, &at, upgrade_main, job);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (ret) {
		free(job);
		goto fail;
	}
	return 0;
fail:
	set_result("failed: %s", strerror(-ret));
	pthread_mutex_lock(&U.lock);
	U.running = false;
	pthread_mutex_unlock(&U.lock);
	return ret;
}

/* ---- the new process ------------------------------------------------- */

bool sl_upgrade_child(void)
{
	return U.child_fd >= 0;
}

int sl_upgrade_child_begin(void)
{
	const char *v = getenv(SL_UPGRADE_ENV);
	char buf[MSG_MAX], *end;
	unsigned int taken = 0;
	long fd;
	int ret;

	if (!v)
		return 0;
	fd = strtol(v, &end, 10);
	unsetenv(SL_UPGRADE_ENV);
	if (*end || fd < 3 || fd > INT_MAX) {
		sl_log_err("%s: %s=%s is not a file descriptor", __func__,
			   SL_UPGRADE_ENV, v);
		return -EBADF;
	}
	(void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	U.child_fd = (int)fd;
	/* systemd's watchdog names the old process (sd_watchdog_enabled
	 * checks WATCHDOG_PID; our environment is its): once we are the
	 * main PID, the feed is ours */
	if (getenv("WATCHDOG_PID")) {
		char pid[24];

		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		setenv("WATCHDOG_PID", pid, 1);
	}
	/* systemd takes notifications from the main PID only: say nothing
	 * until the old process has named us (sl_upgrade_child_commit) */
	sl_notify_mute(true);
	sl_fdreg_store_hold(true);
	snprintf(buf, sizeof(buf), "HELLO %d", (int)getpid());
	ret = send_msg(U.child_fd, buf, NULL, 0);
	if (ret)
		goto fail;
	for (;;) {
		int fds[BATCH];
		unsigned int n_fds, k;
		char *line, *save = NULL;
		ssize_t n;

		n = recv_msg(U.child_fd, buf, sizeof(buf), fds, BATCH, &n_fds,
			     CHILD_MS);
		if (n < 0) {
			ret = (int)n;
			goto fail;
		}
		if (!strcmp(buf, "END"))
			break;
		line = strtok_r(buf, "\n", &save);
		if (!line || sscanf(line, "FDS %u", &k) != 1 || k != n_fds) {
			for (unsigned int i = 0; i < n_fds; i++)
				close(fds[i]);
			ret = -EPROTO;
			goto fail;
		}
		for (unsigned int i = 0; i < n_fds; i++) {
			line = strtok_r(NULL, "\n", &save);
			if (!line || sl_fdreg_inherit(fds[i], line)) {
				sl_log_warn("%s: fd %u of a batch has a bad name: closed",
					    __func__, i);
				if (!line)
					close(fds[i]);
				continue;
			}
			taken++;
		}
	}
	sl_log_notice("%s: upgrade: %u fds from the running sluiced", __func__,
		      taken);
	/* fault injection for tests/netns/upgrade.sh: a new version that
	 * dies here, holding every socket, must change nothing */
	{
		const char *die = getenv("SL_TEST_UPGRADE_DIE_FILE");

		if (die && *die && access(die, F_OK) == 0)
			raise(SIGKILL);
	}
	return 1;
fail:
	sl_notify_mute(false);
	sl_fdreg_store_hold(false);
	sl_log_err("%s: upgrade: talking to the running sluiced: %s", __func__,
		   ret == -EPIPE ? "it closed the connection" : strerror(-ret));
	close(U.child_fd);
	U.child_fd = -1;
	return ret;
}

int sl_upgrade_child_commit(void)
{
	char buf[64];
	ssize_t n;
	int ret;

	if (U.child_fd < 0)
		return 0;
	ret = send_msg(U.child_fd, "READY", NULL, 0);
	if (!ret) {
		n = recv_msg(U.child_fd, buf, sizeof(buf), NULL, 0, NULL,
			     CHILD_MS);
		ret = n < 0 ? (int)n : strcmp(buf, "MAIN") ? -EPROTO : 0;
	}
	close(U.child_fd);
	U.child_fd = -1;
	if (!ret) {
		sl_notify_mute(false);
		/* the sockets are the old process's, stored already (systemd
		 * keeps one copy of each); new ones (more workers) are not */
		sl_fdreg_store_hold(false);
	}
	if (ret)
		sl_log_err("%s: upgrade: the running sluiced did not hand over: %s",
			   __func__, ret == -EPIPE ? "it closed the connection" :
			   strerror(-ret));
	return ret;
}
