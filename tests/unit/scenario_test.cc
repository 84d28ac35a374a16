#include "daemon/simulate/scenario.h"

#include <gtest/gtest.h>

#include <sstream>

#include "daemon/simulate/simulator.h"

namespace evictd::simulate {
namespace {

constexpr const char* kValid = R"(config:
  evictionHard: {memory.available: "1Gi"}
filesystems: imagefs
pods:
  - metadata: {name: a, namespace: default, uid: a}
    spec: {priority: -1, containers: [{name: c, resources: {requests: {memory: 100Mi}}}]}
steps:
  - at: 0s
    signals:
      memory.available: {available: 900Mi, capacity: 10Gi}
    pods:
      default/a: {memory: 400Mi}
)";

TEST(Scenario, ParsesAndRuns) {
  auto scenario = parse_scenario(kValid);
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  EXPECT_EQ(scenario->layout, FilesystemLayout::kDedicatedImageFs);
  ASSERT_EQ(scenario->steps.size(), 1U);
  std::ostringstream out;
  std::ostringstream diagnostics;
  run(*scenario, OutputFormat::kJson, out, diagnostics);
  const auto line = nlohmann::json::parse(out.str());
  EXPECT_EQ(line["at"], 0);
  EXPECT_EQ(line["conditions"], nlohmann::json::array({"MemoryPressure"}));
  EXPECT_EQ(line["evictions"][0]["pod"], "default/a");
  EXPECT_EQ(line["evictions"][0]["gracePeriodSeconds"], 1);
  EXPECT_EQ(line["evictions"][0]["message"],
            "The node was low on resource: memory. Threshold quantity: 1Gi, available: 900Mi. ");
  EXPECT_EQ(line["ranking"], nlohmann::json::array({"default/a"}));
}

struct Malformed {
  const char* name;
  std::string text;
  int line;
  const char* field;
  const char* reason_part;
};

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

TEST(Scenario, InvalidUtf8InNamesIsPrintedNotFatal) {
  // A raw 0xA2 byte in the pod's name (found by the scenario fuzzer): printed as U+FFFD.
  std::string text =
      replace(replace(kValid, "name: a,", "name: \"a\xA2\","), "default/a:", "\"default/a\xA2\":");
  auto scenario = parse_scenario(text);
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  std::ostringstream out;
  std::ostringstream diagnostics;
  run(*scenario, OutputFormat::kJson, out, diagnostics);
  EXPECT_NE(out.str().find("default/a\xEF\xBF\xBD"), std::string::npos) << out.str();
}

class ScenarioRejectTest : public testing::TestWithParam<Malformed> {};

TEST_P(ScenarioRejectTest, ErrorHasLineFieldAndReason) {
  auto scenario = parse_scenario(GetParam().text);
  ASSERT_FALSE(scenario.ok()) << GetParam().name;
  EXPECT_EQ(scenario.error().line, GetParam().line) << scenario.error().message;
  EXPECT_EQ(scenario.error().field, GetParam().field) << scenario.error().message;
  EXPECT_NE(scenario.error().message.find(GetParam().reason_part), std::string::npos)
      << scenario.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ScenarioRejectTest,
    testing::Values(
        Malformed{"bad threshold", replace(kValid, "\"1Gi\"", "\"0\""), 2,
                  "config.evictionHard[memory.available]", "must be positive"},
        Malformed{"unknown config field", replace(kValid, "evictionHard:", "evictionHrad:"), 2,
                  "config.evictionHrad", "unknown field"},
        Malformed{"bad layout", replace(kValid, "imagefs", "zfs"), 3, "filesystems",
                  "shared, imagefs or split"},
        Malformed{"bad quantity in pod", replace(kValid, "100Mi", "100MB"), 6,
                  "pods[0].spec.containers[0].resources.requests.memory", "regular expression"},
        Malformed{"bad duration", replace(kValid, "at: 0s", "at: 5"), 8, "steps[0].at",
                  "missing unit"},
        Malformed{"unknown signal",
                  replace(kValid, "memory.available: {available", "memory.free: {available"), 10,
                  "steps[0].signals[memory.free]", "unknown eviction signal"},
        Malformed{"available above capacity",
                  replace(kValid, "900Mi, capacity: 10Gi", "11Gi, capacity: 10Gi"), 10,
                  "steps[0].signals[memory.available]", "exceeds capacity"},
        Malformed{"unknown pod", replace(kValid, "default/a: {memory", "default/b: {memory"), 12,
                  "steps[0].pods[default/b]", "no pod default/b"},
        Malformed{"unknown step field",
                  replace(kValid, "    pods:\n      default", "    pod:\n      default"), 11,
                  "steps[0].pod", "unknown field"},
        Malformed{"yaml syntax", replace(kValid, "filesystems: imagefs", "filesystems: [imagefs"),
                  4, "", ""}));

TEST(Scenario, StepsMustIncrease) {
  std::string text =
      std::string(kValid) +
      "  - at: 0s\n    signals: {memory.available: {available: 1Gi, capacity: 10Gi}}\n";
  auto scenario = parse_scenario(text);
  ASSERT_FALSE(scenario.ok());
  EXPECT_EQ(scenario.error().field, "steps[1].at");
  EXPECT_EQ(scenario.error().line, 13);
}

}  // namespace
}  // namespace evictd::simulate
