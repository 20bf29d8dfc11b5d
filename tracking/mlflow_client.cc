#include "tracking/mlflow_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <thread>

namespace fs = std::filesystem;
using nlohmann::json;

namespace canopy::tracking {
namespace {

std::string env_or(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

bool is_true(const std::string& s) { return s == "1" || s == "true" || s == "TRUE" || s == "True" || s == "yes"; }

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t write_string(char* p, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(p, size * n);
  return size * n;
}
size_t write_file(char* p, size_t size, size_t n, void* user) {
  return std::fwrite(p, size, n, static_cast<FILE*>(user)) * size;
}
size_t read_file(char* p, size_t size, size_t n, void* user) {
  return std::fread(p, size, n, static_cast<FILE*>(user)) * size;
}

int64_t get_i64(const json& j, const char* key, int64_t fallback = 0) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if (it->is_number()) return it->get<int64_t>();
  if (it->is_string()) {
    try {
      return std::stoll(it->get<std::string>());
    } catch (...) {
      return fallback;
    }
  }
  return fallback;
}
std::string get_str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}
double get_double(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {
    const std::string s = it->get<std::string>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    return std::strtod(s.c_str(), nullptr);
  }
  return std::numeric_limits<double>::quiet_NaN();
}
// Protobuf JSON spells non-finite doubles as strings.
json number_json(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  return v;
}

json kv_array(const std::map<std::string, std::string>& m) {
  json a = json::array();
  for (const auto& [k, v] : m) a.push_back({{"key", k}, {"value", v}});
  return a;
}

Experiment parse_experiment(const json& e) {
  Experiment x;
  x.experiment_id = get_str(e, "experiment_id");
  x.name = get_str(e, "name");
  x.artifact_location = get_str(e, "artifact_location");
  x.lifecycle_stage = get_str(e, "lifecycle_stage");
  x.creation_time = get_i64(e, "creation_time");
  x.last_update_time = get_i64(e, "last_update_time");
  if (e.contains("tags"))
    for (const auto& t : e["tags"]) x.tags[get_str(t, "key")] = get_str(t, "value");
  return x;
}

RunInfo parse_info(const json& i) {
  RunInfo r;
  r.run_id = get_str(i, "run_id");
  if (r.run_id.empty()) r.run_id = get_str(i, "run_uuid");
  r.run_name = get_str(i, "run_name");
  r.experiment_id = get_str(i, "experiment_id");
  r.user_id = get_str(i, "user_id");
  const std::string st = get_str(i, "status");
  r.status = st.empty() ? RunStatus::kRunning : parse_status(st);
  r.start_time = get_i64(i, "start_time");
  r.end_time = get_i64(i, "end_time");
  r.artifact_uri = get_str(i, "artifact_uri");
  r.lifecycle_stage = get_str(i, "lifecycle_stage");
  return r;
}

Metric parse_metric(const json& m) {
  return Metric{get_str(m, "key"), get_double(m, "value"), get_i64(m, "timestamp"), get_i64(m, "step")};
}

Run parse_run(const json& j) {
  Run r;
  r.info = parse_info(j.value("info", json::object()));
  const json data = j.value("data", json::object());
  if (data.contains("params"))
    for (const auto& p : data["params"]) r.params[get_str(p, "key")] = get_str(p, "value");
  if (data.contains("tags"))
    for (const auto& t : data["tags"]) r.tags[get_str(t, "key")] = get_str(t, "value");
  if (data.contains("metrics"))
    for (const auto& m : data["metrics"]) {
      Metric x = parse_metric(m);
      r.metrics[x.key] = x;
    }
  if (r.info.run_name.empty()) {
    auto it = r.tags.find(kTagRunName);
    if (it != r.tags.end()) r.info.run_name = it->second;
  }
  return r;
}

// The reason after curl's "Failed to connect to host port N after M ms: ".
std::string curl_reason(CURLcode rc, const char* errbuf) {
  std::string msg = errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_COULDNT_CONNECT) {
    auto pos = msg.rfind(": ");
    if (pos != std::string::npos) msg = msg.substr(pos + 2);
    if (msg == "Couldn't connect to server") msg = "Connection refused";
  }
  return msg;
}

}  // namespace

