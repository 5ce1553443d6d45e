/* bench fp: floating point, no libm (its ifunc choice depends on CPUID, which differs
 * under emulation). A Mandelbrot grid (mul/add/compare) and a series with division and
 * sqrt; every operation is IEEE-exact, so the checksum is identical everywhere.
 * argv[1]: rounds (default sized for about 1 s natively). */
#include <stdio.h>
#include <stdlib.h>

static long mandel(int size, int max_iter)
{
    long total = 0;
    for (int y = 0; y < size; y++) {
        double ci = -1.5 + 3.0 * y / size;
        for (int x = 0; x < size; x++) {
            double cr = -2.0 + 3.0 * x / size, zr = 0, zi = 0;
            int k = 0;
            while (k < max_iter && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                k++;
            }
            total += k;
        }
    }
    return total;
}

static inline double sqrt_sd(double d)
{
    double r;
    __asm__("sqrtsd %1, %0" : "=x"(r) : "x"(d));
    return r;
}

static double series(long n)
{
    double s = 0;
    for (long i = 1; i <= n; i++) {
        double d = (double)i;
        s += 1.0 / (d * d) + sqrt_sd(d) / (d * d * d);
    }
    return s;
}

int main(int argc, char **argv)
{
    long rounds = argc > 1 ? atol(argv[1]) : 40;
    long iters = 0;
    double s = 0;
    for (long r = 0; r < rounds; r++) {
        iters += mandel(200, 200);
        s += series(2000000);
    }
    printf("fp rounds=%ld mandel=%ld series=%.12f\n", rounds, iters, s);
    return 0;
}
