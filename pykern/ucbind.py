"""pykern's own binding to libunicorn: the part of Unicorn's C API pykern uses, via ctypes.

Why not the `unicorn` package: importing it costs 30-45 ms, of which loading
libunicorn.so.2 is about 12; the rest is the binding finding its library (it imports
inspect, importlib.resources, zipfile, tempfile, ...) and building its classes. This
module finds the library inside the installed package without running any of the
package's code, loads it with lazy binding (see `_load`: about 6 ms in all), declares the
prototypes of exactly the functions it calls, and offers `Uc` with the official binding's
method names and meanings for what pykern uses:

- memory: mem_map_ptr, mem_unmap, mem_protect, mem_read, mem_write, mem_regions;
- registers: reg_read, reg_write, reg_read_batch, as ints (XMM and YMM registers as 128-
  and 256-bit ints), and context_save / context_restore, whose UcContext has reg_read and
  reg_write too;
- running: emu_start, emu_stop, hook_add for interrupts, invalid memory accesses and the
  `syscall` instruction, ctl_remove_cache, close; and with pykern's own libunicorn
  (HAS_BUDGET) set_budget / budget, the instruction budget that preemption counts with,
  and (HAS_PARALLEL) set_parallel, for engines that run at the same time over one memory.

Hook callbacks are called as the official binding calls them: callback(uc, *args,
user_data). An exception raised in one must not cross into C: it is recorded, emulation
stops, and emu_start raises it once the engine has returned. The ctypes callback objects
live as long as the instance. The calls every syscall makes (`RegisterBatch`, the trap's
one read of a syscall's registers; reg_read / reg_write up to 64 bits; emu_stop) skip
ctypes' argument conversion (`_unchecked`), which halves their cost.

Calls into libunicorn release the GIL (ctypes.CDLL), so another thread may emu_stop a
running instance. Constants are in pykern.uc_const (tools/gen_uc_const.py).
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import os
import sys
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from pykern.uc_const import (
    UC_CTL_IO_WRITE,
    UC_CTL_TB_FLUSH,
    UC_CTL_TB_REMOVE_CACHE,
    UC_CTL_TLB_FLUSH,
    UC_ERR_HANDLE,
    UC_ERR_OK,
    UC_HOOK_CODE,
    UC_HOOK_INSN,
    UC_HOOK_INTR,
    UC_HOOK_MEM_INVALID,
    UC_HOOK_MEM_VALID,
    UC_X86_INS_SYSCALL,
    UC_X86_REG_FP0,
    UC_X86_REG_FP7,
    UC_X86_REG_GDTR,
    UC_X86_REG_IDTR,
    UC_X86_REG_LDTR,
    UC_X86_REG_MSR,
    UC_X86_REG_ST0,
    UC_X86_REG_ST7,
    UC_X86_REG_TR,
    UC_X86_REG_XMM0,
    UC_X86_REG_XMM31,
    UC_X86_REG_YMM0,
    UC_X86_REG_YMM31,
    UC_X86_REG_ZMM0,
    UC_X86_REG_ZMM31,
)

LIBRARY_NAME = "libunicorn.so.2"


def find_library() -> str:
    """libunicorn.so.2: in $LIBUNICORN_PATH (a directory, as the official binding reads
    it), else the one an installed wheel carries (pykern/_unicorn/, setup.py), else
    pykern's own build in <venv>/lib/pykern-unicorn/ (tools/build_unicorn.py,
    run by `make venv`: x86 only, a larger software TLB, and 2x faster floating point than
    the wheel's), else the installed unicorn package's lib/. The package is located by
    the import system's path finder, which does not execute it."""
    directories = []
    override = os.environ.get("LIBUNICORN_PATH")
    if override:
        directories.append(override)
    directories.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "_unicorn"))  # a wheel's (setup.py)
    directories.append(os.path.join(sys.prefix, "lib", "pykern-unicorn"))
    spec = importlib.machinery.PathFinder.find_spec("unicorn")
    if spec is not None and spec.submodule_search_locations:
        directories += [os.path.join(d, "lib") for d in spec.submodule_search_locations]
    for directory in directories:
        path = os.path.join(directory, LIBRARY_NAME)
        if os.path.isfile(path):
            return path
    raise ImportError(f"cannot find {LIBRARY_NAME} (make venv builds it; or pip install unicorn==2.1.1, "
                      "or set LIBUNICORN_PATH to the directory holding it)")


