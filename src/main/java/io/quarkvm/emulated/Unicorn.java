package io.quarkvm.emulated;

import io.quarkvm.kvm.StructLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.annotations.Variadic;
import jnr.ffi.byref.LongLongByReference;
import jnr.ffi.byref.PointerByReference;
import jnr.ffi.types.size_t;
import jnr.ffi.types.u_int64_t;

/**
 * The calls of libunicorn.so.2 (Unicorn 2.0.1, Debian package {@code libunicorn2}) the emulated backend makes, and
 * the numbers it passes: every constant is the value of the C name in its comment, from unicorn/unicorn.h or
 * unicorn/x86.h, and UnicornLayoutTest compares each with what gcc computes from the installed headers.
 * JNR holds callback objects weakly: whoever passes a callback to {@code uc_hook_add} must keep it reachable for
 * the engine's life.
 */
public interface Unicorn {

    /** UC_ARCH_X86 (unicorn.h, uc_arch) */
    int ARCH_X86 = 4;
    /** UC_MODE_64 (unicorn.h, uc_mode) */
    int MODE_64 = 8;
    /** UC_PROT_ALL (unicorn.h, uc_prot) */
    int PROT_ALL = 7;

    /** UC_ERR_OK (unicorn.h, uc_err) */
    int ERR_OK = 0;
    /** UC_ERR_FETCH_UNMAPPED */
    int ERR_FETCH_UNMAPPED = 8;
    /** UC_ERR_INSN_INVALID */
    int ERR_INSN_INVALID = 10;

    /** UC_HOOK_INTR (unicorn.h, uc_hook_type): exceptions and INT n, with the vector. */
    int HOOK_INTR = 1;
    /** UC_HOOK_INSN: one instruction kind, named by the trailing UC_X86_INS_* argument. */
    int HOOK_INSN = 1 << 1;
    /** UC_HOOK_CODE: before each instruction in [begin, end]. */
    int HOOK_CODE = 1 << 2;
    /** UC_HOOK_BLOCK: at the start of each translated block executed. */
    int HOOK_BLOCK = 1 << 3;
    /** UC_HOOK_MEM_UNMAPPED: UC_HOOK_MEM_READ_UNMAPPED + UC_HOOK_MEM_WRITE_UNMAPPED + UC_HOOK_MEM_FETCH_UNMAPPED. */
    int HOOK_MEM_UNMAPPED = (1 << 4) + (1 << 5) + (1 << 6);

    /** UC_MEM_WRITE_UNMAPPED (unicorn.h, uc_mem_type) */
    int MEM_WRITE_UNMAPPED = 20;
    /** UC_MEM_FETCH_UNMAPPED */
    int MEM_FETCH_UNMAPPED = 21;

    /** UC_X86_INS_IN (x86.h, uc_x86_insn) */
    int X86_INS_IN = 218;
    /** UC_X86_INS_OUT */
    int X86_INS_OUT = 500;
    /** UC_X86_INS_CPUID */
    int X86_INS_CPUID = 113;

