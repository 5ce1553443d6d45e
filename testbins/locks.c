/* locks: fcntl record locks between processes, POSIX (F_GETLK/F_SETLK/F_SETLKW) and
 * open-file-description ones (F_OFD_*): byte ranges, EOF-open and negative lengths,
 * upgrades, downgrades, splits and merges, release on close of any fd and on exit,
 * F_GETLK's report of the conflicting lock and its pid (-1 for OFD), EAGAIN, EDEADLK,
 * EINTR, and the errors for bad requests. Works on a file made with mkstemp in /tmp.
 * Output order is fixed: a parent prints only while its child waits, and vice versa.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char path[] = "/tmp/pykern-locks-XXXXXX";
static pid_t parent_pid;

static void cleanup(void)
{
    if (getpid() == parent_pid)
        unlink(path);
}

#define FAILS(call, err) ((call) == -1 && errno == (err))

static int lk(int fd, int cmd, short type, short whence, off_t start, off_t len)
{
    struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len, .l_pid = 0};
    return fcntl(fd, cmd, &fl);
}

/* F_GETLK (or F_OFD_GETLK): fills *out */
static int getlk(int fd, int cmd, short type, off_t start, off_t len, struct flock *out)
{
    memset(out, 0, sizeof *out);
    out->l_type = type;
    out->l_whence = SEEK_SET;
    out->l_start = start;
    out->l_len = len;
    return fcntl(fd, cmd, out);
}

static int is(struct flock *f, short type, off_t start, off_t len, pid_t pid)
{
    return f->l_type == type && f->l_whence == SEEK_SET && f->l_start == start && f->l_len == len && f->l_pid == pid;
}

static int openrw(void) { return open(path, O_RDWR); }

/* up: child -> parent, down: parent -> child */
static int up[2], down[2];

static void sync_wait(int *p)
{
    char c;
    if (read(p[0], &c, 1) != 1)
        exit(3);
}

static void sync_post(int *p)
{
    if (write(p[1], "x", 1) != 1)
        exit(3);
}

static void reap(pid_t child)
{
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child passed");
}

