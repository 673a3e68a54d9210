// The `sluice` command line. The only translation unit that includes CLI11.

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

#include "CLI/CLI.hpp"
#include "tools/commands.h"

namespace {

// HOST:PORT with a port from `min_port` to 65535.
CLI::Validator HostPort(int min_port) {
  return CLI::Validator(
      [min_port](std::string& s) -> std::string {
        const size_t colon = s.rfind(':');
        if (colon == std::string::npos || colon == 0) return "expected HOST:PORT, got '" + s + "'";
        const char* begin = s.data() + colon + 1;
        const char* end = s.data() + s.size();
        int port = -1;
        auto [rest, ec] = std::from_chars(begin, end, port);
        if (ec != std::errc() || rest != end || port < min_port || port > 65535) {
          return "the port of '" + s + "' must be a number from " + std::to_string(min_port) +
                 " to 65535";
        }
        return "";
      },
      "HOST:PORT");
}

// A number of seconds from `min` (written as `min_text`) to a year.
CLI::Validator Seconds(double min, const std::string& min_text) {
  return CLI::Validator(
      [min, min_text](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        const bool ok = !s.empty() && end == s.c_str() + s.size() && std::isfinite(v) && v >= min &&
                        v <= 366 * 86400.0;
        if (ok) return "";
        return "'" + s + "' must be a number of seconds from " + min_text + " to 31622400 (a year)";
      },
      "SECONDS");
}

const CLI::Range kPort(0, 65535);
const CLI::Range kCount(1, 1024);

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sluice: a distributed, checkpointing dataflow engine for event streams"};
  app.require_subcommand(1);

  sluice::RunArgs run;
  auto* run_cmd = app.add_subcommand(
      "run", "Run a job in embedded mode (coordinator and workers in this process)");
  run_cmd->add_option("job", run.job_file, "Job file (YAML)")->required();
  run_cmd->add_option("--workers", run.workers, "Number of in-process workers")
      ->capture_default_str()
      ->check(kCount);
  run_cmd->add_option("--slots", run.slots, "Task slots per worker (default: enough for the job)")
      ->check(kCount);
  run_cmd
      ->add_option("--metrics-port", run.metrics_port,
                   "Serve Prometheus metrics on this port (0: any free port)")
      ->check(kPort);

  sluice::CoordinatorArgs coord;
  auto* coord_cmd = app.add_subcommand("coordinator", "Run the coordinator (control plane)");
  coord_cmd->add_option("--listen", coord.listen, "HOST:PORT to serve on (port 0 picks one)")
      ->capture_default_str()
      ->check(HostPort(0));
  coord_cmd
      ->add_option("--metrics-port", coord.metrics_port,
                   "Serve Prometheus metrics on this port (0: any free port)")
      ->check(kPort);
  coord_cmd
      ->add_option("--heartbeat-timeout", coord.heartbeat_timeout_s,
                   "Seconds without heartbeat before a worker is declared lost")
      ->capture_default_str()
      // Workers heartbeat every 0.5 s: less than twice that loses them all.
      ->check(Seconds(1, "1"));
  coord_cmd
      ->add_option("--slot-wait", coord.slot_wait_s,
                   "Seconds a job may wait for free task slots before it fails")
      ->capture_default_str()
      ->check(Seconds(0, "0"));
  coord_cmd->add_option("--checkpoint-store", coord.checkpoint_store,
                        "Checkpoint store (file:///dir or s3://bucket/prefix) of jobs whose file "
                        "names none (default: file://<temp dir>/sluice-checkpoints)");
  coord_cmd->add_option("--ha-store", coord.ha_store,
                        "Keep the job table in this store (file:///dir or s3://bucket/prefix); a "
                        "coordinator restarted with the same store takes over its running jobs");
  coord_cmd->add_option("--s3-endpoint", coord.s3_endpoint,
                        "S3 endpoint of an s3:// HA store, e.g. http://127.0.0.1:9000 (credentials "
                        "from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)");
  coord_cmd->add_option("--s3-region", coord.s3_region, "S3 region of an s3:// HA store")
      ->capture_default_str();

