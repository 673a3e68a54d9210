#pragma once

// Named crash points of the checkpoint protocol. A test sets
// SLUICE_CRASH_AT=<point> or <point>@<checkpoint id> in a process's
// environment; when that process reaches the point (for that checkpoint),
// it dies at once, as kill -9 would: no destructor, no flush, no goodbye.
// Each point has a recovery test (tests/e2e/crash_points_test.py).
//
// Points, in protocol order:
//   worker.after-snapshot      a task snapshotted and forwarded the barrier,
//                              nothing is uploaded
//   worker.after-upload        its files are in the store, no ack sent
//   coordinator.before-metadata  every subtask acked, _metadata not written
//   coordinator.after-metadata   _metadata written, tasks not notified
//   coordinator.after-notify     tasks notified, old checkpoints not deleted
//   sink.before-commit         a sink heard the checkpoint completed and
//                              has not committed it
//   sink.during-commit         file_sink published a file of the
//                              transaction, not the rest (nor synced)
//   worker.after-restore       a restored task downloaded its state, has
//                              not processed anything

#include <cstdint>
#include <string_view>

namespace sluice {

void CrashPoint(std::string_view point, int64_t checkpoint_id);

}  // namespace sluice
