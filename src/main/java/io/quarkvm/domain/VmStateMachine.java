package io.quarkvm.domain;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * Which action a VM accepts in which state: the one table behind the REST 409s. A VM is described by what was
 * asked (desired) and what its node observed (phase); an action that asks for what is already asked changes
 * nothing, one the table forbids is a conflict naming both.
 */
public final class VmStateMachine {

    /** The phases from which each action may change the desired state. */
    private static final Map<VmAction, Set<VmPhase>> ALLOWED_FROM = Map.of(
            VmAction.START, EnumSet.of(VmPhase.STOPPED, VmPhase.CRASHED),
            VmAction.STOP, EnumSet.complementOf(EnumSet.of(VmPhase.MIGRATING_OUT)),
            VmAction.PAUSE, EnumSet.of(VmPhase.STARTING, VmPhase.RUNNING, VmPhase.PAUSED),
            VmAction.RESUME, EnumSet.of(VmPhase.STARTING, VmPhase.RUNNING, VmPhase.PAUSED));

    private VmStateMachine() {
    }

    /** The outcome of asking {@code action} of a VM that is {@code phase} and was last asked to be {@code desired}. */
    public static Transition apply(VmAction action, DesiredState desired, VmPhase phase) {
        if (isAlreadyAsked(action, desired, phase)) {
            return Transition.UNCHANGED;
        }
        if (!ALLOWED_FROM.get(action).contains(phase)) {
            throw new ConflictException("cannot " + action.name().toLowerCase() + " a VM that is " + phase
                    + " (desired " + desired + ")" + hint(action, phase));
        }
        return Transition.CHANGED;
    }

    private static boolean isAlreadyAsked(VmAction action, DesiredState desired, VmPhase phase) {
        if (desired != action.target()) {
            return false;
        }
        return switch (action) {
            case STOP -> phase != VmPhase.CRASHED;
            case START -> phase != VmPhase.CRASHED && phase != VmPhase.STOPPING;
            case RESUME -> phase == VmPhase.STARTING || phase == VmPhase.RUNNING || phase == VmPhase.PAUSED;
            case PAUSE -> phase != VmPhase.CRASHED && phase != VmPhase.STOPPED;
        };
    }

    private static String hint(VmAction action, VmPhase phase) {
        if (phase == VmPhase.PAUSED && action == VmAction.START) {
            return "; resume it instead";
        }
        if (phase.isHandover()) {
            return "; wait until its migration has ended, or cancel it";
        }
        if (phase == VmPhase.STOPPING) {
            return "; wait until it has stopped";
        }
        if (phase == VmPhase.STOPPED || phase == VmPhase.CRASHED) {
            return "; start it first";
        }
        return "";
    }

    /** Whether the request changes the desired state (200 "nothing to do" otherwise). */
    public enum Transition {
        CHANGED, UNCHANGED
    }
}
