// evictd: the node-pressure eviction agent. This binary carries the subcommands; `simulate` runs
// the decision core offline on a scenario.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "cgroups/kernel_reserve.h"
#include "daemon/cli/typed_command.h"
#include "daemon/config/config.h"
#include "daemon/files/text_file.h"
#include "daemon/node/node.h"
#include "daemon/simulate/scenario.h"
#include "daemon/simulate/simulator.h"
#include "evictd_version.h"

namespace {

constexpr int kExitUsage = 2;

int run_simulate(const std::string& path, const std::string& output) {
  auto text = evictd::files::read_text_file(path);
  if (!text) {
    std::cerr << "cannot read the scenario " << text.error().message << "\n";
    return kExitUsage;
  }
  auto scenario = evictd::simulate::parse_scenario(*text);
  if (!scenario) {
    const auto& error = scenario.error();
    std::cerr << path << ":" << error.line << ": "
              << (error.field.empty() ? "" : error.field + ": ") << error.message << "\n";
    return kExitUsage;
  }
  const auto format = output == "text" ? evictd::simulate::OutputFormat::kText
                                       : evictd::simulate::OutputFormat::kJson;
  evictd::simulate::run(*scenario, format, std::cout, std::cerr);
  std::cout.flush();
  return std::cout ? 0 : 1;
}

int run_check_config(const std::string& path) {
  auto config = evictd::config::load_config(path);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return kExitUsage;
  }
  std::cout << evictd::config::describe(*config) << "\n";
  for (const auto& warning : config->eviction.warnings)
    std::cout << "warning: " << warning << "\n";
  // Advice, not an error: the file is valid, but on this node a memory threshold comes too late.
  if (auto memory = evictd::cgroups::read_node_memory()) {
    for (const auto& advice :
         evictd::advise_memory_headroom(config->eviction.thresholds, memory->total_bytes,
                                        memory->reserve, config->memory_growth_bound))
      std::cout << "warning: " << advice.text << "\n";
    for (const auto& advice :
         evictd::advise_swap_thresholds(config->eviction.thresholds, memory->swap_total_bytes))
      std::cout << "warning: " << advice << "\n";
  }
  if (evictd::config::sampling_needs(*config).memory_pressure_window &&
      access("/proc/pressure/memory", R_OK) != 0) {
    std::cout << "warning: memory.pressure thresholds are never met: this kernel has no pressure "
                 "stall information (/proc/pressure/memory; boot with psi=1)\n";
  }
  std::cout << path << ": configuration OK\n";
  return 0;
}

// Signals are taken by one thread with sigwait, so the handlers may do real work (stop the loop,
// reload the configuration) without async-signal-safety concerns.
int run_daemon(const std::string& path) {
  auto config = evictd::config::load_config(path);
  if (!config) {
    std::cerr << config.error().message << "\n";
    return kExitUsage;
  }
  sigset_t signals;
  sigemptyset(&signals);
  for (int signal : {SIGTERM, SIGINT, SIGHUP})
    sigaddset(&signals, signal);
  if (pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0 || signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
    std::cerr << "evictd: cannot set up signal handling: " << std::strerror(errno) << "\n";
    return 1;
  }

  auto node = evictd::node::Node::start(std::move(*config), path);
  if (!node) {
    std::cerr << "evictd: " << node.error().message << "\n";
    return 1;
  }
  evictd::node::Node& agent = **node;
  std::thread signal_thread([&agent, signals] {
    while (true) {
      int received = 0;
      if (sigwait(&signals, &received) != 0)
        continue;
      if (received == SIGHUP) {
        agent.reload();
        continue;
      }
      agent.stop();
      return;
    }
  });
  const int code = agent.run();
  // Wake the signal thread if the loop ended by itself.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"evictd: node-pressure eviction agent for Kubernetes nodes"};
  app.require_subcommand(1);

  auto* version = app.add_subcommand("version", "print the version");
  version->callback([] { std::cout << "evictd " << EVICTD_VERSION << "\n"; });

  std::string scenario_path;
  std::string output = "json";
  auto* simulate = app.add_subcommand(
      "simulate", "run the decision core on a scenario and print each step's decision");
  simulate->add_option("scenario", scenario_path, "scenario file (YAML), see docs/simulate.md")
      ->required();
  simulate->add_option("-o,--output", output, "json (JSON Lines, default) or text")
      ->check(CLI::IsMember({"json", "text"}));

  std::string config_path;
  auto* check_config =
      app.add_subcommand("check-config", "validate a configuration file and print what it means");
  check_config
      ->add_option("config", config_path, "configuration file (YAML), see docs/configuration.md")
      ->required();

  std::string run_config_path;
  auto* run = app.add_subcommand("run", "run the daemon");
  run->add_option("-c,--config", run_config_path,
                  "configuration file (YAML), see docs/configuration.md")
      ->required();

  static constexpr std::string_view kCommands[] = {"version", "simulate", "check-config", "run"};
  if (const auto unknown = evictd::cli::unknown_command(argc, argv, {}, kCommands)) {
    std::cerr << "evictd: " << *unknown << "\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }
  if (simulate->parsed())
    return run_simulate(scenario_path, output);
  if (check_config->parsed())
    return run_check_config(config_path);
  if (run->parsed())
    return run_daemon(run_config_path);
  return 0;
}
