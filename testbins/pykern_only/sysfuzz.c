/* sysfuzz: every syscall number, with arguments from a fixed set of awkward values
 * (0, -1, small and huge numbers, NULL, unmapped, kernel-half and misaligned pointers, a
 * pointer to a harmless relative path), each in a child process that a 50 ms timer
 * ends if the call blocks. pykern must answer every call with a result or an errno (or
 * a signal, as Linux would): never a Python traceback. Not run natively: on the host,
 * as root, random syscalls are not safe. Dangerous-to-pykern-itself calls are not
 * special-cased; the ones that would create processes endlessly are skipped.
 * argv[1]: the working directory to run in (a temporary one); argv[2], optional: a
 * seed for other mixes of the values, some with random bits (for hunting by hand).
 *
 * `sysfuzz --paths DIR`: the calls that take a path, each over a list of tricky paths (a
 * FIFO nobody opened, symlink loops, dangling links, trailing slashes, ".", "..", "/",
 * PATH_MAX and NAME_MAX overflows, /proc/PID of a reaped process, /proc/self/fd/N of
 * pipes, sockets and closed fds, non-UTF-8 names) with dirfds, flags and modes from
 * small sets. Blocked calls are interrupted by a repeating 50 ms timer (EINTR). Only
 * under `pykern run --root JAIL` (JAIL/sysfuzz-jail must exist): the calls rename, unlink
 * and chmod what they find, "/" included.
 *
 * `sysfuzz --storm SECONDS SEED [DIR [FIRST [-v]]]`: generations of 3 processes with 3 threads each,
 * every thread making random syscalls with random arguments from SEED while the threads
 * and the parent send signals to them (with and without SA_RESTART), until SECONDS have
 * passed; a generation still running after 2 s is killed. FIRST: start at that
 * generation (its seed), -v: name each generation on stderr. `make soak` runs it (issue 16).
 * Children inherit SIG_IGN for most signals, as the plain mode's do. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char path_buf[64] = "fuzz-file";
static char scratch[8192] __attribute__((aligned(64)));

static long values(int i)
{
    static const long fixed[] = {
        0, -1, 1, 2, 3, 0x7fffffff, -0x80000000L, 4096,
    };
    switch (i) {
    case 8: return 8;                               /* unmapped, near NULL */
    case 9: return (long)0xffff800000000000UL;       /* kernel half */
    case 10: return (long)(scratch + 1);             /* valid, misaligned */
    case 11: return (long)path_buf;                  /* "fuzz-file" */
    case 12: return (long)(scratch + sizeof scratch - 2); /* runs off the end of a mapping? */
    default: return fixed[i % 8];
    }
}

static int skipped(long nr)
{
    switch (nr) {
    case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3:
        return 1; /* process explosions */
    default:
        return 0;
    }
}

/* Wait for the child (SIGCHLD is blocked in the fuzzer, so it queues); one stuck in a
 * sleep its timer cannot end is killed after 2 s. */
static int reap(pid_t pid)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    int status;
    for (;;) {
        pid_t done = waitpid(pid, &status, WNOHANG);
        if (done == pid)
            return status;
        if (done < 0) {
            perror("waitpid");
            exit(1);
        }
        struct timespec limit = {2, 0};
        if (sigtimedwait(&chld, NULL, &limit) < 0 && errno == EAGAIN) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return status;
        }
    }
}

/* --- --paths ------------------------------------------------------------------------------ */

#include <fcntl.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* A path call: its number and its arguments' kinds: p a path, q a second path, d a
 * dirfd, f flags, m a mode, b a buffer, n a size, i a small int. */
struct path_call {
    long nr;
    const char *kinds;
};

