#include "host/run_recorder.h"

#include <canopy/version.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <thread>

#include "tracking/hash.h"
#include "tracking/sqlite_store.h"
#include "tracking/store_factory.h"
#include "tracking/sync.h"

namespace canopy {

using tracking::Metric;
using tracking::RunStatus;
using tracking::RunStore;
using tracking::TrackingError;
using tracking::UnreachableError;

// ---------------------------------------------------------------------------
// Helpers

std::string command_line_string(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i] ? argv[i] : "";
    const bool plain = !a.empty() && a.find_first_of(" \t\n'\"\\$`*?;&|<>()") == std::string::npos;
    if (!plain) {
      std::string q = "'";
      for (char c : a) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
      a = q + "'";
    }
    out += (i ? " " : "") + a;
  }
  return out;
}

namespace {
std::string user_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return "unknown";
}
std::string host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) == 0) return buf;
  return "unknown";
}
}  // namespace

std::map<std::string, std::string> standard_tags(const std::string& command_line) {
  std::map<std::string, std::string> t;
  t["canopy.version"] = CANOPY_VERSION;
  t["canopy.git_commit"] = CANOPY_GIT_COMMIT;
  t["canopy.git_dirty"] = CANOPY_GIT_DIRTY ? "true" : "false";
  t["mlflow.source.git.commit"] = CANOPY_GIT_COMMIT;
  t["canopy.host"] = host_name();
  t[tracking::kTagUser] = user_name();
  t[tracking::kTagSourceType] = "LOCAL";
  t[tracking::kTagSourceName] = "canopy";
  if (!command_line.empty()) {
    t["canopy.command"] = command_line;
    std::string first = command_line.substr(0, command_line.find(' '));
    if (!first.empty() && first.front() != '\'') t[tracking::kTagSourceName] = first;
  }
  return t;
}

std::map<std::string, std::string> dataset_tags(const std::string& path) {
  std::map<std::string, std::string> t;
  t["canopy.dataset.path"] = std::filesystem::absolute(path).lexically_normal().string();
  try {
    t["canopy.dataset.sha256"] = tracking::sha256_file(path);
  } catch (const std::exception&) {
  }
  return t;
}

// ---------------------------------------------------------------------------
// Journal and backend

// What one run has recorded; kept in full (metric points, artifacts) only
// while the store is remote, so a fallback can replay it locally.
struct RunRecorder::Journal {
  std::string id;         // in the current store
  std::string remote_id;  // in the MLflow store, when created there
  std::string experiment;
  std::string run_name, user_id;
  int64_t start_time = 0;
  std::shared_ptr<Journal> parent;
  std::map<std::string, std::string> params, tags;
  std::vector<Metric> metrics;
  std::vector<std::pair<std::string, std::string>> artifacts;  // local path, artifact dir
  bool ended = false;
  RunStatus status = RunStatus::kRunning;
  int64_t end_time = 0;
};

struct RunRecorder::Backend {
  std::mutex mu;
  std::unique_ptr<RunStore> store;
  std::string uri;
  bool remote = false;
  std::string remote_uri;
  std::string fallback_uri;
  bool fell_back = false;
  bool warned = false;
  std::vector<std::shared_ptr<Journal>> journals;

  void warn_once(const std::string& what) {
    if (warned) return;
    warned = true;
    std::fprintf(stderr, "canopy: warning: run tracking: %s; the run record may be incomplete\n", what.c_str());
  }

  // Runs op(store, journal) with the lock held. The caller has already put the
  // data into the journal, so after a fallback the replay covers it.
  template <class Op>
  void with_store(Journal& j, Op op) {
    std::lock_guard<std::mutex> lock(mu);
    if (!store) return;
    try {
      if (remote && j.id.empty()) throw UnreachableError("the run was never created on " + uri);
      op(*store, j);
    } catch (const UnreachableError& e) {
      if (remote)
        fall_back(e.what(), true);
      else
        warn_once(e.what());
    } catch (const std::exception& e) {
      warn_once(e.what());
    }
  }

