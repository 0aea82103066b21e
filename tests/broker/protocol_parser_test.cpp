#include "broker/protocol_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace lp::broker {
namespace {

// One operation (or the final state) as a line a test can compare.
std::string describe(const Operation& op) {
  switch (op.kind) {
    case OpKind::Connect:
      return "CONNECT " + std::string(op.json);
    case OpKind::Ping:
      return "PING";
    case OpKind::Pong:
      return "PONG";
    case OpKind::Pub:
      return "PUB " + std::string(op.subject) + " reply=" + std::string(op.reply) + " [" + std::string(op.payload) + "]";
    case OpKind::Hpub:
      return "HPUB " + std::string(op.subject) + " reply=" + std::string(op.reply) +
             " hdr=" + std::to_string(op.header_bytes) + " [" + std::string(op.payload) + "]";
    case OpKind::Sub:
      return "SUB " + std::string(op.subject) + " queue=" + std::string(op.queue) + " sid=" + std::string(op.sid);
    case OpKind::Unsub:
      return "UNSUB " + std::string(op.sid) + (op.has_max ? " max=" + std::to_string(op.max_msgs) : "");
  }
  return "?";
}

const char* error_name(ProtocolError e) {
  switch (e) {
    case ProtocolError::None:
      return "none";
    case ProtocolError::UnknownOperation:
      return "unknown-operation";
    case ProtocolError::MaxControlLine:
      return "max-control-line";
    case ProtocolError::MaxPayload:
      return "max-payload";
  }
  return "?";
}

// Feeds `wire` cut at `cuts` (ascending offsets) and lists every operation, then
// "ERROR <name>" or "MORE" (a partial operation left) if the stream did not end clean.
std::vector<std::string> parse(std::string_view wire, const std::vector<std::size_t>& cuts = {},
                               ParserLimits limits = {}) {
  ProtocolParser parser(limits);
  std::vector<std::string> out;
  std::size_t pos = 0;
  bool partial = false;
  for (std::size_t i = 0; i <= cuts.size(); ++i) {
    const std::size_t end = i < cuts.size() ? cuts[i] : wire.size();
    // Each piece lives in its own buffer, freed after its feed calls, so a view kept
    // past its feed() would read freed memory (ASan) or garbage.
    std::string piece(wire.substr(pos, end - pos));
    pos = end;
    std::size_t off = 0;
    while (off < piece.size()) {
      const FeedResult r = parser.feed(piece.data() + off, piece.size() - off);
      if (r.status == ParseStatus::Error) {
        out.push_back(std::string("ERROR ") + error_name(parser.error()));
        return out;
      }
      off += r.consumed;
      partial = r.status == ParseStatus::NeedMore;
      if (r.status == ParseStatus::Op) out.push_back(describe(parser.op()));
    }
  }
  if (partial) out.push_back("MORE");
  return out;
}

using Ops = std::vector<std::string>;

TEST(ProtocolParser, ParsesEveryClientOperation) {
  const std::string wire =
      "CONNECT {\"verbose\":false, \"name\":\"a b\"}\r\n"
      "PUB a.b 2\r\nhi\r\n"
      "PUB a.b _INBOX.1 3\r\nabc\r\n"
      "HPUB h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
      "HPUB h r 12 12\r\nNATS/1.0\r\n\r\n\r\n"
      "SUB a.* 1\r\n"
      "SUB a.> workers 2\r\n"
      "UNSUB 1\r\n"
      "UNSUB 2 10\r\n"
      "PING\r\n"
      "PONG\r\n";

  const Ops ops = parse(wire);

  EXPECT_EQ(ops, (Ops{
                     "CONNECT {\"verbose\":false, \"name\":\"a b\"}",
                     "PUB a.b reply= [hi]",
                     "PUB a.b reply=_INBOX.1 [abc]",
                     "HPUB h reply= hdr=12 [NATS/1.0\r\n\r\nhi]",
                     "HPUB h reply=r hdr=12 [NATS/1.0\r\n\r\n]",
                     "SUB a.* queue= sid=1",
                     "SUB a.> queue=workers sid=2",
                     "UNSUB 1",
                     "UNSUB 2 max=10",
                     "PING",
                     "PONG",
                 }));
}

TEST(ProtocolParser, ReplyTokenIsNotTheSize) {
  EXPECT_EQ(parse("PUB subj 77 5\r\nhello\r\n"), (Ops{"PUB subj reply=77 [hello]"}));
}

TEST(ProtocolParser, PayloadIsReadByByteCountNotByLine) {
  // The payload holds CRLFs and something that looks like a PING.
  EXPECT_EQ(parse("PUB a 9\r\nx\r\nPING\r\n\r\nPING\r\n"), (Ops{"PUB a reply= [x\r\nPING\r\n]", "PING"}));
}

TEST(ProtocolParser, VerbsAreCaseInsensitiveAndArgumentsSplitOnAnyWhitespace) {
  EXPECT_EQ(parse("pub a 1\r\nx\r\nSuB  a\t\tq  3 \r\npInG\r\n"), (Ops{"PUB a reply= [x]", "SUB a queue=q sid=3", "PING"}));
}

TEST(ProtocolParser, AcceptsBareLfAfterAControlLineButNotAfterAPayload) {
  EXPECT_EQ(parse("PING\nPUB a 1\nx\r\n"), (Ops{"PING", "PUB a reply= [x]"}));
  EXPECT_EQ(parse("PUB a 1\r\nx\nPING\r\n"), (Ops{"ERROR unknown-operation"}));
}

TEST(ProtocolParser, PingIgnoresWhatFollowsTheVerb) {
  EXPECT_EQ(parse("PING extra\r\n"), (Ops{"PING"}));
}

TEST(ProtocolParser, EmptyPayload) {
  EXPECT_EQ(parse("PUB a 0\r\n\r\nPING\r\n"), (Ops{"PUB a reply= []", "PING"}));
}

TEST(ProtocolParser, SameOperationsWhereverTheInputIsCut) {
  const std::string wire =
      "CONNECT {\"verbose\":true}\r\nSUB a.> q 1\r\nPUB a.b r 12\r\nhello\r\nworld\r\n"
      "HPUB a.c 18 21\r\nNATS/1.0\r\nA: b\r\n\r\nxyz\r\nUNSUB 1 3\r\nPING\nPONG\r\nPUB z 0\r\n\r\n";
  const Ops whole = parse(wire);
  ASSERT_EQ(whole.size(), 8u);

  for (std::size_t cut = 1; cut < wire.size(); ++cut) {
    EXPECT_EQ(parse(wire, {cut}), whole) << "cut at " << cut;
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < wire.size(); ++i) every_byte.push_back(i);
  EXPECT_EQ(parse(wire, every_byte), whole);
}

TEST(ProtocolParser, ReportsAnIncompleteOperation) {
  EXPECT_EQ(parse("PUB a 5\r\nhel"), (Ops{"MORE"}));
  EXPECT_EQ(parse("SUB a"), (Ops{"MORE"}));
}

TEST(ProtocolParser, RejectsUnknownOrMalformedOperations) {
  for (const char* bad : {"FOO\r\n", " PING\r\n", "\r\n", "PUB a\r\n", "PUB a x\r\n", "PUB a b c 1\r\n",
                          "PUB a -1\r\n", "HPUB a 5 4\r\n", "HPUB a 5\r\n", "SUB a\r\n", "SUB a b c d\r\n",
                          "UNSUB\r\n", "UNSUB 1 x\r\n", "PUB a 2\r\nabX\r\n", "MSG a 1 1\r\nx\r\n",
                          "PUB a 99999999999999999999\r\n"}) {
    EXPECT_EQ(parse(bad), (Ops{"ERROR unknown-operation"})) << bad;
  }
}

TEST(ProtocolParser, RejectsAPayloadAboveTheLimitBeforeItArrives) {
  ParserLimits limits;
  limits.max_payload = 1024;

  EXPECT_EQ(parse("PUB a 1024\r\n", {}, limits), (Ops{"MORE"}));
  EXPECT_EQ(parse("PUB a 1025\r\n", {}, limits), (Ops{"ERROR max-payload"}));
  EXPECT_EQ(parse("HPUB a 10 1025\r\n", {}, limits), (Ops{"ERROR max-payload"}));
}

TEST(ProtocolParser, BoundsTheControlLineEvenWithoutItsEnd) {
  ParserLimits limits;
  limits.max_control_line = 16;
  const std::string at_limit = "SUB " + std::string(10, 'a') + " 1";  // 16 bytes
  ASSERT_EQ(at_limit.size(), 16u);

  EXPECT_EQ(parse(at_limit + "\r\n", {}, limits), (Ops{"SUB aaaaaaaaaa queue= sid=1"}));
  EXPECT_EQ(parse("SUB " + std::string(11, 'a') + " 1\r\n", {}, limits), (Ops{"ERROR max-control-line"}));
  EXPECT_EQ(parse(std::string(100, 'x'), {}, limits), (Ops{"ERROR max-control-line"}));
  EXPECT_EQ(parse(std::string(100, 'x'), {5, 10, 15, 20}, limits), (Ops{"ERROR max-control-line"}));
}

TEST(ProtocolParser, AnErrorIsStickyUntilReset) {
  ProtocolParser parser;
  const std::string bad = "FOO\r\n";
  const std::string good = "PING\r\n";
  ASSERT_EQ(parser.feed(bad.data(), bad.size()).status, ParseStatus::Error);

  EXPECT_EQ(parser.feed(good.data(), good.size()).status, ParseStatus::Error);
  parser.reset();
  EXPECT_EQ(parser.feed(good.data(), good.size()).status, ParseStatus::Op);
  EXPECT_EQ(parser.op().kind, OpKind::Ping);
}

TEST(ProtocolParser, StopsRightAfterEachOperation) {
  ProtocolParser parser;
  const std::string wire = "PUB a 2\r\nhi\r\nPING\r\n";

  const FeedResult first = parser.feed(wire.data(), wire.size());

  EXPECT_EQ(first.status, ParseStatus::Op);
  EXPECT_EQ(first.consumed, std::string("PUB a 2\r\nhi\r\n").size());
  const FeedResult second = parser.feed(wire.data() + first.consumed, wire.size() - first.consumed);
  EXPECT_EQ(second.status, ParseStatus::Op);
  EXPECT_EQ(parser.op().kind, OpKind::Ping);
}

}  // namespace
}  // namespace lp::broker
