// canopy command-line entry point: parses, calls host/ and prints.
#include "host/cli.h"

int main(int argc, char** argv) { return canopy::run_cli(argc, argv); }
