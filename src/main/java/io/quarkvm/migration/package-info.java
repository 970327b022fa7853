/**
 * Live migration (docs/MIGRATION.md). In-process, with no database or HTTP: the stream format
 * ({@link io.quarkvm.migration.MigrationStream}), the source's pre-copy and stop-and-copy
 * ({@link io.quarkvm.migration.OutgoingTransfer}) and the target's side ({@link io.quarkvm.migration.IncomingTransfer}),
 * over any pair of byte streams. Between nodes: the stream's HTTP client ({@link io.quarkvm.migration.StreamClient};
 * the target's route is io.quarkvm.api.MigrationStreamRoute), and what a node does as the migration's source
 * ({@link io.quarkvm.migration.MigrationSource}) and target ({@link io.quarkvm.migration.MigrationTarget}), each
 * phase recorded through io.quarkvm.service.MigrationRecords.
 */
package io.quarkvm.migration;
