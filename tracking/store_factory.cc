#include "tracking/store_factory.h"

#include <cstdlib>
#include <filesystem>

#include "tracking/mlflow_client.h"
#include "tracking/sqlite_store.h"

namespace canopy::tracking {
namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::string default_local_uri() {
  return "sqlite://" + (std::filesystem::current_path() / "canopy.db").lexically_normal().string();
}

std::string resolve_tracking_uri(const std::string& explicit_uri) {
  if (!explicit_uri.empty()) return explicit_uri;
  for (const char* name : {"CANOPY_TRACKING_URI", "MLFLOW_TRACKING_URI"}) {
    const char* v = std::getenv(name);
    if (v && *v) return v;
  }
  return default_local_uri();
}

bool is_remote_uri(const std::string& uri) { return uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0; }

bool is_sqlite_uri(const std::string& uri) {
  if (uri.rfind("sqlite:", 0) == 0) return true;
  if (is_remote_uri(uri)) return false;
  const bool has_scheme = uri.find("://") != std::string::npos || uri.find(':') != std::string::npos;
  if (!uri.empty() && !has_scheme &&
      (ends_with(uri, ".db") || ends_with(uri, ".sqlite") || ends_with(uri, ".sqlite3") ||
       uri.find('/') != std::string::npos))
    return true;
  throw TrackingError("unsupported tracking URI \"" + uri +
                      "\": use sqlite:///ABSOLUTE/PATH.db, sqlite:RELATIVE/PATH.db, a path ending in .db, or "
                      "http(s)://HOST:PORT for an MLflow tracking server");
}

std::unique_ptr<RunStore> open_store(const std::string& uri_in) {
  const std::string uri = resolve_tracking_uri(uri_in);
  if (is_remote_uri(uri)) return std::make_unique<MlflowClient>(uri);
  if (is_sqlite_uri(uri)) return std::make_unique<SqliteStore>(sqlite_path_from_uri(uri));
  throw TrackingError("unsupported tracking URI \"" + uri + "\"");
}

}  // namespace canopy::tracking