def _load(path: str) -> ctypes.CDLL:
    """dlopen with lazy binding. ctypes.CDLL always adds RTLD_NOW, which binds all of
    libunicorn's ~7,700 PLT slots before the first call (about 10 ms of start-up); lazily,
    each is bound on its first call, and most never are."""
    libc = ctypes.CDLL(None)
    libc.dlopen.restype = ctypes.c_void_p
    libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    handle = libc.dlopen(os.fsencode(path), os.RTLD_LAZY | os.RTLD_LOCAL)
    if not handle:
        libc.dlerror.restype = ctypes.c_char_p
        raise ImportError(f"cannot load {path}: {(libc.dlerror() or b'').decode(errors='replace')}")
    return ctypes.CDLL(path, handle=handle)


LIBRARY_PATH = find_library()  # the libunicorn in use (bench/run.py records it)
_lib = _load(LIBRARY_PATH)

_c_int, _c_uint32, _c_uint64, _c_size_t = ctypes.c_int, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t
_c_void_p = ctypes.c_void_p  # also for uc_engine *, uc_context * and arrays
_size_p = ctypes.POINTER(ctypes.c_size_t)


def _prototype(name: str, *argtypes: Any, restype: Any = _c_int) -> Any:
    function = getattr(_lib, name)
    function.argtypes = argtypes
    function.restype = restype
    return function


class _MemRegion(ctypes.Structure):
    _fields_ = (("begin", ctypes.c_uint64), ("end", ctypes.c_uint64), ("perms", ctypes.c_uint32))


# unicorn.h, 2.1: every function returns uc_err unless noted.
_uc_open = _prototype("uc_open", _c_int, _c_int, ctypes.POINTER(_c_void_p))
_uc_close = _prototype("uc_close", _c_void_p)
_uc_strerror = _prototype("uc_strerror", _c_int, restype=ctypes.c_char_p)
_uc_free = _prototype("uc_free", _c_void_p)
_uc_emu_start = _prototype("uc_emu_start", _c_void_p, _c_uint64, _c_uint64, _c_uint64, _c_size_t)
_uc_mem_map_ptr = _prototype("uc_mem_map_ptr", _c_void_p, _c_uint64, _c_size_t, _c_uint32, _c_void_p)
_uc_mem_unmap = _prototype("uc_mem_unmap", _c_void_p, _c_uint64, _c_size_t)
_uc_mem_protect = _prototype("uc_mem_protect", _c_void_p, _c_uint64, _c_size_t, _c_uint32)
_uc_mem_read = _prototype("uc_mem_read", _c_void_p, _c_uint64, _c_void_p, _c_size_t)
_uc_mem_write = _prototype("uc_mem_write", _c_void_p, _c_uint64, _c_void_p, _c_size_t)
_uc_mem_regions = _prototype("uc_mem_regions", _c_void_p, ctypes.POINTER(ctypes.POINTER(_MemRegion)),
                             ctypes.POINTER(_c_uint32))
