// The grading user and the work folder, held outside the sandbox for one grade: a user id of no
// account leased for the submission's programs (when the grader is root), the sweeps that kill
// whatever of the submission outlives its lab, and the lock on the work folder.
#pragma once

#include "fd.hpp"

#include <filesystem>
#include <functional>
#include <string>

namespace socklab::grade {

// The user the submission's programs run as, when the grader is root: an id of no account
// (61000-61999), held for as long as it lives by flock(2) on /run/socklab-grade/ID.lock and by the
// abstract socket @socklab-grade-uid-ID, so that graders at once (a batch's jobs, two instructors,
// or a grader in a chroot with a /run of its own beside one outside) never share one: the
// process cap counts per user, and the sweep kills every process of the user.
// -1 when the grader is not root.
class UserLease {
public:
    UserLease();
    ~UserLease();
    UserLease(const UserLease&) = delete;
    UserLease& operator=(const UserLease&) = delete;

    [[nodiscard]] int uid() const { return uid_; }
    [[nodiscard]] const std::string& why_not() const { return why_not_; }
    // The programs run as the grader's own user after all (the lease is kept, unused).
    void give_up(std::string why) { uid_ = -1, why_not_ = std::move(why); }

private:
    int uid_ = -1;
    sandbox::Fd lock_; // the flock on /run/socklab-grade/UID.lock
    sandbox::Fd name_; // the abstract socket name that says the id is taken
    std::string why_not_;
};

// Kills every process of user uid, however it left its group or whatever it runs now (a child
// that called setsid and then exec'd /bin/sleep, say): a child that becomes the user sends SIGKILL
// to every process it may signal (kill(2) with pid -1), until none is alive. Returns how many
// were alive at first.
int kill_user(int uid);

// Kills every process still running a program of bin (one that left its process group with
// setsid, say, after a fork): /proc/PID/exe names the program even without an exec. Returns how many.
int kill_leftovers(const std::filesystem::path& bin);

// flock(2) on WORK/.lock for as long as it lives; waits (and says so) while another grader holds it.
class WorkLock {
public:
    WorkLock(const std::filesystem::path& work, const std::function<void(const std::string&)>& progress);
    ~WorkLock();
    WorkLock(const WorkLock&) = delete;
    WorkLock& operator=(const WorkLock&) = delete;

private:
    sandbox::Fd fd_;
};

// Whether user uid can enter folder and read what is in it (every folder above it must let others
// through): checked in a child that becomes the user.
[[nodiscard]] bool user_can_reach(int uid, const std::filesystem::path& folder);

} // namespace socklab::grade
