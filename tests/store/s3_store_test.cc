// S3ObjectStore against a real S3-compatible server: s3rver behind a proxy
// that verifies SigV4 signatures and payload hashes the way S3 does
// (tests/support/s3_server.py), started once for this test process.

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/s3_object_store.h"
#include "tests/store/object_store_contract.h"
#include "tests/store/s3_test_server.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Every store gets a prefix of its own in the shared bucket, so tests stay
// independent although they share one server.
std::string UniquePrefix(std::string_view what) {
  static std::atomic<int> next{0};
  return absl::StrCat(std::string(what), "-", ::getpid(), "-", next.fetch_add(1));
}

S3Options OptionsFor(const S3ServerInfo& server) {
  S3Options options;
  options.endpoint = server.endpoint;
  options.region = server.region;
  options.access_key = server.access_key;
  options.secret_key = server.secret_key;
  options.max_attempts = 3;
  options.initial_backoff_ms = 10;
  options.timeout_ms = 10'000;
  return options;
}

std::unique_ptr<S3ObjectStore> MakeStore(std::string_view what,
                                         const std::function<void(S3Options&)>& edit = {}) {
  absl::StatusOr<S3ServerInfo> server = SharedS3Server();
  if (!server.ok()) {
    ADD_FAILURE() << "no S3 server: " << server.status();
    return nullptr;
  }
  S3Options options = OptionsFor(*server);
  if (edit) edit(options);
  auto store = S3ObjectStore::Open(server->bucket, UniquePrefix(what), options);
  if (!store.ok()) {
    ADD_FAILURE() << store.status();
    return nullptr;
  }
  return std::move(*store);
}

INSTANTIATE_TEST_SUITE_P(S3, ObjectStoreContractTest,
                         ::testing::Values(StoreFactory{"S3",
                                                        [](const std::string&) {
                                                          return std::unique_ptr<ObjectStore>(
                                                              MakeStore("contract"));
                                                        }}),
                         FactoryName);

std::string ObjectName(int i) {
  char name[32];
  std::snprintf(name, sizeof(name), "obj-%05d", i);
  return name;
}

std::vector<std::string> Keys(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const ObjectInfo& o : objects) keys.push_back(o.key);
  return keys;
}

void ExpectNoCredentials(const absl::Status& s, const S3Options& options) {
  const std::string message(s.message());
  EXPECT_THAT(message, Not(HasSubstr(options.secret_key)));
  EXPECT_THAT(message, Not(HasSubstr(options.access_key)));
  EXPECT_THAT(message, Not(HasSubstr("Authorization")));
  EXPECT_THAT(message, Not(HasSubstr("Signature=")));
}

TEST(S3ObjectStoreTest, WrongSecretIsRejectedWithoutLeakingIt) {
  const std::string secret = "wrong-secret-Zq9x7Kp2";
  S3Options used;
  auto store = MakeStore("wrong-secret", [&](S3Options& o) {
    o.secret_key = secret;
    used = o;
  });
  ASSERT_NE(store, nullptr);
  const int rejected_before = *S3RequestCount("rejected");

  const absl::Status put = store->Put("k", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(put)) << put;
  EXPECT_THAT(std::string(put.message()), HasSubstr("HTTP 403 SignatureDoesNotMatch"));
  EXPECT_THAT(std::string(put.message()), HasSubstr("S3 PUT s3://"));
  EXPECT_THAT(std::string(put.message()), HasSubstr("/k"));
  EXPECT_EQ(*S3RequestCount("rejected"), rejected_before + 1) << "a 403 is not retried";

  const std::vector<absl::Status> others = {store->Get("k").status(), store->Size("k").status(),
                                            store->List("").status(), store->Delete("k"),
                                            store->PutFile("k", "/proc/self/exe")};
  for (const absl::Status& s : others) {
    EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("HTTP 403")) << s;
  }
  for (const absl::Status& s : others) ExpectNoCredentials(s, used);
  ExpectNoCredentials(put, used);
  // A large upload is refused before its body is sent (Expect: 100-continue).
  const std::string big(3 << 20, 'x');
  const absl::Status big_put = store->Put("big", big);
  EXPECT_THAT(std::string(big_put.message()), HasSubstr("SignatureDoesNotMatch")) << big_put;
}

