#include "http/response_parser.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lp::http {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kNginx =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Mon, 01 Jan 2024 00:00:00 GMT\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 23\r\n"
    "Connection: keep-alive\r\n"
    "\r\n"
    R"({"id":1,"name":"bench"})";

constexpr std::string_view kChunked =
    "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: gzip, chunked\r\n"
    "\r\n"
    "5;name=value\r\n"
    "hello\r\n"
    "7 ; a=1;b=\"2\"\r\n"
    ", world\r\n"
    "0\r\n"
    "X-Checksum: abc\r\n"
    "\r\n";

constexpr std::string_view kUntilClose =
    "HTTP/1.0 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "until the server closes";

constexpr std::string_view kContinueThenOk =
    "HTTP/1.1 100 Continue\r\n"
    "\r\n"
    "HTTP/1.1 200 OK\r\n"
    "Content-Length: 2\r\n"
    "\r\n"
    "ok";

constexpr std::string_view kBareLf =
    "HTTP/1.1 404 Not Found\n"
    "Content-Length: 4\n"
    "\n"
    "nope";

constexpr std::string_view kFolded =
    "HTTP/1.1 200 OK\r\n"
    "X-Folded: one\r\n"
    "  two\r\n"
    "\tthree\r\n"
    "Transfer-Encoding: gzip,\r\n"
    " chunked\r\n"
    "\r\n"
    "2\r\n"
    "ok\r\n"
    "0\r\n"
    "\r\n";

constexpr std::string_view kStrayCrlfAfterInterim =
    "HTTP/1.1 100 Continue\r\n"
    "\r\n"
    "\r\n"
    "HTTP/1.1 200 OK\r\n"
    "Content-Length: 2\r\n"
    "\r\n"
    "ok";

constexpr std::string_view kChunkExtensions =
    "HTTP/1.1 200 OK\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n"
    "5 ; name = value ;q=\"a \\\"quoted\\\" ; text\"\r\n"
    "hello\r\n"
    "0;last\r\n"
    "\r\n";

// What a caller can observe about one response; `consumed` is the number of stream
// bytes that belonged to it (0 when Invalid, where it is unspecified).
struct Outcome {
  ParseStatus status = ParseStatus::NeedMore;
  int code = 0;
  bool keep_alive = false;
  std::uint64_t body_bytes = 0;
  std::size_t consumed = 0;
  std::string error;
  std::string body;
  Headers headers;

  bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
  os << "{status=" << static_cast<int>(o.status) << " code=" << o.code << " keep_alive=" << o.keep_alive
     << " body_bytes=" << o.body_bytes << " consumed=" << o.consumed << " error='" << o.error << "' body='"
     << o.body << "' headers=" << o.headers.size() << "}";
  return os;
}

Outcome snapshot(const ResponseParser& parser, ParseStatus status, std::size_t consumed) {
  return Outcome{status,
                 parser.status(),
                 parser.keep_alive(),
                 parser.body_bytes(),
                 status == ParseStatus::Invalid ? 0 : consumed,
                 parser.error(),
                 parser.body(),
                 parser.headers()};
}

// Feeds `wire` as the pieces ending at each of `cuts` (then the rest), the way a
// connection would: after each Done, reset and feed the leftover bytes; at the end of
// the stream, report EOF if a response was begun.
std::vector<Outcome> parse_stream(std::string_view wire, const std::vector<std::size_t>& cuts,
                                  bool capture = false) {
  ResponseParser parser(capture);
  std::vector<Outcome> out;
  std::size_t consumed = 0;
  std::size_t pos = 0;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t cut = i < cuts.size() ? cuts[i] : wire.size();
    const char* data = wire.data() + pos;
    std::size_t left = cut - pos;
    pos = cut;
    while (left > 0) {
      const FeedResult r = parser.feed(data, left);
      consumed += r.consumed;
      if (r.status == ParseStatus::NeedMore) break;
      out.push_back(snapshot(parser, r.status, consumed));
      if (r.status == ParseStatus::Invalid) return out;
      data += r.consumed;
      left -= r.consumed;
      consumed = 0;
      parser.reset();
    }
  }
  if (parser.started()) out.push_back(snapshot(parser, parser.finish_eof(), consumed));
  return out;
}

