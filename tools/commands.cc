#include "tools/commands.h"

#include <csignal>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "catalog/catalog.h"
#include "common/grpc_util.h"
#include "common/metrics.h"
#include "coordinator/coordinator.h"
#include "job/builtin_kinds.h"
#include "job/job_file.h"
#include "tools/embedded_cluster.h"
#include "tools/job_client.h"
#include "worker/worker.h"

namespace sluice {
namespace {

volatile bool g_interrupted = false;

void OnInterrupt(int) { g_interrupted = true; }

// Blocks SIGINT/SIGTERM in every thread created afterwards and returns the
// set, so the main thread can sigwait for a clean shutdown.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

// Serves metrics when `port` >= 0 (0: any free port).
std::unique_ptr<prometheus::Exposer> MaybeServeMetrics(int port, int* exit_code) {
  if (port < 0) return nullptr;
  auto exposer = StartMetricsServer(port);
  if (!exposer.ok()) {
    std::cerr << "sluice: " << exposer.status().message() << "\n";
    *exit_code = 3;
    return nullptr;
  }
  return std::move(*exposer);
}

// "; metrics on port N" for the startup line, or "" when metrics are off.
std::string MetricsNote(const prometheus::Exposer* exposer) {
  if (exposer == nullptr) return "";
  auto ports = exposer->GetListeningPorts();
  return ports.empty() ? "" : absl::StrCat("; metrics on port ", ports[0]);
}

int ExitCodeFor(const absl::Status& s) {
  if (absl::IsInvalidArgument(s) || absl::IsNotFound(s)) return 2;
  if (absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) return 3;
  return 1;
}

// Prints a client-side failure; an unreachable coordinator is named as such.
int ReportClientError(const absl::Status& s, const std::string& coordinator) {
  if (absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) {
    std::cerr << "sluice: cannot reach the coordinator at " << coordinator
              << " (retried until the deadline): " << s.message() << "\n";
  } else {
    std::cerr << "sluice: " << s.message() << "\n";
  }
  return ExitCodeFor(s);
}

std::unique_ptr<proto::CoordinatorService::Stub> Connect(const std::string& address) {
  return proto::CoordinatorService::NewStub(ChannelTo(address));
}

// Calls `method` with a deadline, waiting for a coordinator that is still
// starting rather than failing at once.
template <typename Request, typename Response>
absl::Status CallCoordinator(proto::CoordinatorService::Stub& stub,
                             grpc::Status (proto::CoordinatorService::Stub::*method)(
                                 grpc::ClientContext*, const Request&, Response*),
                             const Request& req, Response* resp, int64_t deadline_ms,
                             const char* what) {
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, deadline_ms);
  ctx.set_wait_for_ready(true);
  return FromGrpcStatus((stub.*method)(&ctx, req, resp), what);
}

void PrintSinkOutputs(const proto::JobGraph& graph, const proto::JobStatus& status) {
  for (const auto& op : graph.operators()) {
    const OperatorKind* kind = BuiltinCatalog().Find(op.type());
    const std::optional<OutputFiles> files =
        kind == nullptr ? std::nullopt : kind->Outputs(op, status.job_id());
    if (!files.has_value()) continue;
    int64_t records = 0;
    for (const auto& st : status.subtasks()) {
      for (const auto& m : st.operators()) {
        if (m.operator_id() == op.id()) records += m.records_in();
      }
    }
    int mine = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(files->dir, ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
      mine += it->is_regular_file(ec) && it->path().filename().string().starts_with(files->prefix);
    }
    std::cout << "output of '" << op.id() << "': " << records << " records in " << mine
              << " part file(s) under " << files->dir << "/" << files->pattern << "\n";
  }
}

// Says where the side outputs no operator reads go (or that they are
// dropped), so that no record vanishes unannounced.
void PrintSideOutputs(const proto::JobGraph& graph, std::ostream& out) {
  if (graph.side_outputs().discard()) {
    out << "sluice: side outputs no operator reads are discarded (counted, not kept)\n";
    return;
  }
  for (const auto& op : graph.operators()) {
    if (!op.implicit()) continue;
    const OperatorKind* kind = BuiltinCatalog().Find(op.type());
    for (const PathUse& use : kind == nullptr ? std::vector<PathUse>{} : kind->Paths(op)) {
      out << "sluice: " << op.input() << " is read by no operator; its records go to " << use.path
          << "/\n";
    }
  }
}

}  // namespace