  sluice::WorkerArgs worker;
  auto* worker_cmd = app.add_subcommand("worker", "Run a worker that executes tasks");
  worker_cmd->add_option("--coordinator", worker.coordinator, "Coordinator HOST:PORT")
      ->capture_default_str()
      ->check(HostPort(1));
  worker_cmd->add_option("--listen", worker.listen, "HOST:PORT to serve on (port 0 picks one)")
      ->capture_default_str()
      ->check(HostPort(0));
  worker_cmd
      ->add_option(
          "--advertise", worker.advertise,
          "HOST:PORT other processes use to reach this worker (default: the listen address)")
      ->check(HostPort(1));
  worker_cmd->add_option("--slots", worker.slots, "Task slots offered")
      ->capture_default_str()
      ->check(kCount);
  worker_cmd
      ->add_option("--metrics-port", worker.metrics_port,
                   "Serve Prometheus metrics on this port (0: any free port)")
      ->check(kPort);
  worker_cmd
      ->add_option("--orphan-timeout", worker.orphan_timeout_s,
                   "Seconds without an answer from the coordinator after which the worker "
                   "cancels its tasks (it keeps retrying, and registers again when the "
                   "coordinator returns)")
      ->capture_default_str()
      ->check(Seconds(1, "1"));

  sluice::ClientArgs submit;
  auto* submit_cmd = app.add_subcommand("submit", "Submit a job; prints its id as the last line");
  submit_cmd->add_option("job", submit.job_file, "Job file (YAML)")->required();
  submit_cmd->add_option("--coordinator", submit.coordinator, "Coordinator HOST:PORT")
      ->capture_default_str()
      ->check(HostPort(1));
  submit_cmd->add_flag("--wait", submit.wait,
                       "Block until the job ends; exit 0 only if it FINISHED");
  submit_cmd->add_option("--restore", submit.restore,
                         "Start from a savepoint name, a checkpoint (JOB_ID:N, or N) or the URI "
                         "of a _metadata in the job's checkpoint store");

  sluice::ClientArgs jobs;
  auto* jobs_cmd = app.add_subcommand("jobs", "List jobs");
  jobs_cmd->add_option("--coordinator", jobs.coordinator, "Coordinator HOST:PORT")
      ->capture_default_str()
      ->check(HostPort(1));

  sluice::ClientArgs status;
  auto* status_cmd = app.add_subcommand("status", "Show a job's state and per-operator counts");
  status_cmd->add_option("job_id", status.job_id, "Job id")->required();
  status_cmd->add_option("--coordinator", status.coordinator, "Coordinator HOST:PORT")
      ->capture_default_str()
      ->check(HostPort(1));

  sluice::ClientArgs cancel;
  auto* cancel_cmd = app.add_subcommand("cancel", "Cancel a job");
  cancel_cmd->add_option("job_id", cancel.job_id, "Job id")->required();
  cancel_cmd->add_option("--coordinator", cancel.coordinator, "Coordinator HOST:PORT")
      ->capture_default_str()
      ->check(HostPort(1));

  sluice::ClientArgs savepoint;
  auto* savepoint_cmd =
      app.add_subcommand("savepoint", "Take a named, self-contained savepoint of a running job");
  savepoint_cmd->add_option("job_id", savepoint.job_id, "Job id")->required();
  savepoint_cmd->add_option("--name", savepoint.savepoint_name, "Savepoint name")->required();
  savepoint_cmd->add_flag("--cancel", savepoint.cancel,
                          "Cancel the job once the savepoint is taken");
  savepoint_cmd->add_option("--coordinator", savepoint.coordinator, "Coordinator HOST:PORT")
      ->capture_default_str()
      ->check(HostPort(1));

  sluice::ClientArgs checkpoints;
  auto* checkpoints_cmd =
      app.add_subcommand("checkpoints", "List a job's retained checkpoints and its savepoints");
  checkpoints_cmd->add_option("job_id", checkpoints.job_id, "Job id")->required();
  checkpoints_cmd->add_option("--coordinator", checkpoints.coordinator, "Coordinator HOST:PORT")
      ->capture_default_str()
      ->check(HostPort(1));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (*run_cmd) return sluice::RunEmbedded(run);
  if (*coord_cmd) return sluice::RunCoordinatorProcess(coord);
  if (*worker_cmd) return sluice::RunWorkerProcess(worker);
  if (*submit_cmd) return sluice::SubmitCommand(submit);
  if (*jobs_cmd) return sluice::JobsCommand(jobs);
  if (*status_cmd) return sluice::StatusCommand(status);
  if (*cancel_cmd) return sluice::CancelCommand(cancel);
  if (*savepoint_cmd) return sluice::SavepointCommand(savepoint);
  if (*checkpoints_cmd) return sluice::CheckpointsCommand(checkpoints);
  return 2;
}
