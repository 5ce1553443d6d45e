/* resource: getrusage, getpriority/setpriority (inherited by fork), the scheduler
 * queries, personality, chown, sync/syncfs, flock (shared/exclusive, LOCK_NB, across
 * processes) and memfd_create. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

int main(void)
{
    struct rusage ru;
    volatile unsigned long spin = 0;
    for (unsigned long i = 0; i < 3000000; i++)
        spin += i;
    CHECK(getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_utime.tv_sec + ru.ru_stime.tv_sec >= 0, "getrusage self");
    CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0, "getrusage children");
    CHECK(getrusage(99, &ru) == -1 && errno == EINVAL, "getrusage bad who: EINVAL");

    errno = 0;
    CHECK(getpriority(PRIO_PROCESS, 0) == 0 && errno == 0, "nice 0 at start");
    CHECK(setpriority(PRIO_PROCESS, 0, 5) == 0 && getpriority(PRIO_PROCESS, 0) == 5, "setpriority 5");
    pid_t pid = fork();
    if (pid == 0)
        _exit(getpriority(PRIO_PROCESS, 0));
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 5, "a child inherits nice 5");
    CHECK(setpriority(PRIO_PROCESS, 0, 100) == 0 && getpriority(PRIO_PROCESS, 0) == 19, "nice clamps to 19");
    CHECK(setpriority(PRIO_PROCESS, 0x7ffffff0, 1) == -1 && errno == ESRCH, "setpriority no such pid: ESRCH");
    CHECK(getpriority(7, 0) == -1 && errno == EINVAL, "getpriority bad which: EINVAL");

    struct sched_param sp = {.sched_priority = 7};
    CHECK(sched_getscheduler(0) == SCHED_OTHER, "SCHED_OTHER");
    CHECK(sched_getparam(0, &sp) == 0 && sp.sched_priority == 0, "priority 0");
    CHECK(sched_get_priority_max(SCHED_FIFO) == 99 && sched_get_priority_min(SCHED_RR) == 1, "real-time range");
    CHECK(sched_get_priority_max(SCHED_OTHER) == 0 && sched_get_priority_max(42) == -1 && errno == EINVAL,
          "SCHED_OTHER range, bad policy EINVAL");

    CHECK(personality(0xffffffff) == PER_LINUX, "personality: PER_LINUX");
    CHECK(personality(ADDR_NO_RANDOMIZE) == PER_LINUX && personality(0xffffffff) == ADDR_NO_RANDOMIZE,
          "personality set and read back");

    char path[] = "/tmp/pykern-resource-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    CHECK(fchown(fd, getuid(), getgid()) == 0 && chown(path, -1, -1) == 0 && lchown(path, getuid(), -1) == 0,
          "chown, fchown, lchown");
    CHECK(fchownat(AT_FDCWD, path, getuid(), getgid(), AT_SYMLINK_NOFOLLOW) == 0, "fchownat");
    CHECK(fchownat(AT_FDCWD, path, 0, 0, 0x4000) == -1 && errno == EINVAL, "fchownat bad flags: EINVAL");
    sync();
    CHECK(syncfs(fd) == 0, "syncfs");

    CHECK(flock(fd, LOCK_EX) == 0, "flock exclusive");
    pid = fork();
    if (pid == 0) {
        int other = open(path, O_RDWR);
        if (flock(other, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK)
            _exit(1);
        if (flock(other, LOCK_SH) != 0) /* waits until the parent unlocks */
            _exit(2);
        _exit(0);
    }
    usleep(50000);
    CHECK(flock(fd, LOCK_UN) == 0, "unlock");
    CHECK(waitpid(pid, &status, 0) == pid && WEXITSTATUS(status) == 0,
          "another process: LOCK_NB refused, then the lock once released");
    CHECK(flock(fd, 0) == -1 && errno == EINVAL, "flock bad operation: EINVAL");
    close(fd);
    unlink(path);

    int mfd = memfd_create("pykern", MFD_CLOEXEC);
    CHECK(mfd >= 0 && (fcntl(mfd, F_GETFD) & FD_CLOEXEC), "memfd_create");
    CHECK(write(mfd, "memfd!", 6) == 6 && lseek(mfd, 0, SEEK_SET) == 0, "write and seek");
    char buf[8] = {0};
    CHECK(read(mfd, buf, 6) == 6 && strcmp(buf, "memfd!") == 0, "read back");
    CHECK(ftruncate(mfd, 4096) == 0, "ftruncate");
    char *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, mfd, 0);
    CHECK(map != MAP_FAILED && memcmp(map, "memfd!", 6) == 0, "mmap of a memfd");
    CHECK(memfd_create("x", 0x100) == -1 && errno == EINVAL, "memfd_create bad flags: EINVAL");

    printf("resource: ok\n");
    return 0;
}