std::vector<Outcome> parse_whole(std::string_view wire, bool capture = false) {
  return parse_stream(wire, {}, capture);
}

std::vector<Outcome> parse_bytewise(std::string_view wire, bool capture = false) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < wire.size(); ++i) cuts.push_back(i);
  return parse_stream(wire, cuts, capture);
}

FeedResult feed(ResponseParser& parser, std::string_view bytes) {
  return parser.feed(bytes.data(), bytes.size());
}

TEST(ResponseParser, ReadsContentLengthBody) {
  ResponseParser parser;

  const FeedResult r = feed(parser, kNginx);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(r.consumed, kNginx.size());
  EXPECT_EQ(parser.status(), 200);
  EXPECT_EQ(parser.body_bytes(), 23u);
  EXPECT_TRUE(parser.keep_alive());
  EXPECT_STREQ(parser.error(), "");
}

TEST(ResponseParser, ReadsChunkedBodyWithExtensionsAndTrailers) {
  ResponseParser parser(/*capture=*/true);

  const FeedResult r = feed(parser, kChunked);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(r.consumed, kChunked.size());
  EXPECT_EQ(parser.body(), "hello, world");
  EXPECT_EQ(parser.body_bytes(), 12u);
  EXPECT_TRUE(parser.keep_alive());
}

TEST(ResponseParser, ReadsChunkSizesInEitherCaseWithLeadingZeros) {
  ResponseParser parser;
  const std::string wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00A\r\n0123456789\r\n1f\r\n" +
                           std::string(31, 'x') + "\r\n0\r\n\r\n";

  const FeedResult r = feed(parser, wire);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(parser.body_bytes(), 41u);
}

