// `chassis keygen` and `chassis reload-keys`: CURVE keys of a chassis
// (README "Security").
//
//   chassis keygen --slot N [--slot M ...] | --all   [--run-dir D | --config FILE]
//       writes a new key file per slot (mode 0600; the slot's secret_key_file,
//       else slot<N>.key next to the configuration, or --key-file with one
//       slot), puts the new public keys into the configuration (security
//       curve) and prints them.
//   chassis reload-keys [--run-dir D]
//       asks every running board to re-read its peers' public keys.
#include <filesystem>
#include <fstream>
#include <iostream>

#include "chassis.h"
#include "commands.h"
#include "run_dir.h"

namespace bp::chassis {
namespace {

struct KeygenOptions {
  std::string run_dir = DefaultRunDir();
  std::string config_file;  // instead of the run dir's chassis.toml
  std::vector<int> slots;
  bool all = false;
  std::string key_file;
};

Status WriteConfig(const std::string& path, const board::ChassisConfig& c) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    out << board::ToToml(c);
    if (!out) return Status::Internal("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Internal("cannot replace " + path + ": " + ec.message());
  return Status::Ok();
}

int RunKeygen(const KeygenOptions& o) {
  const std::string path = o.config_file.empty() ? RunDir(o.run_dir).config_path() : o.config_file;
  // Not validated yet: a curve configuration without keys is what keygen fixes.
  auto loaded = board::LoadChassisConfig(path, /*validate=*/false);
  if (!loaded.ok()) return Fail(loaded.status().message(), 2);
  board::ChassisConfig c = std::move(loaded).value();
  std::vector<int> slots = o.slots;
  if (o.all) {
    slots.clear();
    for (const auto& b : c.boards) slots.push_back(b.slot);
  }
  if (slots.empty()) return Fail("name the slots: --slot N (repeatable) or --all", 2);
  if (!o.key_file.empty() && slots.size() != 1) {
    return Fail("--key-file names one file: use it with exactly one --slot", 2);
  }
  const std::string dir = std::filesystem::path(path).parent_path().string();
  for (int slot : slots) {
    const board::SlotConfig* b = c.Find(slot);
    if (b == nullptr) return Fail("slot " + std::to_string(slot) + " is not in " + path, 2);
    std::string file = !o.key_file.empty()         ? o.key_file
                       : !b->secret_key_file.empty() ? b->secret_key_file
                                                     : (dir.empty() ? "." : dir) + "/slot" +
                                                           std::to_string(slot) + ".key";
    Status s = board::GenerateSlotKey(&c, slot, file, /*replace=*/true);
    if (!s.ok()) return Fail(s.message());
    std::cout << "slot " << slot << ": public_key = \"" << c.Find(slot)->public_key
              << "\"  secret_key_file = \"" << file << "\"\n";
  }
  c.security = board::SecurityMode::kCurve;
  if (Status s = c.Validate(); !s.ok()) {
    return Fail("the new keys are written but " + path + " still does not validate: " +
                s.message());
  }
  if (Status s = WriteConfig(path, c); !s.ok()) return Fail(s.message());
  std::cout << "updated " << path
            << "; running boards: restart the rekeyed slots after `chassis reload-keys`"
               " (README \"Security\": key rotation)\n";
  return 0;
}

int RunReloadKeys(const std::string& run_dir) {
  auto c = Chassis::Open(RunDir(run_dir));
  if (!c.ok()) return Fail(c.status().message());
  int failed = 0;
  for (int slot : (*c)->slots()) {
    if (!(*c)->Alive(slot)) {
      std::cout << "slot " << slot << ": not running\n";
      continue;
    }
    auto reply = (*c)->Admin(slot, {{"cmd", "reload_keys"}});
    if (!reply.ok()) {
      ++failed;
      std::cout << "slot " << slot << ": " << reply.status().message() << "\n";
      continue;
    }
    std::cout << "slot " << slot << ": keys reloaded, changed " << (*reply)["changed"].dump()
              << "\n";
  }
  return failed == 0 ? 0 : 1;
}

}  // namespace

void RegisterKeys(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<KeygenOptions>();
  CLI::App* keygen = app.add_subcommand(
      "keygen", "new CURVE key files for slots; writes their public keys into the configuration");
  AddRunDir(keygen, &o->run_dir);
  keygen->add_option("--config,-c", o->config_file,
                     "the configuration to update (default: the run dir's chassis.toml)")
      ->check(CLI::ExistingFile);
  keygen->add_option("--slot,-s", o->slots, "a slot to give a new key (repeatable)");
  keygen->add_flag("--all", o->all, "every slot of the configuration");
  keygen->add_option("--key-file", o->key_file,
                     "where to write the key file (one --slot only; default: the slot's "
                     "secret_key_file, else slot<N>.key next to the configuration)");
  keygen->callback([o, exit_code] { *exit_code = RunKeygen(*o); });

  auto run_dir = std::make_shared<std::string>(DefaultRunDir());
  CLI::App* reload = app.add_subcommand(
      "reload-keys", "every running board re-reads its peers' public keys (key rotation)");
  AddRunDir(reload, run_dir.get());
  reload->callback([run_dir, exit_code] { *exit_code = RunReloadKeys(*run_dir); });
}

}  // namespace bp::chassis
