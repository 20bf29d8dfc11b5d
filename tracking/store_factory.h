#pragma once
// Opens the run store a tracking URI names.
//   sqlite:///abs/path.db, sqlite:rel/path.db, or a plain path ending in .db,
//   .sqlite or .sqlite3 (or containing a '/')  -> SqliteStore
//   http://HOST:PORT, https://...              -> MlflowClient
// The URI is the --tracking-uri flag, else $CANOPY_TRACKING_URI, else
// $MLFLOW_TRACKING_URI, else sqlite:///$PWD/canopy.db.
#include <memory>
#include <string>

#include "tracking/run_store.h"

namespace canopy::tracking {

std::string default_local_uri();  // sqlite:///$PWD/canopy.db
std::string resolve_tracking_uri(const std::string& explicit_uri = "");
bool is_remote_uri(const std::string& uri);  // http:// or https://
bool is_sqlite_uri(const std::string& uri);  // throws TrackingError for unsupported URIs
// Resolves `uri` (see above) and opens the store. Throws TrackingError with a
// clear message for unsupported URIs. Opening an MLflow store contacts nothing.
std::unique_ptr<RunStore> open_store(const std::string& uri = "");

}  // namespace canopy::tracking
