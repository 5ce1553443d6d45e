/* dynamic: linked against the shared glibc (PT_INTERP: the host's ld.so loads libc).
 * The first call to printf with a double goes through ld.so's lazy-binding trampoline,
 * which must keep the XMM argument registers (fxsave/fxrstor with CR4.OSFXSR). Built
 * without -static; tests/test_cli.py compares its output with a native run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    double x = argc > 5 ? atof(argv[1]) : 2.0;
    printf("hello from a dynamic binary: sqrt(%.1f) = %.6f, %g\n", x, sqrt(x), x / 3);
    return 0;
}
