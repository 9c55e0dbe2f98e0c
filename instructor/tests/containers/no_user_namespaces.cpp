// no_user_namespaces COMMAND [ARG...]: runs COMMAND where no process may make a user namespace, as
// in a container started with Docker's default seccomp profile. The filter is the kernel's own
// (seccomp): unshare(2) and clone(2) with CLONE_NEWUSER fail with EPERM, and clone3(2), whose flags
// a filter cannot read, with ENOSYS, so that glibc falls back to clone(2). Everything else is
// allowed. Unlike user.max_user_namespaces, this needs no CAP_SYS_RESOURCE and touches only the
// command's processes, never the rest of the machine.
//
// no_user_namespaces --capabilities-denied-inside COMMAND [ARG...]: user namespaces may be made, but
// what needs a capability in one fails with EPERM, as on Ubuntu 24.04, whose AppArmor lets an
// ordinary program make a user namespace and then denies it every capability there: here, setting
// an interface's flags (bringing loopback up: CAP_NET_ADMIN) and socket(AF_PACKET) (a capture:
// CAP_NET_RAW).
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <iterator>

#if defined(__x86_64__)
constexpr unsigned kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kArch = AUDIT_ARCH_AARCH64;
#else
#error "no_user_namespaces: add this machine's AUDIT_ARCH_ value"
#endif

int main(int argc, char* argv[]) {
    const bool capabilities_denied_inside =
        argc > 1 && std::strcmp(argv[1], "--capabilities-denied-inside") == 0;
    const int first = capabilities_denied_inside ? 2 : 1;
    if (argc <= first) {
        std::fprintf(stderr, "usage: no_user_namespaces [--capabilities-denied-inside] COMMAND [ARG...]\n");
        return 2;
    }
    // Offsets: the low 32 bits of the first argument (flags, or a socket's family; little-endian).
    sock_filter no_user_namespace[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS), // another ABI: not what this filter reads
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_filter no_packet_socket[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 2),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_PACKET, 3, 4),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_ioctl, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])), // the request
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SIOCSIFFLAGS, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    sock_fprog program{static_cast<unsigned short>(std::size(no_user_namespace)), no_user_namespace};
    if (capabilities_denied_inside) {
        program = {static_cast<unsigned short>(std::size(no_packet_socket)), no_packet_socket};
    }
    // Root (CAP_SYS_ADMIN) may install a filter as it is, as Docker does; anyone else must give up
    // gaining privileges through exec first.
    if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
        if (errno != EACCES || ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
            std::fprintf(stderr, "no_user_namespaces: cannot install the seccomp filter: %s\n",
                         std::strerror(errno));
            return 125;
        }
    }
    ::execvp(argv[first], argv + first);
    std::fprintf(stderr, "no_user_namespaces: cannot run %s: %s\n", argv[first], std::strerror(errno));
    return 127;
}
