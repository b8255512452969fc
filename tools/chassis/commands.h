// The subcommands of `chassis`, one registration function each. Each
// callback stores the process exit status in *exit_code.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace bp::chassis {

void RegisterUp(CLI::App& app, int* exit_code);
void RegisterDown(CLI::App& app, int* exit_code);
void RegisterStatus(CLI::App& app, int* exit_code);
void RegisterLoad(CLI::App& app, int* exit_code);
void RegisterDrill(CLI::App& app, int* exit_code);
void RegisterSoak(CLI::App& app, int* exit_code);
void RegisterKeys(CLI::App& app, int* exit_code);  // keygen, reload-keys

// "chassis: error: <message>" on stderr; returns the exit status to use.
int Fail(const std::string& message, int code = 1);
// --run-dir, on every subcommand.
void AddRunDir(CLI::App* sub, std::string* run_dir);

}  // namespace bp::chassis
