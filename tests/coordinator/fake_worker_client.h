#pragma once

// An in-memory WorkerClient for unit tests: it records each call and leaves
// it pending until the test completes it, on the test thread (which plays
// the control thread).

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/worker_client.h"

namespace sluice {

class FakeWorkerClient : public WorkerClient {
 public:
  struct Call {
    enum Kind { kDeploy, kCancel, kTrigger, kNotify } kind;
    std::string address;
    proto::DeployTasksRequest deploy;
    proto::CancelTasksRequest cancel;
    Done done;  // empty once completed
    proto::TriggerCheckpointRequest trigger = {};
    proto::NotifyCheckpointRequest notify = {};
  };

  void DeployTasks(const std::string& address, proto::DeployTasksRequest request,
                   Done done) override {
    calls.push_back({Call::kDeploy, address, std::move(request), {}, std::move(done)});
  }
  void CancelTasks(const std::string& address, proto::CancelTasksRequest request,
                   Done done) override {
    calls.push_back({Call::kCancel, address, {}, std::move(request), std::move(done)});
  }
  void TriggerCheckpoint(const std::string& address, proto::TriggerCheckpointRequest request,
                         Done done) override {
    Call c{Call::kTrigger, address, {}, {}, std::move(done)};
    c.trigger = std::move(request);
    calls.push_back(std::move(c));
  }
  void NotifyCheckpoint(const std::string& address, proto::NotifyCheckpointRequest request,
                        NotifyDone done) override {
    // Completed OK, the worker says that the subtasks in confirms[address] took it.
    Done status_done = [this, address, done = std::move(done)](absl::Status s) mutable {
      if (!s.ok()) {
        done(s);
        return;
      }
      proto::NotifyCheckpointResponse r;
      for (const auto& [t, st] : confirms[address]) {
        proto::SubtaskRef* ref = r.add_subtasks();
        ref->set_task(t);
        ref->set_subtask(st);
      }
      done(std::move(r));
    };
    Call c{Call::kNotify, address, {}, {}, std::move(status_done)};
    c.notify = std::move(request);
    calls.push_back(std::move(c));
  }

  std::vector<const Call*> Calls(Call::Kind kind) const {
    std::vector<const Call*> out;
    for (const Call& c : calls) {
      if (c.kind == kind) out.push_back(&c);
    }
    return out;
  }
  // Completes every pending call of `kind` with `status`, in call order.
  // Returns how many.
  int CompleteAll(Call::Kind kind, const absl::Status& status) {
    int n = 0;
    for (size_t i = 0; i < calls.size(); ++i) {  // completions may add calls
      if (calls[i].kind != kind || calls[i].done == nullptr) continue;
      Done done = std::move(calls[i].done);
      calls[i].done = nullptr;
      done(status);
      ++n;
    }
    return n;
  }
  // Completes the pending deploy to `address`.
  bool CompleteDeploy(const std::string& address, const absl::Status& status) {
    for (size_t i = 0; i < calls.size(); ++i) {
      if (calls[i].kind != Call::kDeploy || calls[i].address != address ||
          calls[i].done == nullptr) {
        continue;
      }
      Done done = std::move(calls[i].done);
      calls[i].done = nullptr;
      done(status);
      return true;
    }
    return false;
  }

  std::vector<Call> calls;
  // Per worker address: the (task, subtask) pairs that confirm a notification.
  std::map<std::string, std::vector<std::pair<int, int>>> confirms;
};

}  // namespace sluice