  void replay(RunStore& local, Journal& j) {
    std::map<std::string, std::string> tags = j.tags;
    if (j.parent && !j.parent->id.empty()) tags[tracking::kTagParentRunId] = j.parent->id;
    if (!j.remote_id.empty()) {
      tags[tracking::kTagRemoteRunId] = j.remote_id;
      tags[tracking::kTagRemoteUri] = remote_uri;
    }
    tracking::CreateRunRequest req;
    req.experiment_id = local.get_or_create_experiment(j.experiment);
    req.run_name = j.run_name;
    req.user_id = j.user_id;
    req.start_time = j.start_time;
    req.tags = tags;
    j.id = local.create_run(req).run_id;
    local.log_batch(j.id, j.metrics, j.params, {});
    for (const auto& [path, dir] : j.artifacts) {
      try {
        local.log_artifact(j.id, path, dir);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "canopy: warning: run tracking: %s\n", e.what());
      }
    }
    if (j.ended) local.set_terminated(j.id, j.status, j.end_time);
    j.metrics.clear();
    j.metrics.shrink_to_fit();
    j.artifacts.clear();
  }

  // Moves every run to the local store (lock held).
  void fall_back(const std::string& cause, bool mid_run) {
    std::string reason = cause;
    const std::string prefix = "cannot reach MLflow server at " + remote_uri + ": ";
    if (reason.rfind(prefix, 0) == 0) reason = reason.substr(prefix.size());
    try {
      auto local = std::make_unique<tracking::SqliteStore>(tracking::sqlite_path_from_uri(fallback_uri));
      for (auto& j : journals) replay(*local, *j);
      store = std::move(local);
      uri = store->uri();
      remote = false;
      fell_back = true;
      std::string ids;
      for (auto& j : journals)
        if (!j->parent) ids += (ids.empty() ? "" : ", ") + j->id;
      if (ids.empty() && !journals.empty()) ids = journals.front()->id;
      std::fprintf(stderr,
                   "canopy: MLflow server %s %s (%s); run %s kept in %s; send it later with: canopy runs sync "
                   "--to %s\n",
                   remote_uri.c_str(), mid_run ? "failed during the run" : "unreachable", reason.c_str(),
                   ids.c_str(), uri.c_str(), remote_uri.c_str());
      warned = true;
    } catch (const std::exception& e) {
      std::fprintf(stderr,
                   "canopy: warning: MLflow server %s unreachable (%s) and the local store %s failed too (%s); "
                   "this run is not recorded\n",
                   remote_uri.c_str(), reason.c_str(), fallback_uri.c_str(), e.what());
      store.reset();
      warned = true;
    }
  }
};

// ---------------------------------------------------------------------------
// Signals: the handler only writes to a pipe; a watcher thread marks the live
// runs KILLED, then restores the previous disposition and re-raises.

struct SignalWatcher {
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::vector<RunRecorder*>& live() {
    static std::vector<RunRecorder*> v;
    return v;
  }
  static int& write_fd() {
    static int fd = -1;
    return fd;
  }
  static struct sigaction& old_action(int sig) {
    static struct sigaction old_int, old_term;
    return sig == SIGINT ? old_int : old_term;
  }
  static volatile sig_atomic_t& pending() {
    static volatile sig_atomic_t p = 0;
    return p;
  }

  static void handler(int sig) {
    if (pending()) {  // a second Ctrl-C: do not wait for the bookkeeping
      signal(sig, SIG_DFL);
      raise(sig);
      return;
    }
    pending() = 1;
    const unsigned char b = static_cast<unsigned char>(sig);
    const int saved = errno;
    if (write(write_fd(), &b, 1) < 0) {
    }
    errno = saved;
  }

  static void install() {
    static std::once_flag once;
    std::call_once(once, [] {
      int fds[2];
      if (pipe(fds) != 0) return;
      fcntl(fds[0], F_SETFD, FD_CLOEXEC);
      fcntl(fds[1], F_SETFD, FD_CLOEXEC);
      fcntl(fds[1], F_SETFL, O_NONBLOCK);
      write_fd() = fds[1];
      std::thread([rfd = fds[0]] {
        while (true) {
          unsigned char b = 0;
          ssize_t n = read(rfd, &b, 1);
          if (n < 0 && errno == EINTR) continue;
          if (n <= 0) return;
          const int sig = b;
          {
            std::lock_guard<std::mutex> lock(mu());
            auto runs = live();
            for (auto it = runs.rbegin(); it != runs.rend(); ++it) (*it)->kill_from_signal();
          }
          sigaction(sig, &old_action(sig), nullptr);
          raise(sig);
          // Still alive (the old handler ignored it): keep watching.
          pending() = 0;
          struct sigaction sa {};
          sa.sa_handler = handler;
          sigemptyset(&sa.sa_mask);
          sa.sa_flags = SA_RESTART;
          sigaction(sig, &sa, nullptr);
        }
      }).detach();
      struct sigaction sa {};
      sa.sa_handler = handler;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESTART;
      sigaction(SIGINT, &sa, &old_action(SIGINT));
      sigaction(SIGTERM, &sa, &old_action(SIGTERM));
    });
  }
  static void add(RunRecorder* r) {
    std::lock_guard<std::mutex> lock(mu());
    live().push_back(r);
  }
  static void remove(RunRecorder* r) {
    std::lock_guard<std::mutex> lock(mu());
    auto& v = live();
    v.erase(std::remove(v.begin(), v.end(), r), v.end());
  }
};

