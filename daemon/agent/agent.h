// The daemon: woken by a kernel pressure notification or the poll timer, it samples the node,
// joins the runtime's pods with their specs, runs the kubelet's decision step, and hands an
// eviction to the executor, which acts beside the loop so that sampling never stalls. Everything
// that can fail at start-up fails in start() with a clear message; at run time a misbehaving
// runtime, API server or cgroup is logged and counted and the loop goes on.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "daemon/config/config.h"
#include "ranking/evaluator.h"
#include "ranking/result.h"

namespace evictd::cgroups {
struct NodeSample;
}

namespace evictd::agent {

class Agent {
 public:
  Agent(config::Config config, std::string config_path);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  Result<void> start();
  // Runs the loop until stop(); returns the process exit code.
  int run();
  // Both may be called from a signal-handling thread.
  void stop();
  void reload();

 private:
  struct State;
  static void publish_status(State& s, const cgroups::NodeSample& sample,
                             const Observations& observations, const Decision& decision, Nanos now);
  std::unique_ptr<State> state_;
};

}  // namespace evictd::agent