_uc_reg_read2 = _prototype("uc_reg_read2", _c_void_p, _c_int, _c_void_p, _size_p)
_uc_reg_write2 = _prototype("uc_reg_write2", _c_void_p, _c_int, _c_void_p, _size_p)
_uc_reg_read_batch2 = _prototype("uc_reg_read_batch2", _c_void_p, _c_void_p, _c_void_p, _c_void_p, _c_int)
_uc_context_alloc = _prototype("uc_context_alloc", _c_void_p, ctypes.POINTER(_c_void_p))
_uc_context_save = _prototype("uc_context_save", _c_void_p, _c_void_p)
_uc_context_restore = _prototype("uc_context_restore", _c_void_p, _c_void_p)
_uc_context_free = _prototype("uc_context_free", _c_void_p)
_uc_context_reg_read2 = _prototype("uc_context_reg_read2", _c_void_p, _c_int, _c_void_p, _size_p)
_uc_context_reg_write2 = _prototype("uc_context_reg_write2", _c_void_p, _c_int, _c_void_p, _size_p)
# Variadic: the fixed arguments are declared, the extra ones passed as ctypes values.
_uc_hook_add = _prototype("uc_hook_add", _c_void_p, ctypes.POINTER(_c_size_t), _c_int, _c_void_p, _c_void_p,
                          _c_uint64, _c_uint64)
_uc_hook_del = _prototype("uc_hook_del", _c_void_p, _c_size_t)
_uc_ctl = _prototype("uc_ctl", _c_void_p, _c_int)
# pykern's own build only (tools/build_unicorn.py): the instruction budget.
try:
    _uc_pykern_set_budget = _prototype("uc_pykern_set_budget", _c_void_p, ctypes.c_int64)
    _uc_pykern_budget = _prototype("uc_pykern_budget", _c_void_p, ctypes.POINTER(ctypes.c_int64))
except AttributeError:  # another libunicorn ($LIBUNICORN_PATH, the unicorn wheel's)
    _uc_pykern_set_budget = _uc_pykern_budget = None
HAS_BUDGET = _uc_pykern_set_budget is not None
try:  # the virtual TSC on the budget (tools/build_unicorn.py; --deterministic)
    _uc_pykern_set_tsc = _prototype("uc_pykern_set_tsc", _c_void_p, _c_uint64)
except AttributeError:
    _uc_pykern_set_tsc = None
HAS_VIRTUAL_TSC = _uc_pykern_set_tsc is not None
try:  # a batch of mappings under one commit of the memory map (tools/build_unicorn.py)
    _uc_pykern_map_batch = _prototype("uc_pykern_map_batch", _c_void_p, _c_int)
except AttributeError:
    _uc_pykern_map_batch = None
try:  # parallel mode: locked instructions as host atomics (tools/build_unicorn.py)
    _uc_pykern_set_parallel = _prototype("uc_pykern_set_parallel", _c_void_p, _c_int)
except AttributeError:
    _uc_pykern_set_parallel = None
HAS_PARALLEL = _uc_pykern_set_parallel is not None
# Faults stop at the faulting instruction: after a bad data access, rip is that
# instruction's (tools/build_unicorn.py, precise faults; pykern.crash).
PRECISE_FAULTS = hasattr(_lib, "uc_pykern_precise_faults")
NO_BUDGET = (1 << 63) - 1  # the budget of an engine nobody limited



def _unchecked(name: str) -> Any:
    """The C function without argtypes: ctypes passes ctypes objects as they are and
    Python ints as C ints, with no from_param conversion each, and calls cost half as
    much. Only for the calls of every syscall and register access, whose arguments are
    all a ctypes object (the handle, prebuilt buffers) or a C int (a register id)."""
    function = _lib[name]  # a new function object: the prototyped ones stay as they are
    function.restype = _c_int
    return function


_uc_emu_stop = _unchecked("uc_emu_stop")  # (uc_engine *)
_uc_reg_read = _unchecked("uc_reg_read")  # (uc_engine *, int regid, void *value)
_uc_reg_write = _unchecked("uc_reg_write")  # (uc_engine *, int regid, const void *value)
_uc_reg_read_batch = _unchecked("uc_reg_read_batch")  # (uc_engine *, int *regs, void **vals, int count)

