#include "worker/operator_chain.h"

#include <cstdio>
#include <filesystem>
#include <map>

#include "absl/strings/str_cat.h"
#include "catalog/catalog.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "job/builtin_kinds.h"
#include "worker/plan_view.h"

namespace sluice {

// The Output of chained operator k: feeds operator k+1 directly, or the
// task's record writers when k is the last in the chain; side outputs go to
// the writers of the edges that read them.
class OperatorChain::Link : public Output {
 public:
  Link(OperatorStats* stats, Operator* next, Link* next_link, OperatorStats* next_stats,
       std::string operator_id)
      : stats_(stats),
        next_(next),
        next_link_(next_link),
        next_stats_(next_stats),
        operator_id_(std::move(operator_id)) {}

  void AddWriter(const std::string& port, RecordWriter* w) { writers_[port].push_back(w); }

  absl::Status Emit(Batch batch) override {
    const int64_t rows = static_cast<int64_t>(batch.num_rows());
    if (rows == 0) return absl::OkStatus();
    stats_->AddOut(rows);
    RETURN_IF_ERROR(ToWriters("", batch, next_ == nullptr));
    if (next_ != nullptr) {
      next_stats_->AddIn(rows);
      return next_->ProcessBatch(std::move(batch), *next_link_);
    }
    return absl::OkStatus();
  }

  absl::Status EmitSide(std::string_view port, Batch batch) override {
    const int64_t rows = static_cast<int64_t>(batch.num_rows());
    if (rows == 0) return absl::OkStatus();
    if (port == kDeadLetterPort) stats_->AddDeadLetter(rows);
    if (port == kLatePort) stats_->AddLate(rows);
    auto it = writers_.find(std::string(port));
    if (it == writers_.end()) {
      ReportUnconsumed(port, batch);
      return absl::OkStatus();
    }
    return ToWriters(std::string(port), batch, true);
  }

  absl::Status EmitWatermark(int64_t watermark) override {
    if (next_ != nullptr) RETURN_IF_ERROR(next_->ProcessWatermark(watermark, *next_link_));
    for (auto& [port, ws] : writers_) {
      for (RecordWriter* w : ws) RETURN_IF_ERROR(w->WriteWatermark(watermark));
    }
    return absl::OkStatus();
  }

 private:
  // Sends `batch` to the writers of `port`; the last one may take it.
  absl::Status ToWriters(const std::string& port, Batch& batch, bool may_move) {
    auto it = writers_.find(port);
    if (it == writers_.end()) return absl::OkStatus();
    auto& ws = it->second;
    for (size_t i = 0; i < ws.size(); ++i) {
      bool last = i + 1 == ws.size();
      RETURN_IF_ERROR(ws[i]->Write(last && may_move ? std::move(batch) : Batch(batch)));
    }
    return absl::OkStatus();
  }

  // No operator reads this side output: the records are counted (metrics,
  // status) and the first few are logged so they are visible, not lost.
  void ReportUnconsumed(std::string_view port, const Batch& batch) {
    for (size_t r = 0; r < batch.num_rows() && logged_ < 10; ++r, ++logged_) {
      if (port == kDeadLetterPort) {
        // A source's names its file and line; another operator's, the record.
        const std::string where = batch.column(1).IsNull(r)
                                      ? std::string(batch.column(4).StringAt(r))
                                      : absl::StrCat(std::string(batch.column(1).StringAt(r)), ":",
                                                     batch.column(2).ints[r]);
        std::fprintf(stderr, "sluice: %s: dead letter %s: %s\n", operator_id_.c_str(),
                     where.c_str(), std::string(batch.column(3).StringAt(r)).c_str());
      } else {
        std::fprintf(stderr, "sluice: %s: late record with event time %lld\n", operator_id_.c_str(),
                     static_cast<long long>(batch.event_time()[r]));
      }
    }
  }

