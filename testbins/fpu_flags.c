/* fpu_flags: floating-point exception flags, rounding modes and SIGFPE, for SSE (double
 * and float, the x86-64 default) and the x87 unit (long double), as the hardware and
 * Linux report them: fetestexcept after each kind of exception, stmxcsr/fnstsw/fnstenv/
 * fxsave showing the flags, feclearexcept/fegetenv/fesetenv round trips, fesetround on
 * both units, and feenableexcept: SIGFPE with si_code and si_addr at the faulting SSE
 * instruction (at the next waiting x87 instruction for x87), the handler reading and
 * clearing the flags in its ucontext's fpstate, a fresh FPU in the handler, and the
 * faulting instruction re-run with its operands unchanged. No libm (its ifunc choice
 * depends on CPUID). */
#define _GNU_SOURCE
#include <fenv.h>
#include <float.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "check.h"

static volatile double zero = 0.0, one = 1.0, three = 3.0, big = DBL_MAX, tiny = DBL_MIN;
static volatile float fzero = 0.0f, fone = 1.0f;
static volatile long double lzero = 0.0L, lone = 1.0L, lthree = 3.0L, lbig = LDBL_MAX, ltiny = LDBL_MIN;

/* --- what the hardware shows --------------------------------------------------------- */

static unsigned get_mxcsr(void)
{
    unsigned m;
    __asm__ volatile("stmxcsr %0" : "=m"(m));
    return m;
}

static unsigned get_fsw(void)
{
    unsigned short w;
    __asm__ volatile("fnstsw %0" : "=m"(w));
    return w;
}

static unsigned get_fenv_status(void)
{
    unsigned env[7];
    __asm__ volatile("fnstenv %0\n\tfldenv %0" : "+m"(env));  /* fnstenv masks all: reload */
    return env[1] & 0xffff;
}

struct fxsave_area {
    uint16_t fcw, fsw;
    uint8_t rest1[20];
    uint32_t mxcsr, mxcsr_mask;
    uint8_t rest2[480];
} __attribute__((aligned(16)));

/* --- flags ------------------------------------------------------------------------------- */

#define SSE_CASE(expr, want, what)                                                     \
    do {                                                                               \
        feclearexcept(FE_ALL_EXCEPT);                                                  \
        volatile double r_ = (expr);                                                   \
        (void)r_;                                                                      \
        CHECK(fetestexcept(FE_ALL_EXCEPT) == (want), what);                            \
        CHECK((get_mxcsr() & 0x3f) == (want), what " (mxcsr)");                        \
    } while (0)

#define X87_CASE(expr, want, what)                                                     \
    do {                                                                               \
        feclearexcept(FE_ALL_EXCEPT);                                                  \
        volatile long double r_ = (expr);                                              \
        (void)r_;                                                                      \
        CHECK(fetestexcept(FE_ALL_EXCEPT) == (want), what);                            \
        CHECK((get_fsw() & 0x3f) == (want), what " (fnstsw)");                         \
        CHECK((get_mxcsr() & 0x3f) == 0, what " (not in mxcsr)");                      \
    } while (0)

static int to_int_sd(double d)
{
    int i;
    __asm__ volatile("cvtsd2si %1, %0" : "=r"(i) : "x"(d));
    return i;
}

static double sqrt_sd(double d)
{
    double r;
    __asm__ volatile("sqrtsd %1, %0" : "=x"(r) : "x"(d));
    return r;
}