int RunEmbedded(const RunArgs& args) {
  auto graph = LoadJobFile(args.job_file);
  if (!graph.ok()) {
    std::cerr << "sluice: " << graph.status().message() << "\n";
    return 2;
  }
  int needed = 1;
  for (const auto& op : graph->operators()) needed = std::max(needed, op.parallelism());
  const int workers = std::max(1, args.workers);
  const int slots = args.slots > 0 ? args.slots : (needed + workers - 1) / workers;
  if (workers * slots < needed) {
    std::cerr << "sluice: the job needs " << needed << " task slots; --workers " << workers
              << " --slots " << slots << " gives " << workers * slots << "\n";
    return 2;
  }
  int code = 0;
  auto exposer = MaybeServeMetrics(args.metrics_port, &code);
  if (code != 0) return code;
  if (exposer != nullptr)
    std::cout << "sluice run" << MetricsNote(exposer.get()).substr(1) << std::endl;
  auto cluster = EmbeddedCluster::Start(workers, slots);
  if (!cluster.ok()) {
    std::cerr << "sluice: cannot start embedded cluster: " << cluster.status().message() << "\n";
    return 1;
  }
  auto job_id = SubmitJob((*cluster)->coordinator(), *graph);
  if (!job_id.ok()) {
    std::cerr << "sluice: " << job_id.status().message() << "\n";
    return ExitCodeFor(job_id.status());
  }
  PrintSideOutputs(*graph, std::cout);
  std::signal(SIGINT, OnInterrupt);
  std::signal(SIGTERM, OnInterrupt);
  auto status = WaitForJob((*cluster)->coordinator(), *job_id, &g_interrupted);
  if (!status.ok()) {
    std::cerr << "sluice: " << status.status().message() << "\n";
    return 1;
  }
  PrintJobStatus(*status, std::cout);
  if (status->state() != proto::FINISHED) {
    std::cerr << "sluice: job " << proto::JobState_Name(status->state())
              << (status->failure().empty() ? "" : absl::StrCat(": ", status->failure())) << "\n";
    return g_interrupted ? 130 : 1;
  }
  PrintSinkOutputs(*graph, *status);
  return 0;
}

int RunCoordinatorProcess(const CoordinatorArgs& args) {
  sigset_t signals = BlockShutdownSignals();
  int code = 0;
  auto exposer = MaybeServeMetrics(args.metrics_port, &code);
  if (code != 0) return code;
  CoordinatorOptions opts;
  opts.listen_address = args.listen;
  opts.heartbeat_timeout_ms = static_cast<int64_t>(args.heartbeat_timeout_s * 1000);
  opts.slot_wait_ms = static_cast<int64_t>(args.slot_wait_s * 1000);
  opts.checkpoint_store = args.checkpoint_store;
  opts.ha_store = args.ha_store;
  opts.ha_s3.set_endpoint(args.s3_endpoint);
  opts.ha_s3.set_region(args.s3_region);
  opts.ha_s3.set_path_style(!args.s3_endpoint.empty());
  Coordinator coordinator(opts);
  absl::Status s = coordinator.Start();
  if (!s.ok()) {
    std::cerr << "sluice coordinator: " << s.message() << "\n";
    return 3;
  }
  std::cout << "sluice coordinator listening on " << coordinator.address()
            << MetricsNote(exposer.get()) << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  coordinator.Stop();
  return 0;
}

int RunWorkerProcess(const WorkerArgs& args) {
  sigset_t signals = BlockShutdownSignals();
  int code = 0;
  auto exposer = MaybeServeMetrics(args.metrics_port, &code);
  if (code != 0) return code;
  WorkerOptions opts;
  opts.coordinator_address = args.coordinator;
  opts.listen_address = args.listen;
  opts.advertise_address = args.advertise;
  opts.slots = args.slots;
  opts.orphan_timeout_ms = static_cast<int64_t>(args.orphan_timeout_s * 1000);
  Worker worker(opts);
  absl::Status s = worker.Start();
  if (!s.ok()) {
    std::cerr << "sluice worker: " << s.message() << "\n";
    return 3;
  }
  std::cout << "sluice worker " << worker.worker_id() << " listening on " << worker.address()
            << MetricsNote(exposer.get()) << std::endl;
  int sig = 0;
  sigwait(&signals, &sig);
  worker.Stop();
  return 0;
}

