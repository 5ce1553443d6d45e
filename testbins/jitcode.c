/* jitcode: code that a program writes and then runs must never be run stale, as V8,
 * LuaJIT and Java rely on. Three ways: a writable+executable page rewritten between
 * calls; a page flipped between PROT_READ|PROT_WRITE and PROT_READ|PROT_EXEC with
 * mprotect around each rewrite; and code that rewrites the very next instruction it
 * runs (x86 guarantees the new bytes execute). The translated-code cache of an emulator
 * must notice each write (pykern: tools/build_unicorn.py's TLB patch). */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"

typedef int (*fn)(void);

/* mov eax, imm32; ret */
static void emit_return(unsigned char *at, int32_t value)
{
    at[0] = 0xb8;
    memcpy(at + 1, &value, 4);
    at[5] = 0xc3;
}

int main(void)
{
    unsigned char *rwx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(rwx != MAP_FAILED, "mmap rwx");
    long sum = 0, expected = 0;
    for (int i = 0; i < 1000; i++) {
        emit_return(rwx + (i % 3) * 64, i * 7);
        sum += ((fn)(rwx + (i % 3) * 64))();
        expected += i * 7;
    }
    CHECK(sum == expected, "rwx page rewritten 1000 times, every call saw the new code");

    unsigned char *wx = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(wx != MAP_FAILED, "mmap rw");
    sum = 0;
    for (int i = 0; i < 200; i++) {
        if (i > 0 && mprotect(wx, 4096, PROT_READ | PROT_WRITE) != 0)
            CHECK(0, "mprotect rw");
        emit_return(wx, 1000 + i);
        if (mprotect(wx, 4096, PROT_READ | PROT_EXEC) != 0)
            CHECK(0, "mprotect rx");
        sum += ((fn)wx)();
    }
    CHECK(sum == 200 * 1000 + 199 * 200 / 2, "W^X page flipped with mprotect 200 times, every call saw the new code");

    /* mov byte [rip+1], imm8 ; mov eax, imm32 ; ret: the first instruction writes the
     * low byte of the second one's immediate. */
    static const unsigned char self[] = {0xc6, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00,
                                         0xb8, 0x00, 0x00, 0x00, 0x00, 0xc3};
    sum = expected = 0;
    for (int i = 0; i < 256; i++) {
        memcpy(rwx + 256, self, sizeof self);
        rwx[256 + 6] = (unsigned char)i;
        sum += ((fn)(rwx + 256))();
        sum += ((fn)(rwx + 256))(); /* again: the bytes are already what it writes */
        expected += 2 * i;
    }
    CHECK(sum == expected, "an instruction rewriting the next one, 256 values");

    /* A large region (more than 256 pages: flushed in one walk of the TLB, see
     * tools/build_unicorn.py) holding code and data, unmapped and mapped again at the
     * same address: neither the old code nor the old memory may show through. */
    size_t big = 4 << 20;
    unsigned char *region = mmap(NULL, big, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(region != MAP_FAILED, "mmap 4 MiB rwx");
    sum = expected = 0;
    for (int round = 0; round < 8; round++) {
        for (size_t page = 0; page < big; page += 256 * 1024) {
            emit_return(region + page, (int32_t)(round * 1000 + page / 4096));
            region[page + 100] = (unsigned char)(round + 1);
            sum += ((fn)(region + page))() + region[page + 100];
            expected += round * 1000 + page / 4096 + round + 1;
        }
        if (munmap(region, big) != 0)
            CHECK(0, "munmap 4 MiB");
        if (mmap(region, big, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
            != region)
            CHECK(0, "mmap 4 MiB again");
        for (size_t page = 0; page < big; page += 256 * 1024)
            sum += region[page] + region[page + 100]; /* zero-filled again */
    }
    CHECK(sum == expected, "4 MiB of code unmapped and mapped again 8 times, never stale");
    return 0;
}
