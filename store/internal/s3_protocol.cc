#include "store/internal/s3_protocol.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "store/internal/file_util.h"
#include "store/internal/keys.h"

namespace sluice::store_internal {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kHexUpper[] = "0123456789ABCDEF";

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtx NewSha256() {
  MdCtx ctx(EVP_MD_CTX_new());
  if (ctx != nullptr && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) ctx.reset();
  return ctx;
}

std::string FinishHex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(ctx, digest, &length);
  std::string hex(2 * length, '0');
  for (unsigned int i = 0; i < length; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 0xF];
  }
  return hex;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The text between <tag> and </tag>, searching from *pos; advances *pos past
// the element. `tag` includes no brackets. S3 writes elements without
// attributes, and <Key> never matches <KeyCount> because the '>' is part of
// the search.
std::optional<std::string_view> Element(std::string_view xml, std::string_view tag, size_t* pos) {
  const std::string open = absl::StrCat("<", Sv(tag), ">");
  const std::string close = absl::StrCat("</", Sv(tag), ">");
  const size_t start = xml.find(open, *pos);
  if (start == std::string_view::npos) return std::nullopt;
  const size_t text = start + open.size();
  const size_t end = xml.find(close, text);
  if (end == std::string_view::npos) return std::nullopt;
  *pos = end + close.size();
  return xml.substr(text, end - text);
}

std::optional<std::string_view> Element(std::string_view xml, std::string_view tag) {
  size_t pos = 0;
  return Element(xml, tag, &pos);
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHexUpper[c >> 4];
      out += kHexUpper[c & 0xF];
    }
  }
  return out;
}

std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params) {
  for (auto& [name, value] : params) {
    name = UriEncode(name, false);
    value = UriEncode(value, false);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    absl::StrAppend(&out, out.empty() ? "" : "&", name, "=", value);
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  MdCtx ctx = NewSha256();
  EVP_DigestUpdate(ctx.get(), data.data(), data.size());
  return FinishHex(ctx.get());
}

absl::StatusOr<std::string> Sha256HexOfFile(int fd, const std::string& path) {
  MdCtx ctx = NewSha256();
  if (ctx == nullptr) return absl::InternalError("OpenSSL: cannot set up SHA-256");
  std::vector<char> buffer(1 << 20);
  off_t offset = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(n));
    offset += n;
  }
  return FinishHex(ctx.get());
}

std::string XmlUnescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t amp = s.find('&', i);
    if (amp == std::string_view::npos) break;
    out.append(s.data() + i, amp - i);
    const size_t semi = s.find(';', amp);
    const std::string_view entity =
        semi == std::string_view::npos ? std::string_view() : s.substr(amp + 1, semi - amp - 1);
    uint32_t cp = 0;
    bool ok = true;
    if (entity == "amp") {
      out += '&';
    } else if (entity == "lt") {
      out += '<';
    } else if (entity == "gt") {
      out += '>';
    } else if (entity == "quot") {
      out += '"';
    } else if (entity == "apos") {
      out += '\'';
    } else if (entity.size() > 2 && entity[0] == '#' && (entity[1] == 'x' || entity[1] == 'X') &&
               absl::SimpleHexAtoi(Sv(entity.substr(2)), &cp) && cp <= 0x10FFFF) {
      AppendUtf8(cp, out);
    } else if (entity.size() > 1 && entity[0] == '#' &&
               entity.find_first_not_of("0123456789", 1) == std::string_view::npos &&
               absl::SimpleAtoi(Sv(entity.substr(1)), &cp) && cp <= 0x10FFFF) {
      AppendUtf8(cp, out);
    } else {
      ok = false;
    }
    if (ok) {
      i = semi + 1;
    } else {
      out += '&';
      i = amp + 1;
    }
  }
  if (i < s.size()) out.append(s.data() + i, s.size() - i);
  return out;
}

absl::StatusOr<ListPage> ParseListObjectsV2(std::string_view xml) {
  if (xml.find("<ListBucketResult") == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "not a ListObjectsV2 result (no <ListBucketResult>): ", Sv(xml.substr(0, 200))));
  }
  ListPage page;
  size_t pos = 0;
  while (std::optional<std::string_view> contents = Element(xml, "Contents", &pos)) {
    std::optional<std::string_view> key = Element(*contents, "Key");
    std::optional<std::string_view> size = Element(*contents, "Size");
    ObjectInfo info;
    if (!key || !size || !absl::SimpleAtoi(Sv(*size), &info.size)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ListObjectsV2 result has a <Contents> without a <Key> or numeric <Size>: ",
                       Sv(contents->substr(0, 200))));
    }
    info.key = XmlUnescape(*key);
    page.objects.push_back(std::move(info));
  }
  const std::optional<std::string_view> truncated = Element(xml, "IsTruncated");
  page.truncated = truncated && *truncated == "true";
  if (const auto token = Element(xml, "NextContinuationToken")) {
    page.next_continuation_token = XmlUnescape(*token);
  }
  if (page.truncated && page.next_continuation_token.empty()) {
    return absl::InvalidArgumentError(
        "ListObjectsV2 result is truncated but has no <NextContinuationToken>");
  }
  return page;
}

S3ErrorBody ParseS3Error(std::string_view xml) {
  S3ErrorBody error;
  size_t pos = 0;
  const std::optional<std::string_view> body = Element(xml, "Error", &pos);
  if (!body) return error;
  if (const auto code = Element(*body, "Code")) error.code = XmlUnescape(*code);
  if (const auto message = Element(*body, "Message")) error.message = XmlUnescape(*message);
  return error;
}

}  // namespace sluice::store_internal
