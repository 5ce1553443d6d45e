/* mem: address-space calls. brk, anonymous and file-backed private mmap, MAP_FIXED,
 * MAP_FIXED_NOREPLACE, PROT_NONE reservations, munmap splitting, mprotect, mremap,
 * madvise(MADV_DONTNEED) and EINVAL cases. Never touches a PROT_NONE page. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096UL

#include "check.h"

static int all_bytes(const void *p, size_t n, unsigned char c)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != c)
            return 0;
    return 1;
}

static char *map_anon(void *addr, size_t len, int prot, int extra)
{
    return mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);
}

/* A range is free iff MAP_FIXED_NOREPLACE can take exactly it; the probe is undone. */
static int range_is_free(void *addr, size_t len)
{
    char *p = map_anon(addr, len, PROT_READ, MAP_FIXED_NOREPLACE);
    if (p == MAP_FAILED)
        return 0;
    munmap(p, len);
    return p == addr;
}

static void test_brk(void)
{
    /* No stdio between the sbrk calls: printf's buffer may come from brk. */
    char *base = sbrk(0);
    char *old = sbrk(3 * PAGE);
    int grew = old == base && sbrk(0) == base + 3 * PAGE;
    memset(base, 0x5a, 3 * PAGE);
    char *before_shrink = sbrk(-(long)PAGE);
    int shrank = before_shrink == base + 3 * PAGE && sbrk(0) == base + 2 * PAGE;
    int kept = all_bytes(base, 2 * PAGE, 0x5a);
    int big = brk(base + (1 << 20)) == 0 && sbrk(0) == base + (1 << 20);
    base[(1 << 20) - 1] = 1;
    int restored = brk(base) == 0 && sbrk(0) == base;

    CHECK(grew, "brk grows");
    CHECK(shrank, "brk shrinks");
    CHECK(kept, "brk contents preserved across shrink");
    CHECK(big, "brk grows by 1 MiB and the last byte is writable");
    CHECK(restored, "brk returns to its start");
}

static void test_anon(void)
{
    char *p = map_anon(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, 0);
    CHECK(p != MAP_FAILED && ((uintptr_t)p & (PAGE - 1)) == 0, "mmap anonymous private, page aligned");
    CHECK(all_bytes(p, 3 * PAGE, 0), "anonymous memory is zero-filled");
    memset(p, 0xab, 3 * PAGE);
    CHECK(all_bytes(p, 3 * PAGE, 0xab), "anonymous memory is writable");
    CHECK(munmap(p, 3 * PAGE) == 0, "munmap anonymous");
}

static void test_file_private(void)
{
    char path[] = "/tmp/pykern-mem-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    unlink(path);
    static char data[2 * PAGE];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i * 7 + 3);
    CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data, "write the file");

    char *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(p != MAP_FAILED, "mmap file private");
    CHECK(memcmp(p, data, sizeof data) == 0, "file mapping shows the file contents");
    char *q = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, PAGE);
    CHECK(q != MAP_FAILED && memcmp(q, data + PAGE, PAGE) == 0, "file mapping at offset 4096");

    memset(p, 'X', 100);
    p[PAGE + 5] = 'Y';
    static char back[2 * PAGE];
    CHECK(pread(fd, back, sizeof back, 0) == (ssize_t)sizeof back, "pread the file");
    CHECK(memcmp(back, data, sizeof data) == 0, "writes to a private mapping leave the file unchanged");
    CHECK(all_bytes(p, 100, 'X') && p[PAGE + 5] == 'Y', "private mapping keeps its own writes");
    CHECK(q[5] == data[PAGE + 5], "another private mapping does not see them");
    munmap(p, 2 * PAGE);
    munmap(q, PAGE);
    close(fd);
}

static void test_fixed(void)
{
    char *p = map_anon(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, 0);
    memset(p, 'A', 4 * PAGE);
    char *r = map_anon(p + PAGE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_FIXED);
    CHECK(r == p + PAGE, "MAP_FIXED over an existing mapping returns the address");
    CHECK(all_bytes(p + PAGE, 2 * PAGE, 0), "MAP_FIXED replaced the middle with zero pages");
    CHECK(all_bytes(p, PAGE, 'A') && all_bytes(p + 3 * PAGE, PAGE, 'A'), "pages around it are untouched");

    errno = 0;
    r = map_anon(p + PAGE, PAGE, PROT_READ, MAP_FIXED_NOREPLACE);
    CHECK(r == MAP_FAILED && errno == EEXIST, "MAP_FIXED_NOREPLACE on a taken range -> EEXIST");
    CHECK(all_bytes(p + PAGE, PAGE, 0), "the taken range is unchanged");
    munmap(p, 4 * PAGE);
    r = map_anon(p + PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_FIXED_NOREPLACE);
    CHECK(r == p + PAGE, "MAP_FIXED_NOREPLACE on a free range maps exactly there");
    munmap(r, PAGE);
}

static void test_reservation(void)
{
    size_t size = 1UL << 30;
    char *p = map_anon(NULL, size, PROT_NONE, MAP_NORESERVE);
    CHECK(p != MAP_FAILED, "PROT_NONE reservation of 1 GiB");
    char *piece = p + (512UL << 20);
    CHECK(mprotect(piece, 1 << 20, PROT_READ | PROT_WRITE) == 0, "mprotect 1 MiB inside it RW");
    for (size_t i = 0; i < (1 << 20); i += PAGE)
        piece[i] = (char)(i >> 12);
    int ok = 1;
    for (size_t i = 0; i < (1 << 20); i += PAGE)
        ok &= piece[i] == (char)(i >> 12);
    CHECK(ok, "the RW piece holds what was written");
    CHECK(munmap(p, size) == 0, "munmap the whole reservation");
    CHECK(range_is_free(piece, 1 << 20), "the reservation is gone");
}

