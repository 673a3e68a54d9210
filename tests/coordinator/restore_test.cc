#include "coordinator/restore.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "coordinator/plan_builder.h"
#include "gtest/gtest.h"
#include "job/job_file.h"
#include "store/memory_object_store.h"

namespace sluice {
namespace {

constexpr char kJob[] = R"(name: j
parallelism: 2
operators:
  - {id: src, type: generator, count: 10}
  - {id: w, type: window, input: src, key_by: device_id, window: {size: 1m}, aggregates: {n: count()}}
  - {id: out, type: blackhole_sink, input: w}
)";

proto::ExecutionPlan Plan(const std::string& yaml = kJob) {
  auto graph = ParseJobYaml(yaml, "job.yaml", "");
  EXPECT_TRUE(graph.ok()) << graph.status();
  auto plan = BuildPlan(*graph, "job-1");
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *plan;
}

// A complete snapshot of Plan(): both subtasks of both tasks.
proto::CheckpointMetadata Snapshot(const std::string& job, int64_t id) {
  proto::CheckpointMetadata m;
  m.set_job_id(job);
  m.set_checkpoint_id(id);
  *m.mutable_graph() = Plan().graph();
  for (int t = 0; t < 2; ++t) {
    for (int s = 0; s < 2; ++s) {
      auto* st = m.add_subtasks();
      st->set_task(t);
      st->set_subtask(s);
      st->add_operators()->set_operator_id(t == 0 ? "src" : "w");
    }
  }
  return m;
}

class RestoreTest : public ::testing::Test {
 protected:
  void Put(const std::string& key, proto::CheckpointMetadata m) {
    ASSERT_TRUE(store_.Put(key, m.SerializeAsString()).ok());
  }
  MemoryObjectStore store_;
};

TEST_F(RestoreTest, FindsSavepointsCheckpointsAndUris) {
  proto::CheckpointMetadata sp = Snapshot("old", 4);
  sp.set_kind(proto::SAVEPOINT);
  sp.set_name("v1");
  Put("savepoints/v1/_metadata", sp);
  Put("old/chk-3/_metadata", Snapshot("old", 3));
  Put("other/chk-9/_metadata", Snapshot("other", 9));

  auto by_name = ResolveRestore(store_, "v1");
  ASSERT_TRUE(by_name.ok()) << by_name.status();
  EXPECT_EQ(by_name->name(), "v1");
  EXPECT_EQ(by_name->location(), absl::StrCat(store_.uri(), "/savepoints/v1/_metadata"));
  auto by_id = ResolveRestore(store_, "old:3");
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->checkpoint_id(), 3);
  auto by_number = ResolveRestore(store_, "9");
  ASSERT_TRUE(by_number.ok()) << by_number.status();
  EXPECT_EQ(by_number->job_id(), "other");
  auto by_uri = ResolveRestore(store_, absl::StrCat(store_.uri(), "/old/chk-3"));
  ASSERT_TRUE(by_uri.ok()) << by_uri.status();
  EXPECT_EQ(by_uri->checkpoint_id(), 3);
}

TEST_F(RestoreTest, AnUnknownNameListsWhatExists) {
  proto::CheckpointMetadata sp = Snapshot("old", 4);
  Put("savepoints/v1/_metadata", sp);
  Put("old/chk-3/_metadata", Snapshot("old", 3));
  ASSERT_TRUE(store_.Put("old/chk-4/w-0/MANIFEST", "x").ok());  // incomplete: not listed
  auto r = ResolveRestore(store_, "v2");
  ASSERT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("'v2'"), std::string::npos);
  EXPECT_NE(r.status().message().find("Savepoints: v1"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("Checkpoints: old:3"), std::string::npos) << r.status();
  EXPECT_EQ(r.status().message().find("old:4"), std::string::npos) << r.status();
}

TEST_F(RestoreTest, AnAmbiguousNumberAsksForTheJob) {
  Put("a/chk-2/_metadata", Snapshot("a", 2));
  Put("b/chk-2/_metadata", Snapshot("b", 2));
  auto r = ResolveRestore(store_, "2");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("a:2, b:2"), std::string::npos) << r.status();
}

