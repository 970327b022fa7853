/**
 * Live migration inside a node's process, with no database or HTTP: the stream format
 * ({@link io.quarkvm.migration.MigrationStream}), the source's pre-copy and stop-and-copy
 * ({@link io.quarkvm.migration.OutgoingTransfer}) and the target's side
 * ({@link io.quarkvm.migration.IncomingTransfer}), over any pair of byte streams. docs/MIGRATION.md says how the node
 * layer uses them.
 */
package io.quarkvm.migration;
