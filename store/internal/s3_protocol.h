#pragma once

// The pure-text parts of talking to S3: URI encoding for paths and query
// strings, SHA-256 payload hashes, and minimal (but entity-correct) parsing of
// the two XML documents the store reads: ListObjectsV2 results and errors.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "store/object_store.h"

namespace sluice::store_internal {

// SHA-256 of the empty string, the payload hash of GET, HEAD and DELETE.
inline constexpr char kEmptySha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// RFC 3986 percent-encoding as SigV4 wants it: A-Z a-z 0-9 - . _ ~ stay, every
// other byte becomes %XX (upper case); with keep_slash, '/' stays too (paths).
std::string UriEncode(std::string_view s, bool keep_slash);

// A query string in SigV4 canonical form: names and values encoded, sorted
// by name (then value). curl 7.88 signs the query as given, so it must already
// be canonical when it reaches curl.
std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params);

// Lower-case hex SHA-256.
std::string Sha256Hex(std::string_view data);
// Of a whole file, read with pread from offset 0 (the fd's offset is unused).
absl::StatusOr<std::string> Sha256HexOfFile(int fd, const std::string& path);

// Replaces the five predefined XML entities and numeric character references
// (&#NN; &#xHH;, emitted as UTF-8). Anything else is kept as is.
std::string XmlUnescape(std::string_view s);

struct ListPage {
  std::vector<ObjectInfo> objects;  // full bucket keys, in the server's order
  bool truncated = false;
  std::string next_continuation_token;
};
// A ListObjectsV2 response body. InvalidArgument (naming what is wrong) when it
// is not one, or when it is truncated without a continuation token.
absl::StatusOr<ListPage> ParseListObjectsV2(std::string_view xml);

struct S3ErrorBody {
  std::string code;     // e.g. "SignatureDoesNotMatch"; empty when absent
  std::string message;  // S3's human-readable message; empty when absent
};
// The Code and Message of an S3 <Error> document; empty for other bodies.
S3ErrorBody ParseS3Error(std::string_view xml);

}  // namespace sluice::store_internal