static void test_sse_flags(void)
{
    SSE_CASE(one + one, 0, "sse: 1+1 raises nothing");
    SSE_CASE(one / zero, FE_DIVBYZERO, "sse: 1/0 FE_DIVBYZERO");
    SSE_CASE(fone / fzero, FE_DIVBYZERO, "sse: 1.0f/0.0f FE_DIVBYZERO");
    SSE_CASE(one / three, FE_INEXACT, "sse: 1/3 FE_INEXACT");
    SSE_CASE(zero / zero, FE_INVALID, "sse: 0/0 FE_INVALID");
    SSE_CASE(sqrt_sd(-one), FE_INVALID, "sse: sqrt(-1) FE_INVALID");
    SSE_CASE(big * 2.0, FE_OVERFLOW | FE_INEXACT, "sse: DBL_MAX*2 FE_OVERFLOW|FE_INEXACT");
    SSE_CASE(tiny / three, FE_UNDERFLOW | FE_INEXACT, "sse: DBL_MIN/3 FE_UNDERFLOW|FE_INEXACT");
    SSE_CASE(to_int_sd(1e300), FE_INVALID, "sse: cvtsd2si 1e300 FE_INVALID");
    SSE_CASE((float)big, FE_OVERFLOW | FE_INEXACT, "sse: (float)DBL_MAX FE_OVERFLOW|FE_INEXACT");

    feclearexcept(FE_ALL_EXCEPT);
    volatile double a = one / zero, b = one / three;
    (void)a, (void)b;
    CHECK(fetestexcept(FE_ALL_EXCEPT) == (FE_DIVBYZERO | FE_INEXACT), "sse: flags accumulate");
    feclearexcept(FE_INEXACT);
    CHECK(fetestexcept(FE_ALL_EXCEPT) == FE_DIVBYZERO, "sse: feclearexcept clears one flag");
    struct fxsave_area fx;
    memset(&fx, 0, sizeof fx);
    __asm__ volatile("fxsave %0" : "=m"(fx));
    CHECK((fx.mxcsr & 0x3f) == FE_DIVBYZERO, "sse: fxsave shows mxcsr's flags");
    unsigned m = get_mxcsr();
    m &= ~0x3fu;
    __asm__ volatile("ldmxcsr %0" : : "m"(m));
    CHECK(fetestexcept(FE_ALL_EXCEPT) == 0, "sse: ldmxcsr clears the flags");
}

static void test_x87_flags(void)
{
    X87_CASE(lone + lone, 0, "x87: 1+1 raises nothing");
    X87_CASE(lone / lzero, FE_DIVBYZERO, "x87: 1/0 FE_DIVBYZERO");
    X87_CASE(lone / lthree, FE_INEXACT, "x87: 1/3 FE_INEXACT");
    X87_CASE(lzero / lzero, FE_INVALID, "x87: 0/0 FE_INVALID");
    X87_CASE(lbig * 2.0L, FE_OVERFLOW | FE_INEXACT, "x87: LDBL_MAX*2 FE_OVERFLOW|FE_INEXACT");
    X87_CASE(ltiny / lthree, FE_UNDERFLOW | FE_INEXACT, "x87: LDBL_MIN/3 FE_UNDERFLOW|FE_INEXACT");

    feclearexcept(FE_ALL_EXCEPT);
    volatile long double r = lone / lzero;
    (void)r;
    CHECK((get_fenv_status() & 0x3f) == FE_DIVBYZERO, "x87: fnstenv shows the flags");
    struct fxsave_area fx;
    memset(&fx, 0, sizeof fx);
    __asm__ volatile("fxsave %0" : "=m"(fx));
    CHECK((fx.fsw & 0x3f) == FE_DIVBYZERO, "x87: fxsave shows the status word's flags");
    __asm__ volatile("fnclex");
    CHECK(fetestexcept(FE_ALL_EXCEPT) == 0, "x87: fnclex clears the flags");
}