TEST_F(RestoreTest, ASnapshotMustFitTheJobGraph) {
  EXPECT_TRUE(CheckRestoreFits(Plan(), Snapshot("old", 1)).ok());
  proto::CheckpointMetadata fewer = Snapshot("old", 1);
  fewer.mutable_subtasks()->RemoveLast();
  EXPECT_NE(CheckRestoreFits(Plan(), fewer).message().find("another parallelism"),
            std::string::npos);
  proto::CheckpointMetadata renamed = Snapshot("old", 1);
  renamed.mutable_subtasks(3)->mutable_operators(0)->set_operator_id("window");
  EXPECT_NE(CheckRestoreFits(Plan(), renamed).message().find("operator 'window'"),
            std::string::npos);
}

TEST_F(RestoreTest, FindCheckpointsReturnsCompleteOnesAndTheHighestIdSeen) {
  Put("job-1/chk-2/_metadata", Snapshot("job-1", 2));
  Put("job-1/chk-3/_metadata", Snapshot("job-1", 3));
  ASSERT_TRUE(store_.Put("job-1/chk-5/w-0/MANIFEST", "x").ok());
  Put("job-10/chk-7/_metadata", Snapshot("job-10", 7));  // another job with a longer id
  auto found = FindCheckpoints(store_, "job-1");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->completed.size(), 2u);
  EXPECT_EQ(found->completed[0].checkpoint_id(), 2);
  EXPECT_EQ(found->completed[1].checkpoint_id(), 3);
  EXPECT_EQ(found->max_seen_id, 5);
}

TEST_F(RestoreTest, FindCheckpointsLeavesOutATornMetadataAndSaysWhy) {
  Put("job-1/chk-2/_metadata", Snapshot("job-1", 2));
  ASSERT_TRUE(store_.Put("job-1/chk-3/_metadata", "\x0a\xff\xff").ok());  // cut mid-field
  auto found = FindCheckpoints(store_, "job-1");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->completed.size(), 1u);
  EXPECT_EQ(found->completed[0].checkpoint_id(), 2);
  EXPECT_EQ(found->max_seen_id, 3);  // a new checkpoint never reuses its id
  ASSERT_EQ(found->unreadable.size(), 1u);
  EXPECT_NE(found->unreadable[0].find("job-1/chk-3/_metadata is not checkpoint metadata"),
            std::string::npos)
      << found->unreadable[0];
}

}  // namespace
}  // namespace sluice

namespace sluice {
namespace {

// SHA-256("abc"), from FIPS 180-2.
constexpr char kAbcSha256[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST_F(RestoreTest, VerifyingASavepointChecksEveryFileItListsBeforeAnythingRuns) {
  proto::CheckpointMetadata m = Snapshot("job-1", 3);
  m.set_kind(proto::SAVEPOINT);
  m.set_name("nightly");
  auto* f = m.mutable_subtasks(2)->mutable_operators(0)->add_files();
  f->set_key("savepoints/nightly/w-0/000012.sst");
  f->set_size(3);
  f->set_sha256(kAbcSha256);
  ASSERT_TRUE(store_.Put(f->key(), "abc").ok());
  EXPECT_TRUE(VerifySnapshotFiles(store_, m).ok());

  ASSERT_TRUE(store_.Put(f->key(), "abd").ok());  // same size, other contents
  absl::Status damaged = VerifySnapshotFiles(store_, m);
  EXPECT_TRUE(absl::IsDataLoss(damaged)) << damaged;
  EXPECT_NE(damaged.message().find("savepoint 'nightly' cannot be restored"), std::string::npos)
      << damaged;
  EXPECT_NE(damaged.message().find("000012.sst"), std::string::npos) << damaged;

  ASSERT_TRUE(store_.Delete(f->key()).ok());
  absl::Status missing = VerifySnapshotFiles(store_, m);
  EXPECT_TRUE(absl::IsDataLoss(missing)) << missing;
  EXPECT_NE(missing.message().find("cannot be read"), std::string::npos) << missing;
}

}  // namespace
}  // namespace sluice
