#include "socklab/wire/capture.hpp"

#include <pcap/pcap.h>

#include <fcntl.h>
#include <poll.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace socklab::wire {

namespace {

// Why pcap_activate refused, in words that say what to do.
std::string activate_error(int code, pcap_t* handle) {
    const std::string detail = pcap_geterr(handle);
    if (code == PCAP_ERROR_PERM_DENIED || code == PCAP_ERROR_PROMISC_PERM_DENIED) {
        return "capturing on lo needs CAP_NET_RAW in this network namespace (run as root, or in a private "
               "network namespace made in a user namespace; Ubuntu 24.04's AppArmor denies it there unless "
               "sysctl kernel.apparmor_restrict_unprivileged_userns=0): " +
               detail;
    }
    if (code == PCAP_ERROR_NO_SUCH_DEVICE) {
        return "this network namespace has no loopback interface lo: " + detail;
    }
    return "pcap_activate on lo failed: " + detail;
}

} // namespace

struct Capture::State {
    pcap_t* handle = nullptr;
    std::atomic<bool> stopping{false};
    std::mutex lock;        // frames
    std::mutex dispatching; // pcap_dispatch: libpcap allows one call at a time on a handle
    std::vector<Frame> frames;
    std::thread reader;

    ~State() {
        if (handle != nullptr) {
            pcap_close(handle);
        }
    }

    static void on_frame(u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
        auto* self = reinterpret_cast<State*>(user);
        Frame f;
        f.time = std::chrono::seconds(header->ts.tv_sec) + std::chrono::microseconds(header->ts.tv_usec);
        f.bytes.assign(reinterpret_cast<const char*>(bytes), header->caplen);
        f.length = header->len;
        const std::lock_guard<std::mutex> guard(self->lock);
        self->frames.push_back(std::move(f));
    }

    // Takes every frame the kernel holds now, without waiting.
    void drain() {
        const std::lock_guard<std::mutex> guard(dispatching);
        (void)pcap_dispatch(handle, -1, &State::on_frame, reinterpret_cast<u_char*>(this));
    }

    void read_until_stopped() {
        const int fd = pcap_get_selectable_fd(handle);
        while (!stopping.load()) {
            pollfd p{fd, POLLIN, 0};
            (void)::poll(&p, 1, 20); // wakes to see stopping, at the latest every 20 ms
            drain();
        }
    }
};

std::unique_ptr<Capture> Capture::start(std::string& why) {
    char error[PCAP_ERRBUF_SIZE] = {};
    auto state = std::make_unique<State>();
    state->handle = pcap_create("lo", error);
    if (state->handle == nullptr) {
        why = std::string("pcap_create(lo) failed: ") + error;
        return nullptr;
    }
    // Immediate mode: each frame is handed over as it comes, not when a buffer fills.
    (void)pcap_set_snaplen(state->handle, kSnapLength);
    (void)pcap_set_immediate_mode(state->handle, 1);
    (void)pcap_set_buffer_size(state->handle, kBufferBytes);
    if (const int code = pcap_activate(state->handle); code < 0) {
        why = activate_error(code, state->handle);
        return nullptr;
    }
    // libpcap's packet socket is not close-on-exec: a program started later (socklab-wire's
    // command, a script's server) would hold a raw socket on this loopback.
    if (const int fd = pcap_get_selectable_fd(state->handle); fd >= 0) {
        ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
    }
    bpf_program filter{};
    if (pcap_compile(state->handle, &filter, "tcp or icmp", 1, PCAP_NETMASK_UNKNOWN) != 0 ||
        pcap_setfilter(state->handle, &filter) != 0) {
        why = std::string("the capture filter was refused: ") + pcap_geterr(state->handle);
        pcap_freecode(&filter);
        return nullptr;
    }
    pcap_freecode(&filter);
    if (pcap_setnonblock(state->handle, 1, error) != 0) {
        why = std::string("pcap_setnonblock failed: ") + error;
        return nullptr;
    }
    const int link = pcap_datalink(state->handle);
    State* raw = state.get();
    raw->reader = std::thread([raw] { raw->read_until_stopped(); });
    return std::unique_ptr<Capture>(new Capture(std::move(state), link));
}

Capture::Capture(std::unique_ptr<State> state, int link_type)
    : state_(std::move(state)), link_type_(link_type) {}

Capture::~Capture() {
    if (state_ && state_->reader.joinable()) {
        state_->stopping = true;
        state_->reader.join();
    }
}

std::vector<Frame> Capture::frames_so_far() {
    state_->drain();
    const std::lock_guard<std::mutex> guard(state_->lock);
    return state_->frames;
}

std::vector<Frame> Capture::stop() {
    if (state_->reader.joinable()) {
        state_->stopping = true;
        state_->reader.join();
    }
    state_->drain();
    const std::lock_guard<std::mutex> guard(state_->lock);
    return std::move(state_->frames);
}

unsigned Capture::dropped() const {
    pcap_stat stats{};
    return pcap_stats(state_->handle, &stats) == 0 ? stats.ps_drop : 0;
}

bool write_pcap(const std::string& path, int link_type, const std::vector<Frame>& frames, std::string& why) {
    pcap_t* dead = pcap_open_dead(link_type, kSnapLength);
    if (dead == nullptr) {
        why = "pcap_open_dead failed";
        return false;
    }
    pcap_dumper_t* file = pcap_dump_open(dead, path.c_str());
    if (file == nullptr) {
        why = "cannot write " + path + ": " + pcap_geterr(dead);
        pcap_close(dead);
        return false;
    }
    for (const Frame& f : frames) {
        pcap_pkthdr header{};
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(f.time);
        header.ts.tv_sec = static_cast<time_t>(seconds.count());
        header.ts.tv_usec = static_cast<suseconds_t>((f.time - seconds).count());
        header.caplen = static_cast<bpf_u_int32>(f.bytes.size());
        header.len = f.length;
        pcap_dump(reinterpret_cast<u_char*>(file), &header, reinterpret_cast<const u_char*>(f.bytes.data()));
    }
    const bool flushed = pcap_dump_flush(file) == 0;
    pcap_dump_close(file);
    pcap_close(dead);
    if (!flushed) {
        why = "cannot write " + path + " in full";
    }
    return flushed;
}

} // namespace socklab::wire