int SubmitCommand(const ClientArgs& args) {
  auto graph = LoadJobFile(args.job_file);
  if (!graph.ok()) {
    std::cerr << "sluice: " << graph.status().message() << "\n";
    return 2;
  }
  auto stub = Connect(args.coordinator);
  auto job_id = SubmitJob(*stub, *graph, args.restore);
  if (!job_id.ok()) return ReportClientError(job_id.status(), args.coordinator);
  PrintSideOutputs(*graph, std::cerr);
  if (!args.wait) {
    std::cout << *job_id << std::endl;
    return 0;
  }
  std::signal(SIGINT, OnInterrupt);
  auto status = WaitForJob(*stub, *job_id, &g_interrupted);
  if (!status.ok()) {
    if (absl::IsUnavailable(status.status())) {
      std::cerr << "sluice: lost the coordinator at " << args.coordinator << ": "
                << status.status().message() << "\n";
    } else {
      std::cerr << "sluice: " << status.status().message() << "\n";
    }
    std::cout << *job_id << std::endl;
    return 3;
  }
  PrintJobStatus(*status, std::cerr);
  std::cout << *job_id << std::endl;
  return status->state() == proto::FINISHED ? 0 : 1;
}

int JobsCommand(const ClientArgs& args) {
  auto stub = Connect(args.coordinator);
  proto::ListJobsRequest req;
  proto::ListJobsResponse resp;
  absl::Status s = CallCoordinator(*stub, &proto::CoordinatorService::Stub::ListJobs, req, &resp,
                                   10'000, "jobs");
  if (!s.ok()) return ReportClientError(s, args.coordinator);
  for (const auto& j : resp.jobs()) {
    std::cout << j.job_id() << "  " << proto::JobState_Name(j.state()) << "  " << j.name()
              << (j.failure().empty() ? "" : absl::StrCat("  (", j.failure(), ")")) << "\n";
  }
  return 0;
}

int StatusCommand(const ClientArgs& args) {
  auto stub = Connect(args.coordinator);
  auto status = DescribeJob(*stub, args.job_id);
  if (!status.ok()) return ReportClientError(status.status(), args.coordinator);
  PrintJobStatus(*status, std::cout);
  return 0;
}

int CancelCommand(const ClientArgs& args) {
  auto stub = Connect(args.coordinator);
  proto::CancelJobRequest req;
  req.set_job_id(args.job_id);
  proto::CancelJobResponse resp;
  absl::Status s = CallCoordinator(*stub, &proto::CoordinatorService::Stub::CancelJob, req, &resp,
                                   10'000, "cancel");
  if (absl::IsFailedPrecondition(s)) {  // the job has ended: nothing was canceled
    std::cerr << "sluice: " << s.message() << "\n";
    return 2;
  }
  if (!s.ok()) return ReportClientError(s, args.coordinator);
  std::cout << "canceled " << args.job_id << "\n";
  return 0;
}

int SavepointCommand(const ClientArgs& args) {
  auto stub = Connect(args.coordinator);
  proto::SavepointRequest req;
  req.set_job_id(args.job_id);
  req.set_name(args.savepoint_name);
  req.set_cancel(args.cancel);
  proto::SavepointResponse resp;
  absl::Status s = CallCoordinator(*stub, &proto::CoordinatorService::Stub::TriggerSavepoint, req,
                                   &resp, 600'000, "savepoint");
  if (!s.ok()) return ReportClientError(s, args.coordinator);
  std::cout << "savepoint " << args.savepoint_name << " (checkpoint " << resp.checkpoint_id()
            << ") at " << resp.location() << (args.cancel ? "; job canceled" : "") << "\n";
  return 0;
}

int CheckpointsCommand(const ClientArgs& args) {
  auto stub = Connect(args.coordinator);
  proto::ListCheckpointsRequest req;
  req.set_job_id(args.job_id);
  proto::ListCheckpointsResponse resp;
  absl::Status s = CallCoordinator(*stub, &proto::CoordinatorService::Stub::ListCheckpoints, req,
                                   &resp, 10'000, "checkpoints");
  if (!s.ok()) return ReportClientError(s, args.coordinator);
  std::cout << absl::StrFormat("%-24s %-20s %14s %14s %10s\n", "ID/NAME", "TIME (UTC)",
                               "STATE BYTES", "UPLOADED", "DURATION");
  for (const auto& c : resp.checkpoints()) {
    const std::string id = c.kind() == proto::SAVEPOINT ? absl::StrCat(c.name(), " (savepoint)")
                                                        : absl::StrCat(c.checkpoint_id());
    const std::string time = absl::FormatTime(
        "%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(c.complete_time_ms()), absl::UTCTimeZone());
    std::cout << absl::StrFormat("%-24s %-20s %14d %14d %8d ms\n", id, time, c.state_bytes(),
                                 c.uploaded_bytes(), c.duration_ms());
  }
  if (resp.checkpoints_size() == 0) std::cout << "(none yet)\n";
  return 0;
}

}  // namespace sluice