  OperatorStats* stats_;
  Operator* next_;
  Link* next_link_;
  OperatorStats* next_stats_;
  std::map<std::string, std::vector<RecordWriter*>> writers_;
  std::string operator_id_;
  int logged_ = 0;
};

OperatorChain::~OperatorChain() = default;

absl::StatusOr<std::unique_ptr<OperatorChain>> OperatorChain::Create(
    const proto::ExecutionPlan& plan, int task, const OperatorContext& base,
    const std::vector<std::unique_ptr<OperatorStats>>& stats,
    const std::map<std::string, OperatorRestore>& restores) {
  PlanView view(plan);
  const proto::TaskSpec& spec = plan.tasks(task);
  const int n = spec.operator_ids_size();
  std::vector<const proto::OperatorSpec*> specs;
  for (const auto& id : spec.operator_ids()) {
    ASSIGN_OR_RETURN(const proto::OperatorSpec* op, view.Operator(id));
    specs.push_back(op);
  }
  std::unique_ptr<OperatorChain> chain(new OperatorChain);
  chain->ops_.resize(n);
  for (int k = 0; k < n; ++k) {
    OperatorContext ctx = base;
    ctx.spec = specs[k];
    ctx.counters = stats[k].get();
    if (k == 0) chain->head_ctx_ = ctx;
    ASSIGN_OR_RETURN(const OperatorKind* kind, BuiltinCatalog().KindOf(*specs[k]));
    if (k == 0 && kind->traits().source) {
      ASSIGN_OR_RETURN(chain->source_, kind->CreateSource(*specs[0]));
      continue;
    }
    ASSIGN_OR_RETURN(chain->ops_[k], kind->CreateOperator(*specs[k]));
    if (!base.state_dir.empty()) {
      ctx.state_dir = absl::StrCat(base.state_dir, "/", specs[k]->id());
      std::error_code ec;
      std::filesystem::create_directories(ctx.state_dir, ec);
      if (ec) {
        return absl::InternalError(
            absl::StrCat("cannot create state directory ", ctx.state_dir, ": ", ec.message()));
      }
    }
    auto restore = restores.find(specs[k]->id());
    ctx.restore = restore == restores.end() ? nullptr : &restore->second;
    RETURN_IF_ERROR(chain->ops_[k]->Open(ctx));
  }
  // Links are built back to front so each knows the next.
  chain->links_.resize(n);
  for (int k = n - 1; k >= 0; --k) {
    const bool last = k == n - 1;
    chain->links_[k] =
        std::make_unique<Link>(stats[k].get(), last ? nullptr : chain->ops_[k + 1].get(),
                               last ? nullptr : chain->links_[k + 1].get(),
                               last ? nullptr : stats[k + 1].get(), specs[k]->id());
  }
  chain->ids_ = std::vector<std::string>(spec.operator_ids().begin(), spec.operator_ids().end());
  return chain;
}

void OperatorChain::AddWriter(const std::string& from_operator, const std::string& port,
                              RecordWriter* writer) {
  for (size_t k = 0; k < ids_.size(); ++k) {
    if (ids_[k] == from_operator) links_[k]->AddWriter(port, writer);
  }
}

Output& OperatorChain::head_output() { return *links_[0]; }

absl::Status OperatorChain::ProcessBatch(Batch batch) {
  return ops_[0]->ProcessBatch(std::move(batch), *links_[0]);
}

absl::Status OperatorChain::ProcessWatermark(int64_t watermark) {
  return ops_[0]->ProcessWatermark(watermark, *links_[0]);
}

absl::StatusOr<bool> OperatorChain::FinishStep() {
  while (finished_ < ops_.size()) {
    if (HasPending()) return false;
    const size_t k = finished_++;
    if (ops_[k] != nullptr) RETURN_IF_ERROR(ops_[k]->Finish(*links_[k]));
  }
  return !HasPending();
}

absl::Status OperatorChain::Snapshot(int64_t id, const std::string& dir,
                                     std::vector<LocalSnapshot::Operator>* out) {
  for (size_t k = 0; k < ops_.size(); ++k) {
    LocalSnapshot::Operator& o = out->emplace_back();
    o.operator_id = ids_[k];
    if (ops_[k] == nullptr) continue;  // a source: its position is the task's to take
    const std::string keyed_dir = absl::StrCat(dir, "/", ids_[k]);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    ASSIGN_OR_RETURN(OperatorSnapshot s, ops_[k]->Snapshot(id, keyed_dir));
    o.small_state = std::move(s.small_state);
    if (s.has_keyed_files) {
      o.keyed_dir = keyed_dir;
      o.complete_files = std::move(s.complete_files);
    }
  }
  return absl::OkStatus();
}

absl::Status OperatorChain::NotifyCheckpointComplete(int64_t id) {
  absl::Status first;
  for (auto& op : ops_) {
    if (op != nullptr) first.Update(op->NotifyCheckpointComplete(id));
  }
  return first;
}

bool OperatorChain::HasPending() const {
  for (const auto& op : ops_) {
    if (op != nullptr && op->HasPending()) return true;
  }
  return false;
}

// The most downstream pending operator goes first, so that what an
// upstream one lets go does not pile up in the queue of a later one.
int64_t OperatorChain::PendingDueMs() const {
  for (size_t k = ops_.size(); k-- > 0;) {
    if (ops_[k] != nullptr && ops_[k]->HasPending()) return ops_[k]->PendingDueMs();
  }
  return 0;
}

absl::Status OperatorChain::ContinuePending() {
  for (size_t k = ops_.size(); k-- > 0;) {
    if (ops_[k] != nullptr && ops_[k]->HasPending()) return ops_[k]->ContinuePending(*links_[k]);
  }
  return absl::OkStatus();
}

}  // namespace sluice
