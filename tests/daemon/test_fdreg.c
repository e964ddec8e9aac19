/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The fds that outlive one sluiced (daemon/core/fdreg.h) and the new
 * process's side of an upgrade (daemon/control/upgrade.h), driven by a
 * stand-in old process on a socket pair.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdreg.h"
#include "upgrade.h"

static int fd_ino(int fd, ino_t *ino)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*ino = st.st_ino;
	return 0;
}

static int new_fd(void)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

static void test_names(void **state)
{
	(void)state;
	assert_true(sl_fdreg_name_ok("sl-out4-15001"));
	assert_true(sl_fdreg_name_ok("sl-lock_admin.x"));
	assert_false(sl_fdreg_name_ok(""));
	assert_false(sl_fdreg_name_ok(NULL));
	assert_false(sl_fdreg_name_ok("sl out"));
	assert_false(sl_fdreg_name_ok("sl:out"));
	assert_false(sl_fdreg_name_ok("sl-\nout"));
	/* systemd's FDNAME limit, and ours */
	char longname[SL_FDREG_NAME_MAX + 1];

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(sl_fdreg_name_ok(longname));
	longname[SL_FDREG_NAME_MAX - 1] = '\0';
	assert_true(sl_fdreg_name_ok(longname));
}

static void test_inherit_take(void **state)
{
	int a = new_fd(), b = new_fd(), c = new_fd(), bad = new_fd();
	ino_t ia, ib, got;
	int fd;

	(void)state;
	sl_fdreg_reset();
	assert_int_equal(fd_ino(a, &ia), 0);
	assert_int_equal(fd_ino(b, &ib), 0);
	fcntl(a, F_SETFD, 0); /* inherit sets FD_CLOEXEC again */
	assert_int_equal(sl_fdreg_inherit(a, "sl-out4-15001"), 0);
	assert_int_equal(sl_fdreg_inherit(b, "sl-out4-15001"), 0);
	assert_int_equal(sl_fdreg_inherit(c, "sl-in4-15008"), 0);
	/* a bad name: refused and closed */
	assert_int_equal(sl_fdreg_inherit(bad, "no good"), -EINVAL);
	assert_int_equal(fcntl(bad, F_GETFD), -1);
	assert_int_equal(sl_fdreg_inherited("sl-out4-15001"), 2);
	assert_int_equal(sl_fdreg_inherited("sl-in4-15008"), 1);
	assert_int_equal(sl_fdreg_inherited("sl-plain4-15006"), 0);

	/* the oldest first; the count stays what was inherited */
	fd = sl_fdreg_take("sl-out4-15001");
	assert_int_equal(fd, a);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(fd_ino(fd, &got), 0);
	assert_true(got == ia);
	close(fd);
	fd = sl_fdreg_take("sl-out4-15001");
	assert_int_equal(fd_ino(fd, &got), 0);
	assert_true(got == ib);
	close(fd);
	assert_int_equal(sl_fdreg_take("sl-out4-15001"), -ENOENT);
	assert_int_equal(sl_fdreg_inherited("sl-out4-15001"), 2);

	/* what nobody took is closed */
	assert_int_equal(sl_fdreg_drop_unused(), 1);
	assert_int_equal(fcntl(c, F_GETFD), -1);
	assert_int_equal(sl_fdreg_take("sl-in4-15008"), -ENOENT);
	sl_fdreg_reset();
}