TEST(S3ObjectStoreTest, UnknownAccessKeyIsRejected) {
  S3Options used;
  auto store = MakeStore("wrong-key", [&](S3Options& o) {
    o.access_key = "AKIAUNKNOWNKEY0000";
    used = o;
  });
  ASSERT_NE(store, nullptr);
  const absl::Status s = store->Put("k", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("InvalidAccessKeyId"));
  ExpectNoCredentials(s, used);
}

TEST(S3ObjectStoreTest, KeysWithSpecialCharacters) {
  auto store = MakeStore("special chars & more");
  ASSERT_NE(store, nullptr);
  const std::vector<std::string> keys = {
      "sp ace/a b c",        "plus+/c+d",       "amp&/x&y=z;w",
      "q?/what?#frag",       "pct%/100%25 %zz", "utf8/\xc3\xbc-\xc3\xb1-\xe6\x97\xa5\xe6\x9c\xac",
      "xml/<tag> \"q\" 'a'", "tilde~/a~b",      "punct/(p)!*@$,:[]{}^`|",
      "back\\slash/x"};
  for (const std::string& key : keys) {
    ASSERT_THAT(store->Put(key, "value of " + key), IsOk()) << key;
  }
  for (const std::string& key : keys) {
    absl::StatusOr<std::string> got = store->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_EQ(*got, "value of " + key);
    EXPECT_EQ(*store->Size(key), static_cast<int64_t>(("value of " + key).size()));
  }
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(Keys(*store->List("")), sorted);
  // Prefixes that need encoding in the query string.
  EXPECT_THAT(Keys(*store->List("sp ace/")), ElementsAre("sp ace/a b c"));
  EXPECT_THAT(Keys(*store->List("amp&/x&")), ElementsAre("amp&/x&y=z;w"));
  EXPECT_THAT(Keys(*store->List("plus+")), ElementsAre("plus+/c+d"));
  EXPECT_THAT(Keys(*store->List("q?/")), ElementsAre("q?/what?#frag"));
  EXPECT_THAT(Keys(*store->List("pct%/100%")), ElementsAre("pct%/100%25 %zz"));
  EXPECT_THAT(Keys(*store->List("utf8/\xc3\xbc")), ElementsAre(keys[5]));
  EXPECT_THAT(Keys(*store->List("xml/<tag> \"")), ElementsAre("xml/<tag> \"q\" 'a'"));
  for (const std::string& key : keys) ASSERT_THAT(store->Delete(key), IsOk()) << key;
  EXPECT_TRUE(store->List("")->empty());
}

// Pages of 100 keys (S3's maximum of 1000 would need thousands of objects
// here, and s3rver walks its directories for every page): the continuation
// logic is the same.
TEST(S3ObjectStoreTest, ListingPagesThroughContinuationTokens) {
  constexpr int kObjects = 345;
  auto store = MakeStore("many", [](S3Options& o) { o.list_page_size = 100; });
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  constexpr int kThreads = 4;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t; i < kObjects; i += kThreads) {
        if (!store->Put(ObjectName(i), std::to_string(i)).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);

  const int gets_before = *S3RequestCount("GET");
  absl::StatusOr<std::vector<ObjectInfo>> all = store->List("");
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(*S3RequestCount("GET") - gets_before, 4) << "pages of 100, 100, 100, 45";
  ASSERT_EQ(all->size(), static_cast<size_t>(kObjects));
  for (int i = 0; i < kObjects; ++i) {
    const ObjectInfo& o = (*all)[static_cast<size_t>(i)];
    ASSERT_EQ(o.key, ObjectName(i));
    ASSERT_EQ(o.size, static_cast<int64_t>(std::to_string(i).size()));
  }
  // A prefix across pages, and one matching exactly one full page.
  absl::StatusOr<std::vector<ObjectInfo>> most = store->List("obj-00");
  ASSERT_THAT(most, IsOk());
  EXPECT_EQ(most->size(), static_cast<size_t>(kObjects));
  absl::StatusOr<std::vector<ObjectInfo>> some = store->List("obj-001");
  ASSERT_THAT(some, IsOk());
  ASSERT_EQ(some->size(), 100u);
  EXPECT_EQ(some->front().key, "obj-00100");
  EXPECT_EQ(some->back().key, "obj-00199");
}

