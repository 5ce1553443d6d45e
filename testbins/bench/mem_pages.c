/* bench mem_pages: read-modify-write spread over 16 MiB, each access on another page
 * (stride 4099 * 7 bytes). Native and qemu-user run it at memory speed; under Unicorn
 * (a full-system QEMU) nearly every access refills the software TLB. It isolates the
 * cost behind the CPU-bound ratio. argv[1]: rounds of 2^20 accesses. Prints a checksum. */
#include <stdio.h>
#include <stdlib.h>

#define SIZE (1u << 24)

static unsigned char buf[SIZE];

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 40;
    unsigned long sum = 0;
    for (long r = 0; r < rounds; r++)
        for (unsigned i = 0; i < (1u << 20); i++) {
            unsigned j = (i * 4099u * 7u) & (SIZE - 1);
            buf[j] += (unsigned char)i;
            sum += buf[j ^ 64];
        }
    printf("mem_pages rounds=%ld sum=%lu\n", rounds, sum);
    return 0;
}