static void test_publish_snapshot(void **state)
{
	int a = new_fd(), b = new_fd();
	struct sl_fdreg_ent *v = NULL;
	ino_t ia, ib, got;
	size_t n = 0;

	(void)state;
	sl_fdreg_reset();
	assert_int_equal(fd_ino(a, &ia), 0);
	assert_int_equal(fd_ino(b, &ib), 0);
	assert_int_equal(sl_fdreg_publish(a, "sl-out4-1", false), 0);
	assert_int_equal(sl_fdreg_publish(b, "sl-lock-admin", false), 0);
	assert_int_equal(sl_fdreg_publish(b, "bad name", false), -EINVAL);
	assert_int_equal(sl_fdreg_snapshot(&v, &n), 0);
	assert_int_equal(n, 2);
	/* duplicates, in publication order, the owner's fds untouched */
	assert_string_equal(v[0].name, "sl-out4-1");
	assert_int_not_equal(v[0].fd, a);
	assert_int_equal(fd_ino(v[0].fd, &got), 0);
	assert_true(got == ia);
	assert_string_equal(v[1].name, "sl-lock-admin");
	assert_int_equal(fd_ino(v[1].fd, &got), 0);
	assert_true(got == ib);
	sl_fdreg_snapshot_free(v, n);
	assert_int_equal(fcntl(a, F_GETFD) >= 0, 1);

	/* withdrawn: no longer passed on */
	sl_fdreg_withdraw(a);
	assert_int_equal(sl_fdreg_snapshot(&v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "sl-lock-admin");
	sl_fdreg_snapshot_free(v, n);
	close(a);
	close(b);
	sl_fdreg_reset();
}

/* a TCP socket listening on 127.0.0.1, its address in @sa */
static int tcp_listener(struct sockaddr_in *sa)
{
	socklen_t len = sizeof(*sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)sa, sizeof(*sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sa, &len), 0);
	return fd;
}

static void test_take_listener(void **state)
{
	struct sockaddr_in sa, other;
	int l1, l2, plain, fd;

	(void)state;
	sl_fdreg_reset();
	l1 = tcp_listener(&sa);
	l2 = tcp_listener(&other);
	plain = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(plain >= 0);
	assert_int_equal(sl_fdreg_inherit(l1, "sl-a"), 0);
	assert_int_equal(sl_fdreg_inherit(l2, "sl-b"), 0);
	assert_int_equal(sl_fdreg_inherit(plain, "sl-c"), 0);
	/* the right address and port: given out */
	fd = sl_fdreg_take_listener("sl-a", (struct sockaddr *)&sa);
	assert_int_equal(fd, l1);
	close(fd);
	/* listening, but elsewhere: closed */
	assert_int_equal(sl_fdreg_take_listener("sl-b", (struct sockaddr *)&sa),
			 -ENOTSOCK);
	assert_int_equal(fcntl(l2, F_GETFD), -1);
	/* not listening at all: closed */
	assert_int_equal(sl_fdreg_take_listener("sl-c", (struct sockaddr *)&sa),
			 -ENOTSOCK);
	assert_int_equal(fcntl(plain, F_GETFD), -1);
	assert_int_equal(sl_fdreg_take_listener("sl-a", (struct sockaddr *)&sa),
			 -ENOENT);
	sl_fdreg_reset();
}

/* the old process's side, by hand: HELLO in, the given messages out */
static void old_sends(int sock, const char *const *msgs, const int *fds,
		      const unsigned int *n_fds, unsigned int n_msgs)
{
	char buf[256];
	ssize_t n;
	unsigned int k = 0;

	n = recv(sock, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(strncmp(buf, "HELLO ", 6), 0);
	assert_int_equal(atoi(buf + 6), (int)getppid()); /* the test process */
	for (unsigned int i = 0; i < n_msgs; i++) {
		union {
			char b[CMSG_SPACE(sizeof(int) * 8)];
			struct cmsghdr align;
		} cb;
		struct iovec iov = { .iov_base = (void *)msgs[i],
				     .iov_len = strlen(msgs[i]) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

		if (n_fds[i]) {
			struct cmsghdr *c;

			memset(&cb, 0, sizeof(cb));
			mh.msg_control = cb.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds[i]);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds[i]);
			memcpy(CMSG_DATA(c), fds + k, sizeof(int) * n_fds[i]);
			k += n_fds[i];
		}
		assert_int_equal(sendmsg(sock, &mh, 0), (ssize_t)iov.iov_len);
	}
}

static int child_env(int sv[2])
{
	char v[16];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	snprintf(v, sizeof(v), "%d", sv[1]);
	setenv(SL_UPGRADE_ENV, v, 1);
	return 0;
}