    // uc_x86_reg (x86.h)
    /** UC_X86_REG_RAX */
    int X86_REG_RAX = 35;
    /** UC_X86_REG_RBX */
    int X86_REG_RBX = 37;
    /** UC_X86_REG_RCX */
    int X86_REG_RCX = 38;
    /** UC_X86_REG_RDX */
    int X86_REG_RDX = 40;
    /** UC_X86_REG_RSI */
    int X86_REG_RSI = 43;
    /** UC_X86_REG_RDI */
    int X86_REG_RDI = 39;
    /** UC_X86_REG_RSP */
    int X86_REG_RSP = 44;
    /** UC_X86_REG_RBP */
    int X86_REG_RBP = 36;
    /** UC_X86_REG_R8; R9..R15 follow it. */
    int X86_REG_R8 = 106;
    /** UC_X86_REG_R15 */
    int X86_REG_R15 = 113;
    /** UC_X86_REG_RIP */
    int X86_REG_RIP = 41;
    /** UC_X86_REG_RFLAGS */
    int X86_REG_RFLAGS = 253;
    /** UC_X86_REG_CS */
    int X86_REG_CS = 11;
    /** UC_X86_REG_DS */
    int X86_REG_DS = 17;
    /** UC_X86_REG_ES */
    int X86_REG_ES = 28;
    /** UC_X86_REG_FS */
    int X86_REG_FS = 32;
    /** UC_X86_REG_GS */
    int X86_REG_GS = 33;
    /** UC_X86_REG_SS */
    int X86_REG_SS = 49;
    /** UC_X86_REG_CR0 */
    int X86_REG_CR0 = 50;
    /** UC_X86_REG_CR2 */
    int X86_REG_CR2 = 52;
    /** UC_X86_REG_CR3 */
    int X86_REG_CR3 = 53;
    /** UC_X86_REG_CR4 */
    int X86_REG_CR4 = 54;
    /** UC_X86_REG_IDTR: a uc_x86_mmr. */
    int X86_REG_IDTR = 242;
    /** UC_X86_REG_GDTR: a uc_x86_mmr. */
    int X86_REG_GDTR = 243;
    /** UC_X86_REG_MSR: a uc_x86_msr. */
    int X86_REG_MSR = 248;
    /** UC_X86_REG_FPCW: uint16_t. */
    int X86_REG_FPCW = 246;
    /** UC_X86_REG_FPSW: uint16_t. */
    int X86_REG_FPSW = 31;
    /** UC_X86_REG_FPTAG: the full tag word, two bits per physical register (3 = empty). */
    int X86_REG_FPTAG = 247;
    /** UC_X86_REG_ST0, an 80-bit value; ST1..ST7 follow it. */
    int X86_REG_ST0 = 114;
    /** UC_X86_REG_XMM0, 16 bytes; XMM1..XMM15 follow it. */
    int X86_REG_XMM0 = 122;
    /** UC_X86_REG_MXCSR: uint32_t. */
    int X86_REG_MXCSR = 249;

    /** struct uc_x86_mmr (x86.h): uint16_t selector; uint64_t base; uint32_t limit; uint32_t flags. */
    int MMR_SIZE = 24;
    int MMR_BASE = 8;
    int MMR_LIMIT = 16;
    StructLayout MMR_LAYOUT = StructLayout.of("uc_x86_mmr", MMR_SIZE).field("selector", 0).field("base", MMR_BASE)
            .field("limit", MMR_LIMIT).field("flags", 20).build();

    /** struct uc_x86_msr (x86.h): uint32_t rid; uint64_t value. */
    int MSR_SIZE = 16;
    int MSR_RID = 0;
    int MSR_VALUE = 8;
    StructLayout MSR_LAYOUT = StructLayout.of("uc_x86_msr", MSR_SIZE).field("rid", MSR_RID)
            .field("value", MSR_VALUE).build();