static const struct path_call path_calls[] = {
    {SYS_open, "pfm"}, {SYS_openat, "dpfm"}, {SYS_creat, "pm"}, {SYS_stat, "pb"}, {SYS_lstat, "pb"},
    {SYS_newfstatat, "dpbf"}, {SYS_statx, "dpfib"}, {SYS_access, "pi"}, {SYS_faccessat, "dpi"},
    {SYS_faccessat2, "dpif"}, {SYS_readlink, "pbn"}, {SYS_readlinkat, "dpbn"}, {SYS_chdir, "p"},
    {SYS_chroot, "p"}, {SYS_mkdir, "pm"}, {SYS_mkdirat, "dpm"}, {SYS_mknod, "pmi"}, {SYS_mknodat, "dpmi"},
    {SYS_rmdir, "p"}, {SYS_unlink, "p"}, {SYS_unlinkat, "dpf"}, {SYS_rename, "pq"}, {SYS_renameat, "dpdq"},
    {SYS_renameat2, "dpdqf"}, {SYS_link, "pq"}, {SYS_linkat, "dpdqf"}, {SYS_symlink, "qp"},
    {SYS_symlinkat, "qdp"}, {SYS_chmod, "pm"}, {SYS_fchmodat, "dpm"}, {SYS_chown, "pii"}, {SYS_lchown, "pii"},
    {SYS_fchownat, "dpiif"}, {SYS_truncate, "pn"}, {SYS_utimensat, "dpbf"}, {SYS_utime, "pb"},
    {SYS_utimes, "pb"}, {SYS_futimesat, "dpb"}, {SYS_statfs, "pb"}, {SYS_getxattr, "pqbn"},
    {SYS_lgetxattr, "pqbn"}, {SYS_listxattr, "pbn"}, {SYS_setxattr, "pqbnf"}, {SYS_removexattr, "pq"},
    {437 /* openat2 */, "dpbn"}, {SYS_name_to_handle_at, "dpbbf"}, {SYS_getcwd, "bn"},
};

#define MAX_PATHS 64
static char *paths[MAX_PATHS];
static int npaths;
static int fds[8]; /* AT_FDCWD, a dir, a file, a pipe's ends, a socket, -1, a closed fd */

static void add_path(const char *text)
{
    if (npaths < MAX_PATHS)
        paths[npaths++] = strdup(text);
}

/* The tree every child works in: made fresh in its own directory. */
static void make_tree(int child)
{
    char name[32];
    snprintf(name, sizeof name, "w%d", child);
    mkdir(name, 0755);
    if (chdir(name) != 0)
        _exit(1);
    close(open("file", O_CREAT | O_WRONLY, 0644));
    mkdir("dir", 0755);
    close(open("dir/inner", O_CREAT | O_WRONLY, 0644));
    mkfifo("fifo", 0600);
    mknod("sock", S_IFSOCK | 0600, 0);
    symlink("loop2", "loop");
    symlink("loop", "loop2");
    symlink("nowhere", "dangle");
    symlink("dir", "lnkdir");
    symlink("/", "lnkroot");
    symlink("../../../../../../..", "up");
    symlink("/proc/self/fd/3", "lnkfd");
}

