/* mempolicy: NUMA memory policy on a machine of one node. set_mempolicy and
 * get_mempolicy (each mode, the mode flags, the node mask's sizes), MPOL_F_NODE,
 * MPOL_F_ADDR and MPOL_F_MEMS_ALLOWED, mbind on part of a mapping and on a hole,
 * inheritance by a thread and by a forked child, and the errors Linux gives. Needs a
 * host kernel with NUMA support on one node (tests/test_testbins.py skips nothing: the
 * CI and development hosts are such). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define MPOL_DEFAULT 0
#define MPOL_PREFERRED 1
#define MPOL_BIND 2
#define MPOL_INTERLEAVE 3
#define MPOL_LOCAL 4
#define MPOL_F_NUMA_BALANCING (1 << 13)
#define MPOL_F_RELATIVE_NODES (1 << 14)
#define MPOL_F_STATIC_NODES (1 << 15)
#define MPOL_F_NODE 1
#define MPOL_F_ADDR 2
#define MPOL_F_MEMS_ALLOWED 4
#define MPOL_MF_STRICT 1
#define MPOL_MF_MOVE 2

static long get(int *mode, unsigned long *mask, unsigned long maxnode, void *addr, unsigned long flags)
{
    return syscall(SYS_get_mempolicy, mode, mask, maxnode, addr, flags);
}

static long set(int mode, unsigned long *mask, unsigned long maxnode)
{
    return syscall(SYS_set_mempolicy, mode, mask, maxnode);
}

static long bind(void *addr, unsigned long len, int mode, unsigned long *mask, unsigned long maxnode, unsigned flags)
{
    return syscall(SYS_mbind, addr, len, mode, mask, maxnode, flags);
}

static void *thread_mode(void *arg)
{
    (void)arg;
    int mode = -1;
    unsigned long mask = 0;
    get(&mode, &mask, 64, NULL, 0);
    return (void *)(long)(mode * 16 + (int)mask);
}

int main(void)
{
    int mode = -1;
    unsigned long mask[4] = {~0UL, ~0UL, ~0UL, ~0UL};
    unsigned long node0 = 1, node1 = 2, both = 3;

    CHECK(get(&mode, mask, 129, NULL, 0) == 0 && mode == MPOL_DEFAULT && mask[0] == 0 && mask[1] == 0 &&
              mask[2] == ~0UL,
          "the default policy: an empty mask of 128 bits (maxnode 129), the rest untouched");
    CHECK(get(&mode, mask, 0, NULL, 0) == -1 && errno == EINVAL, "maxnode 0 with a mask: EINVAL");
    CHECK(get(&mode, NULL, 0, NULL, 0) == 0, "maxnode 0 without a mask");
    CHECK(get(&mode, mask, 64, NULL, MPOL_F_MEMS_ALLOWED) == 0 && mask[0] == 1, "MEMS_ALLOWED: node 0");
    CHECK(get(&mode, mask, 64, NULL, MPOL_F_MEMS_ALLOWED | MPOL_F_NODE) == -1 && errno == EINVAL,
          "MEMS_ALLOWED with F_NODE: EINVAL");
    CHECK(get(&mode, mask, 64, NULL, 8) == -1 && errno == EINVAL, "an unknown flag: EINVAL");
    CHECK(get(&mode, mask, 64, (void *)4096, 0) == -1 && errno == EINVAL, "an address without F_ADDR: EINVAL");
    CHECK(get(&mode, NULL, 0, NULL, MPOL_F_NODE) == -1 && errno == EINVAL, "F_NODE of the default policy: EINVAL");
    CHECK(get((int *)8, NULL, 0, NULL, 0) == -1 && errno == EFAULT, "a bad policy pointer: EFAULT");
    CHECK(get(&mode, (unsigned long *)8, 64, NULL, 0) == -1 && errno == EFAULT, "a bad mask pointer: EFAULT");

    CHECK(set(MPOL_BIND, &node0, 2) == 0, "BIND to node 0");
    CHECK(get(&mode, mask, 64, NULL, 0) == 0 && mode == MPOL_BIND && mask[0] == 1, "... read back");
    CHECK(set(MPOL_BIND, &node0, 1) == -1 && errno == EINVAL, "BIND with maxnode 1 (no bit): EINVAL");
    CHECK(set(MPOL_BIND, &node1, 3) == -1 && errno == EINVAL, "BIND to node 1 only: EINVAL");
    CHECK(set(MPOL_BIND, &both, 3) == 0 && get(&mode, mask, 64, NULL, 0) == 0 && mask[0] == 1,
          "BIND to nodes 0 and 1: node 0 is used");
    CHECK(set(MPOL_INTERLEAVE, &node0, 2) == 0 && get(&mode, NULL, 0, NULL, MPOL_F_NODE) == 0 && mode == 0,
          "INTERLEAVE: F_NODE gives the next node, 0");
    CHECK(set(MPOL_PREFERRED, NULL, 0) == 0 && get(&mode, mask, 64, NULL, 0) == 0 && mode == MPOL_LOCAL &&
              mask[0] == 0,
          "PREFERRED with no node is LOCAL");
    CHECK(set(MPOL_PREFERRED, &both, 3) == 0 && get(&mode, mask, 64, NULL, 0) == 0 && mode == MPOL_PREFERRED &&
              mask[0] == 1,
          "PREFERRED: the first node");
    CHECK(set(MPOL_LOCAL, &node0, 2) == -1 && errno == EINVAL, "LOCAL with a node: EINVAL");
    CHECK(set(MPOL_INTERLEAVE | MPOL_F_STATIC_NODES, &both, 3) == 0 &&
              get(&mode, mask, 64, NULL, 0) == 0 && mode == (MPOL_INTERLEAVE | MPOL_F_STATIC_NODES) && mask[0] == 3,
          "STATIC_NODES: get_mempolicy gives the nodes asked for");
    CHECK(set(MPOL_INTERLEAVE | MPOL_F_RELATIVE_NODES, &node1, 3) == 0 &&
              get(&mode, mask, 64, NULL, 0) == 0 && mask[0] == 2,
          "RELATIVE_NODES: node 1 folds onto node 0");
    CHECK(set(MPOL_BIND | MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES, &node0, 2) == -1 && errno == EINVAL,
          "STATIC and RELATIVE at once: EINVAL");
    CHECK(set(MPOL_INTERLEAVE | MPOL_F_NUMA_BALANCING, &node0, 2) == -1 && errno == EINVAL,
          "NUMA_BALANCING without BIND: EINVAL");
    CHECK(set(MPOL_BIND | MPOL_F_NUMA_BALANCING, &node0, 2) == 0 && get(&mode, NULL, 0, NULL, 0) == 0 &&
              mode == (MPOL_BIND | MPOL_F_NUMA_BALANCING),
          "BIND | NUMA_BALANCING");
    CHECK(set(9, &node0, 2) == -1 && errno == EINVAL, "an unknown mode: EINVAL");
    CHECK(set(MPOL_DEFAULT, &node0, 2) == -1 && errno == EINVAL, "DEFAULT with a node: EINVAL");
    CHECK(set(MPOL_BIND, (unsigned long *)8, 2) == -1 && errno == EFAULT, "a bad mask: EFAULT");
    unsigned long high[17] = {1};
    high[16] = 1; /* node 1024: beyond the kernel's nodes */
    CHECK(set(MPOL_BIND, high, 17 * 64) == -1 && errno == EINVAL, "a node beyond MAX_NUMNODES: EINVAL");
    high[16] = 0;
    CHECK(set(MPOL_BIND, high, 17 * 64) == 0, "a long mask, only node 0 set");

    /* A thread and a forked child inherit the policy. */
    CHECK(set(MPOL_BIND, &node0, 2) == 0, "BIND again");
    pthread_t t;
    void *r;
    CHECK(pthread_create(&t, NULL, thread_mode, NULL) == 0 && pthread_join(t, &r) == 0 &&
              (long)r == MPOL_BIND * 16 + 1,
          "a thread inherits BIND {0}");
    pid_t pid = fork();
    if (pid == 0) {
        int m = -1;
        _exit(get(&m, NULL, 0, NULL, 0) == 0 && m == MPOL_BIND ? 0 : 1);
    }
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && status == 0, "a forked child inherits BIND");
    CHECK(set(MPOL_DEFAULT, NULL, 0) == 0 && get(&mode, NULL, 0, NULL, 0) == 0 && mode == MPOL_DEFAULT,
          "back to DEFAULT");

    /* mbind on part of a mapping. */
    char *area = mmap(NULL, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(area != MAP_FAILED, "four pages");
    CHECK(bind(area + 4096, 2 * 4096, MPOL_BIND, &node0, 2, MPOL_MF_STRICT | MPOL_MF_MOVE) == 0,
          "mbind BIND on the middle two pages");
    CHECK(get(&mode, mask, 64, area + 4096, MPOL_F_ADDR) == 0 && mode == MPOL_BIND && mask[0] == 1,
          "F_ADDR in the middle: BIND {0}");
    CHECK(get(&mode, mask, 64, area, MPOL_F_ADDR) == 0 && mode == MPOL_DEFAULT && mask[0] == 0,
          "F_ADDR on the first page: DEFAULT");
    area[4096] = 1;
    CHECK(get(&mode, NULL, 0, area + 4096, MPOL_F_ADDR | MPOL_F_NODE) == 0 && mode == 0,
          "F_ADDR | F_NODE: the page is on node 0");
    CHECK(bind(area + 4096, 4096, MPOL_DEFAULT, NULL, 0, 0) == 0 &&
              get(&mode, NULL, 0, area + 4096, MPOL_F_ADDR) == 0 && mode == MPOL_DEFAULT &&
              get(&mode, NULL, 0, area + 2 * 4096, MPOL_F_ADDR) == 0 && mode == MPOL_BIND,
          "mbind DEFAULT on one page of the two");
    CHECK(munmap(area + 3 * 4096, 4096) == 0, "a hole after three pages");
    CHECK(bind(area, 4 * 4096, MPOL_BIND, &node0, 2, 0) == -1 && errno == EFAULT, "mbind over a hole: EFAULT");
    CHECK(get(&mode, NULL, 0, area + 3 * 4096, MPOL_F_ADDR) == -1 && errno == EFAULT, "F_ADDR on the hole: EFAULT");
    CHECK(bind(area + 1, 4096, MPOL_BIND, &node0, 2, 0) == -1 && errno == EINVAL, "an unaligned start: EINVAL");
    CHECK(bind(area, 4096, MPOL_BIND, &node0, 2, 8) == -1 && errno == EINVAL, "an unknown flag: EINVAL");
    CHECK(bind(area, 0, MPOL_BIND, &node0, 2, 0) == 0, "an empty range: 0");
    CHECK(bind(area, 4096, MPOL_BIND, &node1, 3, 0) == -1 && errno == EINVAL, "mbind to node 1: EINVAL");
    return 0;
}
