package io.quarkvm.config;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.kvm.KernelHyperv;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** The service's own settings (README.md, "Configuration"). */
@ConfigMapping(prefix = "quarkvm")
public interface QuarkvmConfig {

    /** Where the service keeps what must outlive it (the embedded PostgreSQL's data among it). */
    @WithDefault("./data")
    Path dataDir();

    EmbeddedDb embeddedDb();

    Node node();

    Auth auth();

    /** Who may call the API and the other nodes (README.md, "Authentication"). */
    interface Auth {
        /**
         * Lines of {@code <role> <sha256 hex of a token>}; without it the embedded-database default generates an
         * operator token in {@code <data-dir>/operator.token}, and a service on an external database refuses to start.
         */
        Optional<Path> tokensFile();

        /**
         * What nodes present to each other; also {@code QUARKVM_CLUSTER_SECRET}. Without it the embedded-database
         * default generates one in {@code <data-dir>/cluster.secret}, and a service on an external database refuses
         * to start: every node of a cluster must hold the same one.
         */
        Optional<String> clusterSecret();

        /** Whether /q/metrics asks for a viewer or operator token like the API's reads. */
        @WithDefault("false")
        boolean protectMetrics();
    }

    Events events();

    /** GET /api/v1/events and the persisted log it resumes from (README.md, "Event streams"). */
    interface Events {
        /** Events older than this are pruned from the log: a client resuming from one gets a gap event. */
        @WithDefault("24h")
        Duration keepFor();

        /** The log keeps at most this many of the newest events, however young the older ones are. */
        @WithDefault("100000")
        int keepAtMost();

        /** How often the log is pruned. */
        @WithDefault("1m")
        Duration pruneInterval();

        /** A subscriber that has not taken an event for this long, while one was being sent to it, is dropped. */
        @WithDefault("30s")
        Duration stallTimeout();
    }

    /** Live migration (docs/MIGRATION.md). */
    Migration migration();

    interface Migration {
        /** Pre-copy rounds after which the VM is stopped and copied even if its remainder does not fit the downtime. */
        @WithDefault("30")
        int maxRounds();

        /** How long a source waits for the target's answer once the stream has ended. */
        @WithDefault("30s")
        Duration answerTimeout();

        /** How long either end waits for the other to read or send before it gives the migration up. */
        @WithDefault("30s")
        Duration stallTimeout();

        /**
         * For fault-injection tests only, unset in production: the node halts at once (as SIGKILL would stop it) when
         * a migration reaches this step, so a test can kill a node exactly there (io.quarkvm.node.MigrationStep).
         */
        Optional<String> haltAt();
    }

    interface Node {
        /** This node's name in the cluster; defaults to the host name. */
        Optional<String> name();

        /** How other nodes reach this one; defaults to http://<host name>:<http port>. */
        Optional<String> url();

        /**
         * The backend this node runs guests on: {@code auto} (KVM when the KVM device opens, else the software
         * emulator when libunicorn.so.2 loads), {@code kvm} or {@code emulated}; a node with none runs no VM and says why.
         */
        @WithDefault("auto")
        HypervisorChoice hypervisor();

        /** The software emulator's library: a name the dynamic linker finds, or a path to a Unicorn 2 build of one's own. */
        @WithDefault("libunicorn.so.2")
        String emulatorLibrary();

        /** The KVM device to open; a path that does not exist makes a node that runs no VM (and says why). */
        @WithDefault("/dev/kvm")
        String kvmDevice();

        /**
         * Runs this node on the kernel double that adds the documented in-kernel Hyper-V VP index behaviour of a
         * kernel with KVM_CAP_HYPERV ({@code IMPLICIT}) or KVM_CAP_HYPERV_VP_INDEX ({@code SETTABLE}) over the real
         * KVM: how the kernel providers are exercised on hosts whose kernel has no Hyper-V emulation.
         */
        @WithDefault("NONE")
        KernelHyperv kernelHyperv();

        /** Forces a weaker VP index provider than the kernel's strongest, so two real nodes can differ. */
        Optional<VpIndexProvider> forceProvider();

        /**
         * The memory this node offers VMs, in MiB, as an operator's allocatable; defaults to the host's MemTotal
         * (/proc/meminfo). A VM needing more is not migrated here.
         */
        Optional<Integer> memoryMib();

        /** The most vCPUs this node offers one VM; defaults to KVM_CAP_MAX_VCPUS. A VM with more slots is not migrated here. */
        Optional<Integer> maxVcpus();

        @WithDefault("5s")
        Duration heartbeatInterval();

        /** How often the reconciler looks at every VM even without a notification. */
        @WithDefault("5s")
        Duration sweepInterval();

        /**
         * How many VMs the reconciler works on at once (each VM by one of them at a time), so that a VM slow to start
         * or stop holds up only its own worker.
         */
        @WithDefault("4")
        int reconcileWorkers();
    }

    interface EmbeddedDb {
        /** Fixed, so that a second node can point its datasource at this node's embedded server. */
        @WithDefault("5433")
        int port();

        /**
         * Failed attempts in a row to start a dead embedded server again, after which the service reports itself
         * not live (it keeps trying; an orchestrator may restart the whole service).
         */
        @WithDefault("5")
        int restartAttempts();
    }
}
