package io.quarkvm.api;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.QuarkusTestProfile;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.Test;

import java.util.Map;

/** A node whose kernel has KVM_CAP_HYPERV_VP_INDEX: the VMM sets each vCPU's VP index and reads it back. */
@QuarkusTest
@TestProfile(SettableKernelProviderTest.Settable.class)
class SettableKernelProviderTest extends KernelProviderTest {

    public static class Settable implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return Map.of("quarkvm.node.kernel-hyperv", "SETTABLE");
        }
    }

    @Override
    String expectedProvider() {
        return "KERNEL_SETTABLE";
    }

    @Test
    void sparseApicIdsAreHonouredByASettableKernel() {
        String sparse = VmResourceTest.createVm(VmResourceTest.vmJson(VmResourceTest.uniqueName("settable-sparse"), "quarkvm-2.0", 2, 1, 3, 2, 3));
        VmLifecycleTest.start(sparse);
        plug(sparse, 1, 2, 1);
        assertGuestsReadTheirPersistedVpIndex(sparse, 4);
        VmLifecycleTest.stop(sparse);
    }
}
