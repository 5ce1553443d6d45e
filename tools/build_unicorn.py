"""Build pykern's libunicorn.so.2: Unicorn 2.1.1 from its PyPI source, x86 only, patched.

    python tools/build_unicorn.py DEST_DIR

`make venv` runs this and puts the library in .venv/lib/pykern-unicorn/, where
pykern.ucbind looks first. It downloads the unicorn 2.1.1 source distribution with pip
(checked against its sha256), unpacks it under build/, applies PATCHES, and builds only
the x86 target with cmake (about 25 s on 2 cores).

Why not the wheel's libunicorn.so.2 (measured with make bench, see the README):

- Floating point. The wheel's build calls libm's __fpclassify and __isinf out of line in
  softfloat's hard-float fast path: under perf they took 46% of bench fp. Built here with
  the system's gcc they are inlined, and fp runs at qemu-user's speed instead of 2x.
- PATCHES, each with the measurement that justified it: the software TLB's starting
  size; the translated blocks' hash table's starting size; RAM offsets found in one pass; exact stops from another thread; the instruction budget that preemption counts
  with (Trap.run_user), and a virtual TSC on it (--deterministic); no whole-TLB walk per translated block; no page-by-page TLB
  flush and descriptor lookup when a large region is unmapped; one behaviour fix, the
  floating-point exception flags and SIGFPE (#XM, #MF) for unmasked exceptions (issue 12);
  and a parallel mode per instance (uc_pykern_set_parallel: locked instructions as host
  atomics, for instances running at once over the same memory); and precise faults (a
  faulting load or store stops with the faulting instruction's rip and flags state,
  uc_pykern_precise_faults); and one more behaviour fix, code rewritten in place is
  never run stale (stores to a page keep dropping its translations while any are left
  on it). Nothing else is changed.

Unicorn 2.1.1 because it measured fastest (2.1.2-2.1.4 were 15-20x slower on guest code
that writes memory); pyproject.toml pins the same version for the Python package.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile

VERSION = "2.1.1"
SDIST = f"unicorn-{VERSION}.tar.gz"
SDIST_SHA256 = "904f4146b09cd708fdf6b90ebb48d30eaa0ba339382964d4d08c0b9399cf4ba3"
LIBRARY = "libunicorn.so.2"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "build", f"unicorn-{VERSION}")
TIMEOUT = 1800  # seconds, for each download or build step

# (file under src/, text, replacement, how many times the text occurs, why).
PATCHES = [
    (
        "qemu/include/exec/cpu-defs.h",
        "    size_t vindex;\n",
        "    size_t vindex;\n    size_t pykern_evictions;  /* pykern: see tools/build_unicorn.py (the TLB grows) */\n",
        1,
        """QEMU resizes its software TLB only when the TLB is flushed
        (tlb_mmu_resize_locked: doubled when more than 70% of it was in use). A
        full-system guest flushes it at every context switch; a pykern process almost
        never does (there is no CR3 to write, only mprotect and munmap flush), so it
        kept the starting size of 2^8 entries, which covers 1 MiB. A loop over more
        memory than that refilled the TLB, through the slow path, on nearly every
        access: bench mem_pages ran at 3x qemu-user, cpu_int at 1.75x. The first fix
        started it at 2^12 entries (16 MiB), but the table (64 bytes an entry) is
        written at creation: 256 KiB of every Unicorn instance, that is of every live
        pykern process, a quarter of what one cost (issue 11's many_procs). Now it
        starts at QEMU's 2^8 and grows by itself: each MMU mode counts the valid
        entries a fill replaced (this field), and once they outnumber the entries the
        table has, the next fill flushes that mode's TLB, where QEMU's own rule resizes
        it (next patches). A process whose pages fit never grows its TLB; mem_pages
        (16 MiB) reaches 2^13 entries after about 8,000 refills.""",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        """        /* Evict the old entry into the victim tlb.  */
        copy_tlb_helper_locked(tv, te);
""",
        """        /* Evict the old entry into the victim tlb.  */
        desc->pykern_evictions++;  /* pykern: see tools/build_unicorn.py (the TLB grows) */
        copy_tlb_helper_locked(tv, te);
""",
        1,
        "The count: a fill replaced a valid entry of another page (it goes to the victim TLB).",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        """    int wp_flags;
    bool is_ram;

    // assert_cpu_is_self(cpu);
""",
        """    int wp_flags;
    bool is_ram;

    // assert_cpu_is_self(cpu);

    /* pykern: a TLB that keeps replacing entries grows, see tools/build_unicorn.py */
    if (desc->pykern_evictions > tlb_n_entries(&tlb->f[mmu_idx]) &&
        tlb_n_entries(&tlb->f[mmu_idx]) < ((size_t)1 << 16)) {  /* 4 MiB of table */
        desc->pykern_evictions = 0;
        tlb_flush_one_mmuidx_locked(env, mmu_idx, get_clock_realtime());
    }
""",
        1,
        """The growth, at the start of a fill (tlb_set_page_with_attrs), before the fill
        picks its slot: a flush of this MMU mode's TLB, in which QEMU's
        tlb_mmu_resize_locked doubles a table more than 70% used (a table that keeps
        replacing entries is full). Nothing the guest sees changes: the flush drops
        cached translations of mappings that have not changed, and every caller of a
        fill looks its entry up again after it (tlb_fill may flush on other targets
        too); generated code reads the table's address and mask from env at every
        access. Growth by this rule stops at 2^16 entries (4 MiB of table covering
        256 MiB). Issue 11's many_procs (1,000 live processes, each a Unicorn
        instance): see the README for the RSS and fork time this gave; mem_pages and
        cpu_int, which need the larger TLB, measured as before.""",
    ),
    (
        "qemu/include/exec/tb-context.h",
        "#define CODE_GEN_HTABLE_BITS     15\n",
        "#define CODE_GEN_HTABLE_BITS     10  /* pykern: was 15, see tools/build_unicorn.py */\n",
        1,
        """The hash table of translated blocks starts with 2^15 slots and grows by itself
        (qht's QHT_MODE_AUTO_RESIZE) when its buckets fill. Its buckets are written at
        creation, so every Unicorn instance, that is every live pykern process, held
        them resident: measured 1.64 MB of RSS per instance, 1.14 MB with 2^10 slots
        (issue 11: 1,000 live processes must cost under 1 GB). A process that
        translates more blocks than that grows the table as it fills. With the
        TLB patch above, bench many_procs (1,000 processes blocked in read): 1,703 ->
        747 MB of pykern RSS, fork + exit + wait 1.78 -> 1.37 ms a process.""",
    ),
    (
        "qemu/exec.c",
        "    if (!uc->ram_list.freed) {\n        return find_ram_offset_last(uc, size);\n    }\n",
        """    /* pykern: after the highest block while it fits, see tools/build_unicorn.py */
    last = find_ram_offset_last(uc, size);
    if (!uc->ram_list.freed || last + size <= PYKERN_RAM_OFFSET_LIMIT) {
        return last;
    }
""",
        1,
        """Each mapped region gets an offset in QEMU's RAM address space. Once any region
        had been freed, find_ram_offset looked for the smallest gap that fits with a
        loop over the blocks inside a loop over the blocks: a program holding 2,700
        mappings paid about 10 ms per mmap. The offset now goes after the highest
        block, one pass over the blocks, as before any region was freed, and the gap
        search is kept only for when the offsets would pass 2^47: the page
        descriptors that TCG keeps per RAM page are indexed by the offset's low 52
        bits, so the offsets must stay well below that. The RAM address space is
        not memory: no host memory is tied to an offset that is never translated
        from. Measured with a static program that maps 3,000 pages one by one
        (every other one mprotect'ed read-only, so none merge), then 1,000 times
        unmaps one and maps a page again: 57.2 s -> 12.8 s (most of the rest was the
        flat view's rendering, patched above).""",
    ),
    (
        "qemu/exec.c",
        "static ram_addr_t find_ram_offset(struct uc_struct *uc, ram_addr_t size)\n{\n    RAMBlock *block, *next_block;\n",
        """#define PYKERN_RAM_OFFSET_LIMIT ((ram_addr_t)1 << 47)  /* pykern */

static ram_addr_t find_ram_offset(struct uc_struct *uc, ram_addr_t size)
{
    RAMBlock *block, *next_block;
    ram_addr_t last;
""",
        1,
        "Its bound and variable.",
    ),
    (
        "qemu/tcg/tcg-op.c",
        "check_exit_request(tcg_ctx);\n",
        "check_exit_request_after_access(tcg_ctx);  /* pykern */\n",
        6,
        """Unicorn makes every guest load and store check for a stop request and, if
        one came, leave the block right after the access. The block is then resumed
        from its first instruction (cpu_tb_exec sets the pc to the block's start), so
        the instructions before the access run twice. A stop requested from another
        thread (uc_emu_stop, and Unicorn's own timeout, which is the same thing) lands
        there at random: a loop of `inc rax; add [rdx], 1; inc rcx` ended with rax,
        [rdx] and rcx all different after 20 stops (unicorn-engine/unicorn#1105 and
        #1565 are this). The check exists for memory hooks that call uc_emu_stop;
        pykern has none, so the check is kept only while such a hook exists. Without
        it a stop is taken at the start of a block, as in QEMU, and is exact. It also
        drops a load and a branch from every guest memory access.""",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        "cpu_exit(uc->cpu);\n            return;\n",
        "cpu_exit(uc->cpu);\n            STORE_FAULT_EXIT(uc);  /* pykern */\n            return;\n",
        3,
        """What the check above did for a store to unmapped or read-only memory: the
        store helper only asked the engine to stop, and relied on the check after the
        access to leave the block before the next instruction ran. Such a store now
        leaves the block at once (cpu_loop_exit), as a faulting load always has.""",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        "cpu_exit(uc->cpu);\n                return;\n",
        "cpu_exit(uc->cpu);\n                STORE_FAULT_EXIT(uc);  /* pykern */\n                return;\n",
        1,
        "The same, for a store whose page went away while its hook ran.",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        "static inline void\nstore_helper(",
        """/* pykern: see tools/build_unicorn.py (the loads' own guard) */
#define STORE_FAULT_EXIT(uc) do { \\
        if ((uc)->nested_level > 0 && !(uc)->cpu->stopped) { \\
            cpu_loop_exit((uc)->cpu); \\
        } \\
    } while (0)

static inline void
store_helper(""",
        1,
        "The macro used by the two patches above.",
    ),
    (
        "qemu/tcg/tcg-op.c",
        "void check_exit_request(TCGContext *tcg_ctx)\n{",
        """/* pykern: see tools/build_unicorn.py */
static void check_exit_request_after_access(TCGContext *tcg_ctx)
{
    if (HOOK_EXISTS(tcg_ctx->uc, UC_HOOK_MEM_READ) || HOOK_EXISTS(tcg_ctx->uc, UC_HOOK_MEM_WRITE)) {
        check_exit_request(tcg_ctx);
    }
}

void check_exit_request(TCGContext *tcg_ctx)
{""",
        1,
        "The helper used by the patch above.",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        """        for (i = 0; i < n; i++) {
            tlb_reset_dirty_range_by_vaddr_locked(uc, &env_tlb(env)->f[mmu_idx].table[i],
                                                  start1, length);
        }
""",
        """        /* pykern: only the slots of the pages in the range, see tools/build_unicorn.py */
        target_ulong first = start1 & TARGET_PAGE_MASK;
        target_ulong offset;

        (void)n;
        for (offset = 0; offset < (start1 - first) + length; offset += TARGET_PAGE_SIZE) {
            tlb_reset_dirty_range_by_vaddr_locked(uc, tlb_entry(env, mmu_idx, first + offset),
                                                  start1, length);
        }
""",
        1,
        """tlb_reset_dirty_by_vaddr, which Unicorn calls for every translation block it
        generates (translate-all.c: "Undoes tlb_set_dirty in notdirty_write"), looked at
        every entry of every MMU mode's TLB to find the ones mapping the block's page(s):
        3 x 4096 entries per block with the TLB size above. An entry for page P can only
        be at tlb_index(P) in the main table (tlb_set_page_with_attrs puts it there, and a
        resize flushes the table) or in the 8-entry victim TLB, which is still walked in
        full; so only those slots are looked at now, and the result is the same. Under
        perf it was 32-44% of a `busybox sh` loop running `busybox true` 100 times
        (every exec translates busybox's start-up code afresh); measured with user+sys
        CPU time of that loop, see the README's performance section.""",
    ),
    (
        "qemu/include/hw/core/cpu.h",
        "    IcountDecr *icount_decr_ptr;\n",
        """    IcountDecr *icount_decr_ptr;
    int64_t pykern_budget;  /* pykern: instructions left, see tools/build_unicorn.py */
""",
        1,
        """The instruction budget (pykern's preemption). Unicorn's only way to stop after N
        instructions is emu_start's count, which adds a UC_HOOK_CODE hook: a call into
        the hook for every instruction, the eflags every hook forces to be computed, and
        no block chaining. A process that had ever had a second runnable task ran its
        code that way (Trap.run_user), more than 10x slower than qemu-user: two threads
        of a multiply/xor loop, pykern 1.9 s, qemu-user 0.05 s. QEMU's answer is icount:
        each translation block charges its own instruction count to a budget in its
        prologue and leaves at a block boundary once the budget is spent; Unicorn
        removed it, so here it is again in a smaller form (next patches): the budget,
        a 64-bit count of instructions, lives in CPUState, where generated code reaches it
        relative to env and uc.c reaches it through uc->cpu. Measured with bench
        threads_cpu / pipeline_cpu, see the README's performance section.""",
    ),
    (
        "qemu/include/exec/gen-icount.h",
        """    tcg_gen_brcondi_i32(tcg_ctx, TCG_COND_LT, count, 0, tcg_ctx->exitreq_label);

    tcg_temp_free_i32(tcg_ctx, count);
""",
        """    tcg_gen_brcondi_i32(tcg_ctx, TCG_COND_LT, count, 0, tcg_ctx->exitreq_label);

    tcg_temp_free_i32(tcg_ctx, count);

    /* pykern: the instruction budget, see tools/build_unicorn.py */
    {
        TCGv_i64 budget = tcg_ctx->pykern_budget;  /* a host register while in generated code */
        TCGv_i64 imm = tcg_temp_new_i64(tcg_ctx);

        tcg_gen_movi_i64(tcg_ctx, imm, 0xdeadbeef);  /* this block's length, set by gen_tb_end */
        tcg_ctx->icount_start_insn = tcg_last_op(tcg_ctx);
        tcg_gen_sub_i64(tcg_ctx, budget, budget, imm);
        tcg_gen_brcondi_i64(tcg_ctx, TCG_COND_LT, budget, 0, tcg_ctx->exitreq_label);
        tcg_temp_free_i64(tcg_ctx, imm);
    }
""",
        1,
        """Every block's prologue, after Unicorn's exit-request check: charge the
        block's whole length to the budget; if that leaves it below zero, the budget
        does not cover the block: leave before running it, the way an exit request
        does (TB_EXIT_REQUESTED: cpu_tb_exec puts the pc back at the block's start).
        A block that faults or stops half-way is charged in full, and when a block
        does not fit, what is left reads 0 (next patch): the slice is charged whole.
        The point where a slice ends depends only on the guest's instructions and its
        blocks, never on time, so preemption stays reproducible. While generated code
        runs, the budget lives in a host register, r15 (next patches): the charge is
        sub, test, jl per block, with no memory access, in every process, a lone one
        too (its budget is INT64_MAX). Issue 11, a second round: the first version
        kept the budget in memory, checked it, then loaded it again to charge it (mov,
        test, jle, mov, sub, mov); a CPU-bound loop of one 11-instruction block (bench
        threads_cpu: its code otherwise the same as qemu-user's, 7 stores to env) ran
        about 20% slower than without the budget, as its extra store per iteration
        is on the store port that bounds such a loop. Charging before the branch (mov,
        sub, mov, test, jl: one load fewer) measured the same; the register removes
        the store. See the README.""",
    ),
    (
        "qemu/include/tcg/tcg.h",
        "    TCGv_ptr cpu_env;\n",
        "    TCGv_ptr cpu_env;\n    TCGv_i64 pykern_budget;  /* pykern: see tools/build_unicorn.py */\n",
        1,
        """The budget's TCG variable: a global fixed in host register r15 (as env is
        in rbp), so that the charge in each block's prologue is a register
        subtract. r15 is callee-saved: helpers called from generated code keep it.""",
    ),
    (
        "qemu/tcg/tcg.c",
        """    ts = tcg_global_reg_new_internal(s, TCG_TYPE_PTR, TCG_AREG0, "env");
    s->cpu_env = temp_tcgv_ptr(s, ts);
""",
        """    ts = tcg_global_reg_new_internal(s, TCG_TYPE_PTR, TCG_AREG0, "env");
    s->cpu_env = temp_tcgv_ptr(s, ts);
    /* pykern: the instruction budget, see tools/build_unicorn.py */
    ts = tcg_global_reg_new_internal(s, TCG_TYPE_I64, TCG_REG_R15, "pykern_budget");
    s->pykern_budget = temp_tcgv_i64(s, ts);
""",
        1,
        """Created with env; this takes r15 out of the register allocator. (x86-64 hosts
        only, as the rest of this build.)""",
    ),
    (
        "qemu/tcg/i386/tcg-target.inc.c",
        """    tcg_out_mov(s, TCG_TYPE_PTR, TCG_AREG0, tcg_target_call_iarg_regs[0]);
    tcg_out_addi(s, TCG_REG_ESP, -stack_addend);
    /* jmp *tb.  */
""",
        """    tcg_out_mov(s, TCG_TYPE_PTR, TCG_AREG0, tcg_target_call_iarg_regs[0]);
    tcg_out_addi(s, TCG_REG_ESP, -stack_addend);
    /* pykern: the budget into its register, see tools/build_unicorn.py */
    tcg_out_ld(s, TCG_TYPE_I64, TCG_REG_R15, TCG_AREG0, PYKERN_BUDGET_OFFSET);
    /* jmp *tb.  */
""",
        1,
        """Entering generated code (the prologue, after env is in its register): the
        budget is loaded from CPUState into r15 ...""",
    ),
    (
        "qemu/tcg/i386/tcg-target.inc.c",
        """    /* TB epilogue */
    s->tb_ret_addr = s->code_ptr;
""",
        """    /* TB epilogue */
    s->tb_ret_addr = s->code_ptr;
    /* pykern: the budget back, see tools/build_unicorn.py */
    tcg_out_st(s, TCG_TYPE_I64, TCG_REG_R15, TCG_AREG0, PYKERN_BUDGET_OFFSET);
""",
        1,
        """... and stored back on the way out (the epilogue, which every exit_tb and
        goto_ptr miss goes through), where cpu-exec.c and uc_pykern_budget read it.""",
    ),
    (
        "qemu/tcg/i386/tcg-target.inc.c",
        "static void tcg_target_qemu_prologue(TCGContext *s)\n{",
        """/* pykern: where the budget is, relative to env; see tools/build_unicorn.py */
#define PYKERN_BUDGET_OFFSET \\
    ((int)offsetof(ArchCPU, parent_obj.pykern_budget) - (int)offsetof(ArchCPU, env))

static void tcg_target_qemu_prologue(TCGContext *s)
{""",
        1,
        "Its place, as the memory version of the prologue computed it.",
    ),
    (
        "qemu/accel/tcg/cpu-exec.c",
        """    ret = tcg_qemu_tb_exec(env, tb_ptr);
""",
        """    cpu->pykern_in_jit = true;  /* pykern: see tools/build_unicorn.py */
    ret = tcg_qemu_tb_exec(env, tb_ptr);
    cpu->pykern_in_jit = false;
""",
        1,
        """The one way out of generated code that skips the epilogue is a longjmp from a
        helper (cpu_loop_exit: a fault, `pause`, code that modified its own block),
        which would lose what the run since the prologue consumed: a spin loop on
        `pause` would never spend its budget, and never be preempted. cpu_loop_exit
        stores r15 first, when it is called from generated code (this flag; the
        translator calls it too, outside generated code, where r15 means nothing).""",
    ),
    (
        "qemu/include/hw/core/cpu.h",
        "    int64_t pykern_budget;  /* pykern: instructions left, see tools/build_unicorn.py */\n",
        """    int64_t pykern_budget;  /* pykern: instructions left, see tools/build_unicorn.py */
    bool pykern_in_jit;  /* pykern: in generated code, where r15 holds the budget */
""",
        1,
        "The flag.",
    ),
    (
        "qemu/include/hw/core/cpu.h",
        "    bool pykern_in_jit;  /* pykern: in generated code, where r15 holds the budget */\n",
        """    bool pykern_in_jit;  /* pykern: in generated code, where r15 holds the budget */
    bool pykern_tsc_virtual;  /* pykern: rdtsc counts instructions, see tools/build_unicorn.py */
    uint64_t pykern_tsc_base;  /* what rdtsc reads when the budget is pykern_tsc_budget */
    int64_t pykern_tsc_budget;
""",
        1,
        """The virtual TSC of pykern's deterministic runs (--deterministic, pykern.clock's
        VirtualClock): rdtsc reads pykern_tsc_base plus the instructions charged to
        the budget since it was set (next patches).""",
    ),
    (
        "qemu/target/i386/misc_helper.c",
        """    val = cpu_get_tsc(env) + env->tsc_offset;
    env->regs[R_EAX] = (uint32_t)(val);
""",
        """    val = cpu_get_tsc(env) + env->tsc_offset;
    {  /* pykern: the virtual TSC, see tools/build_unicorn.py */
        CPUState *cs = env_cpu(env);

        if (cs->pykern_tsc_virtual) {
            int64_t budget = cs->pykern_budget;

            if (cs->pykern_in_jit) {
                __asm__ volatile("mov %%r15, %0" : "=r"(budget));
            }
            val = cs->pykern_tsc_base + (uint64_t)(cs->pykern_tsc_budget - budget);
        }
    }
    env->regs[R_EAX] = (uint32_t)(val);
""",
        1,
        """Under --deterministic the guest's time is its instruction count (pykern.clock,
        VirtualClock: 1 ns per instruction, a 1 GHz TSC), and rdtsc must read it too,
        or the vDSO (which computes every clock from rdtsc) and any program timing itself
        would see the host's time: nothing else differed between two runs of a program
        that reads the clock. Unicorn 2.1.1 has no rdtsc hook (2.1.2 added one), and a
        hook into Python would cost a round trip per read; here the value is the
        budget's count, read from r15 as cpu_loop_exit reads it (helpers are called
        from generated code, and no C code uses r15). Measured: bench clock_gettime
        (10M vDSO reads) under --deterministic went from 63 s (the vDSO making the
        syscall) to the normal run's time.""",
    ),
    (
        "qemu/target/i386/seg_helper.c",
        """void helper_syscall(CPUX86State *env, int next_eip_addend)
{
    // Unicorn: call registered syscall hooks
    struct hook *hook;
    uc_engine *uc = env->uc;
""",
        """void helper_syscall(CPUX86State *env, int next_eip_addend)
{
    // Unicorn: call registered syscall hooks
    struct hook *hook;
    uc_engine *uc = env->uc;

    {  /* pykern: the budget where the hook can read it, see tools/build_unicorn.py */
        CPUState *cs = env_cpu(env);

        if (cs->pykern_in_jit) {
            int64_t budget;

            __asm__ volatile("mov %%r15, %0" : "=r"(budget));
            cs->pykern_budget = budget;
        }
    }
""",
        1,
        """The syscall hook runs inside this helper, called from generated code, where
        the budget lives in r15 and CPUState's copy is as old as the last exit from
        generated code; uc_pykern_budget, called from the hook through Python (which
        uses r15 itself), reads the copy. Under --deterministic the kernel reads the
        virtual clock from the budget in every clock_gettime: without this store, a
        syscall read the clock behind the vDSO's rdtsc (testbins/vdso failed, a read
        went back by up to 2 us of virtual time). Generated code goes on with r15.""",
    ),
    (
        "qemu/accel/tcg/cpu-exec-common.c",
        """void cpu_loop_exit(CPUState *cpu)
{
""",
        """void cpu_loop_exit(CPUState *cpu)
{
    /* pykern: the budget from its register, see tools/build_unicorn.py */
    if (cpu->pykern_in_jit) {
        int64_t budget;

        __asm__ volatile("mov %%r15, %0" : "=r"(budget));
        cpu->pykern_budget = budget;
        cpu->pykern_in_jit = false;
    }
""",
        1,
        """Reading r15 here gives generated code's value only because no C code in the
        library uses r15 at all: build() compiles it with -ffixed-r15 (the helpers
        between generated code and this function would otherwise be free to have
        saved r15 on their stacks and used it). Functions of other libraries called
        in between restore it before they return (callee-saved).""",
    ),
    (
        "qemu/include/exec/gen-icount.h",
        "    if (tb_cflags(tb) & CF_USE_ICOUNT) {\n",
        "    {  /* pykern: always, the budget's charge; was if (tb_cflags(tb) & CF_USE_ICOUNT) */\n",
        1,
        "The block's length, patched into the prologue's charge once it is known, as QEMU's icount did.",
    ),
    (
        "qemu/accel/tcg/cpu-exec.c",
        """    /* Instruction counter expired.  */
    /* Refill decrementer and continue execution.  */
""",
        """    /* pykern: the instruction budget is spent (see tools/build_unicorn.py): stop
     * at this block boundary as uc_emu_stop would. The block that did not fit did
     * not run: what is left reads 0. */
    if (cpu->pykern_budget < 0) {
        cpu->pykern_budget = 0;
        cpu->uc->stop_request = true;
        cpu_exit(cpu);
        return;
    }

    /* Instruction counter expired.  */
    /* Refill decrementer and continue execution.  */
""",
        1,
        """A block that left through the exit label with no exit request pending left
        because of the budget (QEMU's icount code after it never runs in Unicorn):
        ask for the same stop that uc_emu_stop asks for, so emu_start returns, with the
        pc at the start of the block that did not run.""",
    ),
    (
        "uc.c",
        "UNICORN_EXPORT\nuc_err uc_emu_stop(uc_engine *uc)\n",
        """/* pykern: the instruction budget, see tools/build_unicorn.py */
UNICORN_EXPORT
uc_err uc_pykern_set_budget(uc_engine *uc, int64_t instructions)
{
    UC_INIT(uc);
    uc->cpu->pykern_budget = instructions;
    restore_jit_state(uc);
    return UC_ERR_OK;
}

UNICORN_EXPORT
uc_err uc_pykern_budget(uc_engine *uc, int64_t *left)
{
    UC_INIT(uc);
    *left = uc->cpu->pykern_budget;
    restore_jit_state(uc);
    return UC_ERR_OK;
}

UNICORN_EXPORT
uc_err uc_pykern_set_tsc(uc_engine *uc, uint64_t tsc)
{
    UC_INIT(uc);
    uc->cpu->pykern_tsc_virtual = true;
    uc->cpu->pykern_tsc_base = tsc;
    uc->cpu->pykern_tsc_budget = uc->cpu->pykern_budget;
    restore_jit_state(uc);
    return UC_ERR_OK;
}

UNICORN_EXPORT
uc_err uc_emu_stop(uc_engine *uc)
""",
        1,
        """pykern's API for it: uc_pykern_set_budget before emu_start (INT64_MAX for
        a lone task, in effect no limit), uc_pykern_budget after it: at most 0 when the
        slice ran out (pykern.ucbind: Uc.set_budget, Uc.budget). uc_pykern_set_tsc,
        after uc_pykern_set_budget: rdtsc reads `tsc` now and counts the instructions
        charged from here on (the virtual TSC above; Uc.set_tsc).""",
    ),
    (
        "qemu/include/exec/cpu-all.h",
        "    cpu->parent_obj.icount_decr_ptr = &cpu->neg.icount_decr;\n",
        """    cpu->parent_obj.icount_decr_ptr = &cpu->neg.icount_decr;
    cpu->parent_obj.pykern_budget = INT64_MAX;  /* pykern: no limit until one is set */
""",
        1,
        "A new CPU starts with no limit, so that a caller that never sets one runs as before.",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        "void tlb_flush_page(CPUState *cpu, target_ulong addr)\n{",
        """/* pykern: see tools/build_unicorn.py (unmapping a large region) */
static bool tlb_entry_in_range_pykern(CPUTLBEntry *te, target_ulong start, target_ulong end)
{
    target_ulong addrs[3] = {te->addr_read, tlb_addr_write(te), te->addr_code};
    int i;

    for (i = 0; i < 3; i++) {
        if (!(addrs[i] & TLB_INVALID_MASK) && (addrs[i] & TARGET_PAGE_MASK) - start < end - start) {
            return true;
        }
    }
    return false;
}

void tlb_flush_range_pykern(CPUState *cpu, target_ulong start, target_ulong end)
{
    CPUArchState *env = cpu->env_ptr;
    target_ulong addr;
    int mmu_idx;

    if (end - start <= 256 * TARGET_PAGE_SIZE) {
        for (addr = start; (int64_t)(end - addr) > 0; addr += TARGET_PAGE_SIZE) {
            tlb_flush_page(cpu, addr);
        }
        return;
    }
    for (mmu_idx = 0; mmu_idx < NB_MMU_MODES; mmu_idx++) {
        CPUTLBDesc *d = &env_tlb(env)->d[mmu_idx];
        CPUTLBDescFast *f = &env_tlb(env)->f[mmu_idx];
        size_t i, n = tlb_n_entries(f);

        if (d->large_page_addr != (target_ulong)-1) {
            tlb_flush_one_mmuidx_locked(env, mmu_idx, get_clock_realtime());
            continue;
        }
        for (i = 0; i < n; i++) {
            if (tlb_entry_in_range_pykern(&f->table[i], start, end)) {
                memset(&f->table[i], -1, sizeof(f->table[i]));
                tlb_n_used_entries_dec(env, mmu_idx);
            }
        }
        for (i = 0; i < CPU_VTLB_SIZE; i++) {
            if (tlb_entry_in_range_pykern(&d->vtable[i], start, end)) {
                memset(&d->vtable[i], -1, sizeof(d->vtable[i]));
                tlb_n_used_entries_dec(env, mmu_idx);
            }
        }
    }
    cpu_tb_jmp_cache_clear(cpu);
}

void tlb_flush_page(CPUState *cpu, target_ulong addr)
{""",
        1,
        """Unmapping a memory region (uc_mem_unmap, and uc_mem_protect of part of one,
        which unmaps and re-maps the pieces) flushed the software TLB page by page:
        for each page, three MMU modes' entries, their victim TLBs and two pages of
        the jump cache. About 120 ns a page: 2 s for a 64 GiB PROT_NONE reservation
        mprotect'ed once, 8 s for 2^38 bytes (issue 11: an AddressSanitizer program
        never started). A region of more than 256 pages is now flushed in one walk
        over the TLB's entries (3 x 4096 and the victim TLBs: tens of microseconds),
        removing every entry whose page is in the region, and the whole jump cache;
        a mode that tracks a large page is flushed whole, as the per-page flush does
        when a page falls in it. (Removing the region from the memory map then flushes
        the whole TLB anyway, tcg_commit in exec.c, so exactness never rested on this
        loop: tests/test_ucbind.py checks that an unmapped region can be neither read
        nor run.) Measured with a static program mapping 2^36 bytes PROT_NONE, then
        mprotect of one page and munmap of 1 MiB inside it: 2.46 s -> 0.19 s.""",
    ),
    (
        "qemu/include/exec/exec-all.h",
        "void tlb_flush_page(CPUState *cpu, target_ulong addr);\n",
        """void tlb_flush_page(CPUState *cpu, target_ulong addr);
void tlb_flush_range_pykern(CPUState *cpu, target_ulong start, target_ulong end);  /* pykern */
""",
        1,
        "Its declaration.",
    ),
    (
        "qemu/softmmu/memory.c",
        """        for (addr = mr->addr; (int64_t)(mr->end - addr) > 0; addr += uc->target_page_size) {
           tlb_flush_page(uc->cpu, addr);
        }
""",
        """        tlb_flush_range_pykern(uc->cpu, mr->addr, mr->end);  /* pykern */
        (void)addr;
""",
        2,
        "memory_moveout and memory_unmap use it.",
    ),
    (
        "qemu/softmmu/memory.c",
        """    /* Render the region itself into any gaps left by the current view. */
    for (i = 0; i < view->nr && int128_nz(remain); ++i) {
""",
        """    /* Render the region itself into any gaps left by the current view. */
    /* pykern: start at the first range that ends after base, see tools/build_unicorn.py */
    {
        unsigned lo = 0, hi = view->nr;

        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;

            if (int128_ge(base, addrrange_end(view->ranges[mid].addr))) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        i = lo;
    }
    for (; i < view->nr && int128_nz(remain); ++i) {
""",
        1,
        """Every change to the memory map (each mmap, munmap, mprotect that changes
        access) renders the flat view again: each region in turn, and each looked
        for its place in the view with a scan from the view's first range, so a
        commit cost the square of the number of mappings: a program holding 3,000
        mappings spent 82% of its time in render_memory_region (perf). The ranges
        are sorted and disjoint and the scan only skipped those ending at or before
        the region's start, so a binary search finds the same first range. The
        program of the find_ram_offset patch below (3,000 mappings, then 1,000
        munmap + mmap): 12.6 s -> 1.9 s of CPU on top of that patch. (Inserting
        into the view still moves the ranges after the insertion point: cheap when
        regions are rendered in address order, as top-down mmaps are, newest first.)""",
    ),
    (
        "include/uc_priv.h",
        "    uc_args_uc_ram_size_ptr_t memory_map_ptr;\n",
        """    uc_args_uc_ram_size_ptr_t memory_map_ptr;
    int pykern_map_batch;  /* pykern: see tools/build_unicorn.py (a batch of mappings) */
    void (*pykern_memory_commit)(struct uc_struct *uc);
""",
        1,
        """A batch of mappings (uc_pykern_map_batch, next patches). Every uc_mem_map_ptr
        commits the memory map, and each commit renders the flat view and builds its
        dispatch tree again, whole (perf: phys_page_compact was the largest cost of
        mapping, about 9 us a mapping in an instance with 12). A fork maps all of its
        child's regions at once (MM._adopt: 10 to 20 of them); while a batch is open,
        commits wait, and one commit at its end renders the view once. Issue 11's
        many_procs, see the README.""",
    ),
    (
        "qemu/softmmu/memory.c",
        """void memory_region_transaction_commit(MemoryRegion *mr)
{
    AddressSpace *as;

""",
        """/* pykern: the commit a batch of mappings deferred, see tools/build_unicorn.py */
void pykern_memory_commit(struct uc_struct *uc)
{
    memory_region_transaction_commit(uc->system_memory);
}

void memory_region_transaction_commit(MemoryRegion *mr)
{
    AddressSpace *as;

    if (mr->uc->pykern_map_batch > 0) {  /* pykern: at the batch's end */
        return;
    }
""",
        1,
        """The deferred commit. Only uc_mem_map_ptr is called inside a batch (pykern
        maps; nothing runs, unmaps or reads guest memory until the batch ends), and
        mapping looks only at Unicorn's own list of regions, not at the flat view.""",
    ),
    (
        "qemu/unicorn_common.h",
        "    uc->memory_map_ptr = memory_map_ptr;\n",
        """    uc->memory_map_ptr = memory_map_ptr;
    uc->pykern_memory_commit = pykern_memory_commit;  /* pykern */
""",
        1,
        "uc.c reaches the per-target commit through uc_struct, as it reaches memory_map_ptr.",
    ),
    (
        "qemu/unicorn_common.h",
        "static inline void uc_common_init(struct uc_struct* uc)\n{",
        """void pykern_memory_commit(struct uc_struct *uc);  /* pykern: qemu/softmmu/memory.c */

static inline void uc_common_init(struct uc_struct* uc)
{""",
        1,
        "Its declaration.",
    ),
    (
        "uc.c",
        "UNICORN_EXPORT\nuc_err uc_emu_stop(uc_engine *uc)\n",
        """/* pykern: a batch of mappings, see tools/build_unicorn.py */
UNICORN_EXPORT
uc_err uc_pykern_map_batch(uc_engine *uc, int begin)
{
    UC_INIT(uc);
    if (begin) {
        uc->pykern_map_batch++;
    } else if (uc->pykern_map_batch > 0 && --uc->pykern_map_batch == 0) {
        uc->pykern_memory_commit(uc);
    }
    restore_jit_state(uc);
    return UC_ERR_OK;
}

UNICORN_EXPORT
uc_err uc_emu_stop(uc_engine *uc)
""",
        1,
        """pykern's API for it: uc_pykern_map_batch(uc, 1) opens a batch, (uc, 0) ends
        it and commits what it mapped (pykern.ucbind: Uc.map_batch).""",
    ),
    (
        "qemu/accel/tcg/translate-all.c",
        "void tb_invalidate_phys_range(struct uc_struct *uc, ram_addr_t start, ram_addr_t end)\n{",
        """/* pykern: the first page index from `index` on whose PageDesc may exist (its tables
 * do), or last + 1: see tools/build_unicorn.py */
static tb_page_addr_t page_next_pykern(struct uc_struct *uc, tb_page_addr_t index, tb_page_addr_t last)
{
    while (index <= last) {
        void **lp = uc->l1_map + ((index >> uc->v_l1_shift) & (uc->v_l1_size - 1));
        tb_page_addr_t span = 0, next;
        int i;

        for (i = uc->v_l2_levels; i > 0; i--) {
            void **p = *lp;

            if (p == NULL) {
                span = (tb_page_addr_t)1 << ((i + 1) * V_L2_BITS);
                break;
            }
            lp = p + ((index >> (i * V_L2_BITS)) & (V_L2_SIZE - 1));
        }
        if (span == 0) {
            if (*lp != NULL) {
                return index;
            }
            span = V_L2_SIZE;
        }
        next = (index & ~(span - 1)) + span;
        if (next <= index) {
            return last + 1;
        }
        index = next;
    }
    return index;
}

void tb_invalidate_phys_range(struct uc_struct *uc, ram_addr_t start, ram_addr_t end)
{""",
        1,
        """Dropping the translated code of a memory region that goes away (memory_unmap,
        memory_moveout: uc_invalidate_tb) looked up the page descriptor of every page
        in it, one radix-tree walk a page: with the TLB patch above this was 91% of
        mprotect of one page in a 2^40-byte PROT_NONE reservation (1 s). Pages whose
        descriptor tables do not exist, because no code was ever translated from
        them, are now skipped a whole missing table at a time (next patch). The same
        program with 2^40 bytes: 2.04 s -> 0.06 s (of which start-up is most).""",
    ),
    (
        "qemu/accel/tcg/translate-all.c",
        """        tb_page_addr_t bound = MIN(next, end);

        if (pd == NULL) {
            continue;
        }
        tb_invalidate_phys_page_range__locked(uc, pages, pd, start, bound, 0);""",
        """        tb_page_addr_t bound = MIN(next, end);

        if (pd == NULL) {
            /* pykern: skip the pages without descriptors, see tools/build_unicorn.py */
            tb_page_addr_t skip = page_next_pykern(uc, start >> TARGET_PAGE_BITS,
                                                   (end - 1) >> TARGET_PAGE_BITS) << TARGET_PAGE_BITS;
            if (skip > next) {
                next = skip;
            }
            continue;
        }
        tb_invalidate_phys_page_range__locked(uc, pages, pd, start, bound, 0);""",
        1,
        "The loop that uses it.",
    ),
    (
        "qemu/target/i386/cpu.h",
        "#define HF_MPX_IU_SHIFT     26 /* BND registers in-use */\n",
        """#define HF_MPX_IU_SHIFT     26 /* BND registers in-use */
#define HF_PYKERN_XM_SHIFT  27 /* pykern: an SSE exception is unmasked */
#define HF_PYKERN_MF_SHIFT  28 /* pykern: an x87 exception is unmasked */
#define HF_PYKERN_XM_MASK    (1 << HF_PYKERN_XM_SHIFT)
#define HF_PYKERN_MF_MASK    (1 << HF_PYKERN_MF_SHIFT)
""",
        1,
        """Floating-point exception flags (issue 12). QEMU 5.0's softfloat records the
        IEEE exceptions of every operation in env->sse_status and env->fp_status, but
        nothing copies them to MXCSR or the x87 status word (upstream QEMU did that in
        6.0 with update_mxcsr_from_sse_status and merge_exception_flags), and no
        unmasked exception ever traps: fetestexcept(FE_DIVBYZERO) after 1.0 / 0.0 was 0,
        feenableexcept(FE_DIVBYZERO) then 1.0 / 0.0 gave inf instead of SIGFPE. Here the
        flags stay where softfloat puts them and are folded in when the guest reads
        them (stmxcsr, fxsave, fnstsw, fnstenv, the registers pykern reads for a signal
        frame); a write of MXCSR or the status word replaces them. This keeps the
        hard-float fast path, which softfloat takes only while the inexact flag is
        already set. Measured, unpatched -> patched: bench fp 4.37 s -> 3.93 s (medians
        of 5, back to back; its CPU time, bench fp 12 run 10 times each interleaved:
        median 1.43 s -> 1.39 s, fastest 1.28 s -> 1.30 s), a
        long double (x87) loop of 3e7 divisions 1.70 s -> 1.70 s of CPU: no slowdown
        beyond noise. An unmasked exception must trap, so
        code translated while one is unmasked (these two hflags, part of every block's
        key) checks: SSE arithmetic, compares and conversions raise #XM (vector 19)
        with the destination unchanged, and every waiting x87 instruction raises #MF
        (16) while an unmasked x87 exception is pending, as the hardware does. Code
        translated with everything masked, the normal case, is unchanged.""",
    ),
    (
        "qemu/target/i386/cpu.h",
        "    float_status sse_status;\n",
        """    float_status sse_status;
    ZMMReg pykern_sse_saved;   /* pykern: an SSE destination, kept for #XM */
    uint8_t pykern_sse_flags;  /* pykern: sse_status's flags before the instruction */
    FPReg pykern_x87_regs[8];  /* pykern: the x87 stack before an instruction */
    uint8_t pykern_x87_tags[8];
    unsigned int pykern_x87_top;
""",
        1,
        """What an SSE instruction that may trap keeps, to raise #XM as a fault, and what
        an x87 instruction keeps to undo itself when it raises an unmasked invalid,
        denormal or divide-by-zero exception (the hardware then leaves its registers
        and stack as they were; the #MF comes at the next waiting instruction).""",
    ),
    (
        "qemu/target/i386/cpu.h",
        """static inline void cpu_set_fpuc(CPUX86State *env, uint16_t fpuc)
{
     env->fpuc = fpuc;
     update_fp_status(env);
}
""",
        """static inline void cpu_set_fpuc(CPUX86State *env, uint16_t fpuc)
{
     env->fpuc = fpuc;
     update_fp_status(env);
}

/* pykern: softfloat's exception flags folded into MXCSR and the x87 status word, see
 * tools/build_unicorn.py. softfloat's flag bits are x86's (invalid 1, divbyzero 4,
 * overflow 8, underflow 16, inexact 32); a result flushed to zero is an underflow that
 * is inexact. */
static inline uint32_t pykern_x86_flags(uint8_t flags)
{
    return (flags & 0x3d) | (flags & 0x80 ? 0x30 : 0);
}

static inline void pykern_sync_mxcsr(CPUX86State *env)
{
    env->mxcsr |= pykern_x86_flags(env->sse_status.float_exception_flags);
}

static inline void pykern_sync_fpus(CPUX86State *env)
{
    env->fpus |= pykern_x86_flags(env->fp_status.float_exception_flags);
    if (env->fpus & ~env->fpuc & 0x3f) {
        env->fpus |= 0x8080;  /* ES and B: an unmasked exception is pending */
    } else {
        env->fpus &= ~0x8080;
    }
}
""",
        1,
        "The folding itself, used by the helpers and by Unicorn's register reads.",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        """    set_floatx80_rounding_precision(rnd_type, &env->fp_status);
}
""",
        """    set_floatx80_rounding_precision(rnd_type, &env->fp_status);
    /* pykern: translate x87 code with #MF checks while an exception is unmasked */
    if ((env->fpuc & 0x3f) != 0x3f) {
        env->hflags |= HF_PYKERN_MF_MASK;
    } else {
        env->hflags &= ~HF_PYKERN_MF_MASK;
    }
}
""",
        1,
        "Every write of the x87 control word (fldcw, fldenv, frstor, fxrstor, fninit, registers).",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        """    if (floatx80_is_zero(b)) {
        fpu_set_exception(env, FPUS_ZE);
    }
    return floatx80_div(a, b, &env->fp_status);
""",
        """    return floatx80_div(a, b, &env->fp_status);  /* pykern: softfloat flags x/0 */
""",
        1,
        """QEMU flagged every x87 division by zero as one, 0/0 included, which is an
        invalid operation only; softfloat's own flags are right.""",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        """void helper_fclex(CPUX86State *env)
{
    env->fpus &= 0x7f00;
}

void helper_fwait(CPUX86State *env)
{
    if (env->fpus & FPUS_SE) {
        fpu_raise_exception(env, GETPC());
    }
}
""",
        """void helper_fclex(CPUX86State *env)
{
    env->fpus &= 0x7f00;
    env->fp_status.float_exception_flags = 0;  /* pykern */
}

void helper_fwait(CPUX86State *env)
{
    /* pykern: #MF whenever an unmasked x87 exception is pending */
    pykern_sync_fpus(env);
    if (env->fpus & FPUS_SE) {
        raise_exception_ra(env, EXCP10_COPR, GETPC());
    }
}

/* pykern: around a waiting x87 instruction translated while an exception is unmasked:
   #MF for a pending one, else the registers kept; afterwards, an unmasked invalid,
   denormal or divide-by-zero exception it raised undoes its register and stack
   changes, as the hardware never makes them (any unmasked flag set now is new: one set
   before would have raised #MF here) */
void helper_pykern_x87_begin(CPUX86State *env)
{
    pykern_sync_fpus(env);
    if (env->fpus & FPUS_SE) {
        raise_exception_ra(env, EXCP10_COPR, GETPC());
    }
    memcpy(env->pykern_x87_regs, env->fpregs, sizeof(env->fpregs));
    memcpy(env->pykern_x87_tags, env->fptags, sizeof(env->fptags));
    env->pykern_x87_top = env->fpstt;
}

void helper_pykern_x87_end(CPUX86State *env)
{
    if (pykern_x86_flags(env->fp_status.float_exception_flags) & ~env->fpuc & 0x07) {
        memcpy(env->fpregs, env->pykern_x87_regs, sizeof(env->fpregs));
        memcpy(env->fptags, env->pykern_x87_tags, sizeof(env->fptags));
        env->fpstt = env->pykern_x87_top;
    }
}
""",
        1,
        """fnclex clears the flags; fwait (and, below, every waiting x87 instruction
        translated while an exception is unmasked) raises #MF for a pending one. QEMU
        raised it only with CR0.NE set, which Unicorn's CPU does not have.""",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        "    env->fpus = 0;\n    env->fpstt = 0;\n",
        "    env->fpus = 0;\n    env->fp_status.float_exception_flags = 0;  /* pykern */\n    env->fpstt = 0;\n",
        1,
        "fninit (and fnsave) clear the flags.",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        """uint32_t helper_fnstsw(CPUX86State *env)
{
""",
        """uint32_t helper_fnstsw(CPUX86State *env)
{
    pykern_sync_fpus(env);
""",
        1,
        "fnstsw reads the flags.",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        "    fpus = (env->fpus & ~0x3800) | (env->fpstt & 0x7) << 11;\n    fptag = 0;\n",
        "    pykern_sync_fpus(env);\n    fpus = (env->fpus & ~0x3800) | (env->fpstt & 0x7) << 11;\n    fptag = 0;\n",
        2,
        "fnstenv, fnsave and fxsave/xsave read them.",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        """void helper_fstenv(CPUX86State *env, target_ulong ptr, int data32)
{
    do_fstenv(env, ptr, data32, GETPC());
}
""",
        """void helper_fstenv(CPUX86State *env, target_ulong ptr, int data32)
{
    do_fstenv(env, ptr, data32, GETPC());
    cpu_set_fpuc(env, env->fpuc | 0x3f);  /* pykern: and masks them all */
}
""",
        1,
        """fnstenv masks every x87 exception after storing the environment (Intel SDM,
        FSTENV); glibc's feholdexcept counts on it, and with unmasked exceptions now
        trapping, an exception inside feholdexcept/feupdateenv would have raised SIGFPE.""",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        """    env->fpus = fpus & ~0x3800 & ~FPUS_B;
    env->fpus |= env->fpus & FPUS_SE ? FPUS_B : 0;
""",
        """    env->fpus = fpus & ~0x3800 & ~FPUS_B;
    env->fpus |= env->fpus & FPUS_SE ? FPUS_B : 0;
    env->fp_status.float_exception_flags = 0;  /* pykern: the flags are fpus's now */
""",
        1,
        "fldenv, frstor, fxrstor and xrstor replace them.",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        """    cpu_stl_data_ra(env, ptr + XO(legacy.mxcsr), env->mxcsr, ra);
""",
        """    pykern_sync_mxcsr(env);
    cpu_stl_data_ra(env, ptr + XO(legacy.mxcsr), env->mxcsr, ra);
""",
        1,
        "fxsave and xsave read MXCSR's flags.",
    ),
    (
        "qemu/target/i386/fpu_helper.c",
        """    set_flush_to_zero((mxcsr & SSE_FZ) ? 1 : 0, &env->fp_status);
}

void helper_ldmxcsr(CPUX86State *env, uint32_t val)
{
    cpu_set_mxcsr(env, val);
}
""",
        """    set_flush_to_zero((mxcsr & SSE_FZ) ? 1 : 0, &env->fp_status);

    /* pykern: the flags written replace softfloat's; translate SSE code with #XM
       checks while an exception is unmasked */
    env->sse_status.float_exception_flags = mxcsr & 0x3d;
    if ((mxcsr & 0x1f80) != 0x1f80) {
        env->hflags |= HF_PYKERN_XM_MASK;
    } else {
        env->hflags &= ~HF_PYKERN_XM_MASK;
    }
}

void helper_ldmxcsr(CPUX86State *env, uint32_t val)
{
    cpu_set_mxcsr(env, val);
}

/* pykern: stmxcsr reads the flags */
void helper_update_mxcsr(CPUX86State *env)
{
    pykern_sync_mxcsr(env);
}

/* pykern: around an SSE instruction translated while an exception is unmasked: its
   own flags alone, then #XM before its result is kept (a fault: the destination is
   restored, rip stays at the instruction), see tools/build_unicorn.py */
void helper_pykern_sse_begin(CPUX86State *env, void *d)
{
    memcpy(&env->pykern_sse_saved, d, sizeof(env->pykern_sse_saved));
    env->pykern_sse_flags = env->sse_status.float_exception_flags;
    env->sse_status.float_exception_flags = 0;
}

void helper_pykern_sse_end(CPUX86State *env, void *d)
{
    uint32_t raised = pykern_x86_flags(env->sse_status.float_exception_flags);

    env->sse_status.float_exception_flags |= env->pykern_sse_flags;
    if (raised & ~(env->mxcsr >> 7) & 0x3f) {
        memcpy(d, &env->pykern_sse_saved, sizeof(env->pykern_sse_saved));
        env->mxcsr |= raised;
        raise_exception_ra(env, 19 /* #XM, SIMD floating-point exception */, GETPC());
    }
}
""",
        1,
        """Every write of MXCSR (ldmxcsr, fxrstor, xrstor, registers) goes through
        update_mxcsr_status; the three helpers are new.""",
    ),
    (
        "qemu/target/i386/helper.h",
        "DEF_HELPER_2(ldmxcsr, void, env, i32)\n",
        """DEF_HELPER_2(ldmxcsr, void, env, i32)
DEF_HELPER_FLAGS_1(update_mxcsr, TCG_CALL_NO_RWG, void, env)
DEF_HELPER_FLAGS_2(pykern_sse_begin, TCG_CALL_NO_RWG, void, env, ptr)
DEF_HELPER_2(pykern_sse_end, void, env, ptr)
DEF_HELPER_1(pykern_x87_begin, void, env)
DEF_HELPER_FLAGS_1(pykern_x87_end, TCG_CALL_NO_RWG, void, env)
""",
        1,
        "The new helpers (pykern_sse_end may raise, so it is a full call).",
    ),
    (
        "qemu/target/i386/translate.c",
        "static void gen_sse(CPUX86State *env, DisasContext *s, int b,\n",
        """/* pykern: exception flags and #XM/#MF, see tools/build_unicorn.py */
static void pykern_end_tb_unless(DisasContext *s, uint32_t hflags)
{
    /* An instruction that may unmask an exception ends the block, unless the block
       was translated with these checks already: the next block is looked up with
       the new hflags. */
    if ((s->flags & hflags) != hflags) {
        gen_update_cc_op(s);
        gen_jmp_im(s, s->pc - s->cs_base);
        gen_eob(s);
    }
}

static void pykern_sse_call(DisasContext *s, int b, SSEFunc_0_epp fn)
{
    TCGContext *tcg_ctx = s->uc->tcg_ctx;
    bool check = false;

    if (s->flags & HF_PYKERN_XM_MASK) {
        switch (b) {
        case 0x2e: case 0x2f:               /* ucomis, comis */
        case 0x51:                          /* sqrt */
        case 0x58: case 0x59: case 0x5a: case 0x5b:  /* add mul cvt cvt */
        case 0x5c: case 0x5d: case 0x5e: case 0x5f:  /* sub min div max */
        case 0x7c: case 0x7d: case 0xd0:    /* hadd hsub addsub */
        case 0xc2: case 0xe6:               /* cmp, cvt */
            check = true;
        }
    }
    if (check) {
        gen_helper_pykern_sse_begin(tcg_ctx, tcg_ctx->cpu_env, s->ptr0);
    }
    fn(tcg_ctx, tcg_ctx->cpu_env, s->ptr0, s->ptr1);
    if (check) {
        gen_helper_pykern_sse_end(tcg_ctx, tcg_ctx->cpu_env, s->ptr0);
    }
}

static void gen_sse(CPUX86State *env, DisasContext *s, int b,
""",
        1,
        """The translation side: SSE arithmetic (the table-driven path that add, sub, mul,
        div, sqrt, min, max, compares and packed conversions take) gets the #XM check
        when its block was translated with an exception unmasked.""",
    ),
    (
        "qemu/target/i386/translate.c",
        """            sse_fn_epp = sse_op_table4[val][b1];

            tcg_gen_addi_ptr(tcg_ctx, s->ptr0, tcg_ctx->cpu_env, op1_offset);
            tcg_gen_addi_ptr(tcg_ctx, s->ptr1, tcg_ctx->cpu_env, op2_offset);
            sse_fn_epp(tcg_ctx, tcg_ctx->cpu_env, s->ptr0, s->ptr1);
""",
        """            sse_fn_epp = sse_op_table4[val][b1];

            tcg_gen_addi_ptr(tcg_ctx, s->ptr0, tcg_ctx->cpu_env, op1_offset);
            tcg_gen_addi_ptr(tcg_ctx, s->ptr1, tcg_ctx->cpu_env, op2_offset);
            pykern_sse_call(s, b, sse_fn_epp);
""",
        1,
        "cmpps/cmpss/cmppd/cmpsd.",
    ),
    (
        "qemu/target/i386/translate.c",
        """        default:
            tcg_gen_addi_ptr(tcg_ctx, s->ptr0, tcg_ctx->cpu_env, op1_offset);
            tcg_gen_addi_ptr(tcg_ctx, s->ptr1, tcg_ctx->cpu_env, op2_offset);
            sse_fn_epp(tcg_ctx, tcg_ctx->cpu_env, s->ptr0, s->ptr1);
            break;
        }
        if (b == 0x2e || b == 0x2f) {
""",
        """        default:
            tcg_gen_addi_ptr(tcg_ctx, s->ptr0, tcg_ctx->cpu_env, op1_offset);
            tcg_gen_addi_ptr(tcg_ctx, s->ptr1, tcg_ctx->cpu_env, op2_offset);
            pykern_sse_call(s, b, sse_fn_epp);
            break;
        }
        if (b == 0x2e || b == 0x2f) {
""",
        1,
        "The rest of the SSE arithmetic.",
    ),
    (
        "qemu/target/i386/translate.c",
        """            tcg_gen_addi_ptr(tcg_ctx, s->ptr0, tcg_ctx->cpu_env, op2_offset);
            if (ot == MO_32) {
                SSEFunc_i_ep sse_fn_i_ep =
""",
        """            tcg_gen_addi_ptr(tcg_ctx, s->ptr0, tcg_ctx->cpu_env, op2_offset);
            if (s->flags & HF_PYKERN_XM_MASK) {  /* pykern: #XM before the register is written */
                gen_helper_pykern_sse_begin(tcg_ctx, tcg_ctx->cpu_env, s->ptr0);
            }
            if (ot == MO_32) {
                SSEFunc_i_ep sse_fn_i_ep =
""",
        1,
        """cvtss2si/cvtsd2si and the truncating cvtt forms, which write a general register,
        take their own path: the check goes around the helper, before the register is
        written ((int)1e300 with FE_INVALID enabled is SIGFPE on Linux).""",
    ),
    (
        "qemu/target/i386/translate.c",
        """            gen_op_mov_reg_v(s, ot, reg, s->T0);
            break;
        case 0xc4: /* pinsrw */
""",
        """            if (s->flags & HF_PYKERN_XM_MASK) {
                gen_helper_pykern_sse_end(tcg_ctx, tcg_ctx->cpu_env, s->ptr0);
            }
            gen_op_mov_reg_v(s, ot, reg, s->T0);
            break;
        case 0xc4: /* pinsrw */
""",
        1,
        "Its end.",
    ),
    (
        "qemu/target/i386/translate.c",
        """            op = ((b & 7) << 3) | ((modrm >> 3) & 7);
            if (mod != 3) {
                /* memory op */
""",
        """            op = ((b & 7) << 3) | ((modrm >> 3) & 7);
            /* pykern: a pending unmasked exception raises #MF here, at every x87
               instruction but the no-wait ones (fnstenv fnstcw fnsave fnstsw fnclex
               fninit), see tools/build_unicorn.py */
            bool pykern_x87_check = (s->flags & HF_PYKERN_MF_MASK)
                && !(mod != 3 ? (op == 0x0e || op == 0x0f || op == 0x2e || op == 0x2f)
                     : (b == 0xdb && (modrm == 0xe2 || modrm == 0xe3))
                       || (b == 0xdf && modrm == 0xe0));
            if (pykern_x87_check) {
                gen_helper_pykern_x87_begin(tcg_ctx, tcg_ctx->cpu_env);
            }
            if (mod != 3) {
                /* memory op */
""",
        1,
        """x87 exceptions are delayed: the hardware raises #MF at the next waiting x87
        instruction after the one that set an unmasked flag.""",
    ),
    (
        "qemu/target/i386/translate.c",
        "            if (update_fip) {\n",
        """            if (pykern_x87_check) {  /* pykern */
                gen_helper_pykern_x87_end(tcg_ctx, tcg_ctx->cpu_env);
            }
            if (update_fip) {
""",
        1,
        "The end of every x87 instruction, for the undo above.",
    ),
    (
        "qemu/target/i386/translate.c",
        """                    gen_helper_fldenv(tcg_ctx, tcg_ctx->cpu_env, s->A0, tcg_const_i32(tcg_ctx, dflag - 1));
                    update_fip = update_fdp = false;
""",
        """                    gen_helper_fldenv(tcg_ctx, tcg_ctx->cpu_env, s->A0, tcg_const_i32(tcg_ctx, dflag - 1));
                    update_fip = update_fdp = false;
                    pykern_end_tb_unless(s, HF_PYKERN_MF_MASK);
""",
        1,
        "fldenv may unmask an x87 exception: the block ends (fldcw, frstor next).",
    ),
    (
        "qemu/target/i386/translate.c",
        """                    gen_helper_fldcw(tcg_ctx, tcg_ctx->cpu_env, s->tmp2_i32);
                    update_fip = update_fdp = false;
""",
        """                    gen_helper_fldcw(tcg_ctx, tcg_ctx->cpu_env, s->tmp2_i32);
                    update_fip = update_fdp = false;
                    pykern_end_tb_unless(s, HF_PYKERN_MF_MASK);
""",
        1,
        "fldcw.",
    ),
    (
        "qemu/target/i386/translate.c",
        """                    gen_helper_frstor(tcg_ctx, tcg_ctx->cpu_env, s->A0, tcg_const_i32(tcg_ctx, dflag - 1));
                    update_fip = update_fdp = false;
""",
        """                    gen_helper_frstor(tcg_ctx, tcg_ctx->cpu_env, s->A0, tcg_const_i32(tcg_ctx, dflag - 1));
                    update_fip = update_fdp = false;
                    pykern_end_tb_unless(s, HF_PYKERN_MF_MASK);
""",
        1,
        "frstor.",
    ),
    (
        "qemu/target/i386/translate.c",
        "            gen_helper_fxrstor(tcg_ctx, tcg_ctx->cpu_env, s->A0);\n",
        """            gen_helper_fxrstor(tcg_ctx, tcg_ctx->cpu_env, s->A0);
            pykern_end_tb_unless(s, HF_PYKERN_XM_MASK | HF_PYKERN_MF_MASK);
""",
        1,
        "fxrstor may unmask either (xrstor already ends its block).",
    ),
    (
        "qemu/target/i386/translate.c",
        "            gen_helper_ldmxcsr(tcg_ctx, tcg_ctx->cpu_env, s->tmp2_i32);\n",
        """            gen_helper_ldmxcsr(tcg_ctx, tcg_ctx->cpu_env, s->tmp2_i32);
            pykern_end_tb_unless(s, HF_PYKERN_XM_MASK);
""",
        1,
        "ldmxcsr may unmask an SSE exception.",
    ),
    (
        "qemu/target/i386/translate.c",
        "            tcg_gen_ld32u_tl(tcg_ctx, s->T0, tcg_ctx->cpu_env, offsetof(CPUX86State, mxcsr));\n",
        """            gen_helper_update_mxcsr(tcg_ctx, tcg_ctx->cpu_env);  /* pykern: the flags */
            tcg_gen_ld32u_tl(tcg_ctx, s->T0, tcg_ctx->cpu_env, offsetof(CPUX86State, mxcsr));
""",
        1,
        "stmxcsr reads the flags.",
    ),
    (
        "qemu/target/i386/unicorn.c",
        "        CHECK_REG_TYPE(uint16_t);\n        uint16_t fpus = env->fpus;\n",
        "        CHECK_REG_TYPE(uint16_t);\n        pykern_sync_fpus(env);  /* pykern: the flags */\n        uint16_t fpus = env->fpus;\n",
        1,
        "Reading FPSW (pykern's signal frame) reads the flags,",
    ),
    (
        "qemu/target/i386/unicorn.c",
        "            *(uint32_t *)value = env->mxcsr;\n",
        "            pykern_sync_mxcsr(env);  /* pykern: the flags */\n            *(uint32_t *)value = env->mxcsr;\n",
        2,
        "and so does reading MXCSR,",
    ),
    (
        "qemu/target/i386/unicorn.c",
        "        env->fpus = fpus & ~0x3800;\n        env->fpstt = (fpus >> 11) & 0x7;\n",
        "        env->fpus = fpus & ~0x3800;\n        env->fp_status.float_exception_flags = 0;  /* pykern: fpus's now */\n"
        "        env->fpstt = (fpus >> 11) & 0x7;\n",
        1,
        "and writing FPSW replaces them (MXCSR's write goes through update_mxcsr_status).",
    ),
    (
        "qemu/exec.c",
        """    if (host - block->host < block->max_length) {
            goto found;
        }
    }

    return NULL;
""",
        """    if (host - block->host < block->max_length) {
            uc->ram_list.mru_block = block;  /* pykern */
            goto found;
        }
    }

    return NULL;
""",
        1,
        """The RAM block of a host address (a translated block's code page, looked up
        again at every miss of the jump cache below: tb_htable_lookup ->
        get_page_addr_code -> qemu_ram_addr_from_host) was found by walking the list of
        blocks from its head whenever it was not the most recently used one, and only
        qemu_get_ram_block ever set that: a Go program (go_cpu) spent 5-6% of its time
        in that walk. Found here, it becomes the most recently used block, as in
        qemu_get_ram_block.""",
    ),
    (
        "qemu/include/hw/core/cpu.h",
        "#define TB_JMP_CACHE_BITS 12\n",
        "#define TB_JMP_CACHE_BITS 14  /* pykern */\n",
        1,
        """The jump cache (pc -> translated block, direct mapped) that every indirect
        jump and return consults before the hash table: with 2^12 entries, Go code
        (go_cpu: JSON by reflection, sort, SHA-256, its runtime) missed on about one
        lookup in five (148 M helper_lookup_tb_ptr calls, 28 M tb_htable_lookup).
        2^14 entries: 128 KiB per Unicorn instance (bench many_procs, 1,000 live
        processes: 752 -> 846 MB of pykern RSS); 2^16 measured no better. With the patch
        above, make bench's go_cpu: user time 4.11 -> 3.37 s (median of 5; qemu-user
        2.31 s), 1.78x -> 1.46x qemu-user; gojq over 200,000 numbers 5.66 -> 4.64 s
        (qemu-user 3.03 s).""",
    ),
    (
        "qemu/include/hw/core/cpu.h",
        "    int64_t pykern_tsc_budget;\n",
        """    int64_t pykern_tsc_budget;
    bool pykern_parallel;  /* pykern: translate with CF_PARALLEL, see tools/build_unicorn.py */
    int pykern_insns_undone;  /* pykern: of the block a locked access left (EXCP_ATOMIC) */
""",
        1,
        """Parallel mode, per instance (uc_pykern_set_parallel, next patches). Unicorn
        never translates with CF_PARALLEL (its curr_cflags() is 0), so TCG emits every
        locked guest instruction (lock cmpxchg, lock xadd, lock inc/add/or/and, xchg
        with memory, cmpxchg8b/16b) as a plain load and store (tcg-op.c,
        do_nonatomic_op) and fences as nothing. Two instances running at once on host
        threads over the same host memory (uc_mem_map_ptr; the threads of one guest
        process on two host threads) then lose updates. Two threads each running
        1,000,000 rounds of `lock xadd`, a `lock cmpxchg` loop, `lock inc` and an `xchg`
        spin lock on shared counters (tests/test_uc_parallel.py), with the library
        before this patch: 6 races in 10 went wrong (in the other 4 the engines
        seemingly ran one after the other, the machine being busy), e.g. 703,749 of 2,000,000 for each
        counter, or both threads stuck in the spin lock after 3 rounds, taken by no
        one (an exchange's store overwrote the holder's release). In parallel mode the blocks an
        instance translates carry CF_PARALLEL: locked instructions become host atomics
        (the atomic helpers of cputlb.c, one call each) and fences host barriers;
        ordinary loads and stores are unchanged (x86 on x86: no barrier is needed,
        tcg_gen_req_mo). Exact totals then, 10 races in 10 (with the fix of xchg's
        helper below). Off (the default), generated code is the
        same as before; CPU seconds of emu_start for single-threaded loops, best of 9
        runs, library before -> parallel off -> parallel on: an integer and memory
        loop (150M rounds) 0.332 -> 0.334 -> 0.332 s; calls and returns (50M rounds of
        two; each ret goes through helper_lookup_tb_ptr, which now reads the flag)
        0.441 -> 0.420 -> 0.425 s; make bench's cpu_int, mem_pages, threads_cpu and
        futex_pingpong under pykern (off) within the machine's noise (cpu_int
        pykern/native 2.23x and 2.34x before, 1.87x and 2.19x after). On, code without
        locked instructions runs as fast, and each locked instruction or fence costs
        a helper call and a host locked instruction: a loop of lock xadd, a lock
        cmpxchg, lock inc, xchg and mfence (20M rounds) 0.162 s before and off, 0.725 s
        on, about 5.6 ns each.""",
    ),
    (
        "qemu/include/exec/exec-all.h",
        """static inline uint32_t curr_cflags(void)
{
    return 0;
}
""",
        """static inline uint32_t curr_cflags(CPUState *cpu)
{
    /* pykern: the instance's parallel mode, see tools/build_unicorn.py */
    return cpu->pykern_parallel ? CF_PARALLEL : 0;
}
""",
        1,
        """The flag where blocks are looked up and translated: CF_PARALLEL is part of a
        block's hash and of the lookup's comparison (tb_lookup_cmp, the jump cache's
        check, helper_lookup_tb_ptr), so code translated in the other mode is never
        found, and is translated again in this one. Blocks are chained only to blocks
        found with the same flags, so no old block is reached through a chain either:
        switching modes needs no flush (old blocks stay until the cache is flushed or
        their memory goes).""",
    ),
    (
        "qemu/accel/tcg/translate-all.c",
        "curr_cflags()",
        "curr_cflags(cpu)",
        3,
        "Its callers, each with the CPU at hand (uc_gen_tb, precise self-modifying code, I/O recompile),",
    ),
    (
        "qemu/accel/tcg/cpu-exec.c",
        "curr_cflags()",
        "curr_cflags(cpu)",
        2,
        "the execution loop and cpu_exec_nocache,",
    ),
    (
        "qemu/accel/tcg/tcg-runtime.c",
        "curr_cflags()",
        "curr_cflags(cpu)",
        1,
        "and the lookup of indirect jumps from generated code.",
    ),
    (
        "uc.c",
        "UNICORN_EXPORT\nuc_err uc_emu_stop(uc_engine *uc)\n",
        """/* pykern: parallel mode, see tools/build_unicorn.py */
UNICORN_EXPORT
uc_err uc_pykern_set_parallel(uc_engine *uc, int on)
{
    UC_INIT(uc);
    uc->cpu->pykern_parallel = on != 0;
    restore_jit_state(uc);
    return UC_ERR_OK;
}

UNICORN_EXPORT
uc_err uc_emu_stop(uc_engine *uc)
""",
        1,
        """pykern's API for it: uc_pykern_set_parallel(uc, 1) before running an instance
        beside another over the same memory, (uc, 0) (the default) when it runs alone;
        not while the instance runs (pykern.ucbind: Uc.set_parallel).""",
    ),
    (
        "qemu/accel/tcg/cpu-exec-common.c",
        """    cpu->exception_index = EXCP_ATOMIC;
    cpu_loop_exit_restore(cpu, pc);
""",
        """    cpu->exception_index = EXCP_ATOMIC;
    cpu->pykern_insns_undone = 0;  /* pykern: set by the restore, see tools/build_unicorn.py */
    cpu_loop_exit_restore(cpu, pc);
""",
        1,
        """A locked access the host cannot do atomically leaves the block with EXCP_ATOMIC
        (cpu_loop_exit_atomic): one that is misaligned (atomic_mmu_lookup: any access
        not aligned to its size, so also one crossing a page or a cache line), or whose
        page is not plain writable RAM (unmapped, read-only: the store helpers' checks
        and Unicorn's memory hooks must see it). QEMU's user mode then runs that one
        instruction alone, without CF_PARALLEL, with every other CPU stopped
        (cpu_exec_step_atomic); Unicorn had no handler at all: cpu_exec returned
        EXCP_ATOMIC, and tcg_cpu_exec, which knows only stops, HLT and errors, ran the
        same block again, which left again: an endless loop (measured with this patch
        left out: a loop doing `lock inc` across a page re-entered its block 6.8
        million times a second, never doing the instruction, until Unicorn's 2 s
        timeout stopped it, or the budget ran out).
        Now cpu_exec runs the instruction as a one-instruction block translated without
        CF_PARALLEL (next patches), as cpu_exec_step_atomic does, and goes on. Another
        instance running at the same time is NOT stopped meanwhile: such a split-lock
        instruction is atomic against nothing (it is rare: Linux itself can make it
        fault, split_lock_detect). The instruction budget stays exact: the block had
        charged all its instructions; the restore (cpu_restore_state_from_tb, next
        patch) tells how many did not run, from the locked one on; they are given
        back, and the one-instruction block charges its one.""",
    ),
    (
        "qemu/accel/tcg/translate-all.c",
        """ found:
    if (reset_icount && (tb_cflags(tb) & CF_USE_ICOUNT)) {
""",
        """ found:
    if (reset_icount) {  /* pykern: see tools/build_unicorn.py (EXCP_ATOMIC) */
        cpu->pykern_insns_undone = num_insns - i;
    }
    if (reset_icount && (tb_cflags(tb) & CF_USE_ICOUNT)) {
""",
        1,
        "The count: the block's instructions from the one that left on.",
    ),
    (
        "qemu/accel/tcg/cpu-exec.c",
        """static inline bool cpu_handle_exception(CPUState *cpu, int *ret)
{
    bool catched = false;
    struct uc_struct *uc = cpu->uc;
    struct hook *hook;
""",
        """/* pykern: one locked instruction the host could not do atomically, see
 * tools/build_unicorn.py (EXCP_ATOMIC) */
static inline void cpu_loop_exec_tb(CPUState *cpu, TranslationBlock *tb,
                                    TranslationBlock **last_tb, int *tb_exit);

#include <pthread.h>
/* Every instance's non-atomic step of a locked instruction, one at a time: two
   split-lock adds of one counter on two instances never interleave. */
static pthread_mutex_t pykern_atomic_step = PTHREAD_MUTEX_INITIALIZER;
static __thread bool pykern_atomic_held;

static void pykern_atomic_release(void)
{
    if (pykern_atomic_held) {  /* (also after a fault longjmp'd out of the step) */
        pykern_atomic_held = false;
        pthread_mutex_unlock(&pykern_atomic_step);
    }
}

static void pykern_exec_step_atomic(CPUState *cpu)
{
    TranslationBlock *tb, *last_tb = NULL;
    int tb_exit = 0;

    cpu->exception_index = -1;
    cpu->pykern_budget += cpu->pykern_insns_undone;
    cpu->pykern_insns_undone = 0;
    /* 1: one instruction, without CF_PARALLEL; cached like any block (its flags
       differ from every parallel block's), never chained to */
    tb = tb_find(cpu, NULL, 0, 1);
    pthread_mutex_lock(&pykern_atomic_step);
    pykern_atomic_held = true;
    cpu_loop_exec_tb(cpu, tb, &last_tb, &tb_exit);
    pykern_atomic_release();
}

static inline bool cpu_handle_exception(CPUState *cpu, int *ret)
{
    bool catched = false;
    struct uc_struct *uc = cpu->uc;
    struct hook *hook;

    pykern_atomic_release();
    if (cpu->exception_index == EXCP_ATOMIC) {  /* pykern */
        pykern_exec_step_atomic(cpu);
    }
""",
        1,
        """The handler, where cpu_exec looks at a pending exception (after the longjmp
        from the atomic helper, or at the start of a run): the instruction runs in a
        block of its own translated without CF_PARALLEL, through cpu_loop_exec_tb, so a
        fault in it, a spent budget or a stop request are taken as in any block; the
        loop then goes on at the next instruction. The block is kept in the cache (as
        QEMU 5.0's cpu_exec_step_atomic keeps its own) rather than made CF_NOCACHE,
        whose one-shot blocks would be left behind in the jump cache and the region
        tree by a fault: its flags (1) match no lookup but this one, and no block
        chains to it (last_tb is NULL here and it is not returned to the loop). A pc
        whose split lock repeats (a loop) reuses it. The step holds a process-wide
        mutex (QEMU's start_exclusive, reduced to these steps): testbins/smp_atomics'
        4 threads x 5,000 split-cache-line `lock add`s on two CPUs lost updates in 2
        of 3 runs without it; a fault inside the step longjmps out, so the mutex is
        let go at the next exception check of that thread.""",
    ),
    (
        "qemu/accel/tcg/atomic_template.h",
        """    ret = *haddr;
    *haddr = val;
    ATOMIC_MMU_CLEANUP;
""",
        """    ret = atomic_xchg__nocheck(haddr, val);  /* pykern: see tools/build_unicorn.py */
    ATOMIC_MMU_CLEANUP;
""",
        1,
        """The atomic helper of xchg (and of every guest's atomic exchange) was a plain
        load then store in Unicorn (QEMU's is atomic_xchg__nocheck): in parallel mode an
        `xchg` spin lock between two instances still deadlocked, the lock taken by no
        one, after a few rounds (an exchange's store overwrote the holder's release).
        Now the host's atomic exchange, as in QEMU.""",
    ),
    (
        "qemu/accel/tcg/atomic_template.h",
        """    ret = *haddr;
    *haddr = BSWAP(val);
""",
        """    ret = atomic_xchg__nocheck(haddr, BSWAP(val));  /* pykern */
""",
        1,
        """The same for the byte-swapped variant (big-endian guests; not built, kept in
        step). The min/max helpers and the byte-swapped add, also plain loops in
        Unicorn, are never used by x86 code and are left as they are.""",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        """    hostaddr = (void *)((uintptr_t)addr + tlbe->addend);

    if (unlikely(tlb_addr & TLB_NOTDIRTY)) {
        notdirty_write(env_cpu(env), addr, 1 << s_bits,
""",
        """    /* pykern: what Unicorn's store helper checks, see tools/build_unicorn.py */
    if (HOOK_EXISTS(env->uc, UC_HOOK_MEM_READ) || HOOK_EXISTS(env->uc, UC_HOOK_MEM_WRITE)) {
        goto stop_the_world;
    }
    if (unlikely(tlb_addr & TLB_NOTDIRTY)) {
        MemoryRegion *mr = env->uc->memory_mapping(env->uc, tlbe->paddr | (addr & ~TARGET_PAGE_MASK));

        if (mr == NULL || (mr->perms & (UC_PROT_READ | UC_PROT_WRITE)) != (UC_PROT_READ | UC_PROT_WRITE)) {
            goto stop_the_world;
        }
    }

    hostaddr = (void *)((uintptr_t)addr + tlbe->addend);

    if (unlikely(tlb_addr & TLB_NOTDIRTY)) {
        notdirty_write(env_cpu(env), addr, 1 << s_bits,
""",
        1,
        """The atomic helpers' lookup (atomic_mmu_lookup) knew nothing of Unicorn's
        permissions, which only its load and store helpers check (mr->perms): in
        parallel mode `lock inc` on a page mapped read-only wrote it (measured), and
        worse, marked the page dirty in the TLB, after which plain stores took the
        fast path and wrote it too. Unicorn's write permission rests on TLB_NOTDIRTY:
        every writable-RAM entry starts with it (Unicorn's
        cpu_physical_memory_is_clean is always true) and only a store helper that
        passed the checks clears it (notdirty_write). So the check is needed, and
        made, only while that bit is set, once per TLB fill: a region that is not
        readable and writable (or no region) goes to EXCP_ATOMIC, where the store
        helpers raise UC_ERR_WRITE_PROT / UNMAPPED as without parallel mode; and while
        a memory read or write hook exists (gdb watchpoints), every locked access
        goes there so that the hooks see it.""",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        "cpu_loop_exit(uc->cpu);\n",
        "cpu_loop_exit_restore(uc->cpu, retaddr);  /* pykern: see tools/build_unicorn.py (precise faults) */\n",
        4,
        """A load from unmapped or unreadable memory (and a fetch from memory that is
        not executable) left generated code with cpu_loop_exit, which leaves the
        guest's pc as it was last stored to env: generated code stores it only where
        a block leaves through the execution loop or an indirect jump, never when one
        block jumps straight into the next (QEMU's direct block chaining, goto_tb), and
        never instruction by instruction. After a fault the pc was therefore the
        start of the first block of the chain the loop had entered, possibly several
        blocks and calls before the faulting instruction. Measured: a SIGSEGV
        handler that makes the page readable and returns, around a loop of a load
        and an mprotect: from the third fault on, the signal frame's rip was the
        instruction after the loop's `call mprotect` (its `ret` had stored the pc,
        then the blocks back to the load were chained), so the handler returned
        there and the load was skipped (testbins/smp_segv_resume failed its first
        check; 50 of 50 frames right now). The lazily computed flags' operation
        (cc_op) was as stale: tests/test_uc_faults.py, three chained blocks ending
        `cmp eax, 3` (eax 2) then a faulting access, gave rip at the chain's start
        and eflags without CF; now the access's address, CF and SF.
        pykern.crash re-decoded forward from that pc and could not find the
        faulting instruction. The exit now restores the exact state of the faulting
        instruction first, from the host address of the helper call (retaddr) and
        the search data QEMU keeps for every translated instruction
        (cpu_loop_exit_restore: the pc and cc_op, as QEMU restores them for a
        guest page fault); retaddr is 0 for a fetch made by the translator,
        which then exits as before. A hook that asks for the access to be retried
        (returns true) is not affected: no exit is taken. The instruction budget is
        charged as before (a block that faults is charged in full). Generated code
        is unchanged (only the helpers' fault exits are), so nothing else gets
        slower; a fault costs one walk of its block's search data. Still imprecise:
        a fetch fault in a block that runs on into a page that cannot be executed
        leaves rip at the block's start (the signal frame's rip; --report-crashes
        names the fetch address), as before.
        The four exits of the load helper.""",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        "            cpu_loop_exit((uc)->cpu); \\\n",
        "            cpu_loop_exit_restore((uc)->cpu, retaddr);  /* pykern: precise faults */ \\\n",
        1,
        """The same for the store helper's exits (STORE_FAULT_EXIT, above; it is used
        only in store_helper, where retaddr is the caller's host address).""",
    ),
    (
        "uc.c",
        "UNICORN_EXPORT\nuc_err uc_emu_stop(uc_engine *uc)\n",
        """/* pykern: see tools/build_unicorn.py (precise faults) */
UNICORN_EXPORT
int uc_pykern_precise_faults(void)
{
    return 1;
}

UNICORN_EXPORT
uc_err uc_emu_stop(uc_engine *uc)
""",
        1,
        """How pykern knows that a fault's pc is the faulting instruction's
        (pykern.ucbind.PRECISE_FAULTS): with another libunicorn pykern.crash still
        looks for the instruction from the block's start.""",
    ),
    (
        "qemu/accel/tcg/translate-all.c",
        """static inline PageDesc *page_find(struct uc_struct *uc, tb_page_addr_t index)
{
    return page_find_alloc(uc, index, 0);
}
""",
        """static inline PageDesc *page_find(struct uc_struct *uc, tb_page_addr_t index)
{
    return page_find_alloc(uc, index, 0);
}

/* pykern: does the page still hold translated code? see tools/build_unicorn.py */
bool pykern_page_has_code(struct uc_struct *uc, tb_page_addr_t ram_addr)
{
    PageDesc *p = page_find(uc, ram_addr >> TARGET_PAGE_BITS);

    return p != NULL && p->first_tb != (uintptr_t)NULL;
}
""",
        1,
        """What notdirty_write (the patch after next) asks before it lets stores to a
        page take the fast path.""",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        "static void notdirty_write(CPUState *cpu, vaddr mem_vaddr, unsigned size,\n",
        """bool pykern_page_has_code(struct uc_struct *uc, tb_page_addr_t ram_addr);  /* pykern: translate-all.c */

static void notdirty_write(CPUState *cpu, vaddr mem_vaddr, unsigned size,
""",
        1,
        """Its declaration, for the next patch.""",
    ),
    (
        "qemu/accel/tcg/cputlb.c",
        "        tlb_set_dirty(cpu, mem_vaddr);\n",
        """        if (!pykern_page_has_code(cpu->uc, ram_addr)) {  /* pykern: see tools/build_unicorn.py */
            tlb_set_dirty(cpu, mem_vaddr);
        }
""",
        1,
        """Code rewritten in place ran stale translations. A store to a page that holds
        translated code goes through notdirty_write, which drops the blocks the store
        overlaps; then Unicorn marked the page dirty in the TLB whatever code was left
        on it, so later stores to the page took the fast path and the other blocks on
        it were never dropped (QEMU marks it dirty only once no code is left:
        cpu_physical_memory_is_clean, which Unicorn made always true). Measured: two
        `mov eax, imm; ret` functions 512 bytes apart on one RWX page, both run, then
        both rewritten, the first then the second: the second returned its old value
        in 100 of 100 rounds (natively 0; testbins/jit_patch); OpenJDK 17's
        `javap --version` crashed in 3 of 6 runs (its code cache patches code in
        place). Now the page stays on the slow path while code is left on it; a page
        that mixes code and data pays a slow-path store per write, and QEMU's
        per-page code bitmap (built after a few such writes) skips the invalidation
        for stores that touch no code.""",
    ),
]


def run(argv: list[str]) -> None:
    """Run one step, its output kept in build/unicorn-build.log and shown if it fails."""
    print("build_unicorn:", " ".join(argv), flush=True)
    log_path = os.path.join(ROOT, "build", "unicorn-build.log")
    with open(log_path, "a") as log:
        log.write(f"$ {' '.join(argv)}\n")
        log.flush()
        try:
            status = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    timeout=TIMEOUT).returncode
        except subprocess.TimeoutExpired:
            status = "timed out"
    if status != 0:
        with open(log_path) as log:
            sys.stderr.writelines(log.readlines()[-40:])
        sys.exit(f"build_unicorn: failed ({status}): {' '.join(argv)}; the whole output is in {log_path}")


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch() -> str:
    """The source distribution, downloaded once into build/ and verified."""
    path = os.path.join(ROOT, "build", SDIST)
    if not os.path.exists(path) or sha256(path) != SDIST_SHA256:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:",
             "-d", os.path.dirname(path), f"unicorn=={VERSION}"])
    actual = sha256(path)
    if actual != SDIST_SHA256:
        sys.exit(f"build_unicorn: {path}: sha256 {actual}, expected {SDIST_SHA256}")
    return path


