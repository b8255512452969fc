// Routes Berkeley DB error and informational messages to EnvOptions::on_bdb_message.
//
// Why not DB_ENV->app_private: the replication engine owns it (its event and
// send callbacks find their context there). The callbacks BDB calls receive
// only the DB_ENV*, so a process-wide registry keyed by DB_ENV* finds the sink.
#pragma once

#include <functional>
#include <string>

struct __db_env;

namespace bp::memenv {

using MessageSink = std::function<void(const std::string&)>;

// Installs errcall/msgcall on `env` and registers `sink` for it (an empty
// sink writes "bdb: <message>" to stderr). Call before DB_ENV->open.
void RouteMessages(__db_env* env, MessageSink sink);

// Forgets `env`. Call after DB_ENV->close (close may still report messages).
void UnrouteMessages(const __db_env* env);

}  // namespace bp::memenv
