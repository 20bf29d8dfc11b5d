#pragma once
// The `canopy tune` subcommand. In run_cli(), before app.parse():
//   add_tune_command(app, exit_code);
// Its callback runs the sweep during app.parse() and ends the parse by
// throwing CLI::RuntimeError(exit_code) (CLI11's App::exit returns that code
// without printing), so run_cli needs nothing else; errors propagate as
// std::exception ("canopy: error: ...", exit 1).
namespace CLI {
class App;
}

namespace canopy {

// Returns the subcommand; `exit_code` receives the command's exit status.
CLI::App* add_tune_command(CLI::App& app, int& exit_code);

}  // namespace canopy