/* Run `body` in a child, which reports F_GETLK results for the parent's locks. */
static void test_ranges(void)
{
    int fd = openrw();
    struct flock f;
    pid_t me = getpid();
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10) == 0, "write lock [0,10)");
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 10, 10) == 0, "write lock [10,20): merges");
    CHECK(lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 100, 0) == 0, "read lock from 100 to EOF");
    CHECK(lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 50, -10) == 0, "read lock [40,50) by a negative length");
    CHECK(getlk(fd, F_GETLK, F_WRLCK, 0, 0, &f) == 0 && f.l_type == F_UNLCK && f.l_start == 0 && f.l_len == 0,
          "own locks never conflict: F_UNLCK, the rest unchanged");
    pid_t child = fork();
    if (child == 0) {
        int cfd = openrw();
        CHECK(getlk(cfd, F_GETLK, F_RDLCK, 5, 1, &f) == 0 && is(&f, F_WRLCK, 0, 20, me), "GETLK sees the merged lock");
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 1000, 5, &f) == 0 && is(&f, F_RDLCK, 100, 0, me), "GETLK: to EOF");
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 45, 1, &f) == 0 && is(&f, F_RDLCK, 40, 10, me), "GETLK: negative len");
        CHECK(getlk(cfd, F_GETLK, F_RDLCK, 40, 10, &f) == 0 && f.l_type == F_UNLCK, "readers share");
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 20, 20, &f) == 0 && f.l_type == F_UNLCK, "the gap [20,40) is free");
        CHECK(FAILS(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 19, 2), EAGAIN), "SETLK over a write lock: EAGAIN");
        CHECK(FAILS(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 500, 1), EAGAIN), "SETLK over a read lock: EAGAIN");
        CHECK(lk(cfd, F_SETLK, F_RDLCK, SEEK_SET, 500, 1) == 0, "read lock over a read lock");
        CHECK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 20, 20) == 0, "write lock in the gap");
        _exit(0);
    }
    reap(child);
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, 20) == 0, "the child's locks went with it");
    /* split by unlocking the middle, upgrade and downgrade parts */
    CHECK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0) == 0, "unlock everything");
    CHECK(lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 0, 100) == 0, "read lock [0,100)");
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, 10) == 0, "upgrade [20,30)");
    CHECK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 60, 10) == 0, "unlock [60,70)");
    child = fork();
    if (child == 0) {
        int cfd = openrw();
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 0, 0, &f) == 0 && is(&f, F_RDLCK, 0, 20, me), "first piece [0,20) read");
        CHECK(getlk(cfd, F_GETLK, F_RDLCK, 0, 0, &f) == 0 && is(&f, F_WRLCK, 20, 10, me), "upgraded [20,30) write");
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 30, 0, &f) == 0 && is(&f, F_RDLCK, 30, 30, me), "[30,60) read");
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 60, 10, &f) == 0 && f.l_type == F_UNLCK, "[60,70) free");
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 65, 0, &f) == 0 && is(&f, F_RDLCK, 70, 30, me), "[70,100) read");
        _exit(0);
    }
    reap(child);
    CHECK(lk(fd, F_SETLK, F_RDLCK, SEEK_SET, 20, 10) == 0, "downgrade [20,30)");
    child = fork();
    if (child == 0) {
        int cfd = openrw();
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 0, 0, &f) == 0 && is(&f, F_RDLCK, 0, 60, me), "downgrade merged [0,60)");
        CHECK(getlk(cfd, F_GETLK, F_RDLCK, 0, 0, &f) == 0 && f.l_type == F_UNLCK, "no write lock left");
        _exit(0);
    }
    reap(child);
    /* SEEK_CUR and SEEK_END */
    CHECK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0) == 0, "unlock all");
    CHECK(lseek(fd, 5, SEEK_SET) == 5, "lseek 5");
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_CUR, 0, 5) == 0, "lock SEEK_CUR [5,10)");
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_END, -6, 6) == 0, "lock SEEK_END [20,26)");
    child = fork();
    if (child == 0) {
        int cfd = openrw();
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 0, 0, &f) == 0 && is(&f, F_WRLCK, 5, 5, me), "SEEK_CUR range");
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 10, 0, &f) == 0 && is(&f, F_WRLCK, 20, 6, me), "SEEK_END range");
        _exit(0);
    }
    reap(child);
    close(fd);
}

static void test_errors(void)
{
    int fd = openrw();
    int ro = open(path, O_RDONLY), wo = open(path, O_WRONLY), opath = open(path, O_PATH);
    struct flock f;
    CHECK(FAILS(lk(fd, F_SETLK, F_WRLCK, 3, 0, 1), EINVAL), "bad whence: EINVAL");
    CHECK(FAILS(lk(fd, F_SETLK, 7, SEEK_SET, 0, 1), EINVAL), "bad type: EINVAL");
    CHECK(FAILS(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, -1, 1), EINVAL), "negative start: EINVAL");
    CHECK(FAILS(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 5, -6), EINVAL), "negative length before 0: EINVAL");
    CHECK(FAILS(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, LLONG_MAX, 2), EOVERFLOW), "past OFFSET_MAX: EOVERFLOW");
    CHECK(FAILS(lk(fd, F_SETLK, F_WRLCK, SEEK_END, LLONG_MAX, 1), EOVERFLOW), "SEEK_END overflow: EOVERFLOW");
    CHECK(FAILS(getlk(fd, F_GETLK, F_UNLCK, 0, 1, &f), EINVAL), "GETLK F_UNLCK: EINVAL");
    CHECK(FAILS(lk(ro, F_SETLK, F_WRLCK, SEEK_SET, 0, 1), EBADF), "write lock on read-only: EBADF");
    CHECK(FAILS(lk(wo, F_SETLK, F_RDLCK, SEEK_SET, 0, 1), EBADF), "read lock on write-only: EBADF");
    CHECK(lk(ro, F_SETLK, F_UNLCK, SEEK_SET, 0, 1) == 0, "unlock on read-only: 0");
    CHECK(getlk(wo, F_GETLK, F_RDLCK, 0, 1, &f) == 0, "GETLK needs no access");
    CHECK(FAILS(lk(opath, F_SETLK, F_RDLCK, SEEK_SET, 0, 1), EBADF), "O_PATH: EBADF");
    CHECK(FAILS(lk(99, F_SETLK, F_RDLCK, SEEK_SET, 0, 1), EBADF), "bad fd: EBADF");
    CHECK(FAILS(fcntl(fd, F_SETLK, (struct flock *)8), EFAULT), "bad pointer: EFAULT");
    struct flock p = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
    CHECK(FAILS(fcntl(fd, F_OFD_SETLK, &p), EINVAL), "OFD with l_pid: EINVAL");
    CHECK(FAILS(fcntl(fd, F_OFD_GETLK, &p), EINVAL), "OFD GETLK with l_pid: EINVAL");
    CHECK(fcntl(fd, F_SETLK, &p) == 0, "POSIX ignores l_pid");
    int pp[2];
    CHECK(pipe(pp) == 0, "pipe");
    int r = lk(pp[1], F_SETLK, F_WRLCK, SEEK_SET, 0, 1);
    int e = errno;
    CHECK(r == 0 || e == EINVAL, "lock on a pipe");
    printf("lock on a pipe: %d %s\n", r, r ? strerror(e) : "");
    close(pp[0]); close(pp[1]); close(ro); close(wo); close(opath); close(fd);
}