# Hook callback types (unicorn.h: uc_cb_hookintr_t, uc_cb_eventmem_t, uc_cb_insn_syscall_t).
_HOOK_INTR = ctypes.CFUNCTYPE(None, _c_void_p, _c_uint32, _c_void_p)
_HOOK_MEM_INVALID = ctypes.CFUNCTYPE(ctypes.c_bool, _c_void_p, _c_int, _c_uint64, _c_int, ctypes.c_int64, _c_void_p)
_HOOK_INSN_SYSCALL = ctypes.CFUNCTYPE(None, _c_void_p, _c_void_p)
_HOOK_CODE = ctypes.CFUNCTYPE(None, _c_void_p, _c_uint64, _c_uint32, _c_void_p)  # uc_cb_hookcode_t

# Registers wider than 64 bits, read and written with the size-checked calls (*2).
_VECTOR_REGS = frozenset([*range(UC_X86_REG_XMM0, UC_X86_REG_XMM31 + 1), *range(UC_X86_REG_YMM0, UC_X86_REG_YMM31 + 1),
                          *range(UC_X86_REG_ZMM0, UC_X86_REG_ZMM31 + 1)])
# Registers the official binding reads as tuples (x87 (mantissa, exponent), descriptor
# tables, MSRs): pykern uses none of them, so they are refused rather than half-done.
_STRUCT_REGS = frozenset([*range(UC_X86_REG_FP0, UC_X86_REG_FP7 + 1), *range(UC_X86_REG_ST0, UC_X86_REG_ST7 + 1),
                          UC_X86_REG_GDTR, UC_X86_REG_IDTR, UC_X86_REG_LDTR, UC_X86_REG_TR, UC_X86_REG_MSR])
_WIDE_REGS = _VECTOR_REGS | _STRUCT_REGS
_WIDEST = 64  # bytes: ZMM
_MASK64 = (1 << 64) - 1
_MASK_WIDEST = (1 << 8 * _WIDEST) - 1


class UcError(Exception):
    """A libunicorn call failed: `errno` is its uc_err (pykern.uc_const.UC_ERR_*)."""

    def __init__(self, errno: int, *args: object) -> None:
        super().__init__(errno, *args)
        self.errno = errno

    def __str__(self) -> str:
        return _uc_strerror(self.errno).decode("ascii", "replace")


def _check(status: int) -> None:
    if status != UC_ERR_OK:
        raise UcError(status)


class _Registers:
    """reg_read / reg_write through the size-checked calls (uc_reg_read2 and friends), for
    an engine's wide registers and a saved context's: the official binding's meaning,
    registers are ints, XMM and YMM ones 128 and 256 bits wide."""

    _uch: Any  # the C handle: uc_engine * or uc_context *
    _read2: Any  # (handle, regid, void *value, size_t *size)
    _write2: Any
    _wide: Any = None  # (widest buffer, size_t, byref(size)), made on first use

    def _wide_buffer(self) -> tuple[Any, Any, Any]:
        size = ctypes.c_size_t()
        self._wide = (ctypes.create_string_buffer(_WIDEST), size, ctypes.byref(size))
        return self._wide

    def reg_read(self, reg_id: int) -> int:
        if reg_id in _STRUCT_REGS:
            raise NotImplementedError(f"pykern.ucbind: register {reg_id} is not an integer register")
        buffer, size, size_ref = self._wide or self._wide_buffer()
        size.value = _WIDEST
        status = self._read2(self._uch, reg_id, buffer, size_ref)
        if status != UC_ERR_OK:
            raise UcError(status, reg_id)
        return int.from_bytes(buffer.raw[:size.value], "little")

    def reg_read_bytes(self, reg_id: int) -> bytes:
        """Any register as the engine stores it (an x87 register: 10 bytes, the 64-bit
        mantissa then the sign and exponent), for the debugger (pykern.gdbstub)."""
        buffer, size, size_ref = self._wide or self._wide_buffer()
        size.value = _WIDEST
        status = self._read2(self._uch, reg_id, buffer, size_ref)
        if status != UC_ERR_OK:
            raise UcError(status, reg_id)
        return buffer.raw[:size.value]

    def reg_write_bytes(self, reg_id: int, data: bytes) -> None:
        buffer, size, size_ref = self._wide or self._wide_buffer()
        ctypes.memmove(buffer, data, len(data))
        size.value = len(data)
        status = self._write2(self._uch, reg_id, buffer, size_ref)
        if status != UC_ERR_OK:
            raise UcError(status, reg_id)

    def reg_write(self, reg_id: int, value: int) -> None:
        if reg_id in _STRUCT_REGS:
            raise NotImplementedError(f"pykern.ucbind: register {reg_id} is not an integer register")
        buffer, size, size_ref = self._wide or self._wide_buffer()
        ctypes.memmove(buffer, (value & _MASK_WIDEST).to_bytes(_WIDEST, "little"), _WIDEST)
        size.value = _WIDEST  # the engine takes the register's width from the low bytes
        status = self._write2(self._uch, reg_id, buffer, size_ref)
        if status != UC_ERR_OK:
            raise UcError(status, reg_id)


