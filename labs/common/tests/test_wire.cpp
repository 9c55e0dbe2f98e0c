// The wire view's own tests (labs/common/wire): frames made by hand, decoded and shown as a
// timeline, and one real capture in a private network namespace.
#include "socklab/wire/capture.hpp"
#include "socklab/wire/namespace.hpp"
#include "socklab/wire/segment.hpp"
#include "socklab/wire/timeline.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

using socklab::wire::End;
using socklab::wire::Frame;
using socklab::wire::Segment;

constexpr std::uint32_t kLoopback = 0x7f000001U;

void put16(std::string& b, std::size_t at, unsigned v) {
    b[at] = static_cast<char>(v >> 8);
    b[at + 1] = static_cast<char>(v & 0xff);
}
void put32(std::string& b, std::size_t at, std::uint32_t v) {
    put16(b, at, v >> 16);
    put16(b, at + 2, v & 0xffff);
}

// A frame as Linux's loopback gives it: a zero Ethernet header, IPv4, TCP, the payload.
Frame tcp_frame(std::chrono::microseconds time, End from, End to, std::uint8_t flags, std::uint32_t seq,
                std::uint32_t ack, const std::string& payload = "") {
    std::string b(14 + 20 + 20, '\0');
    put16(b, 12, 0x0800);
    b[14] = 0x45;
    put16(b, 16, static_cast<unsigned>(40 + payload.size()));
    b[14 + 9] = 6;
    put32(b, 14 + 12, from.address);
    put32(b, 14 + 16, to.address);
    put16(b, 34, from.port);
    put16(b, 36, to.port);
    put32(b, 38, seq);
    put32(b, 42, ack);
    b[46] = 0x50; // 5 words of header
    b[47] = static_cast<char>(flags);
    b += payload;
    return Frame{time, b, static_cast<std::uint32_t>(b.size())};
}

// The ends written into the frames made above: numbers in bytes, never bound (the tests that open
// sockets bind port 0 and read the port back).
const End kClient{kLoopback, 41234};
const End kServer{kLoopback, 20000};

} // namespace

TEST(Wire, FlagsReadInTheOrderPeopleSayThem) {
    using namespace socklab::wire;
    EXPECT_EQ(flags_text(kSyn), "SYN");
    EXPECT_EQ(flags_text(kSyn | kAck), "SYN ACK");
    EXPECT_EQ(flags_text(kRst | kAck), "RST ACK");
    EXPECT_EQ(flags_text(kFin | kPsh | kAck), "FIN PSH ACK");
}

TEST(Wire, AFrameDecodesToItsEndsFlagsSequenceNumbersAndBytes) {
    const auto s =
        socklab::wire::decode(tcp_frame(std::chrono::microseconds(5), kClient, kServer,
                                        socklab::wire::kPsh | socklab::wire::kAck, 101, 7, "ECHO hi\n"),
                              DLT_EN10MB);
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(socklab::wire::to_string(s->from), "127.0.0.1:41234");
    EXPECT_EQ(socklab::wire::to_string(s->to), "127.0.0.1:20000");
    EXPECT_EQ(s->seq, 101U);
    EXPECT_EQ(s->ack, 7U);
    EXPECT_EQ(s->payload, "ECHO hi\n");
}

TEST(Wire, AFrameThatIsNotIpv4IsLeftOut) {
    Frame arp = tcp_frame(std::chrono::microseconds(0), kClient, kServer, socklab::wire::kSyn, 0, 0);
    put16(arp.bytes, 12, 0x0806);
    EXPECT_FALSE(socklab::wire::decode(arp, DLT_EN10MB).has_value());
    Frame cut = tcp_frame(std::chrono::microseconds(0), kClient, kServer, socklab::wire::kSyn, 0, 0);
    cut.bytes.resize(30);
    EXPECT_FALSE(socklab::wire::decode(cut, DLT_EN10MB).has_value());
}

TEST(Wire, ATimelineNamesTheRolesAndCountsTimeAndSequenceFromTheFirstSegment) {
    using namespace socklab::wire;
    const std::vector<Segment> segments =
        segments_of({tcp_frame(std::chrono::microseconds(1000), kClient, kServer, kSyn, 5000, 0),
                     tcp_frame(std::chrono::microseconds(1011), kServer, kClient, kRst | kAck, 0, 5001)},
                    DLT_EN10MB);
    EXPECT_EQ(timeline(segments),
              "    0.000 ms  client 127.0.0.1:41234 -> server 127.0.0.1:20000  SYN      seq 0\n"
              "    0.011 ms  server 127.0.0.1:20000 -> client 127.0.0.1:41234  RST ACK  seq 0 "
              "ack 1\n");
}

