"""The guest's file layer (Linux's fs/, gVisor's vfs + fsimpl).

Open files and descriptors:
- hostio.py: the one seam to the host (errno by name, open flags, fd limits);
- stat.py: struct stat, statx and linux_dirent64 as the guest reads them;
- file.py: `File` (struct file), `HostFile`, `HostStream` (the console);
- fdtable.py: `FdTable` (files_struct); fs_struct.py: `FsContext` (root, cwd, umask).

The file systems and the path walk:

- inode.py: `Inode`, what one file system says about one of its files (Linux's inode
  and dentry operations, which pykern does not tell apart), with the errors a file
  system without an operation gives;
- mount.py: `Mount`, `MountTable` and `Location` (Linux's struct path: a mount and an
  inode in it), the guest's mount namespace;
- namei.py: the one path walk: `..`, symlinks (magic ones too), dirfds, trailing
  slashes, ELOOP, ENAMETOOLONG and mount crossings;
- hostfs.py: the host's tree (at `/` or at `--root DIR`) through O_PATH host fds;
- procfs.py, devfs.py, tmpfs.py: the file systems pykern makes itself;
- fifo.py: named pipes with Linux's open rules, kept in the kernel.
"""
