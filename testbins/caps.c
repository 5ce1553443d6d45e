/* caps: capget/capset, prctl's capability and no_new_privs options, and mlock/munlock/
 * mlockall/munlockall/mlock2 with Linux's errors. Changes of privilege happen in forked
 * children. Runs as root or not (each branch prints the same lines on Linux and pykern);
 * no capability mask is printed, since a container's root lacks some.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define FAILS(call, err) ((call) == -1 && errno == (err))

static long capget_(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d)
{
    return syscall(SYS_capget, h, d);
}
static long capset_(struct __user_cap_header_struct *h, struct __user_cap_data_struct *d)
{
    return syscall(SYS_capset, h, d);
}

static uint64_t sets(int which) /* 0 effective, 1 permitted, 2 inheritable */
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (capget_(&h, d) != 0)
        return ~0ull;
    uint32_t lo = which == 0 ? d[0].effective : which == 1 ? d[0].permitted : d[0].inheritable;
    uint32_t hi = which == 0 ? d[1].effective : which == 1 ? d[1].permitted : d[1].inheritable;
    return (uint64_t)hi << 32 | lo;
}

static int set3(uint64_t eff, uint64_t prm, uint64_t inh)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {{(uint32_t)eff, (uint32_t)prm, (uint32_t)inh},
                                          {(uint32_t)(eff >> 32), (uint32_t)(prm >> 32), (uint32_t)(inh >> 32)}};
    return (int)capset_(&h, d);
}

static void finish(pid_t child)
{
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0, "child passed");
}

static void test_capget(int root)
{
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    CHECK(capget_(&h, d) == 0, "capget v3");
    uint64_t eff = sets(0), prm = sets(1), inh = sets(2);
    CHECK(eff == prm && inh == 0, "effective == permitted, inheritable empty");
    if (root)
        CHECK((prm & (1ull << CAP_CHOWN)) && (prm & (1ull << CAP_SETPCAP)) && (prm >> 32), "root: a full set");
    else
        CHECK(prm == 0, "not root: empty sets");
    h.version = 0x1234;
    CHECK(FAILS(capget_(&h, d), EINVAL) && h.version == _LINUX_CAPABILITY_VERSION_3,
          "unknown version: EINVAL, v3 written back");
    h.version = 0x1234;
    CHECK(capget_(&h, NULL) == 0 && h.version == _LINUX_CAPABILITY_VERSION_3, "probe with NULL data: 0");
    h.version = _LINUX_CAPABILITY_VERSION_3;
    CHECK(capget_(&h, NULL) == 0, "v3 with NULL data: 0");
    memset(d, 0xAA, sizeof d);
    h.version = _LINUX_CAPABILITY_VERSION_1;
    CHECK(capget_(&h, d) == 0 && d[0].permitted == (uint32_t)prm && d[1].permitted == 0xAAAAAAAAu,
          "v1 writes one word");
    h.version = _LINUX_CAPABILITY_VERSION_2;
    CHECK(capget_(&h, d) == 0 && d[1].permitted == (uint32_t)(prm >> 32), "v2 writes two words");
    h.version = _LINUX_CAPABILITY_VERSION_3;
    h.pid = -1;
    CHECK(FAILS(capget_(&h, d), EINVAL), "capget pid -1: EINVAL");
    h.pid = 999999;
    CHECK(FAILS(capget_(&h, d), ESRCH), "capget no such pid: ESRCH");
    h.pid = getpid();
    CHECK(capget_(&h, d) == 0, "capget own pid");
    CHECK(FAILS(capget_(NULL, d), EFAULT), "capget NULL header: EFAULT");
    CHECK(FAILS(capget_(&h, (void *)8), EFAULT), "capget bad data: EFAULT");
}