TEST(Wire, ATimelineShowsHowManyBytesASegmentCarriesAndTheirStartEscaped) {
    using namespace socklab::wire;
    const std::vector<Segment> segments = segments_of(
        {tcp_frame(std::chrono::microseconds(0), kClient, kServer, kSyn, 9, 0),
         tcp_frame(std::chrono::microseconds(50), kClient, kServer, kPsh | kAck, 10, 1, "UPPER hi\r\n")},
        DLT_EN10MB);
    const std::string text = timeline(segments, {{kServer, "lab04-server"}});
    EXPECT_NE(text.find("lab04-server 127.0.0.1:20000  PSH ACK  seq 1 ack 1  10 bytes \"UPPER hi\\r\\n\""),
              std::string::npos)
        << text;
}

TEST(Wire, ALongPayloadShowsItsLengthAndOnlyItsStart) {
    using namespace socklab::wire;
    const std::vector<Segment> segments = segments_of(
        {tcp_frame(std::chrono::microseconds(0), kClient, kServer, kSyn, 0, 0),
         tcp_frame(std::chrono::microseconds(9), kClient, kServer, kPsh | kAck, 1, 1, std::string(30, 'x'))},
        DLT_EN10MB);
    EXPECT_NE(timeline(segments).find("30 bytes \"" + std::string(24, 'x') + "\"...\n"), std::string::npos)
        << timeline(segments);
}

TEST(Wire, OnlyTheConnectionsOpenedDuringTheCaptureAreKept) {
    using namespace socklab::wire;
    const End older{kLoopback, 40000};
    const std::vector<Segment> kept = opened_during(
        segments_of({tcp_frame(std::chrono::microseconds(0), older, kServer, kAck, 1, 1),
                     tcp_frame(std::chrono::microseconds(1), kClient, kServer, kSyn, 0, 0),
                     tcp_frame(std::chrono::microseconds(2), kServer, older, kRst | kAck, 1, 1),
                     tcp_frame(std::chrono::microseconds(3), kServer, kClient, kRst | kAck, 0, 1)},
                    DLT_EN10MB));
    ASSERT_EQ(kept.size(), 2U);
    EXPECT_EQ(kept[0].from, kClient);
    EXPECT_EQ(kept[1].to, kClient);
}

TEST(Wire, AnEmptyCaptureSaysSo) {
    EXPECT_EQ(socklab::wire::timeline({}), "(no TCP segment was sent)\n");
}

// A real capture: a connect to a port where nothing listens, in a network namespace of a child
// process's own. The child reports the timeline on a pipe, or 'U' and why it could not.
TEST(Wire, ACaptureInAPrivateNamespaceSeesARefusedConnectAsSynThenRstAck) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        std::string report;
        std::string why = socklab::wire::enter_private_network();
        std::unique_ptr<socklab::wire::Capture> capture;
        if (why.empty()) {
            capture = socklab::wire::Capture::start(why);
        }
        if (!capture) {
            report = "U" + why;
        } else {
            const int s = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in to{};
            to.sin_family = AF_INET;
            to.sin_port = htons(9);
            to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            const int refused =
                ::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno == ECONNREFUSED;
            ::close(s);
            const auto frames = capture->stop();
            report = std::string(refused ? "R" : "N") +
                     socklab::wire::timeline(socklab::wire::segments_of(frames, capture->link_type()));
        }
        (void)!::write(fds[1], report.data(), report.size());
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string report;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) {
        report.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    ASSERT_FALSE(report.empty()) << "the child reported nothing";
    if (report[0] == 'U') {
        GTEST_SKIP() << "no capture here: " << report.substr(1);
    }
    ASSERT_EQ(report[0], 'R') << "the connect was not refused:\n" << report.substr(1);
    const std::string timeline = report.substr(1);
    const auto syn = timeline.find("  SYN ");
    const auto rst = timeline.find("RST ACK");
    EXPECT_NE(syn, std::string::npos) << timeline;
    EXPECT_NE(rst, std::string::npos) << timeline;
    EXPECT_LT(syn, rst) << timeline;
}
