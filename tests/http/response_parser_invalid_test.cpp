// Every invalid response a client can meet, each with the error() it must produce
// (docs/architecture.md has the table of what is accepted and why).

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>

#include "http/response_parser.hpp"

namespace lp::http {
namespace {

using namespace std::string_literals;

FeedResult feed(ResponseParser& parser, std::string_view bytes) { return parser.feed(bytes.data(), bytes.size()); }

// Each invalid input with the error() it must produce. A framing field's value is
// judged once the next line begins (that line may fold more onto it), so those inputs
// end with the head's empty line.
struct InvalidCase {
  std::string wire;
  const char* error;
};

void PrintTo(const InvalidCase& c, std::ostream* os) { *os << ::testing::PrintToString(c.wire.substr(0, 80)); }

class ResponseParserInvalid : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(ResponseParserInvalid, RejectsWithANamedError) {
  ResponseParser parser;

  const FeedResult r = feed(parser, GetParam().wire);

  EXPECT_EQ(r.status, ParseStatus::Invalid);
  EXPECT_STREQ(parser.error(), GetParam().error);
  EXPECT_FALSE(parser.keep_alive());
  EXPECT_EQ(feed(parser, "HTTP/1.1 200 OK\r\n\r\n").status, ParseStatus::Invalid);
}

std::string huge_header_line() {
  return "HTTP/1.1 200 OK\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
}

std::string huge_header_block() {
  std::string wire = "HTTP/1.1 200 OK\r\n";
  for (int i = 0; i < 10; ++i) wire += "X-Big: " + std::string(7000, 'a') + "\r\n";
  return wire + "\r\n";
}

std::string endless_continues() {
  std::string wire;
  for (int i = 0; i < 5000; ++i) wire += "HTTP/1.1 100 Continue\r\n\r\n";
  return wire;
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, ResponseParserInvalid,
    ::testing::Values(
        InvalidCase{"<html>garbage</html>\r\n", "status line is not HTTP/1.x"},
        InvalidCase{"HTTP/2.0 200 OK\r\n", "status line is not HTTP/1.x"},
        InvalidCase{"http/1.1 200 OK\r\n", "status line is not HTTP/1.x"},
        InvalidCase{"HTTP/1.1 20 OK\r\n", "status code is not three digits"},
        InvalidCase{"HTTP/1.1 2000 OK\r\n", "status code is not three digits"},
        InvalidCase{"HTTP/1.1 abc OK\r\n", "status code is not three digits"},
        InvalidCase{"HTTP/1.1 600 Odd\r\n", "status code outside 100..599"},
        InvalidCase{"HTTP/1.1 200 O\x01K\r\n", "control character in reason phrase"},
        InvalidCase{"HTTP/1.1 200 OK\rX\r\n", "control character in reason phrase"},
        InvalidCase{huge_header_line(), "header line exceeds 8 KiB"},
        InvalidCase{huge_header_block(), "header block exceeds 64 KiB"},
        InvalidCase{endless_continues(), "header block exceeds 64 KiB"},
        InvalidCase{" HTTP/1.1 200 OK\r\n", "status line is not HTTP/1.x"},
        InvalidCase{"HTTP/1.1  200 OK\r\n", "status code is not three digits"},
        InvalidCase{"HTTP/1.1 200OK\r\n", "status code is not three digits"},
        InvalidCase{"HTTP/1.1 099 Low\r\n", "status code outside 100..599"},
        InvalidCase{"HTTP/1.1 100 Continue\r\n\r\n\r\nnot a status line\r\n", "status line is not HTTP/1.x"},
        InvalidCase{"HTTP/1.1 200 OK\r\nNo colon here\r\n", "invalid character in header name"},
        InvalidCase{"HTTP/1.1 200 OK\r\nX(y): v\r\n", "invalid character in header name"},
        InvalidCase{"HTTP/1.1 200 OK\r\nX\x80: v\r\n", "invalid character in header name"},
        InvalidCase{"HTTP/1.1 200 OK\r\nNoColon\r\n", "header line has no colon"},
        InvalidCase{"HTTP/1.1 200 OK\r\nName : v\r\n", "whitespace before colon in header"},
        InvalidCase{"HTTP/1.1 200 OK\r\n: v\r\n", "empty header name"},
        InvalidCase{"HTTP/1.1 200 OK\r\n folded: b\r\n", "whitespace before the first field line"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n x: y\r\n",
                    "whitespace before the first field line"},
        InvalidCase{"HTTP/1.1 200 OK\r\nA: b\rc\r\n", "control character in header value"},
        InvalidCase{"HTTP/1.1 200 OK\r\nA: b\0c\r\n"s, "control character in header value"},
        InvalidCase{"HTTP/1.1 200 OK\r\nX-Long: tab\there, then a control \x01 later\r\n",
                    "control character in header value"},
        InvalidCase{"HTTP/1.1 200 OK\r\nX-Long: a value long enough with DEL \x7f\r\n",
                    "control character in header value"},
        InvalidCase{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "Content-Length is not a number"},
        InvalidCase{"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", "Content-Length is not a number"},
        InvalidCase{"HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "Content-Length is not a number"},
        InvalidCase{"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "Content-Length is not a number"},
        InvalidCase{"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", "Content-Length overflows"},
        InvalidCase{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", "conflicting Content-Length values"},
        InvalidCase{"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", "conflicting Content-Length values"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", "chunked is not the last transfer coding"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                    "chunked transfer coding applied twice"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,\r\n\r\n", "empty Transfer-Encoding"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", "chunk size is not hex"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", "chunk size is not hex"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\n", "chunk size is not hex"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "chunk size is not hex"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", "chunk size overflows"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a\x7f\r\n",
                    "control character in chunk extension"},
        // Chunk size lines end with their CRLF here: a bad one is Invalid at once, not a wait for body.
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\n", "whitespace after chunk size"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\t\r\n", "whitespace after chunk size"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\n", "empty chunk extension name"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;=v\r\n", "empty chunk extension name"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a;;b\r\n", "empty chunk extension name"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\r\n", "empty chunk extension value"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"open\r\n",
                    "unterminated quoted string in chunk extension"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"open\\\"\r\n",
                    "unterminated quoted string in chunk extension"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b \r\n",
                    "whitespace at the end of a chunk extension"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b c\r\n", "invalid chunk extension"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3 x\r\n", "invalid chunk extension"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"q\"x\r\n", "invalid chunk extension"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a@b\r\n", "invalid chunk extension"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", "chunk data not followed by CRLF"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rX", "chunk data not followed by CRLF"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n",
                    "invalid character in header name"},
        InvalidCase{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(9000, '0'),
                    "chunk size line exceeds 8 KiB"}));

}  // namespace
}  // namespace lp::http
