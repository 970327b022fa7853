package io.quarkvm.node;

import io.agroal.api.AgroalDataSource;
import io.quarkus.narayana.jta.QuarkusTransaction;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkvm.domain.HypervisorKind;
import io.quarkvm.domain.VcpuIdentity;
import io.quarkvm.domain.VmPhase;
import io.quarkvm.domain.VpIndexProvider;
import io.quarkvm.persistence.VcpuEntity;
import io.quarkvm.persistence.VmEntity;
import io.quarkvm.service.VmService;
import io.quarkvm.vmm.GuestIdentity;
import io.quarkvm.vmm.WrmsrOutcome;
import io.restassured.http.ContentType;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static io.restassured.RestAssured.given;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Guest reports while the database refuses them: a real PostgreSQL whose transactions that write this boot's
 * reports fail (a trigger raises an error) until the test lets them through.
 */
@QuarkusTest
class ReportWriterTest {

    @Inject
    BootRecorder boots;

    @Inject
    VmService vms;

    @Inject
    AgroalDataSource dataSource;

    @Test
    void aBatchTheDatabaseRefusesIsWrittenAgainAndTheBootIsUpOnlyOnceItIsCommitted() throws Exception {
        UUID vmId = UUID.fromString(given().contentType(ContentType.JSON)
                .body("{\"name\":\"reports-" + System.nanoTime() % 1_000_000 + "\",\"topology\":{\"sockets\":1,\"cores\":2,\"threads\":1}}")
                .post("/api/v1/vms").then().statusCode(201).extract().path("id"));
        List<VcpuIdentity> identities = vms.get(vmId).vcpus.stream().map(VcpuEntity::identity).toList();
        long bootId = QuarkusTransaction.requiringNew().call(() ->
                boots.openBoot(vmId, "test-node", HypervisorKind.EMULATED, VpIndexProvider.USERSPACE_MSR, identities));
        LocalVm vm = new LocalVm(vmId, bootId, identities.size());
        AtomicInteger recordedUp = new AtomicInteger();
        AtomicInteger afterUp = new AtomicInteger();
        ReportWriter writer = new ReportWriter(boots, new ReportWriter.BootUp() {
            @Override
            public void recordUp(LocalVm up) {
                // what the reconciler does here: the VM is RUNNING, in the transaction of its last report
                VmEntity.update("phase = ?1 where id = ?2", VmPhase.RUNNING, up.id);
                recordedUp.incrementAndGet();
            }

            @Override
            public void afterUp(LocalVm up) {
                afterUp.incrementAndGet();
            }
        });
        try {
            refuseReportsOf(bootId);
            for (VcpuIdentity identity : identities) {
                writer.submit(new BootRecorder.Report(bootId, new GuestIdentity(identity.cpuIndex(), identity.apicId(),
                        identity.apicId(), identity.vpIndex(), true, WrmsrOutcome.FAULTED), Instant.now()), vm);
            }
            Thread.sleep(1500); // several attempts, each refused

            assertThat(reportedAt(bootId)).as("nothing written").containsOnlyNulls().hasSize(identities.size());
            assertThat(vm.isUp()).as("no report counted").isFalse();
            assertThat(vm.hasReportsUncommitted()).isTrue();
            assertThat(afterUp).hasValue(0);
            assertThat(vms.get(vmId).phase).isEqualTo(VmPhase.STOPPED);

            acceptReportsOf(bootId);
            Instant deadline = Instant.now().plusSeconds(20);
            while (afterUp.get() == 0 && Instant.now().isBefore(deadline)) {
                Thread.sleep(20);
            }
            assertThat(afterUp).hasValue(1);
            assertThat(reportedAt(bootId)).as("every report written").doesNotContainNull().hasSize(identities.size());
            assertThat(vm.isUp()).isTrue();
            assertThat(vm.hasReportsUncommitted()).isFalse();
            assertThat(recordedUp.get()).isPositive();
            assertThat(vms.get(vmId).phase).isEqualTo(VmPhase.RUNNING);
        } finally {
            acceptReportsOf(bootId);
            writer.close();
        }
    }

    private void refuseReportsOf(long bootId) throws SQLException {
        execute("CREATE OR REPLACE FUNCTION test_refuse_guest_reports() RETURNS trigger LANGUAGE plpgsql AS $$ "
                + "BEGIN RAISE EXCEPTION 'guest reports refused by the test'; END; $$");
        execute("CREATE TRIGGER refuse_reports_" + bootId + " BEFORE UPDATE ON guest_vcpu_observation FOR EACH ROW "
                + "WHEN (OLD.boot_id = " + bootId + ") EXECUTE FUNCTION test_refuse_guest_reports()");
    }

    private void acceptReportsOf(long bootId) throws SQLException {
        execute("DROP TRIGGER IF EXISTS refuse_reports_" + bootId + " ON guest_vcpu_observation");
    }

    private void execute(String sql) throws SQLException {
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
            statement.execute(sql);
        }
    }

    private List<Instant> reportedAt(long bootId) throws SQLException {
        try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement();
             ResultSet rows = statement.executeQuery("SELECT reported_at FROM guest_vcpu_observation WHERE boot_id = "
                     + bootId + " ORDER BY cpu_index")) {
            List<Instant> reported = new ArrayList<>();
            while (rows.next()) {
                var at = rows.getTimestamp(1);
                reported.add(at == null ? null : at.toInstant());
            }
            return reported;
        }
    }
}