def unpack(sdist: str) -> str:
    """A fresh, patched copy of the sources; returns the directory of CMakeLists.txt."""
    shutil.rmtree(WORK, ignore_errors=True)
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
            tar.extractall(os.path.dirname(WORK), filter="data")
        else:
            tar.extractall(os.path.dirname(WORK))
    src = os.path.join(WORK, "src")
    # The sdist keeps the cmake helpers beside CMakeLists.txt, which includes them from
    # cmake/ (the package's setup.py copies them there before building).
    os.makedirs(os.path.join(src, "cmake"), exist_ok=True)
    for name in os.listdir(src):
        if name.endswith(".cmake"):
            shutil.copy(os.path.join(src, name), os.path.join(src, "cmake", name))
    for relpath, old, new, count, _why in PATCHES:
        path = os.path.join(src, relpath)
        with open(path) as f:
            text = f.read()
        if text.count(old) != count:
            sys.exit(f"build_unicorn: {relpath}: expected {old!r} {count} times, found it {text.count(old)} times")
        with open(path, "w") as f:
            f.write(text.replace(old, new))
    return src


def build(src: str, dest: str) -> None:
    out = os.path.join(WORK, "out")
    # -ffixed-r15: generated code keeps the instruction budget in r15, and no C code of
    # the library may use it (see the PATCHES on cpu_loop_exit).
    run(["cmake", "-S", src, "-B", out, "-DCMAKE_BUILD_TYPE=Release", "-DUNICORN_ARCH=x86",
         "-DUNICORN_BUILD_TESTS=OFF", "-DUNICORN_INSTALL=OFF", "-DCMAKE_C_FLAGS=-ffixed-r15"])
    run(["cmake", "--build", out, "--target", "unicorn", "-j", str(os.cpu_count() or 2)])
    os.makedirs(dest, exist_ok=True)
    target = os.path.join(dest, LIBRARY)
    shutil.copy(os.path.join(out, LIBRARY), target + ".tmp")
    os.replace(target + ".tmp", target)  # never a half-copied library
    print(f"build_unicorn: installed {target}")


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit(__doc__.split("\n\n")[1])
    os.makedirs(os.path.join(ROOT, "build"), exist_ok=True)
    open(os.path.join(ROOT, "build", "unicorn-build.log"), "w").close()
    for tool in ("cmake", "make", "cc"):
        if shutil.which(tool) is None:
            sys.exit(f"build_unicorn: {tool} not found (apt-get install cmake build-essential)")
    build(unpack(fetch()), os.path.abspath(argv[0]))


if __name__ == "__main__":
    main(sys.argv[1:])