MlflowOptions MlflowOptions::from_env() {
  MlflowOptions o;
  o.token = env_or("MLFLOW_TRACKING_TOKEN");
  o.username = env_or("MLFLOW_TRACKING_USERNAME");
  o.password = env_or("MLFLOW_TRACKING_PASSWORD");
  o.insecure_tls = is_true(env_or("MLFLOW_TRACKING_INSECURE_TLS"));
  const std::string attempts = env_or("CANOPY_MLFLOW_MAX_ATTEMPTS");
  if (!attempts.empty()) o.max_attempts = std::max(1, std::atoi(attempts.c_str()));
  const std::string backoff = env_or("CANOPY_MLFLOW_BACKOFF_S");
  if (!backoff.empty()) o.initial_backoff_s = std::max(0.0, std::atof(backoff.c_str()));
  return o;
}

std::vector<BatchChunk> split_batch(const std::vector<Metric>& metrics,
                                    const std::map<std::string, std::string>& params,
                                    const std::map<std::string, std::string>& tags) {
  std::vector<BatchChunk> out;
  auto p = params.begin();
  auto t = tags.begin();
  size_t m = 0;
  while (p != params.end() || t != tags.end() || m < metrics.size() || out.empty()) {
    BatchChunk c;
    size_t entries = 0;
    for (; p != params.end() && c.params.size() < kMaxParamsPerBatch; ++p, ++entries) c.params.insert(*p);
    for (; t != tags.end() && c.tags.size() < kMaxTagsPerBatch; ++t, ++entries) c.tags.insert(*t);
    while (m < metrics.size() && c.metrics.size() < kMaxMetricsPerBatch && entries < kMaxEntriesPerBatch) {
      c.metrics.push_back(metrics[m++]);
      ++entries;
    }
    out.push_back(std::move(c));
    if (metrics.empty() && params.empty() && tags.empty()) break;
  }
  return out;
}

MlflowClient::MlflowClient(const std::string& base_url, MlflowOptions options) : base_(base_url), opt_(options) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (opt_.max_attempts < 1) opt_.max_attempts = 1;
  global_init();
  curl_ = curl_easy_init();
  if (!curl_) throw TrackingError("cannot initialise libcurl");
}

MlflowClient::~MlflowClient() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

