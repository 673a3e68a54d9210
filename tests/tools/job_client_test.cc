#include "tools/job_client.h"

#include <sstream>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

proto::JobStatus Status() {
  proto::JobStatus st;
  st.set_job_id("abc");
  st.set_name("demo");
  st.set_state(proto::RUNNING);
  st.add_operator_ids("src");
  st.add_operator_ids("slow");
  st.set_bottleneck("slow subtask 0 (busy 990 ms/s), under backpressured src");
  auto add = [&](int task, const std::string& op, const std::string& worker, double busy,
                 double bp) {
    auto* s = st.add_subtasks();
    s->set_task(task);
    s->set_subtask(0);
    s->set_worker_id(worker);
    s->set_state(proto::TASK_RUNNING);
    s->mutable_load()->set_busy_ms_per_s(busy);
    s->mutable_load()->set_backpressured_ms_per_s(bp);
    s->set_backpressured(bp >= 500);
    auto* m = s->add_operators();
    m->set_operator_id(op);
    m->set_records_in(1000);
    m->set_records_out(1000);
  };
  add(0, "src", "worker-1", 60, 930.4);
  add(1, "slow", "worker-2", 990, 0);
  return st;
}

std::vector<std::string> Lines(const proto::JobStatus& st) {
  std::ostringstream out;
  PrintJobStatus(st, out);
  return absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
}

std::vector<std::string> Columns(const std::string& line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

TEST(JobClientTest, StatusShowsLoadBackpressureAndBottleneck) {
  std::vector<std::string> lines = Lines(Status());
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], "job abc (demo): RUNNING");
  EXPECT_EQ(lines[1], "  bottleneck: slow subtask 0 (busy 990 ms/s), under backpressured src");
  EXPECT_EQ(Columns(lines[2]),
            (std::vector<std::string>{"operator", "subtask", "worker", "state", "records_in",
                                      "records_out", "dead_letter", "on_time", "updated", "late",
                                      "busy", "bp"}));
  EXPECT_EQ(Columns(lines[3]),
            (std::vector<std::string>{"src", "0", "worker-1", "RUNNING", "1000", "1000", "0", "0",
                                      "0", "0", "60", "930", "backpressured"}));
  EXPECT_EQ(Columns(lines[4]), (std::vector<std::string>{"slow", "0", "worker-2", "RUNNING", "1000",
                                                         "1000", "0", "0", "0", "0", "990", "0"}));
  EXPECT_NE(lines.back().find("backpressured from 500"), std::string::npos);
}

TEST(JobClientTest, EndedSubtasksShowNoLoad) {
  proto::JobStatus st = Status();
  st.set_state(proto::FINISHED);
  st.clear_bottleneck();
  for (auto& s : *st.mutable_subtasks()) {
    s.set_state(proto::TASK_FINISHED);
    s.set_backpressured(false);
  }
  std::vector<std::string> lines = Lines(st);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "job abc (demo): FINISHED");
  EXPECT_EQ(Columns(lines[2])[2], "worker-1");
  EXPECT_EQ(Columns(lines[2]).back(), "-");
  EXPECT_EQ(Columns(lines[2]).size(), 12u);
}

}  // namespace
}  // namespace sluice