// ---------------------------------------------------------------------------
// RunRecorder

RunRecorder::RunRecorder(const RunOptions& options) : opt_(options) {
  if (!opt_.enabled) return;
  enabled_ = true;
  backend_ = std::make_shared<Backend>();
  Backend& b = *backend_;
  b.fallback_uri = opt_.fallback_uri.empty() ? tracking::default_local_uri() : opt_.fallback_uri;
  b.uri = tracking::resolve_tracking_uri(opt_.tracking_uri);
  b.remote = tracking::is_remote_uri(b.uri);
  if (b.remote) b.remote_uri = b.uri;
  b.store = tracking::open_store(b.uri);  // unsupported URIs and unopenable databases throw here
  start("");
}

RunRecorder::RunRecorder(std::shared_ptr<Backend> backend, const RunOptions& options,
                         const std::string& experiment_id)
    : enabled_(true), opt_(options), backend_(std::move(backend)) {
  start(experiment_id);
}

void RunRecorder::start(const std::string& experiment_id) {
  (void)experiment_id;
  journal_ = std::make_shared<Journal>();
  Journal& j = *journal_;
  j.experiment = opt_.experiment.empty() ? "Default" : opt_.experiment;
  j.run_name = opt_.run_name.empty() ? tracking::generate_run_name() : opt_.run_name;
  j.start_time = tracking::now_ms();
  j.tags = standard_tags(opt_.command_line);
  j.user_id = j.tags[tracking::kTagUser];
  for (const auto& kv : opt_.tags) j.tags[kv.first] = kv.second;
  if (!opt_.parent_run_id.empty()) {
    j.tags[tracking::kTagParentRunId] = opt_.parent_run_id;
    std::lock_guard<std::mutex> lock(backend_->mu);
    for (auto& p : backend_->journals)
      if (p->id == opt_.parent_run_id) j.parent = p;
  }
  {
    std::lock_guard<std::mutex> lock(backend_->mu);
    backend_->journals.push_back(journal_);
  }
  last_flush_ms_ = j.start_time;
  Backend& b = *backend_;
  {
    std::lock_guard<std::mutex> lock(b.mu);
    if (b.store) {
      try {
        tracking::CreateRunRequest req;
        req.experiment_id = b.store->get_or_create_experiment(j.experiment);
        req.run_name = j.run_name;
        req.user_id = j.user_id;
        req.start_time = j.start_time;
        req.tags = j.tags;
        if (j.parent) req.tags[tracking::kTagParentRunId] = j.parent->id;
        j.id = b.store->create_run(req).run_id;
        if (b.remote) j.remote_id = j.id;
      } catch (const std::exception& e) {
        if (!b.remote) throw;  // the local store is broken: a clear error up front
        b.fall_back(e.what(), false);
      }
    }
  }
  if (opt_.install_signal_handlers) SignalWatcher::install();
  SignalWatcher::add(this);
}

RunRecorder::~RunRecorder() {
  if (!enabled_) return;
  SignalWatcher::remove(this);
  if (!ended_) {
    try {
      end(RunStatus::kFailed, std::uncaught_exceptions() > 0 ? "an exception ended the run"
                                                             : "the run ended without finish()");
    } catch (...) {
    }
  }
}

const std::string& RunRecorder::run_id() const {
  static const std::string empty;
  return journal_ ? journal_->id : empty;
}

std::string RunRecorder::tracking_uri() const {
  if (!backend_) return "";
  std::lock_guard<std::mutex> lock(backend_->mu);
  return backend_->uri;
}

bool RunRecorder::fell_back() const {
  if (!backend_) return false;
  std::lock_guard<std::mutex> lock(backend_->mu);
  return backend_->fell_back;
}

void RunRecorder::log_param(const std::string& key, const std::string& value) { log_params({{key, value}}); }

void RunRecorder::log_params(const std::map<std::string, std::string>& params) {
  if (!enabled_ || params.empty()) return;
  {
    std::lock_guard<std::mutex> lock(backend_->mu);
    if (backend_->remote)
      for (const auto& kv : params) journal_->params.insert(kv);
  }
  backend_->with_store(*journal_, [&](RunStore& s, Journal& j) { s.log_batch(j.id, {}, params, {}); });
}

void RunRecorder::set_tag(const std::string& key, const std::string& value) { set_tags({{key, value}}); }