static void test_release(void)
{
    int fd = openrw();
    struct flock f;
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10) == 0, "lock via fd");
    int other = openrw();
    CHECK(lk(other, F_SETLK, F_WRLCK, SEEK_SET, 5, 10) == 0, "same owner through another fd");
    pid_t me = getpid();
    pid_t child = fork();
    if (child == 0) {
        int cfd = openrw();
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 0, 0, &f) == 0 && is(&f, F_WRLCK, 0, 15, me), "not inherited by fork");
        CHECK(FAILS(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1), EAGAIN), "the inherited fd is not the owner");
        sync_post(up);
        sync_wait(down);
        CHECK(getlk(cfd, F_GETLK, F_WRLCK, 0, 0, &f) == 0 && f.l_type == F_UNLCK, "close of any fd released all");
        CHECK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1) == 0, "child locks [0,1)");
        _exit(0); /* exit releases it */
    }
    sync_wait(up);
    close(other);
    sync_post(down);
    reap(child);
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1) == 0, "exit released the child's lock");
    /* a child's F_SETLKW sleeps until the parent unlocks */
    child = fork();
    if (child == 0) {
        int cfd = openrw();
        sync_post(up);
        CHECK(lk(cfd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1) == 0, "SETLKW woke when the lock was released");
        _exit(0);
    }
    sync_wait(up);
    usleep(50000);
    /* said before it is done: the child cannot have the lock (and print) until then */
    printf("ok parent unlocks\n");
    fflush(stdout);
    if (lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 1) != 0) {
        fprintf(stderr, "FAIL parent unlocks (errno %d)\n", errno);
        exit(1);
    }
    reap(child);
    close(fd);
}

static void on_usr1(int sig) { (void)sig; }

static void test_deadlock_and_eintr(void)
{
    int fd = openrw();
    CHECK(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1) == 0, "parent holds A");
    pid_t child = fork();
    if (child == 0) {
        int cfd = openrw();
        CHECK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 1, 1) == 0, "child holds B");
        sync_post(up);
        /* silent from here: which side detects the cycle depends on who sleeps first */
        if (lk(cfd, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1) == 0)
            _exit(0);
        _exit(errno == EDEADLK ? 10 : 1); /* exit releases B: the parent's wait ends */
    }
    sync_wait(up);
    CHECK(FAILS(lk(fd, F_SETLK, F_WRLCK, SEEK_SET, 1, 1), EAGAIN), "SETLK on B: EAGAIN, no deadlock check");
    usleep(100000); /* the child is most likely asleep on A by now */
    int r = lk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1);
    int e = errno, status;
    if (r == -1 && e == EDEADLK)
        CHECK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 1) == 0, "parent releases A");
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status), "child ended");
    CHECK((r == -1 && e == EDEADLK && WEXITSTATUS(status) == 0) || (r == 0 && WEXITSTATUS(status) == 10),
          "one side got EDEADLK, the other the lock it waited for");
    CHECK(lk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0) == 0, "unlock all");
    /* EINTR: a signal without SA_RESTART ends a blocked F_SETLKW; the child repeats the
     * signal until the parent's call has ended (one may come before the call sleeps) */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pid_t me = getpid();
    child = fork();
    if (child == 0) {
        int cfd = openrw();
        CHECK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0) == 0, "child locks the whole file");
        sync_post(up);
        struct pollfd pfd = {.fd = down[0], .events = POLLIN};
        while (poll(&pfd, 1, 50) == 0)
            kill(me, SIGUSR1);
        _exit(0);
    }
    sync_wait(up);
    CHECK(FAILS(lk(fd, F_SETLKW, F_RDLCK, SEEK_SET, 0, 1), EINTR), "SETLKW interrupted: EINTR");
    sync_post(down);
    reap(child);
    sync_wait(down); /* (the byte the child saw) */
    CHECK(lk(fd, F_SETLKW, F_RDLCK, SEEK_SET, 0, 1) == 0, "SETLKW after the holder left");
    close(fd);
}

