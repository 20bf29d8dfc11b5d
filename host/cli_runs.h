#pragma once
// The tracking commands of the `canopy` command line:
//   canopy runs list    [--experiment NAME] [--filter F] [--order-by O] [--max-results N] [--json]
//   canopy runs show    RUN_ID [--json]
//   canopy runs compare RUN_ID RUN_ID... [--json]
//   canopy runs sync    --to http://HOST:PORT [--experiment NAME] [--from sqlite:///PATH]
//   canopy experiments list [--json]
//   canopy experiments create NAME
// each with --tracking-uri (else $CANOPY_TRACKING_URI, $MLFLOW_TRACKING_URI, ./canopy.db).
// Usage in run_cli():
//   add_tracking_commands(app);                 // before app.parse()
//   ...
//   int rc = 0;
//   if (run_tracking_commands(app, rc)) return rc;   // after app.parse()
namespace CLI {
class App;
}

namespace canopy {

// Registers the `runs` and `experiments` subcommands on `app`.
void add_tracking_commands(CLI::App& app);

// After app.parse(): when one of those subcommands was given, runs it, sets
// exit_code (0, or 1 with "canopy: error: ..." on stderr) and returns true.
bool run_tracking_commands(CLI::App& app, int& exit_code);

}  // namespace canopy