MlflowClient::Response MlflowClient::send(const std::string& method, const std::string& url, const std::string& body,
                                          const std::string& what, const std::string& upload_file,
                                          const std::string& download_file) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  CURL* c = static_cast<CURL*>(curl_);
  double backoff = opt_.initial_backoff_s;
  std::string last_error;
  Response last;
  for (int attempt = 1; attempt <= opt_.max_attempts; ++attempt) {
    curl_easy_reset(c);
    char errbuf[CURL_ERROR_SIZE] = {0};
    Response r;
    FILE* up = nullptr;
    FILE* down = nullptr;
    std::string down_tmp;
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, opt_.connect_timeout_s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, opt_.request_timeout_s);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "canopy-tracking/1");
    if (opt_.insecure_tls) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    struct curl_slist* headers = nullptr;
    headers = curl_slist_append(headers, "Accept: application/json");
    if (!opt_.token.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + opt_.token).c_str());
    else if (!opt_.username.empty()) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, opt_.username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, opt_.password.c_str());
    }
    if (!upload_file.empty()) {
      up = std::fopen(upload_file.c_str(), "rb");
      if (!up) {
        curl_slist_free_all(headers);
        throw TrackingError("cannot read artifact " + upload_file);
      }
      headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
      curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(c, CURLOPT_READFUNCTION, read_file);
      curl_easy_setopt(c, CURLOPT_READDATA, up);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(fs::file_size(upload_file)));
    } else if (method == "POST") {
      headers = curl_slist_append(headers, "Content-Type: application/json");
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else if (method != "GET") {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    if (!download_file.empty()) {
      down_tmp = download_file + ".part";
      down = std::fopen(down_tmp.c_str(), "wb");
      if (!down) {
        if (up) std::fclose(up);
        curl_slist_free_all(headers);
        throw TrackingError("cannot write " + down_tmp);
      }
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_file);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, down);
    } else {
      curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_string);
      curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    }
    ++requests_;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(headers);
    if (up) std::fclose(up);
    if (down) std::fclose(down);
    bool retry = false;
    if (rc != CURLE_OK) {
      last_error = "cannot reach MLflow server at " + base_ + ": " + curl_reason(rc, errbuf);
      retry = true;
    } else if (r.status == 429 || r.status >= 500) {
      if (!down_tmp.empty()) {  // the error body went to the file
        std::error_code ec;
        fs::remove(down_tmp, ec);
      }
      std::string detail = r.body.substr(0, 300);
      try {
        json j = json::parse(r.body);
        if (j.contains("message")) detail = get_str(j, "message");
      } catch (...) {
      }
      last_error = "MLflow server at " + base_ + " answered HTTP " + std::to_string(r.status) + " to " + what +
                   (detail.empty() ? "" : ": " + detail);
      retry = true;
    }
    if (!retry) {
      if (!down_tmp.empty()) {
        std::error_code ec;
        if (r.status == 200) {
          fs::rename(down_tmp, download_file, ec);
          if (ec) throw TrackingError("cannot write " + download_file + ": " + ec.message());
        } else {
          // Read the error body back for the message.
          FILE* f = std::fopen(down_tmp.c_str(), "rb");
          if (f) {
            char buf[4096];
            size_t n = std::fread(buf, 1, sizeof buf, f);
            r.body.assign(buf, n);
            std::fclose(f);
          }
          fs::remove(down_tmp, ec);
        }
      }
      return r;
    }
    if (!down_tmp.empty()) {
      std::error_code ec;
      fs::remove(down_tmp, ec);
    }
    last = r;
    if (attempt < opt_.max_attempts) {
      std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
      backoff = std::min(backoff * 2, opt_.max_backoff_s);
    }
  }
  throw UnreachableError(last_error + (opt_.max_attempts > 1
                                           ? " (after " + std::to_string(opt_.max_attempts) + " tries)"
                                           : std::string()));
}

void MlflowClient::throw_http_error(const Response& r, const std::string& what) {
  std::string code, message = r.body.substr(0, 500);
  try {
    json j = json::parse(r.body);
    code = get_str(j, "error_code");
    if (j.contains("message")) message = get_str(j, "message");
  } catch (...) {
  }
  if (r.status == 401 || r.status == 403)
    throw TrackingError("MLflow server at " + base_ + " refused " + what + " (HTTP " + std::to_string(r.status) +
                        "): check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD");
  const std::string text = "MLflow server at " + base_ + " rejected " + what + " (HTTP " +
                           std::to_string(r.status) + (code.empty() ? "" : ", " + code) + "): " + message;
  if (r.status == 404 || code == "RESOURCE_DOES_NOT_EXIST") throw NotFoundError(text);
  throw TrackingError(text);
}

