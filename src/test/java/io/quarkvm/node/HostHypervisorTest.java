package io.quarkvm.node;

import io.quarkvm.config.HypervisorChoice;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.emulated.EmulatedHypervisor;
import io.quarkvm.emulated.TestHypervisors;
import io.quarkvm.kvm.Hypervisors;
import io.quarkvm.kvm.KernelHyperv;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Which backend quarkvm.node.hypervisor opens, with the real KVM and emulator openers (and real failures of both). */
class HostHypervisorTest {

    private static final HostHypervisor.Backend NO_KVM = new HostHypervisor.Backend(HypervisorKind.KVM, "/dev/no-such-kvm",
            () -> Hypervisors.open("/dev/no-such-kvm", KernelHyperv.NONE));
    private static final HostHypervisor.Backend NO_EMULATOR = new HostHypervisor.Backend(HypervisorKind.EMULATED,
            "the software emulator", () -> EmulatedHypervisor.open("/no/such/libunicorn.so.2"));
    private static final HostHypervisor.Backend EMULATOR = new HostHypervisor.Backend(HypervisorKind.EMULATED,
            "the software emulator", EmulatedHypervisor::open);
    private static final HostHypervisor.Backend NEVER_OPENED = new HostHypervisor.Backend(HypervisorKind.KVM, "/dev/kvm",
            () -> {
                throw new AssertionError("this backend was not asked for");
            });

    @Test
    void autoFallsBackToTheEmulatorWhenKvmDoesNotOpen() {
        TestHypervisors.emulatedOrSkip().close();
        HostHypervisor.Opened opened = HostHypervisor.open(HypervisorChoice.AUTO, NO_KVM, EMULATOR);
        try {
            assertThat(opened.kind()).isEqualTo(HypervisorKind.EMULATED);
            assertThat(opened.hypervisor()).isInstanceOf(EmulatedHypervisor.class);
            assertThat(opened.reason()).isNull();
        } finally {
            opened.hypervisor().close();
        }
    }

    @Test
    void autoTakesTheFirstBackendThatOpens() {
        TestHypervisors.emulatedOrSkip().close();
        HostHypervisor.Opened opened = HostHypervisor.open(HypervisorChoice.AUTO, EMULATOR, NEVER_OPENED);
        opened.hypervisor().close();
        assertThat(opened.kind()).isEqualTo(HypervisorKind.EMULATED);
    }

    @Test
    void autoWithNeitherNamesBothAndThePackageToInstall() {
        HostHypervisor.Opened opened = HostHypervisor.open(HypervisorChoice.AUTO, NO_KVM, NO_EMULATOR);
        assertThat(opened.kind()).isEqualTo(HypervisorKind.NONE);
        assertThat(opened.hypervisor()).isNull();
        assertThat(opened.reason()).contains("cannot use /dev/no-such-kvm", "ENOENT",
                "cannot use the software emulator", "/no/such/libunicorn.so.2", "apt-get install libunicorn2",
                "quarkvm.node.hypervisor=auto");
    }

    @Test
    void kvmOnlyNeverFallsBack() {
        HostHypervisor.Opened opened = HostHypervisor.open(HypervisorChoice.KVM, NO_KVM, EMULATOR);
        assertThat(opened.kind()).isEqualTo(HypervisorKind.NONE);
        assertThat(opened.reason()).contains("/dev/no-such-kvm", "quarkvm.node.hypervisor=kvm")
                .doesNotContain("emulator");
    }

    @Test
    void emulatedOnlyNeverTouchesKvm() {
        HostHypervisor.Opened opened = HostHypervisor.open(HypervisorChoice.EMULATED, NEVER_OPENED, NO_EMULATOR);
        assertThat(opened.kind()).isEqualTo(HypervisorKind.NONE);
        assertThat(opened.reason()).contains("libunicorn2", "quarkvm.node.hypervisor=emulated");
    }
}
