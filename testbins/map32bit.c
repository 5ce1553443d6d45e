/* MAP_32BIT: anonymous and file mappings land below 2 GiB (x86-64 places them between
 * 1 GiB and 2 GiB), several of them without overlapping, and are usable. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void) {
    void *maps[8];
    int ok = 1;
    for (int i = 0; i < 8; i++) {
        maps[i] = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
        if (maps[i] == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        uintptr_t a = (uintptr_t)maps[i];
        if (a + (1 << 20) > 0x80000000u || a < 0x40000000u)
            ok = 0;
        memset(maps[i], i, 1 << 20);
    }
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 8; j++)
            if (i != j && ((char *)maps[i])[12345] != i)
                ok = 0;
    printf("8 MAP_32BIT mappings between 1 GiB and 2 GiB, distinct and usable: %s\n", ok ? "yes" : "no");
    void *plain = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("a plain mapping above 4 GiB: %s\n", (uintptr_t)plain > 0xffffffffu ? "yes" : "no");
    return 0;
}
