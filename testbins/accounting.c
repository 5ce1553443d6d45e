/* accounting: getrusage, wait4's rusage, times() and /proc/self/{stat,status} report real use:
 * user time for computing, system time for syscalls, page faults and the peak resident set
 * for touched memory, voluntary context switches for sleeping, and a reaped child's totals
 * (its peak the largest) in RUSAGE_CHILDREN. Ranges, not values: it runs natively too. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/times.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define MB (1L << 20)

static long usec(struct timeval tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }

static struct rusage self_usage(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        exit(2);
    return ru;
}

/* Compute: `millions` million additions (the same syscalls natively and under strace,
 * whatever the speed). */
static void burn_user(long millions)
{
    volatile unsigned long x = 0;
    for (long i = 0; i < millions * 1000000; i++)
        x += i;
}

/* System time: 1 MiB reads of /dev/zero, which the kernel fills (some 10 ms per 1,000 natively; a
 * loop of getppid took too little for Linux's tick-sampled split of user and system time, and
 * "syscalls are system time" failed natively 1 run in 5). */
static void burn_kernel(int reads)
{
    static char buf[1 << 20];
    int fd = open("/dev/zero", O_RDONLY);
    for (int i = 0; i < reads; i++)
        if (read(fd, buf, sizeof buf) != sizeof buf)
            break;
    close(fd);
}

static char *touch(long bytes)
{
    char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        exit(2);
    for (long i = 0; i < bytes; i += 4096)
        p[i] = 1;
    return p;
}

/* A field of /proc/self/stat (1-based, as proc(5) numbers them). */
static long stat_field(int n)
{
    char buf[4096];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[len] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p += 2; /* field 3 */
    for (int i = 3; i < n; i++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    return atol(p);
}

static long status_kb(const char *name)
{
    char line[256];
    long value = -1;
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, strlen(name)) == 0)
            value = atol(line + strlen(name));
    if (f)
        fclose(f);
    return value;
}

