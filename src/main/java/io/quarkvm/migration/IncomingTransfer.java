package io.quarkvm.migration;

import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.vmm.IdentityMismatchException;
import io.quarkvm.vmm.VcpuState;
import io.quarkvm.vmm.VirtualMachine;
import io.quarkvm.vmm.VmListener;
import io.quarkvm.vmm.VmSpec;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.Set;

/**
 * The target's side of a migration: reads a {@link MigrationStream} into a VM built for it, which it returns paused,
 * never run, holding all of the source's memory and vCPU states; the caller commits the handover, then resumes it
 * (or stops it).
 */
public final class IncomingTransfer {

    /** Decides, from what the stream's header says, which VM to build; throws to refuse the migration. */
    public interface SpecResolver {
        /**
         * The persisted spec of the VM the stream carries, with exactly the header's vCPUs plugged: where the caller
         * checks the header's identities against its database ({@link VmSpec#withPlugged} does the check against
         * a spec's known identities).
         */
        VmSpec resolve(MigrationStream.Header header);
    }

    private IncomingTransfer() {
    }

    /**
     * Reads the header, has {@code resolver} name the VM, creates it ({@link VirtualMachine#prepareIncoming}), writes
     * every round's pages into it, reads the vCPU states and the end, and only then gives the vCPUs their states. On
     * any failure the half-built VM, which never ran, is stopped (its resources released) and the failure
     * propagates. Each step is marked in {@code steps}: resolving the spec, preparing the VM, each round,
     * reading the vCPU states, loading them.
     *
     * @return the VM, {@link VirtualMachine.State#PAUSED}
     * @throws io.quarkvm.vmm.SnapshotFormatException the stream is truncated, corrupt, out of order or of another
     *                                                 version
     * @throws IdentityMismatchException              the spec does not plug exactly the header's vCPUs, or a vCPU
     *                                                 would have run with another identity
     * @throws IllegalArgumentException               the spec's memory size is not the stream's
     * @throws IOException                            reading failed
     */
    public static VirtualMachine receive(InputStream in, SpecResolver resolver, Hypervisor hypervisor,
                                         VmListener listener, StepTimes steps) throws IOException {

        MigrationStream.Reader reader = MigrationStream.reader(in);
        MigrationStream.Header header = reader.readHeader();
        VmSpec spec = resolver.resolve(header);
        steps.mark("resolve the spec");
        if (spec.memoryBytes() != header.memoryBytes()) {
            throw new IllegalArgumentException("the migration stream carries " + header.memoryBytes() + " bytes of "
                    + "memory, the VM has " + spec.memoryBytes());
        }
        if (spec.vcpus().size() != header.vcpus().size()
                || !Set.copyOf(spec.vcpus()).equals(Set.copyOf(header.vcpus()))) {
            throw new IdentityMismatchException("the migration stream carries the vCPUs " + header.vcpus()
                    + ", the VM to build plugs " + spec.vcpus());
        }
        VirtualMachine vm = VirtualMachine.prepareIncoming(hypervisor, spec, listener);
        try {
            MigrationStream.PageSink memory = new MigrationStream.PageSink() {
                @Override
                public void page(long number, byte[] bytes, int offset) {
                    vm.writeMemory(number * VirtualMachine.PAGE_SIZE, bytes, offset, VirtualMachine.PAGE_SIZE);
                }

                @Override
                public void zeroPage(long number) {
                    vm.zeroPage(number);
                }
            };
            steps.mark("prepare the VM");
            MigrationStream.RoundEnd round = reader.readRound(memory);
            while (!round.last()) {
                steps.mark("round " + round.round());
                round = reader.readRound(memory);
            }
            steps.mark("last round");
            List<VcpuState> states = reader.readVcpus();
            reader.readEnd();
            steps.mark("read vCPUs");
            vm.completeIncoming(states);
            steps.mark("load vCPUs");
            return vm;
        } catch (IOException | RuntimeException | Error e) {
            vm.stop();
            throw e;
        }
    }
}
