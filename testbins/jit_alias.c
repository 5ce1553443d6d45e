/* jit_alias: code written through one mapping and run through another mapping of the
 * same memory, in every way Linux lets a program make the second mapping: a memfd mapped
 * twice, shared anonymous memory given a second address by mremap(old_size 0), a System V
 * segment attached twice (SHM_EXEC), a shared file mapping. Each view is written with
 * stores, with read(2) into the writable view, across a page boundary, after fork in the
 * child, and after the executable view is unmapped or made writable itself. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

typedef int (*fn)(void);

/* `mov eax, imm32; ret` at `at` (5 + 1 bytes). */
static void emit(unsigned char *at, int32_t value)
{
    at[0] = 0xb8;
    memcpy(at + 1, &value, 4);
    at[5] = 0xc3;
}

/* Rounds of: write a constant through `rw`, run it through `rx`, at offset `off`. */
static int rounds(unsigned char *rw, unsigned char *rx, size_t off, int n)
{
    int wrong = 0;
    for (int r = 0; r < n; r++) {
        int32_t v = 0x1000 + r * 7919;
        emit(rw + off, v);
        for (int k = 0; k < 2; k++)
            wrong += ((fn)(rx + off))() != v;
    }
    return wrong;
}

static void two_views(const char *what, unsigned char *rw, unsigned char *rx)
{
    char msg[3][96];
    snprintf(msg[0], sizeof msg[0], "%s: 50 rounds at the start of a page", what);
    snprintf(msg[1], sizeof msg[1], "%s: 50 rounds on the second page", what);
    snprintf(msg[2], sizeof msg[2], "%s: 50 rounds across the page boundary", what);
    CHECK(rounds(rw, rx, 0, 50) == 0, msg[0]);
    CHECK(rounds(rw, rx, 4096 + 100, 50) == 0, msg[1]);
    CHECK(rounds(rw, rx, 4096 - 3, 50) == 0, msg[2]);
}

int main(void)
{
    /* A memfd mapped RW and RX. */
    int fd = memfd_create("jit_alias", 0);
    CHECK(fd >= 0 && ftruncate(fd, 2 * 4096) == 0, "memfd of two pages");
    unsigned char *rw = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *rx = mmap(NULL, 2 * 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    CHECK(rw != MAP_FAILED && rx != MAP_FAILED, "memfd mapped twice");
    two_views("memfd", rw, rx);

    /* read(2) into the writable view: the kernel's write. */
    int p[2];
    unsigned char code[6];
    CHECK(pipe(p) == 0, "pipe");
    int moved = 0, stale = 0;
    for (int r = 0; r < 20; r++) {
        emit(code, 0x5000 + r);
        moved += write(p[1], code, 6) == 6 && read(p[0], rw + 200, 6) == 6;
        stale += ((fn)(rx + 200))() != 0x5000 + r;
    }
    CHECK(moved == 20 && stale == 0, "20 rounds of code read(2) into the RW view run through the RX view");

    /* fork: the child writes and runs its own (shared) code, the parent sees it. */
    emit(rw + 300, 1);
    CHECK(((fn)(rx + 300))() == 1, "before fork");
    pid_t child = fork();
    if (child == 0) {
        int bad = ((fn)(rx + 300))() != 1;
        bad += rounds(rw, rx, 300, 30);
        emit(rw + 300, 77);
        bad += ((fn)(rx + 300))() != 77;
        _exit(bad ? 1 : 0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child && status == 0, "the child writes and runs the shared code");
    CHECK(((fn)(rx + 300))() == 77, "the parent runs what the child wrote");
    CHECK(rounds(rw, rx, 300, 30) == 0, "and writes and runs it again");

    /* The RX view made RWX: written through both views. */
    CHECK(mprotect(rx, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) == 0, "mprotect the RX view RWX");
    int wrong = 0;
    for (int r = 0; r < 30; r++) {
        emit((r & 1 ? rx : rw) + 400, r);
        wrong += ((fn)(rx + 400))() != r;
    }
    CHECK(wrong == 0, "30 rounds written through either view, run through the RWX one");

    /* The RX view unmapped: the RW view writes as any memory. */
    CHECK(munmap(rx, 2 * 4096) == 0, "munmap the RX view");
    for (int i = 0; i < 2 * 4096; i++)
        rw[i] = (unsigned char)i;
    CHECK(rw[4097] == 1, "the RW view alone writes freely");
    CHECK(munmap(rw, 2 * 4096) == 0 && close(fd) == 0, "munmap the RW view");

    /* Shared anonymous memory, a second view by mremap(old_size = 0). */
    unsigned char *a = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(a != MAP_FAILED, "shared anonymous memory");
    unsigned char *b = mremap(a, 0, 2 * 4096, MREMAP_MAYMOVE);
    CHECK(b != MAP_FAILED && b != a, "mremap(old_size 0): a second view");
    CHECK(mprotect(b, 2 * 4096, PROT_READ | PROT_EXEC) == 0, "the second view RX");
    two_views("shared anonymous", a, b);

    /* A System V segment attached twice. */
    int id = shmget(IPC_PRIVATE, 2 * 4096, IPC_CREAT | 0600);
    CHECK(id >= 0, "shmget");
    unsigned char *w = shmat(id, NULL, 0);
    unsigned char *x = shmat(id, NULL, SHM_EXEC | SHM_RDONLY);
    CHECK(w != (void *)-1 && x != (void *)-1, "the segment attached RW and R+X");
    two_views("System V segment", w, x);
    CHECK(shmdt(x) == 0 && shmdt(w) == 0 && shmctl(id, IPC_RMID, NULL) == 0, "detach and remove");

    /* A shared file mapping, and the same file mapped RX. */
    char path[] = "/tmp/jit_alias.XXXXXX";
    int f = mkstemp(path);
    CHECK(f >= 0 && ftruncate(f, 2 * 4096) == 0, "a file of two pages");
    unlink(path);
    unsigned char *fw = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    unsigned char *fx = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, f, 4096);
    CHECK(fw != MAP_FAILED && fx != MAP_FAILED, "the file mapped RW, and its second page RX");
    CHECK(rounds(fw + 4096, fx, 64, 50) == 0, "file: 50 rounds on the page both map");
    printf("jit_alias: ok\n");
    return 0;
}