int main(void)
{
    struct rusage before = self_usage(), after;
    burn_user(150);
    after = self_usage();
    long user = usec(after.ru_utime) - usec(before.ru_utime);
    CHECK(user >= 10000, "computing is user time");

    /* user time never goes back (a call's own time is system time while it runs) */
    int monotonic = 1;
    for (int i = 0; i < 200; i++) {
        struct rusage a = self_usage(), b = self_usage();
        monotonic &= usec(b.ru_utime) >= usec(a.ru_utime) && usec(b.ru_stime) >= usec(a.ru_stime);
    }
    CHECK(monotonic, "user and system time never go back");

    before = self_usage();
    burn_kernel(3000);
    after = self_usage();
    CHECK(usec(after.ru_stime) - usec(before.ru_stime) >= 2000, "syscalls are system time");

    struct tms tms;
    times(&tms);
    long hz = sysconf(_SC_CLK_TCK);
    CHECK(tms.tms_utime >= hz / 100, "times(): user time");
    long ticks = stat_field(14) + stat_field(15);
    after = self_usage();
    long rusage_ticks = (usec(after.ru_utime) + usec(after.ru_stime)) * hz / 1000000;
    CHECK(labs(ticks - rusage_ticks) <= 10, "/proc/self/stat's utime + stime is getrusage's");

    /* memory: faults and the peak */
    before = self_usage();
    char *p = touch(32 * MB);
    after = self_usage();
    long faults = after.ru_minflt - before.ru_minflt;
    CHECK(faults >= 32 * MB / 4096 * 9 / 10 && faults <= 32 * MB / 4096 * 3 / 2, "touching 32 MiB: a fault a page");
    /* (not after - before: ru_maxrss survives exec, and the process that exec'd us may be big) */
    CHECK(after.ru_maxrss >= 32 * 1024, "touching 32 MiB: ru_maxrss holds it");
    CHECK(labs(stat_field(10) - self_usage().ru_minflt) <= 64, "/proc/self/stat's minflt is getrusage's");
    long rss = status_kb("VmRSS:");
    CHECK(rss >= 32 * 1024 && status_kb("VmHWM:") >= rss, "VmRSS and VmHWM hold the touched memory");
    munmap(p, 32 * MB);
    after = self_usage();
    CHECK(after.ru_maxrss >= 32 * 1024, "ru_maxrss keeps the peak after munmap");
    CHECK(status_kb("VmHWM:") >= 32 * 1024 && status_kb("VmRSS:") < rss - 16 * 1024,
          "VmHWM keeps the peak, VmRSS drops");
    p = touch(8 * MB);
    CHECK(self_usage().ru_minflt - after.ru_minflt >= 8 * MB / 4096 * 9 / 10, "touching again faults again");
    munmap(p, 8 * MB);

    /* a child: its usage comes back by wait4 and RUSAGE_CHILDREN */
    long voluntary = self_usage().ru_nvcsw;
    pid_t pid = fork();
    if (pid == 0) {
        touch(48 * MB);
        burn_user(60);
        struct timespec nap = {0, 20 * 1000 * 1000};
        nanosleep(&nap, NULL);
        _exit(0);
    }
    int status;
    struct rusage child;
    CHECK(wait4(pid, &status, 0, &child) == pid && WIFEXITED(status), "wait4 reaps the child");
    CHECK(child.ru_maxrss >= 48 * 1024 && child.ru_maxrss < 200 * 1024, "wait4: the child's peak RSS");
    CHECK(child.ru_minflt >= 48 * MB / 4096 * 9 / 10, "wait4: the child's faults");
    CHECK(usec(child.ru_utime) >= 5000, "wait4: the child's user time");
    CHECK(child.ru_nvcsw >= 1, "wait4: the child slept (a voluntary switch)");
    CHECK(self_usage().ru_nvcsw > voluntary, "waiting for it was a voluntary switch");
    struct rusage children;
    getrusage(RUSAGE_CHILDREN, &children);
    CHECK(children.ru_maxrss == child.ru_maxrss && children.ru_minflt == child.ru_minflt,
          "RUSAGE_CHILDREN: the reaped child's");

    pid = fork();
    if (pid == 0) {
        touch(4 * MB);
        _exit(0);
    }
    waitpid(pid, &status, 0);
    struct rusage two;
    getrusage(RUSAGE_CHILDREN, &two);
    CHECK(two.ru_maxrss == children.ru_maxrss, "RUSAGE_CHILDREN's maxrss is the largest child's");
    CHECK(two.ru_minflt >= children.ru_minflt + 4 * MB / 4096 * 9 / 10, "RUSAGE_CHILDREN's faults add up");
    times(&tms);
    CHECK(tms.tms_cutime >= hz / 100, "times(): the children's user time");
    CHECK(stat_field(11) == two.ru_minflt, "/proc/self/stat's cminflt");

    /* a child nobody waits for (SIGCHLD ignored: it reaps itself) adds nothing */
    signal(SIGCHLD, SIG_IGN);
    pid = fork();
    if (pid == 0) {
        touch(64 * MB);
        burn_user(20);
        _exit(0);
    }
    CHECK(waitpid(pid, &status, 0) == -1 && errno == ECHILD, "SIGCHLD ignored: the child reaps itself");
    struct rusage three;
    getrusage(RUSAGE_CHILDREN, &three);
    CHECK(three.ru_maxrss == two.ru_maxrss && three.ru_minflt == two.ru_minflt
          && usec(three.ru_utime) == usec(two.ru_utime), "RUSAGE_CHILDREN: only children waited for");

    /* SIGCHLD's siginfo carries the child's own user and system time, in clock ticks */
    signal(SIGCHLD, SIG_DFL);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    pid = fork();
    if (pid == 0) {
        burn_user(60);
        burn_kernel(3000);
        _exit(0);
    }
    siginfo_t info;
    CHECK(sigwaitinfo(&chld, &info) == SIGCHLD && info.si_pid == pid && info.si_code == CLD_EXITED,
          "SIGCHLD: the child exited");
    CHECK(info.si_utime >= 1, "SIGCHLD: si_utime is the child's user time");
    CHECK(info.si_stime >= 1, "SIGCHLD: si_stime is the child's system time");
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid reaps it");
    return 0;
}
