#pragma once
// The `canopy` command line (CLI11). Thin: parses, calls host/ and io/, prints.
namespace canopy {

// Returns the process exit code: 0 on success, 1 on a failed run (one-line
// cause on stderr), 2 on a usage error.
int run_cli(int argc, char** argv);

}  // namespace canopy