static void test_fenv(void)
{
    fenv_t env, clean;
    feclearexcept(FE_ALL_EXCEPT);
    CHECK(fegetenv(&clean) == 0, "fegetenv (clean)");
    volatile double a = one / zero;
    volatile long double b = lbig * 2.0L;
    (void)a, (void)b;
    CHECK(fetestexcept(FE_ALL_EXCEPT) == (FE_DIVBYZERO | FE_OVERFLOW | FE_INEXACT), "both units' flags together");
    CHECK(fegetenv(&env) == 0, "fegetenv (flags set)");
    CHECK(fesetenv(&clean) == 0 && fetestexcept(FE_ALL_EXCEPT) == 0, "fesetenv(clean) clears them");
    CHECK(fesetenv(&env) == 0 && fetestexcept(FE_ALL_EXCEPT) == (FE_DIVBYZERO | FE_OVERFLOW | FE_INEXACT),
          "fesetenv(saved) brings them back");
    fexcept_t saved;
    CHECK(fegetexceptflag(&saved, FE_DIVBYZERO) == 0, "fegetexceptflag");
    CHECK(fesetenv(FE_DFL_ENV) == 0 && fetestexcept(FE_ALL_EXCEPT) == 0, "fesetenv(FE_DFL_ENV)");
    CHECK(fesetexceptflag(&saved, FE_DIVBYZERO) == 0 && fetestexcept(FE_ALL_EXCEPT) == FE_DIVBYZERO,
          "fesetexceptflag");
    CHECK(feraiseexcept(FE_OVERFLOW) == 0 && fetestexcept(FE_OVERFLOW), "feraiseexcept(FE_OVERFLOW)");
    CHECK(feholdexcept(&env) == 0 && fetestexcept(FE_ALL_EXCEPT) == 0, "feholdexcept clears");
    a = one / three;
    CHECK(feupdateenv(&env) == 0 && fetestexcept(FE_ALL_EXCEPT) == (FE_DIVBYZERO | FE_OVERFLOW | FE_INEXACT),
          "feupdateenv merges");
    feclearexcept(FE_ALL_EXCEPT);
}

/* --- rounding ---------------------------------------------------------------------------- */

static int x87_to_int(long double x)
{
    int i;
    __asm__ volatile("fistpl %0" : "=m"(i) : "t"(x) : "st");
    return i;
}

static void test_rounding(void)
{
    static const struct { int mode; const char *name; int up, down; } modes[] = {
        {FE_TONEAREST, "FE_TONEAREST", 2, -2},
        {FE_UPWARD, "FE_UPWARD", 3, -2},
        {FE_DOWNWARD, "FE_DOWNWARD", 2, -3},
        {FE_TOWARDZERO, "FE_TOWARDZERO", 2, -2},
    };
    double d[4], neg[4];
    long double ld[4], lneg[4];
    char what[96];
    for (unsigned i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        CHECK(fesetround(modes[i].mode) == 0 && fegetround() == modes[i].mode, modes[i].name);
        snprintf(what, sizeof what, "%s: cvtsd2si 2.5 -> %d, -2.5 -> %d", modes[i].name, modes[i].up, modes[i].down);
        CHECK(to_int_sd(2.5) == modes[i].up && to_int_sd(-2.5) == modes[i].down, what);
        snprintf(what, sizeof what, "%s: fistp 2.5 -> %d, -2.5 -> %d", modes[i].name, modes[i].up, modes[i].down);
        CHECK(x87_to_int(2.5L) == modes[i].up && x87_to_int(-2.5L) == modes[i].down, what);
        d[i] = one / three;
        neg[i] = -one / three;
        ld[i] = lone / lthree;
        lneg[i] = -lone / lthree;
    }
    /* 0 nearest, 1 up, 2 down, 3 toward zero */
    CHECK(d[1] > d[2] && d[3] == d[2] && (d[0] == d[1] || d[0] == d[2]), "sse: 1/3 in each rounding mode");
    CHECK(neg[1] > neg[2] && neg[3] == neg[1] && (neg[0] == neg[1] || neg[0] == neg[2]),
          "sse: -1/3 in each rounding mode");
    CHECK(ld[1] > ld[2] && ld[3] == ld[2] && (ld[0] == ld[1] || ld[0] == ld[2]), "x87: 1/3 in each rounding mode");
    CHECK(lneg[1] > lneg[2] && lneg[3] == lneg[1] && (lneg[0] == lneg[1] || lneg[0] == lneg[2]),
          "x87: -1/3 in each rounding mode");
    fesetround(FE_TONEAREST);
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    CHECK((cw & 0xc00) == 0 && (get_mxcsr() & 0x6000) == 0, "back to nearest in both control words");
}

/* --- traps ------------------------------------------------------------------------------- */