static void make_paths(pid_t reaped)
{
    static char buf[PATH_MAX + 8];
    static const char *fixed[] = {
        "file", "dir", "dir/", "dir/.", "dir/..", "file/", "file/.", "file/..", "fifo", "fifo/", "sock",
        "loop", "loop/", "loop/x", "dangle", "dangle/", "lnkdir", "lnkdir/", "lnkdir/inner/", "lnkroot/..",
        "up", "up/file", "lnkfd", "lnkfd/x", "", ".", "..", "/", "//", "/..", "missing/x", "missing/",
        "/proc/self/root/..", "/proc/self/cwd/../..", "/proc/self/fd/99", "/proc/self/fd/-1", "/proc/self/exe/",
        "/proc/thread-self/fd", "/dev/stdin", "/dev/tty", "/dev/null/", "/dev/shm/x", "/dev/fd/0/x",
        "\xff\xfe\x01name",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        add_path(fixed[i]);
    for (int k = 1; k <= 5; k++) {
        snprintf(buf, sizeof buf, "/proc/self/fd/%d", fds[k]);
        add_path(buf);
    }
    snprintf(buf, sizeof buf, "/proc/%d", (int)reaped);
    add_path(buf);
    snprintf(buf, sizeof buf, "/proc/%d/fd/0", (int)reaped);
    add_path(buf);
    snprintf(buf, sizeof buf, "/proc/%d/cwd/file", (int)reaped);
    add_path(buf);
    for (int i = 0; i < PATH_MAX + 1; i++)
        buf[i] = i % 2 ? '/' : '.';
    buf[PATH_MAX + 1] = '\0';
    add_path(buf); /* PATH_MAX + 1 bytes */
    buf[PATH_MAX] = '\0';
    add_path(buf); /* PATH_MAX */
    buf[PATH_MAX - 1] = '\0';
    add_path(buf); /* PATH_MAX - 1: "." */
    memset(buf, 'n', NAME_MAX + 1);
    buf[NAME_MAX + 1] = '\0';
    add_path(buf);
}

static void on_tick(int sig)
{
    (void)sig;
}

static long path_arg(char kind, int path, int pattern)
{
    static const long flag_set[] = {
        0, O_CREAT | O_RDWR, O_RDONLY | O_NONBLOCK, O_WRONLY | O_NONBLOCK, O_PATH | O_NOFOLLOW,
        O_TMPFILE | O_RDWR, O_DIRECTORY | O_NOFOLLOW, 0x1000 | 0x100 /* AT_EMPTY_PATH|AT_SYMLINK_NOFOLLOW */,
        0x200 /* AT_REMOVEDIR */, 2 /* RENAME_EXCHANGE */, -1, O_CREAT | O_EXCL | O_WRONLY, O_WRONLY, O_RDONLY,
    };
    static const long modes[] = {0644, S_IFIFO | 0600, S_IFSOCK | 0600, S_IFCHR | 0600, S_IFDIR | 0755, 0170000, 0};
    static const long sizes[] = {64, 0, -1, sizeof scratch};
    switch (kind) {
    case 'p': return (long)paths[path];
    case 'q': return (long)paths[(path * 7 + pattern + 3) % npaths];
    case 'd': return fds[(path + pattern) % 8];
    case 'f': return flag_set[(pattern + path / 4) % (sizeof flag_set / sizeof flag_set[0])];
    case 'm': return modes[(pattern + path) % (sizeof modes / sizeof modes[0])];
    case 'b': return (long)scratch;
    case 'n': return sizes[(pattern + path) % 4];
    default: return pattern % 3;
    }
}

static int fuzz_paths(void)
{
    pid_t reaped = fork();
    if (reaped == 0)
        _exit(0);
    waitpid(reaped, NULL, 0);
    int calls = 0, signalled = 0, stuck = 0, children = 0;
    sigset_t none;
    sigemptyset(&none);
    for (size_t c = 0; c < sizeof path_calls / sizeof path_calls[0]; c++) {
        for (int pattern = 0; pattern < 4; pattern++) {
            int child = children++;
            pid_t pid = fork();
            if (pid == 0) {
                setpgid(0, 0);
                sigprocmask(SIG_SETMASK, &none, NULL);
                FILE *devnull = fopen("/dev/null", "r+");
                if (devnull) {
                    dup2(fileno(devnull), 1);
                    dup2(fileno(devnull), 2);
                }
                int pipefd[2], socks[2];
                fds[0] = AT_FDCWD;
                make_tree(child);
                fds[1] = open("dir", O_RDONLY | O_DIRECTORY);
                fds[2] = open("file", O_RDWR);
                if (pipe(pipefd) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, socks) != 0)
                    _exit(1);
                fds[3] = pipefd[0];
                fds[4] = pipefd[1];
                fds[5] = socks[0];
                fds[6] = -1;
                fds[7] = 99;
                make_paths(reaped);
                struct sigaction sa;
                memset(&sa, 0, sizeof sa);
                sa.sa_handler = on_tick; /* no SA_RESTART: a blocked call ends with EINTR */
                sigaction(SIGALRM, &sa, NULL);
                signal(SIGPIPE, SIG_IGN);
                struct itimerval it = {{0, 50000}, {0, 50000}};
                setitimer(ITIMER_REAL, &it, NULL);
                const char *kinds = path_calls[c].kinds;
                for (int p = 0; p < npaths; p++) {
                    long a[6] = {0};
                    memset(scratch, p * 13 + pattern, sizeof scratch);
                    for (int k = 0; kinds[k] && k < 6; k++)
                        a[k] = path_arg(kinds[k], p, pattern);
                    syscall(path_calls[c].nr, a[0], a[1], a[2], a[3], a[4], a[5]);
                }
                _exit(0);
            }
            int status = reap(pid);
            calls += npaths ? npaths : 1;
            signalled += WIFSIGNALED(status);
            stuck += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        }
    }
    printf("sysfuzz --paths: %d children, %d ended by a signal (%d stuck and killed)\n", children, signalled,
           stuck);
    (void)calls;
    return 0;
}

