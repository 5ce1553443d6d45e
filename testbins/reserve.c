/* reserve: huge PROT_NONE reservations (256 GiB and 1 TiB, as AddressSanitizer and Go
 * make them) with mprotect, munmap and MAP_FIXED pieces inside them; access to the
 * reservation faults with SEGV_ACCERR, access to a hole punched in it with SEGV_MAPERR.
 * Each step must cost in proportion to the piece, not to the reservation (under pykern
 * a piece of a 1 TiB reservation once took 33 s). */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static sigjmp_buf env;
static volatile int last_code;
static void *volatile last_addr;

static void on_segv(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)ctx;
    last_code = info->si_code;
    last_addr = info->si_addr;
    siglongjmp(env, 1);
}

/* The si_code of a fault when reading (or writing) `p`, or 0 if the access worked. */
static int fault_code(volatile char *p, int write)
{
    last_code = 0;
    last_addr = NULL;
    if (sigsetjmp(env, 1) == 0) {
        if (write)
            *p = 1;
        else
            (void)*p;
        return 0;
    }
    return last_addr == (void *)p ? last_code : -1;
}

static void exercise(size_t size, const char *name)
{
    char what[128];
    const size_t page = 4096, piece = 64 * page;
    char *base = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    snprintf(what, sizeof what, "%s: PROT_NONE reservation", name);
    CHECK(base != MAP_FAILED, what);

    char *mid = base + size / 2;
    snprintf(what, sizeof what, "%s: reading the reservation faults with SEGV_ACCERR", name);
    CHECK(fault_code(mid, 0) == SEGV_ACCERR, what);

    snprintf(what, sizeof what, "%s: mprotect of a piece in the middle", name);
    CHECK(mprotect(mid, piece, PROT_READ | PROT_WRITE) == 0, what);
    memset(mid, 0x5a, piece);
    snprintf(what, sizeof what, "%s: the piece holds what was written", name);
    CHECK(mid[0] == 0x5a && mid[piece - 1] == 0x5a, what);
    snprintf(what, sizeof what, "%s: the page after the piece still faults (SEGV_ACCERR)", name);
    CHECK(fault_code(mid + piece, 1) == SEGV_ACCERR, what);

    snprintf(what, sizeof what, "%s: mprotect of the piece's second half back to PROT_NONE", name);
    CHECK(mprotect(mid + piece / 2, piece / 2, PROT_NONE) == 0, what);
    snprintf(what, sizeof what, "%s: its first half is still readable, the second faults", name);
    CHECK(fault_code(mid, 0) == 0 && fault_code(mid + piece / 2, 0) == SEGV_ACCERR, what);
    snprintf(what, sizeof what, "%s: made readable again, the second half kept its bytes", name);
    CHECK(mprotect(mid + piece / 2, piece / 2, PROT_READ) == 0 && mid[piece - 1] == 0x5a, what);

    snprintf(what, sizeof what, "%s: munmap of a hole near the start", name);
    CHECK(munmap(base + 16 * page, 4 * page) == 0, what);
    snprintf(what, sizeof what, "%s: the hole faults with SEGV_MAPERR, its neighbours SEGV_ACCERR", name);
    CHECK(fault_code(base + 17 * page, 0) == SEGV_MAPERR && fault_code(base + 15 * page, 0) == SEGV_ACCERR &&
              fault_code(base + 20 * page, 0) == SEGV_ACCERR,
          what);
    snprintf(what, sizeof what, "%s: mprotect across the hole fails with ENOMEM", name);
    CHECK(mprotect(base + 15 * page, 8 * page, PROT_READ) == -1 && errno == ENOMEM, what);

    char *fixed = mmap(base + size - 8 * page, 2 * page, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    snprintf(what, sizeof what, "%s: MAP_FIXED inside the reservation, zero-filled and writable", name);
    CHECK(fixed == base + size - 8 * page && fixed[0] == 0 && (fixed[page] = 7) == 7, what);

    snprintf(what, sizeof what, "%s: many small mprotects inside the reservation", name);
    int ok = 1;
    for (int i = 0; i < 200; i++) {
        char *at = base + (size_t)i * (size / 256);
        ok &= mprotect(at + 32 * page, page, PROT_READ | PROT_WRITE) == 0;
        at[32 * page] = (char)i;
    }
    for (int i = 0; i < 200; i++)
        ok &= base[(size_t)i * (size / 256) + 32 * page] == (char)i;
    CHECK(ok, what);

    snprintf(what, sizeof what, "%s: munmap of the whole reservation, hole and all", name);
    CHECK(munmap(base, size) == 0, what);
    snprintf(what, sizeof what, "%s: the former piece now faults with SEGV_MAPERR", name);
    CHECK(fault_code(mid, 0) == SEGV_MAPERR, what);
}

/* fork of a process with a huge writable MAP_NORESERVE mapping (ASan's shadow is 15 TiB):
 * the child sees the parent's few written pages, and its writes stay its own. */
static void fork_huge(void)
{
    const size_t size = (size_t)1 << 40, page = 4096;
    char *shadow = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(shadow != MAP_FAILED, "1 TiB writable MAP_NORESERVE mapping");
    for (int i = 0; i < 64; i++)
        shadow[(size_t)i * (size / 64) + 5 * page] = (char)(i + 1);
    for (int round = 0; round < 3; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            int ok = 1;
            for (int i = 0; i < 64; i++) {
                ok &= shadow[(size_t)i * (size / 64) + 5 * page] == (char)(i + 1);
                ok &= shadow[(size_t)i * (size / 64) + 6 * page] == 0;
                shadow[(size_t)i * (size / 64) + 5 * page] = 0;
            }
            _exit(ok ? 0 : 1);
        }
        int status = -1;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "fork: the child sees the written pages");
    }
    int ok = 1;
    for (int i = 0; i < 64; i++)
        ok &= shadow[(size_t)i * (size / 64) + 5 * page] == (char)(i + 1);
    CHECK(ok, "fork: the children's writes did not reach the parent");
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);
    exercise((size_t)1 << 38, "256 GiB");
    exercise((size_t)1 << 40, "1 TiB");
    fork_huge();
    return 0;
}