json MlflowClient::call(const std::string& method, const std::string& endpoint, const json& body) {
  std::string url = base_ + "/api/2.0/mlflow/" + endpoint;
  std::string payload;
  if (method == "GET") {
    std::string q;
    for (auto it = body.begin(); it != body.end(); ++it) {
      const std::string v = it->is_string() ? it->get<std::string>() : it->dump();
      q += (q.empty() ? "?" : "&") + it.key() + "=" + escape(v);
    }
    url += q;
  } else {
    payload = body.dump();
  }
  Response r = send(method, url, payload, method + " " + endpoint);
  if (r.status != 200) throw_http_error(r, method + " " + endpoint);
  if (r.body.empty()) return json::object();
  try {
    return json::parse(r.body);
  } catch (const std::exception& e) {
    throw TrackingError("MLflow server at " + base_ + " sent an invalid answer to " + endpoint + ": " + e.what());
  }
}

bool MlflowClient::healthy() {
  try {
    return send("GET", base_ + "/health", "", "GET /health").status == 200;
  } catch (const TrackingError&) {
    return false;
  }
}

std::optional<Experiment> MlflowClient::get_experiment_by_name(const std::string& name) {
  try {
    json j = call("GET", "experiments/get-by-name", {{"experiment_name", name}});
    return parse_experiment(j.at("experiment"));
  } catch (const NotFoundError&) {
    return std::nullopt;
  }
}

Experiment MlflowClient::get_experiment(const std::string& experiment_id) {
  try {
    json j = call("GET", "experiments/get", {{"experiment_id", experiment_id}});
    return parse_experiment(j.at("experiment"));
  } catch (const NotFoundError&) {
    throw NotFoundError("no experiment with id '" + experiment_id + "' on " + base_);
  }
}

std::string MlflowClient::create_experiment(const std::string& name) {
  json j = call("POST", "experiments/create", {{"name", name}});
  return get_str(j, "experiment_id");
}

std::vector<Experiment> MlflowClient::list_experiments() {
  std::vector<Experiment> out;
  std::string token;
  do {
    json body = {{"max_results", 1000}, {"view_type", "ACTIVE_ONLY"}};
    if (!token.empty()) body["page_token"] = token;
    json j = call("POST", "experiments/search", body);
    if (j.contains("experiments"))
      for (const auto& e : j["experiments"]) out.push_back(parse_experiment(e));
    token = get_str(j, "next_page_token");
  } while (!token.empty());
  return out;
}

RunInfo MlflowClient::create_run(const CreateRunRequest& req) {
  std::map<std::string, std::string> tags = req.tags;
  std::string name = req.run_name;
  if (name.empty()) {
    auto it = tags.find(kTagRunName);
    name = it != tags.end() ? it->second : generate_run_name();
  }
  tags[kTagRunName] = name;
  if (!req.user_id.empty() && !tags.count(kTagUser)) tags[kTagUser] = req.user_id;
  // runs/create takes the tags too, but large tag sets must respect the batch limits.
  std::map<std::string, std::string> first, rest;
  for (const auto& kv : tags) (first.size() < kMaxTagsPerBatch ? first : rest).insert(kv);
  json body = {{"experiment_id", req.experiment_id.empty() ? "0" : req.experiment_id},
               {"user_id", req.user_id},
               {"run_name", name},
               {"start_time", req.start_time > 0 ? req.start_time : now_ms()},
               {"tags", kv_array(first)}};
  json j = call("POST", "runs/create", body);
  RunInfo info = parse_info(j.at("run").at("info"));
  if (info.run_name.empty()) info.run_name = name;
  if (!rest.empty()) log_batch(info.run_id, {}, {}, rest);
  return info;
}

void MlflowClient::update_run(const std::string& run_id, RunStatus status, std::optional<int64_t> end_time) {
  json body = {{"run_id", run_id}, {"run_uuid", run_id}, {"status", status_name(status)}};
  if (end_time) body["end_time"] = *end_time;
  try {
    call("POST", "runs/update", body);
  } catch (const NotFoundError&) {
    throw NotFoundError("no run with id '" + run_id + "' on " + base_);
  }
}