TEST(ResponseParser, CountsHugeChunkWithoutBuffering) {
  ResponseParser parser;
  feed(parser, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000000\r\n");  // 4 GiB
  const std::string block(1 << 20, 'x');

  FeedResult r{};
  for (int i = 0; i < 4096; ++i) r = feed(parser, block);
  const FeedResult end = feed(parser, "\r\n0\r\n\r\n");

  EXPECT_EQ(r.status, ParseStatus::NeedMore);
  EXPECT_EQ(end.status, ParseStatus::Done);
  EXPECT_EQ(parser.body_bytes(), std::uint64_t{1} << 32);
}

TEST(ResponseParser, ReadsUntilCloseBodyAtEof) {
  ResponseParser parser;

  const FeedResult r = feed(parser, kUntilClose);
  const ParseStatus at_eof = parser.finish_eof();

  EXPECT_EQ(r.status, ParseStatus::NeedMore);
  EXPECT_EQ(at_eof, ParseStatus::Done);
  EXPECT_EQ(parser.body_bytes(), 23u);
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, UntilCloseBodyOverHttp11IsNotKeptAlive) {
  ResponseParser parser;

  feed(parser, "HTTP/1.1 200 OK\r\n\r\nabc");
  const ParseStatus at_eof = parser.finish_eof();

  EXPECT_EQ(at_eof, ParseStatus::Done);
  EXPECT_EQ(parser.body_bytes(), 3u);
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, TruncatedContentLengthBodyIsInvalidAtEof) {
  ResponseParser parser;
  const std::string_view truncated = kNginx.substr(0, kNginx.size() - 1);

  feed(parser, truncated);
  const ParseStatus at_eof = parser.finish_eof();

  EXPECT_EQ(at_eof, ParseStatus::Invalid);
  EXPECT_TRUE(parser.started());
  EXPECT_STREQ(parser.error(), "connection closed mid-response");
}

TEST(ResponseParser, TruncatedChunkedBodyIsInvalidAtEof) {
  ResponseParser parser;
  const std::string_view truncated = kChunked.substr(0, kChunked.size() - 2);  // no final CRLF

  feed(parser, truncated);
  const ParseStatus at_eof = parser.finish_eof();

  EXPECT_EQ(at_eof, ParseStatus::Invalid);
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, EofBeforeAnyByteIsInvalidAndNotStarted) {
  ResponseParser parser;

  const ParseStatus at_eof = parser.finish_eof();

  EXPECT_EQ(at_eof, ParseStatus::Invalid);
  EXPECT_FALSE(parser.started());
  EXPECT_STREQ(parser.error(), "connection closed before the response started");
}

TEST(ResponseParser, NoContentHasNoBodyDespiteContentLength) {
  ResponseParser parser;
  const std::string_view wire = "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n";

  const FeedResult r = feed(parser, wire);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(r.consumed, wire.size());
  EXPECT_EQ(parser.body_bytes(), 0u);
  EXPECT_TRUE(parser.keep_alive());
}

TEST(ResponseParser, NotModifiedHasNoBodyDespiteChunkedEncoding) {
  ResponseParser parser;
  const std::string_view wire = "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1";

  const FeedResult r = feed(parser, wire);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(r.consumed, wire.size() - 8);
  EXPECT_EQ(parser.status(), 304);
}

TEST(ResponseParser, HeadResponseHasNoBodyDespiteContentLength) {
  ResponseParser parser;
  parser.reset(/*head_request=*/true);
  const std::string_view wire = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n";

  const FeedResult r = feed(parser, wire);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(r.consumed, wire.size());
  EXPECT_EQ(parser.body_bytes(), 0u);
}

TEST(ResponseParser, SkipsContinueAndParsesFinalResponse) {
  ResponseParser parser(/*capture=*/true);

  const FeedResult r = feed(parser, "HTTP/1.1 100 Continue\r\nX-Interim: 1\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\n"
                                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(parser.status(), 200);
  EXPECT_EQ(parser.body(), "ok");
  EXPECT_EQ(parser.headers(), (Headers{{"Content-Length", "2"}}));
}

TEST(ResponseParser, SwitchingProtocolsIsFinalAndEndsKeepAlive) {
  ResponseParser parser;
  const std::string_view wire = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n";

  const FeedResult r = feed(parser, std::string(wire) + "\x81\x05");

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(r.consumed, wire.size());
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, ConnectionCloseEndsKeepAlive) {
  ResponseParser parser;

  feed(parser, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");

  EXPECT_TRUE(parser.done());
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, ConnectionIsATokenListInAnyCase) {
  ResponseParser parser;

  feed(parser, "HTTP/1.1 200 OK\r\nconnection: Upgrade, CLOSE\r\nContent-Length: 0\r\n\r\n");

  EXPECT_TRUE(parser.done());
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, Http10ClosesByDefault) {
  ResponseParser parser;

  feed(parser, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");

  EXPECT_TRUE(parser.done());
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, Http10KeepsAliveWhenAsked) {
  ResponseParser parser;

  feed(parser, "HTTP/1.0 200 OK\r\nConnection: Keep-Alive, Upgrade\r\nContent-Length: 0\r\n\r\n");

  EXPECT_TRUE(parser.done());
  EXPECT_TRUE(parser.keep_alive());
}

TEST(ResponseParser, FramingHeaderNamesAreCaseInsensitive) {
  ResponseParser parser;

  const FeedResult r = feed(parser, "HTTP/1.1 200 OK\r\nTRANSFER-ENCODING: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(parser.body_bytes(), 3u);
}

TEST(ResponseParser, TransferEncodingOverridesContentLengthAndEndsKeepAlive) {
  ResponseParser parser;

  feed(parser, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");

  EXPECT_TRUE(parser.done());
  EXPECT_EQ(parser.body_bytes(), 3u);
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, TransferEncodingWithoutChunkedReadsUntilClose) {
  ResponseParser parser;

  feed(parser, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nabcd");
  const ParseStatus at_eof = parser.finish_eof();

  EXPECT_EQ(at_eof, ParseStatus::Done);
  EXPECT_EQ(parser.body_bytes(), 4u);
}

TEST(ResponseParser, AcceptsRepeatedIdenticalContentLength) {
  ResponseParser parser;

  feed(parser, "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\ncontent-length: 3\r\n\r\nabc");

  EXPECT_TRUE(parser.done());
  EXPECT_EQ(parser.body_bytes(), 3u);
}

TEST(ResponseParser, AcceptsEmptyReasonPhrase) {
  ResponseParser a;
  ResponseParser b;

  feed(a, "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
  feed(b, "HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n");

  EXPECT_EQ(a.status(), 200);
  EXPECT_TRUE(a.done());
  EXPECT_EQ(b.status(), 500);
  EXPECT_TRUE(b.done());
}

TEST(ResponseParser, AcceptsBareLineFeeds) {
  ResponseParser parser;

  const FeedResult r = feed(parser, kBareLf);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(parser.status(), 404);
  EXPECT_EQ(parser.body_bytes(), 4u);
}

TEST(ResponseParser, ObsFoldIsJoinedWithASpace) {
  ResponseParser parser(/*capture=*/true);

  const FeedResult r = feed(parser, kFolded);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(r.consumed, kFolded.size());
  EXPECT_EQ(parser.headers(), (Headers{{"X-Folded", "one two three"}, {"Transfer-Encoding", "gzip, chunked"}}));
  EXPECT_EQ(parser.body(), "ok");  // the folded Transfer-Encoding still ends in chunked
}

TEST(ResponseParser, FoldedContentLengthIsOneValue) {
  ResponseParser parser;

  feed(parser, "HTTP/1.1 200 OK\r\nContent-Length: 3,\r\n 3\r\n\r\nabc");

  EXPECT_TRUE(parser.done());
  EXPECT_EQ(parser.body_bytes(), 3u);
}

TEST(ResponseParser, FoldedContentLengthWithTwoNumbersIsInvalid) {
  ResponseParser parser;

  const FeedResult r = feed(parser, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n 4\r\n\r\nabc");

  EXPECT_EQ(r.status, ParseStatus::Invalid);
  EXPECT_STREQ(parser.error(), "Content-Length is not a number");  // "3 4"
}

TEST(ResponseParser, FoldedFieldLongerThanALineIsInvalid) {
  ResponseParser parser;
  const std::string wire = "HTTP/1.1 200 OK\r\nX-A: " + std::string(5000, 'a') + "\r\n " + std::string(5000, 'b') +
                           "\r\n\r\n";

  const FeedResult r = feed(parser, wire);

  EXPECT_EQ(r.status, ParseStatus::Invalid);
  EXPECT_STREQ(parser.error(), "header line exceeds 8 KiB");
}

TEST(ResponseParser, BadFieldLineIsInvalidBeforeTheNextLineArrives) {
  ResponseParser parser;

  const FeedResult r = feed(parser, "HTTP/1.1 200 OK\r\nNo colon\r\n");

  EXPECT_EQ(r.status, ParseStatus::Invalid);
}

TEST(ResponseParser, SkipsStrayEmptyLinesAfterAnInterimResponse) {
  ResponseParser parser;

  const FeedResult r = feed(parser, kStrayCrlfAfterInterim);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(r.consumed, kStrayCrlfAfterInterim.size());
  EXPECT_EQ(parser.status(), 200);
  EXPECT_EQ(parser.body_bytes(), 2u);
}

TEST(ResponseParser, EmptyLineBeforeTheFirstStatusLineIsInvalid) {
  ResponseParser parser;

  const FeedResult r = feed(parser, "\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");

  EXPECT_EQ(r.status, ParseStatus::Invalid);
  EXPECT_STREQ(parser.error(), "status line is not HTTP/1.x");
}

TEST(ResponseParser, AcceptsChunkExtensionsWithBwsAndQuotedValues) {
  ResponseParser parser(/*capture=*/true);

  const FeedResult r = feed(parser, kChunkExtensions);

  EXPECT_EQ(r.status, ParseStatus::Done);
  EXPECT_EQ(parser.body(), "hello");
}

TEST(ResponseParser, Http10WithTransferEncodingIsNotKeptAlive) {
  ResponseParser parser;

  feed(parser, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n");

  EXPECT_TRUE(parser.done());
  EXPECT_EQ(parser.body_bytes(), 1u);
  EXPECT_FALSE(parser.keep_alive());
}

TEST(ResponseParser, EveryByteBoundaryGivesTheSameResult) {
  const std::string pipelined = std::string(kNginx) + std::string(kChunked) + std::string(kBareLf);
  const std::vector<std::string_view> corpus = {
      kNginx, kChunked, kUntilClose, kContinueThenOk, kBareLf, pipelined, kFolded, kStrayCrlfAfterInterim,
      kChunkExtensions,
      "HTTP/1.1 204 No Content\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",  // Invalid
      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",    // Invalid
      "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",                      // truncated
  };

  for (const std::string_view wire : corpus) {
    for (const bool capture : {false, true}) {
      const std::vector<Outcome> whole = parse_whole(wire, capture);

      EXPECT_EQ(parse_bytewise(wire, capture), whole) << wire;
      for (std::size_t cut = 1; cut < wire.size(); ++cut) {
        ASSERT_EQ(parse_stream(wire, {cut}, capture), whole) << "cut at " << cut << " of " << wire;
      }
    }
  }
}

TEST(ResponseParser, StopsAtTheEndOfEachPipelinedResponse) {
  const std::string wire = std::string(kNginx) + std::string(kChunked);
  ResponseParser parser;

  const FeedResult first = feed(parser, wire);
  const int first_status = parser.status();
  parser.reset();
  const FeedResult second = parser.feed(wire.data() + first.consumed, wire.size() - first.consumed);

  EXPECT_EQ(first.status, ParseStatus::Done);
  EXPECT_EQ(first.consumed, kNginx.size());
  EXPECT_EQ(first_status, 200);
  EXPECT_EQ(second.status, ParseStatus::Done);
  EXPECT_EQ(second.consumed, kChunked.size());
  EXPECT_EQ(parser.body_bytes(), 12u);
}

TEST(ResponseParser, StaysDoneAndConsumesNothingUntilReset) {
  ResponseParser parser;
  feed(parser, kNginx);

  const FeedResult again = feed(parser, "HTTP/1.1 200 OK\r\n");

  EXPECT_EQ(again.status, ParseStatus::Done);
  EXPECT_EQ(again.consumed, 0u);
}

TEST(ResponseParser, ResetForgetsThePreviousResponse) {
  ResponseParser parser(/*capture=*/true);
  feed(parser, kNginx);

  parser.reset();

  EXPECT_FALSE(parser.started());
  EXPECT_FALSE(parser.done());
  EXPECT_EQ(parser.status(), 0);
  EXPECT_EQ(parser.body_bytes(), 0u);
  EXPECT_TRUE(parser.body().empty());
  EXPECT_TRUE(parser.headers().empty());
}

TEST(ResponseParser, EmptyFeedNeedsMoreAndDoesNotStart) {
  ResponseParser parser;

  const FeedResult r = parser.feed(nullptr, 0);

  EXPECT_EQ(r.status, ParseStatus::NeedMore);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_FALSE(parser.started());
}

TEST(ResponseParser, CaptureModeKeepsHeadersAsReceivedAndBody) {
  ResponseParser parser(/*capture=*/true);

  feed(parser,
       "HTTP/1.1 201 Created\r\nX-Request-ID:  abc-123 \r\nCONTENT-LENGTH: 5\r\nEmpty:\r\n"
       "X-Tabs:\tcolumns\tare\tfine, obs-text \xc3\xa9 too\t\r\n\r\nhello");

  EXPECT_TRUE(parser.done());
  EXPECT_EQ(parser.headers(), (Headers{{"X-Request-ID", "abc-123"},
                                       {"CONTENT-LENGTH", "5"},
                                       {"Empty", ""},
                                       {"X-Tabs", "columns\tare\tfine, obs-text \xc3\xa9 too"}}));
  EXPECT_EQ(parser.body(), "hello");
}

TEST(ResponseParser, DefaultModeKeepsNeitherHeadersNorBody) {
  ResponseParser parser;

  feed(parser, kNginx);

  EXPECT_TRUE(parser.done());
  EXPECT_FALSE(parser.capturing());
  EXPECT_TRUE(parser.headers().empty());
  EXPECT_TRUE(parser.body().empty());
}

}  // namespace
}  // namespace lp::http
