// Runs a scenario through the decision core, step by step, and reports every decision: JSON Lines
// (the contract other tools read) or a readable trace.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>

#include "daemon/simulate/scenario.h"
#include "ranking/evaluator.h"

namespace evictd::simulate {

enum class OutputFormat { kJson, kText };

// Writes one line of JSON (or one block of text) per step; warnings about the configuration go to
// `diagnostics`.
void run(const Scenario& scenario, OutputFormat format, std::ostream& out,
         std::ostream& diagnostics);

// The JSON object of one step's decision; `pods` are the active pods the decision indexes.
nlohmann::ordered_json decision_json(const Decision& decision, std::span<const ActivePod> pods);

}  // namespace evictd::simulate