static sigjmp_buf jump;
static volatile sig_atomic_t got_code;
static void *volatile got_addr;
static volatile unsigned got_mxcsr, got_swd, got_cwd, handler_mxcsr, handler_fcw;
static void *volatile fault_pc;
static volatile int mask_and_return;  /* the handler masks the exceptions and returns */

static void on_sigfpe(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    (void)sig;
    got_code = info->si_code;
    got_addr = info->si_addr;
    got_mxcsr = uc->uc_mcontext.fpregs->mxcsr;
    got_swd = uc->uc_mcontext.fpregs->swd;
    got_cwd = uc->uc_mcontext.fpregs->cwd;
    handler_mxcsr = get_mxcsr();
    __asm__ volatile("fnstcw %0" : "=m"(handler_fcw));
    handler_fcw &= 0xffff;
    if (mask_and_return) {  /* clear the flags and mask everything, then re-run it */
        uc->uc_mcontext.fpregs->mxcsr = (uc->uc_mcontext.fpregs->mxcsr & ~0x3fu) | 0x1f80;
        uc->uc_mcontext.fpregs->swd &= ~0x80ffu;
        uc->uc_mcontext.fpregs->cwd |= 0x3f;
        return;
    }
    siglongjmp(jump, 1);
}

/* One SSE instruction, its address kept in fault_pc. */
static __attribute__((noinline)) double sse_div(double a, double b)
{
    __asm__ volatile("lea 1f(%%rip), %%rax\n\tmovq %%rax, %1\n1:\tdivsd %2, %0"
                     : "+x"(a), "=m"(fault_pc) : "x"(b) : "rax");
    return a;
}

static __attribute__((noinline)) double sse_mul(double a, double b)
{
    __asm__ volatile("lea 1f(%%rip), %%rax\n\tmovq %%rax, %1\n1:\tmulsd %2, %0"
                     : "+x"(a), "=m"(fault_pc) : "x"(b) : "rax");
    return a;
}

static __attribute__((noinline)) float sse_divss(float a, float b)
{
    __asm__ volatile("lea 1f(%%rip), %%rax\n\tmovq %%rax, %1\n1:\tdivss %2, %0"
                     : "+x"(a), "=m"(fault_pc) : "x"(b) : "rax");
    return a;
}

static __attribute__((noinline)) int sse_to_int(double d)
{
    int i;
    __asm__ volatile("lea 1f(%%rip), %%rax\n\tmovq %%rax, %1\n1:\tcvttsd2si %2, %0"
                     : "=r"(i), "=m"(fault_pc) : "x"(d) : "rax");
    return i;
}

/* x87 divide: the exception is reported at the next waiting x87 instruction, the fstpt. */
static __attribute__((noinline)) long double x87_div(long double a, double b)
{
    long double r;
    __asm__ volatile("fldt %2\n\tfdivl %3\n\tlea 1f(%%rip), %%rax\n\tmovq %%rax, %1\n1:\tfstpt %0"
                     : "=m"(r), "=m"(fault_pc) : "m"(a), "m"(b) : "rax", "st");
    return r;
}

static __attribute__((noinline)) long double x87_mul(long double a, double b)
{
    long double r;
    __asm__ volatile("fldt %2\n\tfmull %3\n\tlea 1f(%%rip), %%rax\n\tmovq %%rax, %1\n1:\tfstpt %0"
                     : "=m"(r), "=m"(fault_pc) : "m"(a), "m"(b) : "rax", "st");
    return r;
}

enum unit { SSE, SSE_FLOAT, X87_DIV, X87_MUL };

