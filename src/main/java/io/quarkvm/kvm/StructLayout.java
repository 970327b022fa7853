package io.quarkvm.kvm;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The size and field offsets the Java side assumes for one C type of the KVM ABI. Every struct class publishes its
 * layout so that a test can compare it with what gcc computes from the kernel headers ({@code sizeof}, {@code
 * offsetof}). Field names are C member designators ({@code "io.port"}, {@code "ranges[1].bitmap"}).
 */
public record StructLayout(String cType, int size, Map<String, Integer> offsets) {

    public StructLayout {
        offsets = Map.copyOf(offsets);
    }

    public static Builder of(String cType, int size) {
        return new Builder(cType, size);
    }

    public static final class Builder {
        private final String cType;
        private final int size;
        private final Map<String, Integer> offsets = new LinkedHashMap<>();

        private Builder(String cType, int size) {
            this.cType = cType;
            this.size = size;
        }

        public Builder field(String member, int offset) {
            offsets.put(member, offset);
            return this;
        }

        public StructLayout build() {
            return new StructLayout(cType, size, offsets);
        }
    }
}