class UcContext(_Registers):
    """A saved CPU state (uc_context_alloc); freed when the object goes."""

    _read2 = staticmethod(_uc_context_reg_read2)
    _write2 = staticmethod(_uc_context_reg_write2)

    def __init__(self, uch: Any) -> None:
        self._uch = _c_void_p()
        _check(_uc_context_alloc(uch, ctypes.byref(self._uch)))

    def __del__(self, _free: Any = _uc_context_free) -> None:
        if self._uch:
            _free(self._uch)
            self._uch = None


class Uc(_Registers):
    """One Unicorn engine (uc_open). Closed by `close()` or when the object goes."""

    _read2 = staticmethod(_uc_reg_read2)
    _write2 = staticmethod(_uc_reg_write2)
    _uch: Any = None

    def __init__(self, arch: int, mode: int) -> None:
        uch = _c_void_p()
        _check(_uc_open(arch, mode, ctypes.byref(uch)))
        self._uch = uch
        self._callbacks: list[Any] = []  # ctypes callback objects the engine calls
        self._hook_exception: BaseException | None = None
        self._batches: dict[tuple[int, ...], _Batch] = {}
        self._word = ctypes.c_uint64()  # reg_read / reg_write of registers up to 64 bits
        self._word_ref = ctypes.byref(self._word)
        self._budget_left = ctypes.c_int64()
        self._budget_left_ref = ctypes.byref(self._budget_left)

    def close(self) -> None:
        uch, self._uch = self._uch, None
        if uch:
            _check(_uc_close(uch))
        self._callbacks = []

    def __del__(self, _close: Any = _uc_close) -> None:
        if self._uch:
            _close(self._uch)
            self._uch = None

    # --- running ------------------------------------------------------------------------

    def emu_start(self, begin: int, until: int, timeout: int = 0, count: int = 0) -> None:
        """Run from `begin` until `until`, `timeout` microseconds or `count` instructions
        (0: no limit). An exception a hook raised is raised here; it comes before the
        engine's own error, which it usually caused."""
        self._hook_exception = None
        status = _uc_emu_start(self._uch, begin, until, timeout, count)
        error = self._hook_exception
        if error is not None:
            self._hook_exception = None
            raise error
        if status != UC_ERR_OK:
            raise UcError(status)

    def set_budget(self, instructions: int) -> None:
        """Leave the next emu_start at the first block boundary after about
        `instructions` guest instructions (NO_BUDGET: no limit). Counted per translation
        block, so the stop may come up to one block late, but always at the same place
        (tools/build_unicorn.py, the instruction budget). Only when HAS_BUDGET."""
        _check(_uc_pykern_set_budget(self._uch, instructions))

    def budget(self) -> int:
        """What is left of the budget: at most 0 once emulation stopped for it."""
        left = self._budget_left
        _check(_uc_pykern_budget(self._uch, self._budget_left_ref))
        return left.value

    def set_tsc(self, tsc: int) -> None:
        """After set_budget: rdtsc reads `tsc` now, plus the instructions charged to the
        budget from here on (the virtual TSC of --deterministic). Only when HAS_VIRTUAL_TSC."""
        _check(_uc_pykern_set_tsc(self._uch, tsc))

    def set_parallel(self, on: bool) -> None:
        """Parallel mode (off by default): the code this engine translates from now on does
        each locked instruction (lock cmpxchg, lock xadd, lock inc/add/or/and..., xchg with
        memory, cmpxchg8b/16b) as a host atomic and each fence as a host barrier, so that
        it may run at the same time as another engine, on another host thread, over the
        same host memory (mem_map_ptr). Off, they are plain loads and stores: exact, and
        no slower, for an engine that runs alone. Code translated in the other mode is
        translated again, not reused. A locked access the host cannot do atomically
        (misaligned, across a page or a cache line) runs alone, as in QEMU, but is not
        atomic against another engine running meanwhile (tools/build_unicorn.py,
        EXCP_ATOMIC). Not while emu_start runs on this engine. Only when HAS_PARALLEL."""
        _check(_uc_pykern_set_parallel(self._uch, 1 if on else 0))

    def map_batch(self, begin: bool) -> None:
        """Open (True) or end (False) a batch of mem_map_ptr calls: the memory map is
        committed once, at its end, instead of after each (tools/build_unicorn.py). Only
        mappings inside a batch; without pykern's libunicorn, nothing is batched."""
        if _uc_pykern_map_batch is not None:
            _check(_uc_pykern_map_batch(self._uch, 1 if begin else 0))

    def emu_stop(self) -> None:
        """Also from another thread (pykern.hostsig): a closed engine is not touched."""
        uch = self._uch
        if not uch:
            raise UcError(UC_ERR_HANDLE)
        _check(_uc_emu_stop(uch))

    def _hook_failed(self, error: BaseException) -> None:
        if self._hook_exception is None:  # the first one is the cause
            self._hook_exception = error
        _uc_emu_stop(self._uch)

    def hook_add(self, htype: int, callback: Callable[..., Any], user_data: Any = None,
                 begin: int = 1, end: int = 0, aux1: int = 0, aux2: int = 0) -> int:
        """Register `callback` for UC_HOOK_INTR (uc, intno, user_data), UC_HOOK_MEM_INVALID
        or any of its parts (uc, access, address, size, value, user_data) -> bool, or
        UC_HOOK_INSN with aux1 = UC_X86_INS_SYSCALL (uc, user_data), UC_HOOK_CODE (uc,
        address, size, user_data: the debugger's, pykern.gdbstub), and the valid memory
        accesses UC_HOOK_MEM_READ/WRITE like the invalid ones. Returns the handle."""
        owner = weakref.ref(self)  # no cycle: the engine closes when its last user lets go

        if htype == UC_HOOK_INTR:
            def on_interrupt(handle: int, intno: int, data: int) -> None:
                uc = owner()
                try:
                    callback(uc, intno, user_data)
                except BaseException as error:
                    uc._hook_failed(error)

            function = _HOOK_INTR(on_interrupt)
            extra: tuple[Any, ...] = ()
        elif htype and not htype & ~(UC_HOOK_MEM_INVALID | UC_HOOK_MEM_VALID):
            def on_bad_access(handle: int, access: int, address: int, size: int, value: int, data: int) -> bool:
                uc = owner()
                try:
                    return bool(callback(uc, access, address, size, value, user_data))
                except BaseException as error:
                    uc._hook_failed(error)
                    return False

            function = _HOOK_MEM_INVALID(on_bad_access)
            extra = ()
        elif htype == UC_HOOK_INSN and aux1 == UC_X86_INS_SYSCALL:
            def on_syscall(handle: int, data: int) -> None:
                uc = owner()
                try:
                    callback(uc, user_data)
                except BaseException as error:
                    uc._hook_failed(error)

            function = _HOOK_INSN_SYSCALL(on_syscall)
            extra = (_c_int(aux1),)
        elif htype == UC_HOOK_CODE:
            def on_code(handle: int, address: int, size: int, data: int) -> None:
                uc = owner()
                try:
                    callback(uc, address, size, user_data)
                except BaseException as error:
                    uc._hook_failed(error)

            function = _HOOK_CODE(on_code)
            extra = ()
        else:
            raise NotImplementedError(f"pykern.ucbind: hook type {htype:#x} (aux1 {aux1}) is not bound")
        handle = _c_size_t()
        _check(_uc_hook_add(self._uch, ctypes.byref(handle), htype, ctypes.cast(function, _c_void_p), None,
                            begin, end, *extra))
        self._callbacks.append(function)
        return handle.value

    def hook_del(self, handle: int) -> None:
        """Remove a hook (its callback object stays referenced: the engine frees the hook
        only at the end of the current emu_start)."""
        _check(_uc_hook_del(self._uch, handle))

    def ctl_flush_tb(self) -> None:
        """Drop all translated code (UC_CTL_TB_FLUSH): a hook added or removed for every
        address takes effect only in code translated after it."""
        control = (UC_CTL_IO_WRITE << 30) | (0 << 26) | UC_CTL_TB_FLUSH
        _check(_uc_ctl(self._uch, control))

    def ctl_flush_tlb(self) -> None:
        """Empty the software TLB (UC_CTL_TLB_FLUSH): memory hooks see accesses through it."""
        control = (UC_CTL_IO_WRITE << 30) | (0 << 26) | UC_CTL_TLB_FLUSH
        _check(_uc_ctl(self._uch, control))

    def ctl_remove_cache(self, address: int, end: int) -> None:
        """Drop the code translated from [address, end) (UC_CTL_TB_REMOVE_CACHE)."""
        control = (UC_CTL_IO_WRITE << 30) | (2 << 26) | UC_CTL_TB_REMOVE_CACHE  # uc.h: UC_CTL_WRITE(type, 2)
        _check(_uc_ctl(self._uch, control, _c_uint64(address), _c_uint64(end)))

    # --- memory -------------------------------------------------------------------------

    def mem_map_ptr(self, address: int, size: int, perms: int, ptr: int) -> None:
        _check(_uc_mem_map_ptr(self._uch, address, size, perms, ptr))

    def mem_unmap(self, address: int, size: int) -> None:
        _check(_uc_mem_unmap(self._uch, address, size))

    def mem_protect(self, address: int, size: int, perms: int) -> None:
        _check(_uc_mem_protect(self._uch, address, size, perms))

    def mem_read(self, address: int, size: int) -> bytearray:
        data = bytearray(size)
        if size:
            _check(_uc_mem_read(self._uch, address, (ctypes.c_char * size).from_buffer(data), size))
        return data

    def mem_write(self, address: int, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes):
            data = bytes(data)
        _check(_uc_mem_write(self._uch, address, data, len(data)))

    def mem_regions(self) -> list[tuple[int, int, int]]:
        """(begin, end inclusive, perms) of every mapped region, in address order."""
        regions = ctypes.POINTER(_MemRegion)()
        count = _c_uint32()
        _check(_uc_mem_regions(self._uch, ctypes.byref(regions), ctypes.byref(count)))
        try:
            return [(r.begin, r.end, r.perms) for r in regions[:count.value]]
        finally:
            _uc_free(regions)

    # --- registers ----------------------------------------------------------------------

    def reg_read(self, reg_id: int) -> int:
        if reg_id in _WIDE_REGS:
            return super().reg_read(reg_id)
        word = self._word
        word.value = 0  # the engine writes only the register's width (eax: 4 bytes)
        status = _uc_reg_read(self._uch, reg_id, self._word_ref)
        if status != UC_ERR_OK:
            raise UcError(status, reg_id)
        return word.value

    def reg_write(self, reg_id: int, value: int) -> None:
        if reg_id in _WIDE_REGS:
            super().reg_write(reg_id, value)
            return
        self._word.value = value & _MASK64
        status = _uc_reg_write(self._uch, reg_id, self._word_ref)
        if status != UC_ERR_OK:
            raise UcError(status, reg_id)

    def reg_read_batch(self, reg_ids: Iterable[int]) -> tuple[int, ...]:
        reg_ids = tuple(reg_ids)
        batch = self._batches.get(reg_ids)
        if batch is None:
            batch = self._batches[reg_ids] = _Batch(reg_ids)
        return batch.read(self._uch)

    def context_save(self) -> UcContext:
        context = UcContext(self._uch)
        _check(_uc_context_save(self._uch, context._uch))
        return context

    def context_restore(self, context: UcContext) -> None:
        _check(_uc_context_restore(self._uch, context._uch))