void MlflowClient::log_batch(const std::string& run_id, const std::vector<Metric>& metrics,
                             const std::map<std::string, std::string>& params,
                             const std::map<std::string, std::string>& tags) {
  if (metrics.empty() && params.empty() && tags.empty()) return;
  for (const BatchChunk& c : split_batch(metrics, params, tags)) {
    json m = json::array();
    for (const Metric& x : c.metrics)
      m.push_back({{"key", x.key}, {"value", number_json(x.value)}, {"timestamp", x.timestamp}, {"step", x.step}});
    json body = {{"run_id", run_id}, {"metrics", m}, {"params", kv_array(c.params)}, {"tags", kv_array(c.tags)}};
    try {
      call("POST", "runs/log-batch", body);
    } catch (const NotFoundError&) {
      throw NotFoundError("no run with id '" + run_id + "' on " + base_);
    }
  }
}

Run MlflowClient::get_run(const std::string& run_id) {
  try {
    json j = call("GET", "runs/get", {{"run_id", run_id}});
    return parse_run(j.at("run"));
  } catch (const NotFoundError&) {
    throw NotFoundError("no run with id '" + run_id + "'");
  } catch (const UnreachableError&) {
    throw;
  } catch (const TrackingError& e) {
    // Some MLflow versions answer 400 INVALID_PARAMETER_VALUE for malformed ids.
    if (std::string(e.what()).find("INVALID_PARAMETER_VALUE") != std::string::npos)
      throw NotFoundError("no run with id '" + run_id + "'");
    throw;
  }
}

std::vector<Metric> MlflowClient::get_metric_history(const std::string& run_id, const std::string& key) {
  std::vector<Metric> out;
  std::string token;
  do {
    json q = {{"run_id", run_id}, {"metric_key", key}, {"max_results", 25000}};
    if (!token.empty()) q["page_token"] = token;
    json j;
    try {
      j = call("GET", "metrics/get-history", q);
    } catch (const NotFoundError&) {
      throw NotFoundError("no run with id '" + run_id + "'");
    }
    if (j.contains("metrics"))
      for (const auto& m : j["metrics"]) out.push_back(parse_metric(m));
    token = get_str(j, "next_page_token");
  } while (!token.empty());
  std::stable_sort(out.begin(), out.end(), [](const Metric& a, const Metric& b) {
    return a.step != b.step ? a.step < b.step : a.timestamp < b.timestamp;
  });
  return out;
}

std::vector<Run> MlflowClient::search_runs(const std::vector<std::string>& experiment_ids, const std::string& filter,
                                           const std::vector<std::string>& order_by, int64_t max_results) {
  std::vector<std::string> ids = experiment_ids;
  if (ids.empty())
    for (const Experiment& e : list_experiments()) ids.push_back(e.experiment_id);
  std::vector<Run> out;
  if (ids.empty()) return out;
  std::string token;
  do {
    int64_t page = 1000;
    if (max_results > 0) page = std::min<int64_t>(page, max_results - static_cast<int64_t>(out.size()));
    json body = {{"experiment_ids", ids}, {"filter", filter}, {"run_view_type", "ACTIVE_ONLY"},
                 {"max_results", page}, {"order_by", order_by}};
    if (!token.empty()) body["page_token"] = token;
    json j = call("POST", "runs/search", body);
    if (j.contains("runs"))
      for (const auto& r : j["runs"]) out.push_back(parse_run(r));
    token = get_str(j, "next_page_token");
  } while (!token.empty() && (max_results <= 0 || static_cast<int64_t>(out.size()) < max_results));
  return out;
}

