package io.quarkvm.domain;

import java.util.regex.Pattern;

/**
 * What a VM is made of, fixed at creation. {@link #of} is the one place the rules for a new VM live: every value
 * arrives as the client sent it (null when absent, long so an absurd number is named rather than overflowed).
 */
public record VmSpecification(String name, MachineType machineType, Topology topology, int vcpus, int memoryMiB,
                              boolean hypervVpIndex, GuestKind guestKind) {

    /** DNS-label-like, as Kubernetes operators name things: it ends up in URLs, logs and metric labels. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?");
    /** A VM's id as the API writes it (RFC 9562 text form), in either case. */
    private static final Pattern ID_FORM = Pattern.compile(
            "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
    public static final int NAME_MAX_LENGTH = 63;
    /** The probe guest's code, page tables and per-vCPU records and stacks fit in this for 1024 vCPUs. */
    public static final int MIN_MEMORY_MIB = 8;
    public static final int MAX_MEMORY_MIB = 256 * 1024;
    public static final int DEFAULT_MEMORY_MIB = 32;

    public static VmSpecification of(String name, String machineType, Long sockets, Long dies, Long cores, Long threads,
                                     Long vcpus, Long memoryMiB, Boolean hypervVpIndex, String guestKind) {
        String checkedName = requireName(name);
        MachineType type = MachineType.resolve(machineType);
        Topology topology = new Topology(
                Topology.requireCount("topology.sockets", required("topology.sockets", sockets)),
                Topology.requireCount("topology.dies", dies == null ? 1 : dies),
                Topology.requireCount("topology.cores", required("topology.cores", cores)),
                Topology.requireCount("topology.threads", required("topology.threads", threads)));
        long bootVcpus = vcpus == null ? topology.maxVcpus() : vcpus;
        if (bootVcpus < 1 || bootVcpus > topology.maxVcpus()) {
            throw new InvalidSpecificationException("vcpus",
                    "vcpus must be between 1 and maxVcpus (" + topology.maxVcpus() + "), was " + bootVcpus);
        }
        long memory = memoryMiB == null ? DEFAULT_MEMORY_MIB : memoryMiB;
        if (memory < MIN_MEMORY_MIB || memory > MAX_MEMORY_MIB || memory % 2 != 0) {
            throw new InvalidSpecificationException("memoryMiB", "memoryMiB must be an even number (guest memory is "
                    + "mapped in 2 MiB pages) between " + MIN_MEMORY_MIB + " and " + MAX_MEMORY_MIB + ", was " + memory);
        }
        return new VmSpecification(checkedName, type, topology, (int) bootVcpus, (int) memory,
                hypervVpIndex == null || hypervVpIndex, GuestKind.resolve(guestKind));
    }

    private static long required(String field, Long value) {
        if (value == null) {
            throw new InvalidSpecificationException(field, field + " is required");
        }
        return value;
    }

    private static String requireName(String name) {
        if (name == null || name.isEmpty()) {
            throw new InvalidSpecificationException("name", "name is required");
        }
        if (name.length() > NAME_MAX_LENGTH) {
            throw new InvalidSpecificationException("name",
                    "name must be at most " + NAME_MAX_LENGTH + " characters, was " + name.length());
        }
        if (!NAME.matcher(name).matches()) {
            throw new InvalidSpecificationException("name", "name must be letters, digits, '.', '_' or '-', "
                    + "starting and ending with a letter or digit");
        }
        if (hasIdForm(name)) {
            throw new InvalidSpecificationException("name", "name must not have the form of a VM id (a UUID), "
                    + "so that an id and a name never stand for different VMs");
        }
        return name;
    }

    /** Whether {@code text} is written like a VM id: 8-4-4-4-12 hexadecimal digits. */
    public static boolean hasIdForm(String text) {
        return ID_FORM.matcher(text).matches();
    }
}