    /** Every constant above by its C name, for UnicornLayoutTest. */
    static Map<String, Long> constants() {
        Map<String, Long> constants = new LinkedHashMap<>();
        constants.put("UC_ARCH_X86", (long) ARCH_X86);
        constants.put("UC_MODE_64", (long) MODE_64);
        constants.put("UC_PROT_ALL", (long) PROT_ALL);
        constants.put("UC_ERR_OK", (long) ERR_OK);
        constants.put("UC_ERR_FETCH_UNMAPPED", (long) ERR_FETCH_UNMAPPED);
        constants.put("UC_ERR_INSN_INVALID", (long) ERR_INSN_INVALID);
        constants.put("UC_HOOK_INTR", (long) HOOK_INTR);
        constants.put("UC_HOOK_INSN", (long) HOOK_INSN);
        constants.put("UC_HOOK_CODE", (long) HOOK_CODE);
        constants.put("UC_HOOK_BLOCK", (long) HOOK_BLOCK);
        constants.put("UC_HOOK_MEM_UNMAPPED", (long) HOOK_MEM_UNMAPPED);
        constants.put("UC_MEM_WRITE_UNMAPPED", (long) MEM_WRITE_UNMAPPED);
        constants.put("UC_MEM_FETCH_UNMAPPED", (long) MEM_FETCH_UNMAPPED);
        constants.put("UC_X86_INS_IN", (long) X86_INS_IN);
        constants.put("UC_X86_INS_OUT", (long) X86_INS_OUT);
        constants.put("UC_X86_INS_CPUID", (long) X86_INS_CPUID);
        constants.put("UC_X86_REG_RAX", (long) X86_REG_RAX);
        constants.put("UC_X86_REG_RBX", (long) X86_REG_RBX);
        constants.put("UC_X86_REG_RCX", (long) X86_REG_RCX);
        constants.put("UC_X86_REG_RDX", (long) X86_REG_RDX);
        constants.put("UC_X86_REG_RSI", (long) X86_REG_RSI);
        constants.put("UC_X86_REG_RDI", (long) X86_REG_RDI);
        constants.put("UC_X86_REG_RSP", (long) X86_REG_RSP);
        constants.put("UC_X86_REG_RBP", (long) X86_REG_RBP);
        for (int i = 8; i <= 15; i++) {
            constants.put("UC_X86_REG_R" + i, (long) X86_REG_R8 + i - 8);
        }
        constants.put("UC_X86_REG_RIP", (long) X86_REG_RIP);
        constants.put("UC_X86_REG_RFLAGS", (long) X86_REG_RFLAGS);
        constants.put("UC_X86_REG_CS", (long) X86_REG_CS);
        constants.put("UC_X86_REG_DS", (long) X86_REG_DS);
        constants.put("UC_X86_REG_ES", (long) X86_REG_ES);
        constants.put("UC_X86_REG_FS", (long) X86_REG_FS);
        constants.put("UC_X86_REG_GS", (long) X86_REG_GS);
        constants.put("UC_X86_REG_SS", (long) X86_REG_SS);
        constants.put("UC_X86_REG_CR0", (long) X86_REG_CR0);
        constants.put("UC_X86_REG_CR2", (long) X86_REG_CR2);
        constants.put("UC_X86_REG_CR3", (long) X86_REG_CR3);
        constants.put("UC_X86_REG_CR4", (long) X86_REG_CR4);
        constants.put("UC_X86_REG_IDTR", (long) X86_REG_IDTR);
        constants.put("UC_X86_REG_GDTR", (long) X86_REG_GDTR);
        constants.put("UC_X86_REG_MSR", (long) X86_REG_MSR);
        constants.put("UC_X86_REG_FPCW", (long) X86_REG_FPCW);
        constants.put("UC_X86_REG_FPSW", (long) X86_REG_FPSW);
        constants.put("UC_X86_REG_FPTAG", (long) X86_REG_FPTAG);
        for (int i = 0; i <= 7; i++) {
            constants.put("UC_X86_REG_ST" + i, (long) X86_REG_ST0 + i);
        }
        for (int i = 0; i <= 15; i++) {
            constants.put("UC_X86_REG_XMM" + i, (long) X86_REG_XMM0 + i);
        }
        constants.put("UC_X86_REG_MXCSR", (long) X86_REG_MXCSR);
        return constants;
    }

    /** unsigned int uc_version(unsigned int *major, unsigned int *minor): (major << 24) | (minor << 16) | ... */
    int uc_version(Pointer major, Pointer minor);

    /** uc_err uc_open(uc_arch arch, uc_mode mode, uc_engine **uc) */
    int uc_open(int arch, int mode, PointerByReference engine);

    /** uc_err uc_close(uc_engine *uc) */
    int uc_close(Pointer engine);

    /** const char *uc_strerror(uc_err code) */
    String uc_strerror(int error);

    /** uc_err uc_mem_map_ptr(uc_engine *uc, uint64_t address, size_t size, uint32_t perms, void *ptr) */
    int uc_mem_map_ptr(Pointer engine, @u_int64_t long address, @size_t long size, int perms,
                       @u_int64_t long hostAddress);

