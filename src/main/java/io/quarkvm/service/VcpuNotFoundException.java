package io.quarkvm.service;

import java.util.UUID;

public class VcpuNotFoundException extends RuntimeException {
    public VcpuNotFoundException(UUID vmId, int apicId) {
        super("VM " + vmId + " has no vCPU with APIC ID " + apicId);
    }
}
