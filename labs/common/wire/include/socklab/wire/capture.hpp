// The packets behind a lab: a capture, with libpcap, of the TCP segments and ICMP errors on the
// loopback interface of the calling thread's network namespace (docs/reference/wire.md).
//
// Capturing needs CAP_NET_RAW in that namespace: root has it, and so has anyone in a network
// namespace of their own made inside a user namespace (Debian allows those). Opened in a private
// namespace, a capture reads nothing of the machine's other traffic.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace socklab::wire {

// One frame as captured on the loopback interface.
struct Frame {
    std::chrono::microseconds time{0}; // as the kernel stamped it, since the epoch
    std::string bytes;                 // the frame, its first kSnapLength bytes at most
    std::uint32_t length = 0;          // its whole length
};

// What is kept of a frame: every header and the start of the payload, which is what a timeline
// shows. Small frames make the kernel's ring hold many: a capture then loses none while a test
// sends a few thousand segments on a loaded machine (with 64 KiB frames it held 128, and lost the
// end of a 30 000-byte echo in 576-byte segments).
inline constexpr int kSnapLength = 2048;
inline constexpr int kBufferBytes = 32 << 20;

class Capture {
public:
    // Starts capturing on "lo" of the calling thread's network namespace, TCP and ICMP only.
    // Returns nullptr, with the reason in why, where it cannot (no CAP_NET_RAW here, say).
    static std::unique_ptr<Capture> start(std::string& why);
    ~Capture();
    Capture(const Capture&) = delete;
    Capture& operator=(const Capture&) = delete;

    // Every frame captured so far, oldest first (those queued in the kernel now included); the
    // capture goes on.
    [[nodiscard]] std::vector<Frame> frames_so_far();
    // Stops capturing and returns every frame, oldest first (the frames queued in the kernel when
    // it is called included: a segment sent before the call is in the result).
    std::vector<Frame> stop();
    // The frames' link-layer type, as a .pcap file records it (DLT_EN10MB on Linux's loopback).
    [[nodiscard]] int link_type() const { return link_type_; }
    // How many frames the kernel dropped because the capture's buffer was full (pcap_stats).
    [[nodiscard]] unsigned dropped() const;

private:
    struct State;
    explicit Capture(std::unique_ptr<State> state, int link_type);
    std::unique_ptr<State> state_;
    int link_type_;
};

// Writes frames as a .pcap file, which tcpdump -r, tshark -r and Wireshark open. False, with the
// reason in why, when the file cannot be written.
bool write_pcap(const std::string& path, int link_type, const std::vector<Frame>& frames, std::string& why);

} // namespace socklab::wire
