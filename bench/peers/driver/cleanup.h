// Last-resort cleanup when the driver is interrupted (SIGINT, SIGTERM,
// SIGHUP): kill every registered child and remove every registered (empty)
// directory, using only async-signal-safe calls on fixed-size tables.
// Normal runs clean up through RAII; this covers Ctrl-C in the middle of a
// measurement. A SIGKILLed driver cannot clean up, but PR_SET_PDEATHSIG still
// ends its children.
#pragma once

#include <sys/types.h>

#include <string>

namespace bp::peers {

// Installs the handlers. Call once, from main, before any child is spawned.
void InstallCleanupHandlers();

void RegisterChildPid(pid_t pid);
void UnregisterChildPid(pid_t pid);

// Directories are removed in reverse registration order (children first).
void RegisterTempDir(const std::string& path);
void UnregisterTempDir(const std::string& path);

// Makes a fresh directory "<parent>/<prefix>XXXXXX" and registers it.
std::string MakeTempDir(const std::string& parent, const std::string& prefix);

// Removes a registered directory and unregisters it. Returns false if it was
// not empty (it is removed anyway, contents and all): site homes must stay
// empty, so the caller reports that as a finding.
bool RemoveTempDir(const std::string& path);

}  // namespace bp::peers
