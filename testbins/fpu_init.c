/* fpu_init: the FPU and SSE state a new process starts with (x87 control word 0x37f,
 * MXCSR 0x1f80, no x87 register in use), and fxsave/fxrstor keeping the XMM registers
 * (which needs CR4.OSFXSR, as ld.so's lazy binding does). */
#include <stdint.h>
#include <string.h>

#include "check.h"

static unsigned char area[512] __attribute__((aligned(16)));

int main(void)
{
    unsigned int mxcsr;
    unsigned short fpcw, fpsw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpcw));
    __asm__ volatile("fnstsw %0" : "=m"(fpsw));
    CHECK(mxcsr == 0x1f80, "MXCSR starts at 0x1f80");
    CHECK(fpcw == 0x37f, "x87 control word starts at 0x37f");
    CHECK((fpsw & 0x3800) == 0, "x87 stack top 0");

    double in = 1.25, out = 0;
    __asm__ volatile("movsd %1, %%xmm0\n\t"
                     "fxsave %2\n\t"
                     "xorps %%xmm0, %%xmm0\n\t"
                     "fxrstor %2\n\t"
                     "movsd %%xmm0, %0"
                     : "=m"(out) : "m"(in), "m"(area) : "xmm0", "memory");
    CHECK(out == 1.25, "fxrstor brings back xmm0");
    uint64_t saved;
    memcpy(&saved, area + 160, 8);
    CHECK(saved == 0x3ff4000000000000ULL, "fxsave wrote xmm0 at offset 160");
    volatile long double third = 1.0L / 3.0L;
    CHECK(third > 0.3333333333333333 && third < 0.3333333333333334, "x87 long double arithmetic");
    printf("fpu_init: ok\n");
    return 0;
}
