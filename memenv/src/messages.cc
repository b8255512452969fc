#include "messages.h"

#include <db.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace bp::memenv {

namespace {

struct Registry {
  std::mutex mu;
  std::unordered_map<const DB_ENV*, std::shared_ptr<MessageSink>> sinks;
};

// Leaked on purpose: BDB may report from an Env closed during static destruction.
Registry& GetRegistry() {
  static Registry* registry = new Registry;
  return *registry;
}

void Deliver(const DB_ENV* env, const char* msg) {
  std::shared_ptr<MessageSink> sink;
  {
    Registry& r = GetRegistry();
    std::lock_guard<std::mutex> lock(r.mu);
    auto it = r.sinks.find(env);
    if (it != r.sinks.end()) sink = it->second;
  }
  // The sink runs outside the registry lock: it may be slow or log elsewhere.
  if (sink && *sink) {
    (*sink)(msg);
  } else {
    std::fprintf(stderr, "bdb: %s\n", msg);
  }
}

void OnError(const DB_ENV* env, const char* /*errpfx*/, const char* msg) { Deliver(env, msg); }
void OnMessage(const DB_ENV* env, const char* msg) { Deliver(env, msg); }

}  // namespace

void RouteMessages(DB_ENV* env, MessageSink sink) {
  {
    Registry& r = GetRegistry();
    std::lock_guard<std::mutex> lock(r.mu);
    r.sinks[env] = std::make_shared<MessageSink>(std::move(sink));
  }
  env->set_errcall(env, OnError);
  env->set_msgcall(env, OnMessage);
}

void UnrouteMessages(const DB_ENV* env) {
  Registry& r = GetRegistry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.sinks.erase(env);
}

}  // namespace bp::memenv