static void test_munmap_middle(void)
{
    char *p = map_anon(NULL, 3 * PAGE, PROT_READ | PROT_WRITE, 0);
    memset(p, 'm', 3 * PAGE);
    CHECK(munmap(p + PAGE, PAGE) == 0, "munmap a middle page");
    CHECK(all_bytes(p, PAGE, 'm') && all_bytes(p + 2 * PAGE, PAGE, 'm'), "both remaining pieces stay readable");
    CHECK(range_is_free(p + PAGE, PAGE), "the middle page is unmapped");
    CHECK(munmap(p, 3 * PAGE) == 0, "munmap across a hole succeeds");
    CHECK(range_is_free(p, 3 * PAGE), "the whole range is unmapped");
}

static void test_mprotect(void)
{
    char *p = map_anon(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, 0);
    memset(p, 'p', 2 * PAGE);
    CHECK(mprotect(p, PAGE, PROT_READ) == 0, "mprotect first page read-only");
    CHECK(all_bytes(p, 2 * PAGE, 'p'), "read-only page still readable");
    p[PAGE] = 'q';
    CHECK(p[PAGE] == 'q', "the other page stays writable");
    CHECK(mprotect(p, 2 * PAGE, PROT_READ | PROT_WRITE) == 0, "mprotect back to RW");
    p[0] = 'r';
    CHECK(p[0] == 'r', "writable again");
    errno = 0;
    CHECK(mprotect(p + 1, PAGE, PROT_READ) == -1 && errno == EINVAL, "mprotect unaligned -> EINVAL");
    munmap(p, 2 * PAGE);
    errno = 0;
    CHECK(mprotect(p, PAGE, PROT_READ) == -1 && errno == ENOMEM, "mprotect unmapped -> ENOMEM");
}

static void test_mremap(void)
{
    /* Reserve 4 pages, keep 2: the 2 after them are known to be free. */
    char *p = map_anon(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, 0);
    munmap(p + 2 * PAGE, 2 * PAGE);
    memset(p, 'g', 2 * PAGE);
    char *r = mremap(p, 2 * PAGE, 4 * PAGE, 0);
    CHECK(r == p, "mremap grows in place");
    CHECK(all_bytes(p, 2 * PAGE, 'g'), "grown mapping keeps its contents");
    CHECK(all_bytes(p + 2 * PAGE, 2 * PAGE, 0), "grown part is zero-filled");
    p[4 * PAGE - 1] = 'z';

    r = mremap(p, 4 * PAGE, PAGE, 0);
    CHECK(r == p && all_bytes(p, PAGE, 'g'), "mremap shrinks in place");
    CHECK(range_is_free(p + PAGE, 3 * PAGE), "the shrunk tail is unmapped");

    /* Block growth with a neighbour: without MREMAP_MAYMOVE it fails, with it it moves. */
    char *blocker = map_anon(p + PAGE, PAGE, PROT_READ, MAP_FIXED_NOREPLACE);
    CHECK(blocker == p + PAGE, "neighbour mapped right after");
    errno = 0;
    r = mremap(p, PAGE, 8 * PAGE, 0);
    CHECK(r == MAP_FAILED && errno == ENOMEM, "mremap cannot grow into a neighbour -> ENOMEM");
    r = mremap(p, PAGE, 8 * PAGE, MREMAP_MAYMOVE);
    CHECK(r != MAP_FAILED && r != p, "MREMAP_MAYMOVE moves the mapping");
    CHECK(all_bytes(r, PAGE, 'g') && all_bytes(r + PAGE, 7 * PAGE, 0), "moved mapping keeps its contents");
    CHECK(range_is_free(p, PAGE), "the old address is unmapped");
    munmap(r, 8 * PAGE);
    munmap(blocker, PAGE);
}

static void test_madvise(void)
{
    char *p = map_anon(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, 0);
    memset(p, 'd', 4 * PAGE);
    CHECK(madvise(p + PAGE, 2 * PAGE, MADV_DONTNEED) == 0, "madvise MADV_DONTNEED");
    CHECK(all_bytes(p + PAGE, 2 * PAGE, 0), "MADV_DONTNEED zeroes private anonymous pages");
    CHECK(all_bytes(p, PAGE, 'd') && all_bytes(p + 3 * PAGE, PAGE, 'd'), "pages outside the range keep data");
    munmap(p, 4 * PAGE);
}

static void test_einval(void)
{
    errno = 0;
    CHECK(map_anon(NULL, 0, PROT_READ, 0) == MAP_FAILED && errno == EINVAL, "mmap length 0 -> EINVAL");
    errno = 0;
    CHECK(map_anon((void *)0x10000001UL, PAGE, PROT_READ, MAP_FIXED) == MAP_FAILED && errno == EINVAL,
          "mmap MAP_FIXED unaligned address -> EINVAL");
    errno = 0;
    CHECK(mmap(NULL, PAGE, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL,
          "mmap without MAP_PRIVATE or MAP_SHARED -> EINVAL");
    errno = 0;
    CHECK(munmap((void *)0x10000001UL, PAGE) == -1 && errno == EINVAL, "munmap unaligned -> EINVAL");
}

int main(void)
{
    test_brk();
    test_anon();
    test_file_private();
    test_fixed();
    test_reservation();
    test_munmap_middle();
    test_mprotect();
    test_mremap();
    test_madvise();
    test_einval();
    printf("mem: all checks passed\n");
    return 0;
}