static void test_ofd(void)
{
    int a = openrw(), b = openrw();
    struct flock f;
    CHECK(lk(a, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10) == 0, "OFD lock on description a");
    CHECK(FAILS(lk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 5, 1), EAGAIN), "another description conflicts: EAGAIN");
    CHECK(getlk(b, F_OFD_GETLK, F_RDLCK, 0, 0, &f) == 0 && is(&f, F_WRLCK, 0, 10, -1), "OFD GETLK: pid -1");
    CHECK(getlk(b, F_GETLK, F_RDLCK, 0, 0, &f) == 0 && is(&f, F_WRLCK, 0, 10, -1), "POSIX GETLK sees it, pid -1");
    CHECK(FAILS(lk(b, F_SETLK, F_RDLCK, SEEK_SET, 0, 1), EAGAIN), "own POSIX lock conflicts with OFD: EAGAIN");
    CHECK(lk(a, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 5) == 0, "OFD downgrade [0,5)");
    CHECK(lk(b, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 5) == 0, "OFD readers share");
    CHECK(lk(b, F_OFD_SETLK, F_UNLCK, SEEK_SET, 0, 0) == 0, "OFD unlock b");
    int c = openrw();
    close(c);
    CHECK(getlk(b, F_OFD_GETLK, F_WRLCK, 5, 1, &f) == 0 && is(&f, F_WRLCK, 5, 5, -1), "close of another fd keeps it");
    int dupa = dup(a);
    close(a);
    CHECK(getlk(b, F_OFD_GETLK, F_WRLCK, 5, 1, &f) == 0 && f.l_type == F_WRLCK, "kept while a dup lives");
    pid_t child = fork();
    if (child == 0) {
        CHECK(lk(dupa, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 10) == 0, "child shares the description: no conflict");
        _exit(0);
    }
    reap(child);
    CHECK(getlk(b, F_OFD_GETLK, F_WRLCK, 0, 0, &f) == 0 && is(&f, F_WRLCK, 0, 10, -1), "the child's change stays");
    close(dupa);
    CHECK(getlk(b, F_OFD_GETLK, F_WRLCK, 0, 0, &f) == 0 && f.l_type == F_UNLCK, "last close released it");
    /* OFD_SETLKW waits for a POSIX lock held by a child */
    child = fork();
    if (child == 0) {
        int cfd = openrw();
        CHECK(lk(cfd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1) == 0, "child POSIX lock");
        sync_post(up);
        usleep(50000);
        _exit(0);
    }
    sync_wait(up);
    CHECK(lk(b, F_OFD_SETLKW, F_WRLCK, SEEK_SET, 0, 1) == 0, "OFD_SETLKW woke at the child's exit");
    reap(child);
    close(b);
}

int main(void)
{
    parent_pid = getpid();
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    atexit(cleanup);
    CHECK(pipe(up) == 0 && pipe(down) == 0, "pipes");
    CHECK(write(fd, "0123456789abcdefghijklmnop", 26) == 26, "26 bytes");
    close(fd);
    test_ranges();
    test_errors();
    test_release();
    test_deadlock_and_eintr();
    test_ofd();
    printf("done\n");
    return 0;
}