/* --- --storm ------------------------------------------------------------------------------ */

#include <pthread.h>

#define STORM_PROCS 3
#define STORM_THREADS 3
#define STORM_CALLS 300

static unsigned long long storm_seed;
static pid_t storm_pids[STORM_PROCS];

static unsigned long long next_random(unsigned long long *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state >> 11;
}

/* Calls that would reach outside the generation (signals to random pids: kill(-1, SIGKILL)
 * ends the fuzzer itself), replace the program, or make processes endlessly. */
static int storm_skipped(long nr)
{
    switch (nr) {
    case SYS_kill: case SYS_tkill: case SYS_tgkill: case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo:
    case 424 /* pidfd_send_signal */: case SYS_execve: case SYS_execveat: case SYS_reboot: case SYS_ptrace:
    case SYS_process_vm_writev: case SYS_prlimit64: /* prlimit64(2, RLIMIT_CPU, 0): the fuzzer's end */
        return 1;
    default:
        return skipped(nr);
    }
}

static void on_storm_signal(int sig) { (void)sig; }

static void *storm_thread(void *arg)
{
    unsigned long long state = storm_seed ^ ((unsigned long long)(long)arg * 0x9E3779B97F4A7C15ULL);
    static const int sigs[] = {SIGUSR1, SIGUSR2, SIGALRM, SIGCHLD, 0};
    for (int i = 0; i < STORM_CALLS; i++) {
        unsigned long long r = next_random(&state);
        if (r % 8 == 0) { /* signal a sibling process or this process's threads */
            int sig = sigs[(r >> 3) % 5];
            pid_t target = storm_pids[(r >> 8) % STORM_PROCS];
            if ((r >> 16) % 2 && target > 0)
                kill(target, sig);
            else
                kill(getpid(), sig);
            continue;
        }
        long nr = (long)((r >> 3) % 460);
        if (storm_skipped(nr))
            continue;
        long a[6];
        for (int k = 0; k < 6; k++) {
            unsigned long long bits = next_random(&state);
            a[k] = bits % 4 == 0 ? (long)(bits << 11) : values((int)((bits >> 2) % 13));
        }
        syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    }
    return NULL;
}

/* One process of a generation: STORM_THREADS threads of random calls, signals flying. */
static void storm_child(int index)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    FILE *devnull = fopen("/dev/null", "r+");
    if (devnull) {
        dup2(fileno(devnull), 0);
        dup2(fileno(devnull), 1);
        dup2(fileno(devnull), 2);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_storm_signal; /* no SA_RESTART: blocked calls end with EINTR */
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR2, &sa, NULL);
    storm_seed = storm_seed * 31 + (unsigned long long)index + 1;
    pthread_t threads[STORM_THREADS];
    for (int t = 1; t < STORM_THREADS; t++)
        pthread_create(&threads[t], NULL, storm_thread, (void *)(long)t);
    storm_thread((void *)0L);
    for (int t = 1; t < STORM_THREADS; t++)
        pthread_join(threads[t], NULL);
    _exit(0);
}

/* Generations of STORM_PROCS processes until `seconds` have passed; each generation gets
 * 2 s before the rest of it is killed. */
