/* paths_shm: testbins/paths in /dev/shm, a tmpfs on Linux and pykern's own tmpfs
 * (pykern/fs/tmpfs.py) under pykern: the same walk over another file system. */
#define TMPDIR_BASE "/dev/shm"
#include "paths.c"
