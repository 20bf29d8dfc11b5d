#pragma once
// `canopy runs sync`: pushes runs from a local SQLite store to another store
// (an MLflow server), idempotently. Each pushed run carries the tag
// canopy.source_run_id = <local run id>, and the local store records
// local id -> remote id per target (table sync_records). Running sync again
// skips runs that did not change and completes runs that did (missing params,
// tags, metric points and artifacts are sent; nothing is duplicated).
// Preserved: run name, user, start/end time, status, params, full metric
// histories (step, timestamp), tags (mlflow.parentRunId remapped to the
// parent's remote id; parents are pushed first) and artifacts.
#include <functional>
#include <string>
#include <vector>

#include "tracking/run_store.h"
#include "tracking/sqlite_store.h"

namespace canopy::tracking {

// Set on a local run that the recorder kept locally after the remote store
// failed mid-run: sync completes that remote run instead of creating another.
inline constexpr const char* kTagRemoteRunId = "canopy.remote_run_id";
inline constexpr const char* kTagRemoteUri = "canopy.remote_tracking_uri";

struct SyncOptions {
  std::string experiment;                           // only this local experiment (by name); empty: all
  std::vector<std::string> run_ids;                 // only these runs (plus their parents); empty: all
  std::function<void(const std::string&)> progress;  // one line per run
};

struct SyncResult {
  int created = 0, updated = 0, unchanged = 0, failed = 0;
  std::vector<std::pair<std::string, std::string>> mapping;  // local id -> remote id
  std::vector<std::string> errors;
};

// Throws UnreachableError when the target cannot be reached; other per-run
// failures are collected in the result and the sync goes on.
SyncResult sync_runs(SqliteStore& from, RunStore& to, const SyncOptions& options = {});

}  // namespace canopy::tracking