    /** uc_err uc_mem_unmap(uc_engine *uc, uint64_t address, size_t size) */
    int uc_mem_unmap(Pointer engine, @u_int64_t long address, @size_t long size);

    /** uc_err uc_reg_read(uc_engine *uc, int regid, void *value) */
    int uc_reg_read(Pointer engine, int register, Pointer value);

    /** uc_err uc_reg_write(uc_engine *uc, int regid, const void *value) */
    int uc_reg_write(Pointer engine, int register, Pointer value);

    /** uc_err uc_reg_read_batch(uc_engine *uc, int *regs, void **vals, int count) */
    int uc_reg_read_batch(Pointer engine, Pointer registers, Pointer values, int count);

    /** uc_err uc_reg_write_batch(uc_engine *uc, int *regs, void *const *vals, int count) */
    int uc_reg_write_batch(Pointer engine, Pointer registers, Pointer values, int count);

    /** uc_err uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count) */
    int uc_emu_start(Pointer engine, @u_int64_t long begin, @u_int64_t long until, @u_int64_t long timeoutMicros,
                     @size_t long count);

    /** uc_err uc_emu_stop(uc_engine *uc): only ever from the engine's own thread, inside a hook. */
    int uc_emu_stop(Pointer engine);

    /** uc_err uc_hook_add(uc, uc_hook *hh, int type, void *callback, void *user_data, uint64_t begin, uint64_t end, ...) */
    @Variadic(fixedCount = 7)
    int uc_hook_add(Pointer engine, LongLongByReference hook, int type, CodeHook callback, Pointer userData,
                    @u_int64_t long begin, @u_int64_t long end);

    @Variadic(fixedCount = 7)
    int uc_hook_add(Pointer engine, LongLongByReference hook, int type, InterruptHook callback, Pointer userData,
                    @u_int64_t long begin, @u_int64_t long end);

    @Variadic(fixedCount = 7)
    int uc_hook_add(Pointer engine, LongLongByReference hook, int type, UnmappedHook callback, Pointer userData,
                    @u_int64_t long begin, @u_int64_t long end);

    /** The UC_HOOK_INSN form: the instruction id is the one variadic argument. */
    @Variadic(fixedCount = 7)
    int uc_hook_add(Pointer engine, LongLongByReference hook, int type, CpuidHook callback, Pointer userData,
                    @u_int64_t long begin, @u_int64_t long end, int instruction);

    @Variadic(fixedCount = 7)
    int uc_hook_add(Pointer engine, LongLongByReference hook, int type, OutHook callback, Pointer userData,
                    @u_int64_t long begin, @u_int64_t long end, int instruction);

    @Variadic(fixedCount = 7)
    int uc_hook_add(Pointer engine, LongLongByReference hook, int type, InHook callback, Pointer userData,
                    @u_int64_t long begin, @u_int64_t long end, int instruction);

    /** uc_cb_hookcode_t, for UC_HOOK_CODE and UC_HOOK_BLOCK. */
    interface CodeHook {
        @Delegate
        void call(Pointer engine, @u_int64_t long address, int size, Pointer userData);
    }

    /** uc_cb_hookintr_t */
    interface InterruptHook {
        @Delegate
        void call(Pointer engine, int vector, Pointer userData);
    }

    /** uc_cb_eventmem_t: returns true when the access may be retried (a mapping was added), false to stop. */
    interface UnmappedHook {
        @Delegate
        boolean call(Pointer engine, int type, @u_int64_t long address, int size, long value, Pointer userData);
    }

    /** uc_cb_insn_cpuid_t: returns 1 when it set the registers (the emulator's own CPUID is skipped). */
    interface CpuidHook {
        @Delegate
        int call(Pointer engine, Pointer userData);
    }

    /** uc_cb_insn_out_t */
    interface OutHook {
        @Delegate
        void call(Pointer engine, int port, int size, int value, Pointer userData);
    }

    /** uc_cb_insn_in_t: returns what the IN reads. */
    interface InHook {
        @Delegate
        int call(Pointer engine, int port, int size, Pointer userData);
    }
}
