/*
 * The QEMU guest of the migration bench (MigrationBench.java builds it at bench time with gcc -m32 and ld, one
 * ELF per kind, and boots it with -machine microvm -kernel): a kernel that QEMU enters through the PVH entry point
 * (the XEN_ELFNOTE_PHYS32_ENTRY note below), so the default microvm firmware (qboot) jumps straight to `start` in
 * 32-bit protected mode with paging off: every guest-physical address is its own linear address, no page tables.
 *
 * Built with -DWS_PAGES=0 it halts: the idle guest. Otherwise it writes one 32-bit word in each 4 KiB page of
 * the working set [WS_START, WS_START + WS_PAGES * 4096), round robin, BATCH_PAGES pages at a time, and after each
 * batch waits until the TSC reaches the batch's deadline, TSC_PER_BATCH ticks after the previous one (the bench
 * computes it from the rate asked for and the TSC frequency). A guest that fell behind (preempted on a busy host)
 * catches up without waiting, for at most MAX_LAG ticks of backlog; beyond that it starts over from now, so that a
 * long stall does not turn into a burst. The word written is the sweep number with bit 31 set: never zero, and
 * different on each sweep, so no page of the working set is a zero page or unchanged when it is sent again.
 *
 * Mailbox at guest-physical 0x500 (conventional memory that nothing uses once the firmware has jumped here), read
 * by the bench with QMP human-monitor-command "xp /5wx 0x500":
 *   0x500  pages written so far, low 32 bits     0x504  high 32 bits (always 0: wraps after 16 TiB)
 *   0x508  0x52444451 ("QDDR") once the guest runs its loop
 *   0x50C  the TSC read after the last batch, low 32 bits     0x510  its high 32 bits
 * From two readings at host times t1 < t2 the bench gets the rate achieved, (pages2 - pages1) * 4 KiB / (t2 - t1),
 * and the guest's TSC frequency, (tsc2 - tsc1) / (t2 - t1), both against the host's clock.
 */
#define MAILBOX 0x500
#define READY   0x52444451

    .section .note.Xen, "a", @note      /* ELF note: name "Xen", type 18 = XEN_ELFNOTE_PHYS32_ENTRY */
    .balign 4
    .long 4, 4, 18                      /* namesz, descsz, type */
    .asciz "Xen"
    .long start                         /* the 32-bit entry point */

    .text
    .code32
    .globl start
start:
    cli
    movl $0, MAILBOX
    movl $0, MAILBOX + 4
#if WS_PAGES == 0
    movl $READY, MAILBOX + 8
1:  hlt                                 /* interrupts are off: stays halted */
    jmp 1b
#else
    rdtsc
    mov %eax, %esi                      /* edi:esi = deadline of the batch being written */
    mov %edx, %edi
    mov $0x80000000, %ebp               /* the word written: sweep number, bit 31 set */
    mov $WS_START, %ebx                 /* the next page to write */
    movl $READY, MAILBOX + 8
batch:
    mov $BATCH_PAGES, %ecx
one_page:
    mov %ebp, (%ebx)
    add $4096, %ebx
    cmp $(WS_START + WS_PAGES * 4096), %ebx
    jb 2f
    mov $WS_START, %ebx                 /* end of the working set: next sweep */
    inc %ebp
2:  loop one_page
    addl $BATCH_PAGES, MAILBOX
    add $TSC_PER_BATCH_LO, %esi
    adc $TSC_PER_BATCH_HI, %edi
wait:
    rdtsc
    mov %eax, MAILBOX + 12
    mov %edx, MAILBOX + 16
    sub %esi, %eax                      /* edx:eax = now - deadline */
    sbb %edi, %edx
    jnc due                             /* no borrow: now >= deadline */
    pause
    jmp wait
due:
    test %edx, %edx
    jnz behind
    cmp $MAX_LAG, %eax
    jbe batch                           /* on time, or a backlog small enough to catch up */
behind:
    rdtsc                               /* too far behind: the next deadline counts from now */
    mov %eax, %esi
    mov %edx, %edi
    jmp batch
#endif
