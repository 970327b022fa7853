package io.quarkvm.domain;

/** A vCPU slot of a topology, named by its coordinates. Whether it lies inside a topology is the topology's call. */
public record Slot(int socket, int die, int core, int thread) {

    @Override
    public String toString() {
        return "socket " + socket + ", die " + die + ", core " + core + ", thread " + thread;
    }
}