TEST(S3ObjectStoreTest, RetriesServerErrorsAndThrottling) {
  auto store = MakeStore("retry");
  ASSERT_NE(store, nullptr);
  const int puts_before = *S3RequestCount("PUT");
  ASSERT_TRUE(InjectS3Failures("PUT", 503, 2).ok());
  ASSERT_THAT(store->Put("k", "v"), IsOk());
  EXPECT_EQ(*S3RequestCount("PUT") - puts_before, 3);
  ASSERT_TRUE(InjectS3Failures("GET", 429, 1).ok());
  EXPECT_EQ(*store->Get("k"), "v");
  ASSERT_TRUE(InjectS3Failures("HEAD", 500, 1).ok());
  EXPECT_EQ(*store->Size("k"), 1);
  // A retried streaming upload starts over from the first byte.
  ScratchDir scratch;
  const std::string data = RandomBytes(3 << 20, 11);
  WriteLocalFile(scratch.path() + "/f", data);
  ASSERT_TRUE(InjectS3Failures("PUT", 502, 1).ok());
  ASSERT_THAT(store->PutFile("file", scratch.path() + "/f"), IsOk());
  EXPECT_TRUE(*store->Get("file") == data);
  // So does a retried download.
  ASSERT_TRUE(InjectS3Failures("GET", 503, 1).ok());
  ASSERT_THAT(store->GetFile("file", scratch.path() + "/back"), IsOk());
  EXPECT_TRUE(ReadLocalFile(scratch.path() + "/back") == data);
}

TEST(S3ObjectStoreTest, GivesUpAfterMaxAttempts) {
  auto store = MakeStore("give-up");
  ASSERT_NE(store, nullptr);
  const int puts_before = *S3RequestCount("PUT");
  ASSERT_TRUE(InjectS3Failures("PUT", 503, 3).ok());
  const absl::Status s = store->Put("k", "v");
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("HTTP 503 SlowDown"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("after 3 attempts"));
  EXPECT_EQ(*S3RequestCount("PUT") - puts_before, 3);
  EXPECT_EQ(*store->Size("k"), std::nullopt);
}

TEST(S3ObjectStoreTest, NotFoundIsNotRetried) {
  auto store = MakeStore("not-found");
  ASSERT_NE(store, nullptr);
  const int gets_before = *S3RequestCount("GET");
  const absl::Status s = store->Get("absent").status();
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("absent"));
  EXPECT_EQ(*S3RequestCount("GET") - gets_before, 1);
}

TEST(S3ObjectStoreTest, LoopbackEndpointBypassesProxiesFromTheEnvironment) {
  auto store = MakeStore("no-proxy");
  ASSERT_NE(store, nullptr);
  const char* saved = std::getenv("http_proxy");
  const std::string saved_value = saved ? saved : "";
  ::setenv("http_proxy", "http://127.0.0.1:1", 1);
  const absl::Status s = store->Put("k", "v");
  if (saved) {
    ::setenv("http_proxy", saved_value.c_str(), 1);
  } else {
    ::unsetenv("http_proxy");
  }
  EXPECT_TRUE(s.ok()) << s;
}

}  // namespace
}  // namespace sluice::testing