static void test_child_takes_fds(void **state)
{
	const char *msgs[] = { "FDS 2\nsl-out4-15001\nsl-lock-state", "END" };
	const unsigned int n_fds[] = { 2, 0 };
	int fds[2] = { new_fd(), new_fd() };
	int sv[2];
	ino_t i0, got;
	char buf[16];
	ssize_t n;
	int fd;

	(void)state;
	sl_fdreg_reset();
	assert_int_equal(fd_ino(fds[0], &i0), 0);
	child_env(sv);
	{
		/* the stand-in old process, in a child process of the test */
		int ret;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			old_sends(sv[0], msgs, fds, n_fds, 2);
			n = recv(sv[0], buf, sizeof(buf) - 1, 0);
			if (n != 5 || memcmp(buf, "READY", 5))
				_exit(3);
			send(sv[0], "MAIN", 4, 0);
			_exit(0);
		}
		ret = sl_upgrade_child_begin();
		assert_int_equal(ret, 1);
		assert_true(sl_upgrade_child());
		assert_null(getenv(SL_UPGRADE_ENV));
		assert_int_equal(sl_fdreg_inherited("sl-out4-15001"), 1);
		fd = sl_fdreg_take("sl-out4-15001");
		assert_true(fd >= 0);
		assert_int_equal(fd_ino(fd, &got), 0);
		assert_true(got == i0); /* the same socket, passed over */
		close(fd);
		fd = sl_fdreg_take("sl-lock-state");
		assert_true(fd >= 0);
		close(fd);
		assert_int_equal(sl_upgrade_child_commit(), 0);
		assert_false(sl_upgrade_child());
		{
			int st;

			assert_int_equal(waitpid(pid, &st, 0), pid);
			assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
	}
	close(fds[0]);
	close(fds[1]);
	close(sv[0]);
	sl_fdreg_reset();
}

static void test_child_refuses_bad_batch(void **state)
{
	/* 2 names announced, 1 fd attached: a protocol error */
	const char *msgs[] = { "FDS 2\nsl-out4-1\nsl-out4-2" };
	const unsigned int n_fds[] = { 1 };
	int fds[1] = { new_fd() };
	int sv[2];
	pid_t pid;
	int st;

	(void)state;
	sl_fdreg_reset();
	child_env(sv);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		old_sends(sv[0], msgs, fds, n_fds, 1);
		_exit(0);
	}
	assert_int_equal(sl_upgrade_child_begin(), -EPROTO);
	assert_false(sl_upgrade_child());
	assert_int_equal(sl_fdreg_inherited("sl-out4-1"), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	close(fds[0]);
	close(sv[0]);
}

static void test_child_old_gone(void **state)
{
	int sv[2];

	(void)state;
	sl_fdreg_reset();
	child_env(sv);
	close(sv[0]); /* the old process died before answering */
	assert_int_equal(sl_upgrade_child_begin(), -EPIPE);
	assert_false(sl_upgrade_child());
}

static void test_not_an_upgrade(void **state)
{
	(void)state;
	unsetenv(SL_UPGRADE_ENV);
	assert_int_equal(sl_upgrade_child_begin(), 0);
	assert_false(sl_upgrade_child());
	setenv(SL_UPGRADE_ENV, "2", 1); /* stderr: not ours to take */
	assert_int_equal(sl_upgrade_child_begin(), -EBADF);
	setenv(SL_UPGRADE_ENV, "12x", 1);
	assert_int_equal(sl_upgrade_child_begin(), -EBADF);
	unsetenv(SL_UPGRADE_ENV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_inherit_take),
		cmocka_unit_test(test_publish_snapshot),
		cmocka_unit_test(test_take_listener),
		cmocka_unit_test(test_child_takes_fds),
		cmocka_unit_test(test_child_refuses_bad_batch),
		cmocka_unit_test(test_child_old_gone),
		cmocka_unit_test(test_not_an_upgrade),
	};

	/* no systemd here: nothing goes to a notify socket */
	unsetenv("NOTIFY_SOCKET");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
