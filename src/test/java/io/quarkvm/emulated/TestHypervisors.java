package io.quarkvm.emulated;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.quarkvm.kvm.Hypervisor;
import io.quarkvm.kvm.Hypervisors;
import io.quarkvm.kvm.KernelHyperv;
import io.quarkvm.kvm.Kvm;
import io.quarkvm.kvm.KvmException;

/**
 * The hypervisor the VMM-level tests run on: KVM where /dev/kvm opens, otherwise the emulated backend; the system
 * property {@value #BACKEND_PROPERTY}{@code =emulated} (e.g. {@code ./mvnw test -Dquarkvm.test.backend=emulated})
 * forces the emulated backend on a machine with KVM, to prove a test on both. Says which on standard output, once
 * per JVM, so a test report shows what was proven where; skips loudly only when neither exists.
 */
public final class TestHypervisors {

    public static final String BACKEND_PROPERTY = "quarkvm.test.backend";

    private static Hypervisor shared;
    private static boolean announced;

    private TestHypervisors() {
    }

    /** One hypervisor for every test class of this JVM that needs no handle of its own (closed at exit). */
    public static synchronized Hypervisor shared() {
        if (shared == null) {
            shared = open();
        }
        return shared;
    }

    /** A new handle: KVM if it opens (and the emulated backend is not forced), else the emulated backend. */
    public static synchronized Hypervisor open() {
        Hypervisor opened;
        String why;
        if ("emulated".equals(System.getProperty(BACKEND_PROPERTY))) {
            opened = emulatedOrSkip();
            why = BACKEND_PROPERTY + "=emulated";
        } else {
            try {
                opened = Kvm.open();
                why = "/dev/kvm opened";
            } catch (KvmException kvmMissing) {
                opened = emulatedOrSkip(kvmMissing.getMessage());
                why = "no KVM (" + kvmMissing.getMessage() + ")";
            }
        }
        if (!announced) {
            announced = true;
            System.out.println("TestHypervisors: VMM tests run on " + opened + ": " + why);
        }
        return opened;
    }

    /** {@link #open} behind the kernel double of {@code mode} (itself for {@link KernelHyperv#NONE}). */
    public static Hypervisor open(KernelHyperv mode) {
        return Hypervisors.withKernel(open(), mode);
    }

    /** The emulated backend itself, whatever the machine has; skips when libunicorn.so.2 is missing. */
    public static EmulatedHypervisor emulatedOrSkip() {
        return emulatedOrSkip("");
    }

    private static EmulatedHypervisor emulatedOrSkip(String kvmProblem) {
        try {
            return EmulatedHypervisor.open();
        } catch (IllegalStateException e) {
            assumeTrue(false, (kvmProblem.isEmpty() ? "" : kvmProblem + ", and ") + e.getMessage());
            throw e;
        }
    }
}