static void expect_trap(int excepts, enum unit unit, long double a, double b, int code, const char *what)
{
    char line[160];
    got_code = 0;
    got_addr = NULL;
    fault_pc = NULL;
    mask_and_return = 0;
    feclearexcept(FE_ALL_EXCEPT);
    feenableexcept(excepts);
    if (sigsetjmp(jump, 1) == 0) {
        volatile long double r;
        if (unit == SSE)
            r = sse_div((double)a, b);
        else if (unit == SSE_FLOAT)
            r = sse_divss((float)a, (float)b);
        else if (unit == X87_DIV)
            r = x87_div(a, b);
        else
            r = x87_mul(a, b);
        (void)r;
        snprintf(line, sizeof line, "%s: no SIGFPE", what);
        CHECK(0, line);
    }
    snprintf(line, sizeof line, "%s: SIGFPE si_code %d", what, code);
    CHECK(got_code == code, line);
    snprintf(line, sizeof line, "%s: si_addr is the %s instruction", what,
             unit >= X87_DIV ? "next waiting x87" : "faulting");
    CHECK(got_addr == fault_pc && fault_pc != NULL, line);
    snprintf(line, sizeof line, "%s: the handler sees the flag in its fpstate", what);
    if (unit >= X87_DIV)
        CHECK((got_swd & excepts) == (unsigned)excepts && (got_swd & 0x80) && !(got_cwd & excepts), line);
    else
        CHECK((got_mxcsr & excepts) == (unsigned)excepts && !(got_mxcsr & (excepts << 7)), line);
    snprintf(line, sizeof line, "%s: the handler ran with a clean FPU", what);
    CHECK(handler_mxcsr == 0x1f80 && handler_fcw == 0x37f, line);
    snprintf(line, sizeof line, "%s: after siglongjmp the FPU is the handler's", what);
    CHECK(fegetexcept() == 0 && fetestexcept(FE_ALL_EXCEPT) == 0, line);
}

