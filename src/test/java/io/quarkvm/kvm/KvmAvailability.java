package io.quarkvm.kvm;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/** Opens /dev/kvm for a test, or skips the test loudly when this machine has no usable KVM. */
public final class KvmAvailability {

    private KvmAvailability() {
    }

    private static Kvm shared;

    /** One /dev/kvm handle for every test class of this JVM that needs no handle of its own (closed at exit). */
    public static synchronized Kvm sharedOrSkip() {
        if (shared == null) {
            shared = openOrSkip();
        }
        return shared;
    }

    public static Kvm openOrSkip() {
        assumeTrue(Files.exists(Path.of(Kvm.DEVICE)), Kvm.DEVICE + " missing: this machine has no KVM");
        try {
            return Kvm.open();
        } catch (KvmException e) {
            assumeTrue(false, Kvm.DEVICE + " cannot be opened: " + e.getMessage());
            throw e;
        }
    }

    /** Opens /dev/kvm through {@link Hypervisors#open} in this mode, or skips the test loudly. */
    public static Hypervisor openOrSkip(KernelHyperv mode) {
        openOrSkip().close();
        return Hypervisors.open(Kvm.DEVICE, mode);
    }
}