class _Batch:
    """Prebuilt buffers for uc_reg_read_batch2 of any registers (one widest slot each)."""

    def __init__(self, reg_ids: tuple[int, ...]) -> None:
        count = len(reg_ids)
        if any(reg in _STRUCT_REGS for reg in reg_ids):
            raise NotImplementedError(f"pykern.ucbind: reg_read_batch of non-integer registers {reg_ids}")
        self.count = count
        self.ids = (ctypes.c_int * count)(*reg_ids)
        self.values = ctypes.create_string_buffer(_WIDEST * count)
        base = ctypes.addressof(self.values)
        self.pointers = (ctypes.c_void_p * count)(*[base + _WIDEST * i for i in range(count)])
        self.sizes = (ctypes.c_size_t * count)()
        self.full = bytes((ctypes.c_size_t * count)(*[_WIDEST] * count))

    def read(self, uch: Any) -> tuple[int, ...]:
        ctypes.memmove(self.sizes, self.full, len(self.full))
        status = _uc_reg_read_batch2(uch, self.ids, self.pointers, self.sizes, self.count)
        if status != UC_ERR_OK:
            raise UcError(status)
        raw = self.values.raw
        return tuple(int.from_bytes(raw[_WIDEST * i:_WIDEST * i + size], "little")
                     for i, size in enumerate(self.sizes))


class RegisterBatch:
    """[value, ...] of fixed 64-bit registers (rax, not eax: a narrower one would keep stale
    high bytes) with one uc_reg_read_batch into prebuilt buffers: the cost of about one
    call, for the trap's read of a syscall's number and arguments."""

    def __init__(self, reg_ids: Iterable[int]) -> None:
        reg_ids = tuple(reg_ids)
        if any(reg in _WIDE_REGS for reg in reg_ids):
            raise ValueError(f"pykern.ucbind: RegisterBatch is for 64-bit registers, not {reg_ids}")
        count = len(reg_ids)
        self._ids = (ctypes.c_int * count)(*reg_ids)
        self._values = (ctypes.c_uint64 * count)()
        base = ctypes.addressof(self._values)
        self._pointers = (ctypes.c_void_p * count)(*[base + 8 * i for i in range(count)])
        self._count = count
        self._view = memoryview(self._values).cast("B").cast("Q")

    def read(self, uc: Uc) -> list[int]:
        status = _uc_reg_read_batch(uc._uch, self._ids, self._pointers, self._count)
        if status != UC_ERR_OK:
            raise UcError(status)
        return self._view.tolist()
