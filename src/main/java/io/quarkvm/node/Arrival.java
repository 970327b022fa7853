package io.quarkvm.node;

import io.quarkvm.vmm.VirtualMachine;
import io.quarkvm.vmm.VmListener;

import java.util.function.Consumer;

/**
 * A VM arriving by migration, on its target node: the listener its machine reports to from the start (so what its
 * guest does is recorded against the boot it continues), and {@link #arrived}, which makes the machine one this
 * node drives like any other. Call it once the handover is committed, so that no other node runs the VM and this one
 * does not cold-boot it meanwhile.
 */
public final class Arrival {

    private final VmListener listener;
    private final Consumer<VirtualMachine> adopt;

    Arrival(VmListener listener, Consumer<VirtualMachine> adopt) {
        this.listener = listener;
        this.adopt = adopt;
    }

    public VmListener listener() {
        return listener;
    }

    public void arrived(VirtualMachine machine) {
        adopt.accept(machine);
    }
}