void RunRecorder::set_tags(const std::map<std::string, std::string>& tags) {
  if (!enabled_ || tags.empty()) return;
  {
    std::lock_guard<std::mutex> lock(backend_->mu);
    for (const auto& kv : tags) journal_->tags[kv.first] = kv.second;
  }
  backend_->with_store(*journal_, [&](RunStore& s, Journal& j) { s.log_batch(j.id, {}, {}, tags); });
}

void RunRecorder::log_metric(const std::string& key, double value, int64_t step) {
  if (!enabled_) return;
  add_points({Metric{key, value, tracking::now_ms(), step}});
}

void RunRecorder::log_metrics(const std::vector<std::pair<std::string, double>>& metrics, const std::string& prefix,
                              int64_t step) {
  if (!enabled_ || metrics.empty()) return;
  const int64_t ts = tracking::now_ms();
  std::vector<Metric> points;
  points.reserve(metrics.size());
  for (const auto& [k, v] : metrics) points.push_back(Metric{prefix + k, v, ts, step});
  add_points(points);
}

void RunRecorder::add_points(const std::vector<Metric>& points) {
  std::lock_guard<std::mutex> lock(mu_);
  buffer_.insert(buffer_.end(), points.begin(), points.end());
  if (buffer_.size() >= opt_.flush_every ||
      tracking::now_ms() - last_flush_ms_ >= static_cast<int64_t>(opt_.flush_interval_s * 1000))
    flush_locked();
}

void RunRecorder::flush() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  flush_locked();
}

void RunRecorder::flush_locked() {
  last_flush_ms_ = tracking::now_ms();
  if (buffer_.empty()) return;
  std::vector<Metric> points;
  points.swap(buffer_);
  {
    std::lock_guard<std::mutex> lock(backend_->mu);
    if (backend_->remote) journal_->metrics.insert(journal_->metrics.end(), points.begin(), points.end());
  }
  backend_->with_store(*journal_, [&](RunStore& s, Journal& j) { s.log_batch(j.id, points, {}, {}); });
}

void RunRecorder::log_artifact(const std::string& local_path, const std::string& artifact_dir) {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> lock(backend_->mu);
    if (backend_->remote) journal_->artifacts.emplace_back(local_path, artifact_dir);
  }
  backend_->with_store(*journal_, [&](RunStore& s, Journal& j) { s.log_artifact(j.id, local_path, artifact_dir); });
}

void RunRecorder::start_system_metrics(double interval_s, tracking::SystemMetricsSampler::Source extra) {
  if (!enabled_ || sampler_ || ended_) return;
  sampler_ = std::make_unique<tracking::SystemMetricsSampler>(
      [this](const std::vector<Metric>& m) { add_points(m); }, interval_s);
  if (extra) sampler_->add_source(std::move(extra));
  sampler_->start();
}

void RunRecorder::end(RunStatus status, const std::string& error) {
  if (!enabled_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_) return;
    ended_ = true;
  }
  if (sampler_) sampler_->stop();
  std::lock_guard<std::mutex> lock(mu_);
  flush_locked();
  const int64_t end_time = tracking::now_ms();
  std::map<std::string, std::string> tags;
  if (!error.empty()) tags["canopy.error"] = error.substr(0, 5000);
  {
    std::lock_guard<std::mutex> block(backend_->mu);
    for (const auto& kv : tags) journal_->tags[kv.first] = kv.second;
    journal_->ended = true;
    journal_->status = status;
    journal_->end_time = end_time;
  }
  backend_->with_store(*journal_, [&](RunStore& s, Journal& j) {
    if (!tags.empty()) s.log_batch(j.id, {}, {}, tags);
    s.set_terminated(j.id, status, end_time);
  });
}

void RunRecorder::finish() { end(RunStatus::kFinished, ""); }
void RunRecorder::fail(const std::string& error) { end(RunStatus::kFailed, error.empty() ? "failed" : error); }
void RunRecorder::kill() { end(RunStatus::kKilled, ""); }
void RunRecorder::kill_from_signal() {
  try {
    kill();
  } catch (...) {
  }
}

std::unique_ptr<RunRecorder> RunRecorder::child(const std::string& run_name,
                                                const std::map<std::string, std::string>& tags) {
  RunOptions o = opt_;
  o.run_name = run_name;
  o.parent_run_id = run_id();
  o.tags = tags;
  o.enabled = enabled_;
  if (!enabled_) return std::make_unique<RunRecorder>(o);
  return std::unique_ptr<RunRecorder>(new RunRecorder(backend_, o, ""));
}

}  // namespace canopy