std::string MlflowClient::artifact_base(const std::string& run_id) {
  {
    std::lock_guard<std::recursive_mutex> lock(mu_);
    auto it = artifact_bases_.find(run_id);
    if (it != artifact_bases_.end()) return it->second;
  }
  const std::string uri = get_run(run_id).info.artifact_uri;
  const std::string scheme = "mlflow-artifacts:";
  if (uri.rfind(scheme, 0) != 0)
    throw TrackingError("MLflow server at " + base_ + " does not proxy artifacts (run " + run_id +
                        " has artifact_uri \"" + uri +
                        "\"): start it with --serve-artifacts (the default since MLflow 2.0) and an "
                        "--artifacts-destination");
  std::string p = uri.substr(scheme.size());
  if (p.rfind("//", 0) == 0) {  // mlflow-artifacts://host:port/path
    auto slash = p.find('/', 2);
    p = slash == std::string::npos ? "" : p.substr(slash);
  }
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  while (!p.empty() && p.back() == '/') p.pop_back();
  std::lock_guard<std::recursive_mutex> lock(mu_);
  artifact_bases_[run_id] = p;
  return p;
}

namespace {
std::string join_path(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a + "/" + b;
}
std::string strip_slashes(std::string s) {
  while (!s.empty() && s.front() == '/') s.erase(s.begin());
  while (!s.empty() && s.back() == '/') s.pop_back();
  if (s == ".") s.clear();
  return s;
}
}  // namespace

void MlflowClient::log_artifact(const std::string& run_id, const std::string& local_file,
                                const std::string& artifact_dir) {
  if (!fs::is_regular_file(local_file)) throw TrackingError("cannot log artifact " + local_file + ": not a file");
  const std::string rel =
      join_path(join_path(artifact_base(run_id), strip_slashes(artifact_dir)), fs::path(local_file).filename().string());
  const std::string url = artifact_url(rel);
  Response r = send("PUT", url, "", "PUT artifact " + rel, local_file);
  if (r.status != 200) throw_http_error(r, "PUT artifact " + rel);
}

// The artifact proxy's URL of `rel`, each path segment escaped.
std::string MlflowClient::artifact_url(const std::string& rel) {
  std::string url = base_ + "/api/2.0/mlflow-artifacts/artifacts";
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string::npos) end = rel.size();
    url += "/" + escape(rel.substr(start, end - start));
    start = end + 1;
  }
  return url;
}

std::string MlflowClient::escape(const std::string& s) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  char* e = curl_easy_escape(static_cast<CURL*>(curl_), s.c_str(), static_cast<int>(s.size()));
  std::string out = e ? e : "";
  curl_free(e);
  return out;
}

std::vector<FileInfo> MlflowClient::list_artifacts(const std::string& run_id, const std::string& path) {
  const std::string sub = strip_slashes(path);
  const std::string full = join_path(artifact_base(run_id), sub);
  const std::string url = base_ + "/api/2.0/mlflow-artifacts/artifacts?path=" + escape(full);
  Response r = send("GET", url, "", "GET artifact list " + full);
  if (r.status != 200) throw_http_error(r, "GET artifact list " + full);
  std::vector<FileInfo> out;
  json j = r.body.empty() ? json::object() : json::parse(r.body);
  if (j.contains("files"))
    for (const auto& f : j["files"]) {
      FileInfo fi;
      // The proxy answers base names (older servers: paths relative to the listed folder).
      std::string name = get_str(f, "path");
      auto slash = name.rfind('/');
      if (slash != std::string::npos) name = name.substr(slash + 1);
      fi.path = join_path(sub, name);
      fi.is_dir = f.value("is_dir", false);
      fi.file_size = get_i64(f, "file_size");
      out.push_back(fi);
    }
  std::sort(out.begin(), out.end(), [](const FileInfo& a, const FileInfo& b) { return a.path < b.path; });
  return out;
}

void MlflowClient::download_artifact(const std::string& run_id, const std::string& path,
                                     const std::string& local_file) {
  const std::string rel = join_path(artifact_base(run_id), strip_slashes(path));
  const std::string url = artifact_url(rel);
  Response r = send("GET", url, "", "GET artifact " + rel, "", local_file);
  if (r.status != 200) throw_http_error(r, "GET artifact " + rel);
}

}  // namespace canopy::tracking