static void test_capset(int root)
{
    pid_t parent = getpid();
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    pid_t child = fork();
    if (child == 0) {
        uint64_t prm = sets(1);
        CHECK(set3(prm, prm, 0) == 0, "capset the same sets");
        if (root) {
            uint64_t less = prm & ~(1ull << CAP_CHOWN);
            CHECK(set3(less, prm, 0) == 0 && sets(0) == less && sets(1) == prm, "capset drops from effective");
            CHECK(set3(prm, prm, 0) == 0 && sets(0) == prm, "capset raises effective back within permitted");
            CHECK(set3(less, less, 0) == 0 && sets(1) == less, "capset drops from permitted");
            CHECK(FAILS(set3(prm, prm, 0), EPERM), "capset cannot regain permitted: EPERM");
            CHECK(FAILS(set3(prm, less, 0), EPERM), "capset effective beyond permitted: EPERM");
            CHECK(set3(less, less, 1ull << CAP_KILL) == 0 && sets(2) == 1ull << CAP_KILL, "capset inheritable");
            /* without CAP_SETPCAP, inheritable stays within inheritable | permitted */
            uint64_t nopcap = less & ~(1ull << CAP_SETPCAP) & ~(1ull << CAP_KILL);
            CHECK(set3(nopcap, nopcap, 1ull << CAP_KILL) == 0, "capset drops CAP_SETPCAP and CAP_KILL");
            CHECK(FAILS(set3(nopcap, nopcap, 1ull << CAP_CHOWN), EPERM), "inheritable beyond: EPERM");
            CHECK(FAILS(prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0), EPERM), "CAPBSET_DROP without CAP_SETPCAP: EPERM");
        } else {
            CHECK(FAILS(set3(1, 1, 0), EPERM), "capset cannot gain: EPERM");
        }
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, parent};
        struct __user_cap_data_struct d[2] = {{0, 0, 0}, {0, 0, 0}};
        CHECK(FAILS(capset_(&h, d), EPERM), "capset another pid: EPERM");
        h.pid = 0;
        h.version = 7;
        CHECK(FAILS(capset_(&h, d), EINVAL) && h.version == _LINUX_CAPABILITY_VERSION_3, "capset bad version");
        h.version = _LINUX_CAPABILITY_VERSION_3;
        CHECK(FAILS(capset_(&h, (void *)8), EFAULT), "capset bad data: EFAULT");
        CHECK(set3(0, 0, 0) == 0 && sets(1) == 0, "capset drops everything");
        /* the parent sees its own sets, and can read the child's */
        printf("ok tell parent\n"); /* before the write: the parent may go on (and kill us) at once */
        fflush(stdout);
        if (write(p[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(p[0], &c, 1) == 1, "child dropped its sets");
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, child};
    struct __user_cap_data_struct d[2];
    CHECK(capget_(&h, d) == 0 && d[0].permitted == 0 && d[1].permitted == 0, "capget of the child: empty");
    CHECK(sets(1) == sets(0), "parent's own sets unchanged");
    kill(child, SIGKILL);
    int status;
    CHECK(waitpid(child, &status, 0) == child, "reaped");
    close(p[0]);
    close(p[1]);
}

static void test_prctl(int root)
{
    CHECK(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 1, "CAPBSET_READ CAP_CHOWN: 1");
    CHECK(FAILS(prctl(PR_CAPBSET_READ, 63, 0, 0, 0), EINVAL), "CAPBSET_READ 63: EINVAL");
    CHECK(FAILS(prctl(PR_CAPBSET_READ, -1L, 0, 0, 0), EINVAL), "CAPBSET_READ -1: EINVAL");
    CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0, "NO_NEW_PRIVS starts 0");
    CHECK(prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0, "KEEPCAPS starts 0");
    pid_t child = fork();
    if (child == 0) {
        if (root) {
            CHECK(prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0) == 0, "CAPBSET_DROP CAP_CHOWN");
            CHECK(prctl(PR_CAPBSET_READ, CAP_CHOWN, 0, 0, 0) == 0, "dropped from the bounding set");
            CHECK(FAILS(prctl(PR_CAPBSET_DROP, 63, 0, 0, 0), EINVAL), "CAPBSET_DROP 63: EINVAL");
        } else {
            CHECK(FAILS(prctl(PR_CAPBSET_DROP, CAP_CHOWN, 0, 0, 0), EPERM), "CAPBSET_DROP: EPERM");
        }
        CHECK(FAILS(prctl(PR_SET_NO_NEW_PRIVS, 2, 0, 0, 0), EINVAL), "SET_NO_NEW_PRIVS 2: EINVAL");
        CHECK(FAILS(prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0), EINVAL), "SET_NO_NEW_PRIVS extra arg: EINVAL");
        CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0, "SET_NO_NEW_PRIVS");
        CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "NO_NEW_PRIVS now 1");
        CHECK(FAILS(prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0), EINVAL), "GET_NO_NEW_PRIVS extra arg: EINVAL");
        pid_t grandchild = fork();
        if (grandchild == 0)
            _exit(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1);
        finish(grandchild);
        CHECK(FAILS(prctl(PR_SET_KEEPCAPS, 2, 0, 0, 0), EINVAL), "SET_KEEPCAPS 2: EINVAL");
        CHECK(prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0 && prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1, "KEEPCAPS set");
        if (root) {
            uint64_t prm = sets(1);
            CHECK(setresuid(1000, 1000, 1000) == 0, "setresuid away from root");
            CHECK(sets(1) == prm && sets(0) == 0, "KEEPCAPS kept permitted, effective cleared");
            CHECK(setresuid(1000, 1000, 1000) == 0, "setresuid again");
            pid_t other = fork();
            if (other == 0) {
                CHECK(prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == 0, "KEEPCAPS off");
                CHECK(set3(0, prm, 0) == 0, "capset effective empty");
                _exit(0);
            }
            finish(other);
        }
        _exit(0);
    }
    finish(child);
    if (root) {
        child = fork();
        if (child == 0) {
            CHECK(setuid(65534) == 0, "setuid away from root");
            CHECK(sets(0) == 0 && sets(1) == 0, "setuid without KEEPCAPS: sets cleared");
            _exit(0);
        }
        finish(child);
    }
}

