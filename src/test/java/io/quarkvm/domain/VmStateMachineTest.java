package io.quarkvm.domain;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class VmStateMachineTest {

    /**
     * Every action against every (desired, phase) pair a VM can be in; 409 = conflict. A request that reverses
     * one still pending (resume while a pause is pending, stop while a start is) is a change, never a 409.
     */
    @ParameterizedTest(name = "{0} when desired {1}, phase {2} -> {3}")
    @CsvSource({
            // stopped
            "START,  STOPPED, STOPPED,  CHANGED", "STOP,   STOPPED, STOPPED,  UNCHANGED",
            "PAUSE,  STOPPED, STOPPED,  409",     "RESUME, STOPPED, STOPPED,  409",
            // start asked, not begun yet
            "START,  RUNNING, STOPPED,  UNCHANGED", "STOP,  RUNNING, STOPPED,  CHANGED",
            "PAUSE,  RUNNING, STOPPED,  409",       "RESUME, RUNNING, STOPPED, 409",
            // starting
            "START,  RUNNING, STARTING, UNCHANGED", "STOP,   RUNNING, STARTING, CHANGED",
            "PAUSE,  RUNNING, STARTING, CHANGED",   "RESUME, RUNNING, STARTING, UNCHANGED",
            "START,  PAUSED,  STARTING, 409",       "PAUSE,  PAUSED,  STARTING, UNCHANGED",
            "RESUME, PAUSED,  STARTING, CHANGED",
            // running
            "START,  RUNNING, RUNNING,  UNCHANGED", "STOP,   RUNNING, RUNNING,  CHANGED",
            "PAUSE,  RUNNING, RUNNING,  CHANGED",   "RESUME, RUNNING, RUNNING,  UNCHANGED",
            // pause asked, not done yet
            "PAUSE,  PAUSED,  RUNNING,  UNCHANGED", "RESUME, PAUSED,  RUNNING,  CHANGED",
            "STOP,   PAUSED,  RUNNING,  CHANGED",   "START,  PAUSED,  RUNNING,  409",
            // paused
            "START,  PAUSED,  PAUSED,   409",       "STOP,   PAUSED,  PAUSED,   CHANGED",
            "PAUSE,  PAUSED,  PAUSED,   UNCHANGED", "RESUME, PAUSED,  PAUSED,   CHANGED",
            // resume asked, not done yet
            "RESUME, RUNNING, PAUSED,   UNCHANGED", "PAUSE,  RUNNING, PAUSED,   CHANGED",
            "START,  RUNNING, PAUSED,   UNCHANGED", "STOP,   RUNNING, PAUSED,   CHANGED",
            // stop asked, not done yet, and stopping
            "STOP,   STOPPED, RUNNING,  UNCHANGED", "START,  STOPPED, RUNNING,  409",
            "STOP,   STOPPED, STOPPING, UNCHANGED", "START,  STOPPED, STOPPING, 409",
            "PAUSE,  STOPPED, STOPPING, 409",       "RESUME, STOPPED, STOPPING, 409",
            // crashed: start restarts it, stop clears it
            "START,  RUNNING, CRASHED,  CHANGED",   "STOP,   RUNNING, CRASHED,  CHANGED",
            "PAUSE,  RUNNING, CRASHED,  409",       "RESUME, RUNNING, CRASHED,  409",
            "STOP,   STOPPED, CRASHED,  CHANGED",   "START,  STOPPED, CRASHED,  CHANGED",
            // handed over by a migration (only a running VM migrates): the migration ends it, or is cancelled first
            "START,  RUNNING, MIGRATING_OUT, UNCHANGED", "STOP,   RUNNING, MIGRATING_OUT, 409",
            "PAUSE,  RUNNING, MIGRATING_OUT, 409",       "RESUME, RUNNING, MIGRATING_OUT, 409",
    })
    void transitionTable(VmAction action, DesiredState desired, VmPhase phase, String expected) {
        if (expected.equals("409")) {
            assertThatThrownBy(() -> VmStateMachine.apply(action, desired, phase))
                    .isInstanceOf(ConflictException.class)
                    .hasMessageContaining(phase.name())
                    .hasMessageContaining(phase.isHandover() ? "migration" : "");
        } else {
            assertThat(VmStateMachine.apply(action, desired, phase)).isEqualTo(VmStateMachine.Transition.valueOf(expected));
        }
    }
}
