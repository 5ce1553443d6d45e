/* dynamic: linked against the shared glibc (PT_INTERP); pykern refuses it for now. */
#include <stdio.h>

int main(void)
{
    printf("hello from a dynamic binary\n");
    return 0;
}
