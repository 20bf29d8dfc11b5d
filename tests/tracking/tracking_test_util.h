#pragma once
// Helpers for the tracking tests: helper processes (this test binary re-run
// with a gtest filter and CANOPY_TRACKING_HELPER set), free ports, stdout capture.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

extern char** environ;

namespace canopy::test {

inline std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, n) : std::string();
}

// Spawns `argv` with extra environment entries ("K=V"); own process group when
// new_group. stdout/stderr go to log_file when given. Returns the pid.
inline pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                   bool new_group = false, const std::string& log_file = "") {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  for (const auto& x : extra_env) env.push_back(x);
  std::vector<char*> a, ev;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  for (auto& s : env) ev.push_back(const_cast<char*>(s.c_str()));
  ev.push_back(nullptr);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  if (new_group) {
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (!log_file.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
  }
  pid_t pid = -1;
  if (posix_spawn(&pid, a[0], &fa, &attr, a.data(), ev.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return pid;
}

// Runs this test binary's helper test `name` (TrackingHelper.<name>) with
// CANOPY_TRACKING_HELPER_ARG=arg.
inline pid_t spawn_helper(const std::string& name, const std::string& arg) {
  return spawn({self_exe(), "--gtest_filter=TrackingHelper." + name},
               {"CANOPY_TRACKING_HELPER=1", "CANOPY_TRACKING_HELPER_ARG=" + arg}, false, "/dev/null");
}

inline int wait_status(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
  }
  return status;
}

inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// Captures what the process writes to stdout and stderr while alive.
class CaptureOutput {
 public:
  CaptureOutput() {
    std::fflush(stdout);
    std::fflush(stderr);
    char o[] = "/tmp/canopy_cap_outXXXXXX", e[] = "/tmp/canopy_cap_errXXXXXX";
    out_fd_ = mkstemp(o);
    err_fd_ = mkstemp(e);
    out_path_ = o;
    err_path_ = e;
    saved_out_ = dup(1);
    saved_err_ = dup(2);
    dup2(out_fd_, 1);
    dup2(err_fd_, 2);
  }
  void stop() {
    if (saved_out_ < 0) return;
    std::fflush(stdout);
    std::fflush(stderr);
    dup2(saved_out_, 1);
    dup2(saved_err_, 2);
    close(saved_out_);
    close(saved_err_);
    saved_out_ = saved_err_ = -1;
    out = slurp(out_path_);
    err = slurp(err_path_);
    close(out_fd_);
    close(err_fd_);
    unlink(out_path_.c_str());
    unlink(err_path_.c_str());
  }
  ~CaptureOutput() { stop(); }
  std::string out, err;

 private:
  static std::string slurp(const std::string& p) {
    std::string s;
    FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) return s;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
    std::fclose(f);
    return s;
  }
  int out_fd_ = -1, err_fd_ = -1, saved_out_ = -1, saved_err_ = -1;
  std::string out_path_, err_path_;
};

inline const char* helper_arg() {
  const char* a = std::getenv("CANOPY_TRACKING_HELPER_ARG");
  return a ? a : "";
}
inline bool in_helper() { return std::getenv("CANOPY_TRACKING_HELPER") != nullptr; }

}  // namespace canopy::test
