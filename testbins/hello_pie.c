/* hello_pie: a static-pie binary relocates itself; globals and pointer tables work. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <elf.h>

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        if (cond) {                                                            \
            printf("ok %s\n", what);                                           \
        } else {                                                               \
            fflush(stdout);                                                    \
            fprintf(stderr, "FAIL %s: %s\n", what, #cond);                     \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

extern const Elf64_Ehdr __ehdr_start;
int counter = 41;
static const char *names[] = {"alpha", "beta", "gamma"}; /* R_X86_64_RELATIVE */
static int (*volatile entry)(void);

static int answer(void) { return 42; }

int main(void)
{
    printf("hello from a static-pie binary\n");
    CHECK((uintptr_t)&main >= 0x10000, "&main is not below 0x10000");
    CHECK(__ehdr_start.e_type == ET_DYN, "ELF header mapped, type ET_DYN");
    CHECK(getauxval(AT_PHDR) == (uintptr_t)&__ehdr_start + __ehdr_start.e_phoff,
          "AT_PHDR matches the load address");
    counter++;
    CHECK(*(volatile int *)&counter == 42, "global variable write/read");
    CHECK(strcmp(names[0], "alpha") == 0 && strcmp(names[2], "gamma") == 0,
          "relocated pointer table");
    entry = answer;
    CHECK(entry() == 42, "call through a function pointer");
    return 0;
}
