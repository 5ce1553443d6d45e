/* jit_self_store: code run through the RX view of a memfd stores into its own page
 * through the RW view, then the caller rewrites that page and runs it again. Linux runs
 * it like any code; pykern's guard of aliased code (pykern/codealias.py) cannot give one
 * instruction both its fetch and its store, so it leaves that page unguarded and says so
 * on stderr: tests/test_codealias.py checks that the program still ends with the native
 * stdout, which the page's one store decides (not stale code). */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef int (*fn)(unsigned char *);

int main(void)
{
    int fd = memfd_create("jit_self_store", 0);
    if (fd < 0 || ftruncate(fd, 4096) != 0)
        return 1;
    unsigned char *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    unsigned char *rx = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    if (rw == MAP_FAILED || rx == MAP_FAILED)
        return 1;
    /* mov byte [rdi], 0x5a; mov eax, 7; ret */
    static const unsigned char code[] = {0xc6, 0x07, 0x5a, 0xb8, 0x07, 0x00, 0x00, 0x00, 0xc3};
    memcpy(rw, code, sizeof code);
    int got = ((fn)rx)(rw + 100); /* the store lands in the page the code runs from */
    printf("returned %d, stored %#x\n", got, rw[100]);
    return got == 7 && rw[100] == 0x5a ? 0 : 1;
}
