#pragma once

// The `sluice` subcommands, without the argument parsing (main.cc owns
// CLI11). Each returns the process exit code: 0 success, 1 job or runtime
// failure, 2 bad input (job file, arguments), 3 unreachable server.

#include <string>

namespace sluice {

struct RunArgs {
  std::string job_file;
  int workers = 1;
  int slots = 0;          // 0: as many as the job needs
  int metrics_port = -1;  // -1: off; 0: any free port
};
int RunEmbedded(const RunArgs& args);

struct CoordinatorArgs {
  std::string listen = "127.0.0.1:7700";
  int metrics_port = -1;  // -1: off; 0: any free port
  double heartbeat_timeout_s = 5;
  double slot_wait_s = 60;
  std::string checkpoint_store;  // default store of jobs that name none
  std::string ha_store;          // where the job table survives restarts
  std::string s3_endpoint;       // for an s3:// HA store
  std::string s3_region = "us-east-1";
};
int RunCoordinatorProcess(const CoordinatorArgs& args);

struct WorkerArgs {
  std::string coordinator = "127.0.0.1:7700";
  std::string listen = "127.0.0.1:0";
  std::string advertise;
  int slots = 1;
  int metrics_port = -1;  // -1: off; 0: any free port
  double orphan_timeout_s = 30;
};
int RunWorkerProcess(const WorkerArgs& args);

struct ClientArgs {
  std::string coordinator = "127.0.0.1:7700";
  std::string job_file;
  std::string job_id;
  bool wait = false;
  std::string restore;         // submit --restore
  std::string savepoint_name;  // savepoint --name
  bool cancel = false;         // savepoint --cancel
};
int SubmitCommand(const ClientArgs& args);
int JobsCommand(const ClientArgs& args);
int StatusCommand(const ClientArgs& args);
int CancelCommand(const ClientArgs& args);
int SavepointCommand(const ClientArgs& args);
int CheckpointsCommand(const ClientArgs& args);

}  // namespace sluice
