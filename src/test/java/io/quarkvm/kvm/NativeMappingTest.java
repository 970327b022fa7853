package io.quarkvm.kvm;

import org.junit.jupiter.api.Test;

import java.util.BitSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What /proc/self/pagemap tells of an anonymous mapping: the pages written to, and no other untouched one. */
class NativeMappingTest {

    private static final int PAGE = 4096;

    @Test
    void populatedPagesAreThoseWrittenAndAFreshMappingHasNone() {
        try (NativeMapping mapping = NativeMapping.anonymous(1024L * PAGE)) {
            assertThat(mapping.populatedPages().isEmpty()).isTrue();

            mapping.pointer().putByte(3L * PAGE + 17, (byte) 1);
            mapping.pointer().putLong(700L * PAGE, 42L);
            mapping.pointer().putByte(1023L * PAGE + PAGE - 1, (byte) 9);

            BitSet expected = new BitSet();
            expected.set(3);
            expected.set(700);
            expected.set(1023);
            assertThat(mapping.populatedPages()).isEqualTo(expected);
        }
    }

    @Test
    void anUnmappedMappingHasNoPagesToTell() {
        NativeMapping mapping = NativeMapping.anonymous(16L * PAGE);
        mapping.close();
        assertThatThrownBy(mapping::populatedPages).isInstanceOf(IllegalStateException.class);
    }
}
