/* procself: what a process reads about itself in /proc agrees with its syscalls: pid,
 * ppid, uid and state in stat and status, Threads after creating a thread, SigBlk after
 * sigprocmask, SigIgn after SIG_IGN, a fresh mmap in maps, a pipe's fd link pipe:[N]
 * against fstat's st_ino, fdinfo's flags, exe against the realpath of argv[0], cwd,
 * cmdline, comm both ways with prctl, oom_score_adj's range, limits against getrlimit,
 * osrelease and hostname against uname, and a reaped child's /proc/PID gone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char buf[1 << 16];

/* The whole file, NUL-terminated; its length, or -1 with errno. */
static ssize_t slurp(const char *path)
{
    int fd = open(path, O_RDONLY);
    ssize_t total = 0, n;
    if (fd < 0)
        return -1;
    while ((n = read(fd, buf + total, sizeof(buf) - 1 - total)) > 0)
        total += n;
    close(fd);
    buf[total] = 0;
    return n < 0 ? -1 : total;
}

static int spew(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    ssize_t n;
    int saved;
    if (fd < 0)
        return -1;
    n = write(fd, text, strlen(text));
    saved = errno;
    close(fd);
    errno = saved;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The value of "Field:\t..." in the last slurped status file (up to the newline). */
static const char *field(const char *name)
{
    static char value[4096];
    size_t len = strlen(name);
    char *line = buf;
    while (line && *line) {
        if (!strncmp(line, name, len) && line[len] == ':') {
            char *start = line + len + 1, *end;
            while (*start == '\t' || *start == ' ')
                start++;
            end = strchr(start, '\n');
            len = end ? (size_t)(end - start) : strlen(start);
            memcpy(value, start, len);
            value[len] = 0;
            return value;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return "";
}

/* The n-th (1-based) field of the last slurped stat file, counting after "(comm)". */
static long long stat_field(int n)
{
    char *p = strrchr(buf, ')');
    int i;
    if (!p || n < 3)
        return -1;
    p += 2;
    for (i = 3; i < n; i++) {
        p = strchr(p, ' ');
        if (!p)
            return -1;
        p++;
    }
    return strtoll(p, NULL, 10);
}

static char stat_state(void)
{
    char *p = strrchr(buf, ')');
    return p ? p[2] : '?';
}

static int thread_pipe[2];

static void *sleeper(void *arg)
{
    char c;
    (void)arg;
    read(thread_pipe[0], &c, 1);
    return NULL;
}

static int count_entries(const char *path)
{
    DIR *dir = opendir(path);
    struct dirent *entry;
    int count = 0;
    if (!dir)
        return -1;
    while ((entry = readdir(dir)))
        if (entry->d_name[0] != '.')
            count++;
    closedir(dir);
    return count;
}

int main(int argc, char **argv)
{
    char path[PATH_MAX], real[PATH_MAX], link[PATH_MAX], expect[PATH_MAX];
    ssize_t n;
    struct stat st;
    sigset_t set, current;
    uint64_t mask = 0;
    pthread_t thread;
    int fds[2], i;
    struct rlimit limit;
    struct utsname uts;
    pid_t child;

    (void)argc;
    /* ids and state */
    CHECK(slurp("/proc/self/stat") > 0, "read /proc/self/stat");
    CHECK(stat_field(1) == -1 || atoi(buf) == getpid(), "stat pid is getpid()");
    CHECK(stat_field(4) == getppid(), "stat ppid is getppid()");
    CHECK(stat_field(5) == getpgrp(), "stat pgrp is getpgrp()");
    CHECK(stat_field(6) == getsid(0), "stat session is getsid()");
    CHECK(stat_state() == 'R', "stat state of the reader is R");
    CHECK(stat_field(20) == 1, "stat num_threads is 1");
    CHECK(slurp("/proc/self/status") > 0, "read /proc/self/status");
    CHECK(atoi(field("Pid")) == getpid() && atoi(field("Tgid")) == getpid(), "status Pid and Tgid");
    CHECK(atoi(field("PPid")) == getppid(), "status PPid");
    CHECK(!strcmp(field("State"), "R (running)"), "status State");
    snprintf(expect, sizeof(expect), "%d\t%d\t%d\t%d", getuid(), geteuid(), geteuid(), geteuid());
    CHECK(!strcmp(field("Uid"), expect), "status Uid");
    CHECK(!strcmp(field("Threads"), "1"), "status Threads 1");
    n = readlink("/proc/self", link, sizeof(link) - 1);
    CHECK(n > 0 && (link[n] = 0, atoi(link) == getpid()), "/proc/self is the pid");
    snprintf(expect, sizeof(expect), "%d/task/%ld", getpid(), (long)syscall(SYS_gettid));
    n = readlink("/proc/thread-self", link, sizeof(link) - 1);
    CHECK(n > 0 && (link[n] = 0, !strcmp(link, expect)), "/proc/thread-self is pid/task/tid");

    /* a second thread */
    CHECK(pipe(thread_pipe) == 0, "pipe for the thread");
    CHECK(pthread_create(&thread, NULL, sleeper, NULL) == 0, "pthread_create");
    CHECK(slurp("/proc/self/status") > 0 && !strcmp(field("Threads"), "2"), "status Threads 2");
    CHECK(slurp("/proc/self/stat") > 0 && stat_field(20) == 2, "stat num_threads is 2");
    CHECK(count_entries("/proc/self/task") == 2, "task/ lists 2 threads");

    /* signal masks */
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGTERM);
    CHECK(sigprocmask(SIG_BLOCK, &set, NULL) == 0, "sigprocmask");
    sigprocmask(SIG_SETMASK, NULL, &current);
    for (i = 1; i <= 64; i++)
        if (i < NSIG && sigismember(&current, i) == 1)
            mask |= 1ULL << (i - 1);
    snprintf(expect, sizeof(expect), "%016llx", (unsigned long long)mask);
    CHECK(slurp("/proc/self/status") > 0 && !strcmp(field("SigBlk"), expect), "status SigBlk after sigprocmask");
    signal(SIGUSR2, SIG_IGN);
    CHECK(slurp("/proc/self/status") > 0 && (strtoull(field("SigIgn"), NULL, 16) & (1ULL << (SIGUSR2 - 1))),
          "status SigIgn after SIG_IGN");
    CHECK(slurp("/proc/self/stat") > 0 && stat_field(32) == (long long)(mask & 0x7fffffff), "stat blocked");

    /* a fresh mapping, at an address nothing else is near */
    {
        char *want = (char *)0x100000000000UL;
        char *area = mmap(want, 5 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
                          -1, 0);
        CHECK(area == want, "mmap at a fixed address");
        snprintf(expect, sizeof(expect), "\n%lx-%lx rw-p 00000000 00:00 0 \n", (unsigned long)area,
                 (unsigned long)(area + 5 * 4096));
        CHECK(slurp("/proc/self/maps") > 0 && strstr(buf, expect), "maps shows the mapping");
        munmap(area, 5 * 4096);
        CHECK(slurp("/proc/self/maps") > 0 && !strstr(buf, expect), "maps forgets it after munmap");
        CHECK(strstr(buf, "[stack]\n") != NULL, "maps shows [stack]");
    }

    /* a pipe's fd link and fdinfo */
    CHECK(pipe2(fds, O_CLOEXEC) == 0, "pipe2");
    CHECK(fstat(fds[0], &st) == 0, "fstat pipe");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
    snprintf(expect, sizeof(expect), "pipe:[%lu]", (unsigned long)st.st_ino);
    n = readlink(path, link, sizeof(link) - 1);
    CHECK(n > 0 && (link[n] = 0, !strcmp(link, expect)), "fd link is pipe:[st_ino]");
    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fds[1]);
    CHECK(slurp(path) > 0 && !strcmp(field("flags"), "02000001") && !strcmp(field("pos"), "0"),
          "fdinfo pos and flags of a close-on-exec write end");
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[1]);
    CHECK(lstat(path, &st) == 0 && (st.st_mode & 0777) == 0300, "fd link of a write end is -wx");

    /* exe, cwd, cmdline, a regular file's fd link */
    CHECK(realpath(argv[0], real) != NULL, "realpath(argv[0])");
    n = readlink("/proc/self/exe", link, sizeof(link) - 1);
    CHECK(n > 0 && (link[n] = 0, !strcmp(link, real)), "exe is the realpath of argv[0]");
    {
        int fd = open(argv[0], O_RDONLY);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, link, sizeof(link) - 1);
        CHECK(fd >= 0 && n > 0 && (link[n] = 0, !strcmp(link, real)), "a file's fd link is its path");
        close(fd);
    }
    CHECK(getcwd(expect, sizeof(expect)) != NULL, "getcwd");
    n = readlink("/proc/self/cwd", link, sizeof(link) - 1);
    CHECK(n > 0 && (link[n] = 0, !strcmp(link, expect)), "cwd is getcwd()");
    n = slurp("/proc/self/cmdline");
    CHECK(n == (ssize_t)strlen(argv[0]) + 1 && !strcmp(buf, argv[0]), "cmdline is argv");

    /* comm both ways */
    prctl(PR_SET_NAME, "procself-x");
    CHECK(slurp("/proc/self/comm") > 0 && !strcmp(buf, "procself-x\n"), "comm after PR_SET_NAME");
    CHECK(slurp("/proc/self/status") > 0 && !strcmp(field("Name"), "procself-x"), "status Name");
    CHECK(spew("/proc/self/comm", "renamed") == 0, "write comm");
    memset(link, 0, 17);
    prctl(PR_GET_NAME, link);
    CHECK(!strcmp(link, "renamed"), "PR_GET_NAME after writing comm");

    /* oom_score_adj */
    CHECK(spew("/proc/self/oom_score_adj", "100\n") == 0, "write oom_score_adj 100");
    CHECK(slurp("/proc/self/oom_score_adj") > 0 && !strcmp(buf, "100\n"), "oom_score_adj reads back");
    errno = 0;
    CHECK(spew("/proc/self/oom_score_adj", "1001") == -1 && errno == EINVAL, "oom_score_adj 1001 is EINVAL");
    CHECK(slurp("/proc/self/oom_score") > 0 && atoi(buf) >= 0, "oom_score");

    /* limits, uname */
    CHECK(getrlimit(RLIMIT_NOFILE, &limit) == 0, "getrlimit");
    snprintf(expect, sizeof(expect), "Max open files            %-20lu %-20lu files     \n",
             (unsigned long)limit.rlim_cur, (unsigned long)limit.rlim_max);
    CHECK(slurp("/proc/self/limits") > 0 && strstr(buf, expect), "limits Max open files is getrlimit's");
    CHECK(uname(&uts) == 0, "uname");
    CHECK(slurp("/proc/sys/kernel/osrelease") > 0 && !strncmp(buf, uts.release, strlen(uts.release)),
          "osrelease is uname's release");
    CHECK(slurp("/proc/sys/kernel/hostname") > 0 && !strncmp(buf, uts.nodename, strlen(uts.nodename)),
          "hostname is uname's nodename");
    CHECK(slurp("/proc/sys/kernel/ostype") > 0 && !strcmp(buf, "Linux\n"), "ostype");

    /* a child: its own /proc entry, gone once reaped */
    child = fork();
    if (child == 0) {
        snprintf(path, sizeof(path), "/proc/%d/stat", getppid());
        _exit(slurp(path) > 0 && stat_field(4) != 0 ? 0 : 3);
    }
    CHECK(waitpid(child, &i, 0) == child && WIFEXITED(i) && WEXITSTATUS(i) == 0, "child read its parent's stat");
    snprintf(path, sizeof(path), "/proc/%d/stat", child);
    errno = 0;
    CHECK(open(path, O_RDONLY) == -1 && errno == ENOENT, "a reaped child's /proc/PID is ENOENT");
    snprintf(path, sizeof(path), "/proc/%d", getpid());
    CHECK(stat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid(), "/proc/PID is ours");
    errno = 0;
    CHECK(open("/proc/self/no-such-file", O_RDONLY) == -1 && errno == ENOENT, "unknown /proc file is ENOENT");
    return 0;
}
