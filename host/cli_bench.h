#pragma once
// `canopy bench`: the end-to-end benchmark report (canopy against
// scikit-learn, XGBoost and LightGBM on the same data).
//
//   canopy bench [--quick] [--out DIR] [--cases FILE] [--systems canopy-cpu,sklearn,...]
//                [--repeats N] [--warmup N] [--threads N] [--data-dir DIR] [--keep-data]
//                [--no-setup] [--no-tracking] [--tracking-uri URI] [--experiment NAME]
//
// The work is done by the Python harness in bench/ (bench/canopy_bench.py),
// run with the interpreter of the virtual environment made by
// scripts/setup_bench.sh (<repo>/.venv-bench, or $CANOPY_BENCH_VENV). The
// bench/ folder is found from $CANOPY_BENCH_DIR, else next to the executable
// (<exe dir>/../bench, <exe dir>/../../bench, <exe dir>/../share/canopy/bench).
// When the environment is missing it is created by running
// scripts/setup_bench.sh once (unless --no-setup, which fails with a message
// saying to run it). Afterwards the results are recorded in the tracking store
// when this build has one: one parent run per invocation (experiment "bench"
// unless --experiment), a child run per case and system.
//
// Usage in run_cli():
//   int exit_code = 0;
//   add_bench_command(app, exit_code);   // before app.parse()
// The subcommand's callback runs the harness during app.parse(), sets
// exit_code to the harness's exit status (0 done, 1 error, 3 a red case or a
// failed canopy run) and then throws CLI::RuntimeError(exit_code), which
// run_cli's existing `catch (const CLI::ParseError& e) { return app.exit(e); }`
// turns into that return value without printing anything.
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace canopy {

void add_bench_command(CLI::App& app, int& exit_code);

namespace bench_detail {
// Exposed for tests.
// The folder holding canopy_bench.py: $CANOPY_BENCH_DIR, else found from the
// executable's path; "" when none is found.
std::string find_bench_dir(const std::string& exe_path);
// Runs argv[0] with argv (no shell) and returns its exit status (128+signal
// when killed by a signal, 127 when it could not be started).
int run_process(const std::vector<std::string>& argv);
}  // namespace bench_detail

}  // namespace canopy