static void test_traps(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigfpe;
    sa.sa_flags = SA_SIGINFO;
    CHECK(sigaction(SIGFPE, &sa, NULL) == 0, "sigaction(SIGFPE)");

    CHECK(feenableexcept(FE_DIVBYZERO) == 0 && fegetexcept() == FE_DIVBYZERO, "feenableexcept(FE_DIVBYZERO)");
    CHECK(fedisableexcept(FE_DIVBYZERO) == FE_DIVBYZERO && fegetexcept() == 0, "fedisableexcept");

    expect_trap(FE_DIVBYZERO, SSE, 1.0L, 0.0, FPE_FLTDIV, "sse divsd 1/0");
    expect_trap(FE_DIVBYZERO, SSE_FLOAT, 1.0L, 0.0, FPE_FLTDIV, "sse divss 1/0");
    expect_trap(FE_INVALID, SSE, 0.0L, 0.0, FPE_FLTINV, "sse divsd 0/0");
    expect_trap(FE_INEXACT, SSE, 1.0L, 3.0, FPE_FLTRES, "sse divsd 1/3");
    expect_trap(FE_UNDERFLOW, SSE, DBL_MIN, 3.0, FPE_FLTUND, "sse divsd DBL_MIN/3");
    expect_trap(FE_DIVBYZERO, X87_DIV, 1.0L, 0.0, FPE_FLTDIV, "x87 fdiv 1/0");
    expect_trap(FE_INVALID, X87_DIV, 0.0L, 0.0, FPE_FLTINV, "x87 fdiv 0/0");
    expect_trap(FE_OVERFLOW, X87_MUL, LDBL_MAX, 2.0, FPE_FLTOVF, "x87 fmul LDBL_MAX*2");

    /* overflow through the multiply */
    got_code = 0;
    feclearexcept(FE_ALL_EXCEPT);
    feenableexcept(FE_OVERFLOW);
    if (sigsetjmp(jump, 1) == 0) {
        volatile double r = sse_mul(DBL_MAX, 2.0);
        (void)r;
        CHECK(0, "sse mulsd DBL_MAX*2: no SIGFPE");
    }
    CHECK(got_code == FPE_FLTOVF && got_addr == fault_pc, "sse mulsd DBL_MAX*2: SIGFPE FPE_FLTOVF at the mulsd");

    /* (int)1e300: an invalid conversion, at the cvttsd2si */
    got_code = 0;
    feclearexcept(FE_ALL_EXCEPT);
    feenableexcept(FE_INVALID);
    if (sigsetjmp(jump, 1) == 0) {
        volatile int i = sse_to_int(1e300);
        (void)i;
        CHECK(0, "sse cvttsd2si 1e300: no SIGFPE");
    }
    CHECK(got_code == FPE_FLTINV && got_addr == fault_pc, "sse cvttsd2si 1e300: SIGFPE FPE_FLTINV at the cvttsd2si");

    /* The handler masks and clears in its ucontext and returns: the divide runs again,
     * masked, on its unchanged operands (a fault leaves the destination as it was). */
    volatile double expect = tiny / three;
    feclearexcept(FE_ALL_EXCEPT);
    mask_and_return = 1;
    got_code = 0;
    feenableexcept(FE_UNDERFLOW);
    volatile double r = sse_div(DBL_MIN, 3.0);
    mask_and_return = 0;
    CHECK(got_code == FPE_FLTUND, "return from the handler: it ran once");
    CHECK(r == expect, "return from the handler: the divide ran again on its operands");
    CHECK(fegetexcept() == 0, "return from the handler: its fpstate's masks were restored");
    CHECK(fetestexcept(FE_ALL_EXCEPT) == (FE_UNDERFLOW | FE_INEXACT),
          "return from the handler: the re-run raised the flags, masked");

    /* the same for x87: the handler clears the status word and masks the control word */
    feclearexcept(FE_ALL_EXCEPT);
    mask_and_return = 1;
    got_code = 0;
    feenableexcept(FE_DIVBYZERO);
    volatile long double lr = x87_div(1.0L, 0.0);
    mask_and_return = 0;
    CHECK(got_code == FPE_FLTDIV && got_addr == fault_pc, "x87 return from the handler: it ran once, at the fstpt");
    /* an unmasked divide by zero leaves st0 as it was: the fstpt stores the dividend */
    CHECK(lr == 1.0L && fegetexcept() == 0, "x87 return from the handler: the fstpt stored the dividend");
    CHECK(fetestexcept(FE_ALL_EXCEPT) == 0, "x87 return from the handler: the flags it cleared stay clear");

    /* feholdexcept masks both units (fnstenv masks the x87 ones): no trap inside */
    feclearexcept(FE_ALL_EXCEPT);
    got_code = 0;
    fenv_t held;
    feenableexcept(FE_DIVBYZERO);
    CHECK(feholdexcept(&held) == 0 && fegetexcept() == 0, "feholdexcept masks the exceptions");
    volatile long double lq = x87_div(1.0L, 0.0);
    volatile double q = sse_div(1.0, 0.0);
    (void)lq, (void)q;
    CHECK(got_code == 0 && fetestexcept(FE_ALL_EXCEPT) == FE_DIVBYZERO, "no SIGFPE while held, the flag set");
    feclearexcept(FE_ALL_EXCEPT);
    CHECK(fesetenv(&held) == 0 && fegetexcept() == FE_DIVBYZERO, "fesetenv unmasks again");
    fedisableexcept(FE_ALL_EXCEPT);

    /* integer division by zero stays FPE_INTDIV, exceptions enabled or not */
    feenableexcept(FE_DIVBYZERO);
    got_code = 0;
    if (sigsetjmp(jump, 1) == 0) {
        volatile int z = 0, n = 1;
        volatile int q = n / z;
        (void)q;
        CHECK(0, "integer 1/0: no SIGFPE");
    }
    CHECK(got_code == FPE_INTDIV, "integer 1/0: SIGFPE FPE_INTDIV");
    fedisableexcept(FE_ALL_EXCEPT);

    /* no handler: the process dies of SIGFPE */
    signal(SIGFPE, SIG_DFL);
    pid_t child = fork();
    if (child == 0) {
        feenableexcept(FE_DIVBYZERO);
        volatile double d = one / zero;
        (void)d;
        _exit(0);
    }
    int status;
    CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGFPE,
          "no handler: killed by SIGFPE");
}

int main(void)
{
    test_sse_flags();
    test_x87_flags();
    test_fenv();
    test_rounding();
    test_traps();
    printf("fpu_flags: done\n");
    return 0;
}
