// The text-level pieces of the S3 client (no server needed), and how the
// client fails when there is no server at all.

#include "store/internal/s3_protocol.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/s3_object_store.h"

namespace sluice::store_internal {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(S3ProtocolTest, UriEncode) {
  EXPECT_EQ(UriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b/c+d&e=f?%", false), "a%20b%2Fc%2Bd%26e%3Df%3F%25");
  EXPECT_EQ(UriEncode("a b/c+d", true), "a%20b/c%2Bd");
  EXPECT_EQ(UriEncode("\xc3\xbc*", true), "%C3%BC%2A");
}

TEST(S3ProtocolTest, CanonicalQuerySortsAndEncodes) {
  EXPECT_EQ(CanonicalQuery({{"prefix", "a b/"},
                            {"list-type", "2"},
                            {"max-keys", "1000"},
                            {"continuation-token", "x+y/z="}}),
            "continuation-token=x%2By%2Fz%3D&list-type=2&max-keys=1000&prefix=a%20b%2F");
  EXPECT_EQ(CanonicalQuery({}), "");
}

TEST(S3ProtocolTest, Sha256) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(S3ProtocolTest, XmlUnescape) {
  EXPECT_EQ(XmlUnescape("a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;"), "a & b <c> \"d\" 'e'");
  EXPECT_EQ(XmlUnescape("&#65;&#x42;&#xfc;&#26085;"), "AB\xc3\xbc\xe6\x97\xa5");
  EXPECT_EQ(XmlUnescape("&amp;amp;"), "&amp;") << "unescaped once";
  EXPECT_EQ(XmlUnescape("tail & &bogus; &#xZZ; &"), "tail & &bogus; &#xZZ; &");
}

TEST(S3ProtocolTest, ParsesListObjectsV2) {
  const char* xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
<NextContinuationToken>tok+en/=&amp;</NextContinuationToken>
<Contents><Key>p/a &amp; b&lt;c&gt;</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
<ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>p/z</Key><Size>0</Size></Contents></ListBucketResult>)";
  absl::StatusOr<ListPage> page = ParseListObjectsV2(xml);
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(page->objects, ElementsAre(ObjectInfo{"p/a & b<c>", 12}, ObjectInfo{"p/z", 0}));
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "tok+en/=&");

  absl::StatusOr<ListPage> empty = ParseListObjectsV2(
      "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
      "</ListBucketResult>");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->objects.empty());
  EXPECT_FALSE(empty->truncated);
}

TEST(S3ProtocolTest, RejectsMalformedListings) {
  EXPECT_FALSE(ParseListObjectsV2("<Error><Code>x</Code></Error>").ok());
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><Contents><Key>a</Key></Contents>"
                                  "</ListBucketResult>")
                   .ok())
      << "no size";
  EXPECT_FALSE(ParseListObjectsV2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                                  "</ListBucketResult>")
                   .ok())
      << "truncated without a token would never end";
}

TEST(S3ProtocolTest, ParsesErrors) {
  const S3ErrorBody e = ParseS3Error(
      "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request "
      "signature &amp; so on</Message><StringToSign>x</StringToSign></Error>");
  EXPECT_EQ(e.code, "SignatureDoesNotMatch");
  EXPECT_EQ(e.message, "The request signature & so on");
  EXPECT_EQ(ParseS3Error("<html>Bad gateway</html>").code, "");
}

// Nothing listens on port 1: every attempt fails to connect, and the error
// says so, names the object, counts the attempts, and leaks no credentials.
TEST(S3OfflineTest, ConnectionRefusedIsRetriedThenUnavailable) {
  S3Options options;
  options.endpoint = "http://127.0.0.1:1";
  options.access_key = "AKIAOFFLINETEST";
  options.secret_key = "offline-secret-value";
  options.max_attempts = 3;
  options.initial_backoff_ms = 20;
  auto store = S3ObjectStore::Open("bucket", "pre", options);
  ASSERT_TRUE(store.ok()) << store.status();
  const auto start = std::chrono::steady_clock::now();
  const absl::Status s = (*store)->Put("k", "v");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(absl::IsUnavailable(s)) << s;
  const std::string message(s.message());
  EXPECT_THAT(message, HasSubstr("S3 PUT s3://bucket/pre/k"));
  EXPECT_THAT(message, HasSubstr("127.0.0.1"));
  EXPECT_THAT(message, HasSubstr("after 3 attempts"));
  EXPECT_THAT(message, Not(HasSubstr("offline-secret-value")));
  EXPECT_THAT(message, Not(HasSubstr("AKIAOFFLINETEST")));
  // Backoff: 10..20 ms, then 20..40 ms.
  EXPECT_GE(elapsed, std::chrono::milliseconds(30));
  EXPECT_TRUE(absl::IsUnavailable((*store)->Get("k").status()));
  EXPECT_TRUE(absl::IsUnavailable((*store)->List("").status()));
}

}  // namespace
}  // namespace sluice::store_internal