static int fuzz_storm(int seconds, unsigned long long seed, int first, int verbose)
{
    time_t end = time(NULL) + seconds;
    int generations = first, processes = 0, signalled = 0, killed = 0;
    while (time(NULL) < end) {
        if (verbose) /* which generation a hang is in: rerun from it with `first` */
            fprintf(stderr, "sysfuzz --storm: generation %d\n", generations);
        storm_seed = seed + (unsigned long long)generations * 1000003ULL;
        memset(storm_pids, 0, sizeof storm_pids);
        for (int i = 0; i < STORM_PROCS; i++) {
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0)
                storm_child(i);
            storm_pids[i] = pid;
            processes++;
        }
        for (int i = 0; i < STORM_PROCS; i++) /* the parent's share of the storm */
            kill(storm_pids[i], i % 2 ? SIGUSR1 : SIGUSR2);
        for (int i = 0; i < STORM_PROCS; i++) {
            int status = reap(storm_pids[i]);
            signalled += WIFSIGNALED(status);
            killed += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        }
        generations++;
    }
    generations -= first;
    printf("sysfuzz --storm: %d generations, %d processes of %d threads, %d ended by a signal (%d killed)\n",
           generations, processes, STORM_THREADS, signalled, killed);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 3 && !strcmp(argv[1], "--storm")) {
        /* argv[2]: seconds, argv[3]: the seed, argv[4], optional: the working directory */
        if (argc > 4 && chdir(argv[4]) != 0) {
            perror("chdir");
            return 1;
        }
        for (int sig = 1; sig < 32; sig++)
            if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_IGN);
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        return fuzz_storm(atoi(argv[2]), strtoull(argv[3], NULL, 0), argc > 5 ? atoi(argv[5]) : 0, argc > 6);
    }
    if (argc > 2 && !strcmp(argv[1], "--paths")) {
        /* "/" and ".." are among the paths renamed, removed and chmodded: only in a jail */
        if (access("/sysfuzz-jail", F_OK) != 0) {
            fprintf(stderr, "sysfuzz --paths: / is not a jail (no /sysfuzz-jail): run it under pykern --root\n");
            return 1;
        }
        if (chdir(argv[2]) != 0) {
            perror("chdir");
            return 1;
        }
        sigset_t chld;
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        return fuzz_paths();
    }
    unsigned long long seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 0;
    if (argc > 1 && chdir(argv[1]) != 0) {
        perror("chdir");
        return 1;
    }
    /* A child's kill(-1, sig) or kill(0, sig) must not end the fuzzer: ignore what can be
     * (SIGCHLD stays default, or children would reap themselves). */
    for (int sig = 1; sig < 32; sig++)
        if (sig != SIGCHLD && sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_IGN);
    sigset_t chld, none;
    sigemptyset(&chld);
    sigemptyset(&none);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int calls = 0, signalled = 0, stuck = 0;
    for (long nr = 0; nr < 460; nr++) {
        if (skipped(nr))
            continue;
        for (int round = 0; round < 13; round++) {
            pid_t pid = fork();
            if (pid < 0) {
                perror("fork");
                return 1;
            }
            if (pid == 0) {
                setpgid(0, 0);
                sigprocmask(SIG_SETMASK, &none, NULL);
                FILE *devnull = fopen("/dev/null", "r+");
                if (devnull) {
                    dup2(fileno(devnull), 0);
                    dup2(fileno(devnull), 1);
                    dup2(fileno(devnull), 2);
                }
                signal(SIGALRM, SIG_DFL);
                struct itimerval it = {{0, 0}, {0, 50000}};
                setitimer(ITIMER_REAL, &it, NULL);
                memset(scratch, round * 17, sizeof scratch);
                long a[6];
                if (seed)
                    seed ^= (unsigned long long)(nr * 131 + round) * 0x9E3779B97F4A7C15ULL;
                for (int k = 0; k < 6; k++) {
                    a[k] = values((round + k * 5) % 13);
                    if (seed) { /* argv[2]: other mixes, some with random bits */
                        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                        a[k] = (seed >> 60) < 3 ? (long)(seed >> 1) : values((int)((seed >> 33) % 13));
                    }
                }
                syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
                _exit(0);
            }
            int status = reap(pid);
            calls++;
            signalled += WIFSIGNALED(status);
            stuck += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        }
    }
    printf("sysfuzz: %d calls made, %d children ended by a signal (%d stuck and killed)\n", calls, signalled,
           stuck);
    return 0;
}