static void test_mlock(int root)
{
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(m != MAP_FAILED, "mmap 4 pages");
    CHECK(mlock(m, 2 * page) == 0, "mlock 2 pages");
    CHECK(mlock(m + 10, 1) == 0, "mlock unaligned start");
    CHECK(mlock(m, 0) == 0, "mlock 0 bytes");
    CHECK(munlock(m, page) == 0, "munlock 1 page");
    CHECK(syscall(SYS_mlock2, m, page, MLOCK_ONFAULT) == 0, "mlock2 MLOCK_ONFAULT");
    CHECK(FAILS(syscall(SYS_mlock2, m, page, 2), EINVAL), "mlock2 bad flags: EINVAL");
    CHECK(munmap(m + 2 * page, page) == 0, "punch a hole");
    CHECK(FAILS(mlock(m, 4 * page), ENOMEM), "mlock over a hole: ENOMEM");
    CHECK(FAILS(munlock(m, 4 * page), ENOMEM), "munlock over a hole: ENOMEM");
    CHECK(FAILS(mlock((void *)0x10000, page), ENOMEM), "mlock unmapped: ENOMEM");
    CHECK(FAILS(mlockall(0), EINVAL), "mlockall 0: EINVAL");
    CHECK(FAILS(mlockall(MCL_ONFAULT), EINVAL), "mlockall MCL_ONFAULT alone: EINVAL");
    CHECK(FAILS(mlockall(0x10), EINVAL), "mlockall unknown flag: EINVAL");
    if (root) {
        CHECK(mlockall(MCL_CURRENT | MCL_FUTURE) == 0, "mlockall");
        char *n = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(n != MAP_FAILED && munmap(n, page) == 0, "map and unmap under MCL_FUTURE");
    } else {
        CHECK(1, "mlockall");
        CHECK(1, "map and unmap under MCL_FUTURE");
    }
    CHECK(munlockall() == 0, "munlockall");
    pid_t child = fork();
    if (child == 0) {
        struct rlimit lim = {page, page};
        if (root) {
            uint64_t prm = sets(1) & ~(1ull << CAP_IPC_LOCK);
            CHECK(set3(prm, prm, 0) == 0, "drop CAP_IPC_LOCK");
        }
        CHECK(setrlimit(RLIMIT_MEMLOCK, &lim) == 0, "RLIMIT_MEMLOCK one page");
        CHECK(FAILS(mlock(m, 2 * page), ENOMEM), "mlock past RLIMIT_MEMLOCK: ENOMEM");
        CHECK(mlock(m, page) == 0, "mlock within RLIMIT_MEMLOCK");
        CHECK(mlock(m, page) == 0, "mlock the same page again");
        CHECK(FAILS(mlock(m + page, page), ENOMEM), "the locked page counts: ENOMEM");
        lim.rlim_cur = lim.rlim_max = 0;
        CHECK(setrlimit(RLIMIT_MEMLOCK, &lim) == 0, "RLIMIT_MEMLOCK 0");
        CHECK(FAILS(mlock(m, page), EPERM), "mlock without limit or CAP_IPC_LOCK: EPERM");
        CHECK(FAILS(mlockall(MCL_CURRENT), EPERM), "mlockall: EPERM");
        CHECK(munlock(m, page) == 0, "munlock needs no privilege");
        _exit(0);
    }
    finish(child);
}

int main(void)
{
    int root = geteuid() == 0;
    test_capget(root);
    test_capset(root);
    test_prctl(root);
    test_mlock(root);
    printf("done\n");
    return 0;
}
