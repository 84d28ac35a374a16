// Debian's Prometheus server for the end-to-end tests: it scrapes evictd every second, evaluates
// the shipped rules (deploy/prometheus/evictd-rules.yaml) every second and answers instant queries;
// and the PromQL of the shipped Grafana dashboard (deploy/grafana/evictd-dashboard.json), so that
// the tests run every expression an operator's dashboard would.
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "e2e/daemon_process.h"
#include "read_text.h"

namespace evictd::testing_util {

class PrometheusServer {
 public:
  // `dir` holds the configuration, the TSDB and prometheus.log.
  PrometheusServer(std::string dir, int metrics_port, const std::string& rules_file)
      : dir_(std::move(dir)), port_(free_port()) {
    std::ofstream(dir_ + "/prometheus.yml")
        << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        << "rule_files: ['" << rules_file << "']\n"
        << "scrape_configs:\n- job_name: evictd\n  static_configs:\n"
        << "  - targets: ['127.0.0.1:" << metrics_port << "']\n";
  }
  ~PrometheusServer() { stop(); }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // Starts the server and waits until it is ready to answer.
  bool start() {
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = ::open((dir_ + "/prometheus.log").c_str(), O_WRONLY | O_CREAT, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      const std::string config_flag = "--config.file=" + dir_ + "/prometheus.yml";
      const std::string storage_flag = "--storage.tsdb.path=" + dir_ + "/tsdb";
      const std::string listen_flag = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      execl("/usr/bin/prometheus", "prometheus", config_flag.c_str(), storage_flag.c_str(),
            listen_flag.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    return pid_ > 0 &&
           eventually([&] { return !http_get(url("/-/ready")).empty(); }, std::chrono::seconds(20));
  }

  void stop() {
    if (pid_ <= 0)
      return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // The result of an instant query ("vector" or "scalar" data), or null when the server refused
  // it or did not answer.
  nlohmann::json query(const std::string& promql) const {
    CURL* handle = curl_easy_init();
    char* escaped = curl_easy_escape(handle, promql.c_str(), static_cast<int>(promql.size()));
    const std::string answer = http_get(url("/api/v1/query?query=" + std::string(escaped)));
    curl_free(escaped);
    curl_easy_cleanup(handle);
    const auto parsed = nlohmann::json::parse(answer, nullptr, false);
    if (parsed.is_discarded() || parsed.value("status", "") != "success")
      return nullptr;
    return parsed["data"]["result"];
  }

  std::string log() const { return read_text(dir_ + "/prometheus.log"); }

 private:
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::string dir_;
  int port_;
  pid_t pid_ = -1;
};

// Every PromQL expression of a Grafana dashboard — each panel's targets (rows' nested panels
// too), each annotation's, each query variable's metric — with the dashboard's variables replaced
// by `variables` (name without "$" → value). Empty when the file is not a dashboard.
inline std::vector<std::string> dashboard_queries(
    const std::string& path, const std::map<std::string, std::string>& variables) {
  const auto dashboard = nlohmann::json::parse(read_text(path), nullptr, false);
  std::vector<std::string> queries;
  if (dashboard.is_discarded() || !dashboard.contains("panels"))
    return queries;
  const auto substituted = [&](std::string expr) {
    for (const auto& [name, value] : variables) {
      for (const std::string& form : {"${" + name + "}", "$" + name}) {
        for (size_t at = expr.find(form); at != std::string::npos; at = expr.find(form, at))
          expr.replace(at, form.size(), value);
      }
    }
    return expr;
  };
  std::function<void(const nlohmann::json&)> add_panels = [&](const nlohmann::json& panels) {
    for (const auto& panel : panels) {
      for (const auto& target : panel.value("targets", nlohmann::json::array()))
        queries.push_back(substituted(target.value("expr", "")));
      add_panels(panel.value("panels", nlohmann::json::array()));
    }
  };
  add_panels(dashboard["panels"]);
  for (const auto& annotation : dashboard["annotations"].value("list", nlohmann::json::array())) {
    if (annotation.contains("expr"))
      queries.push_back(substituted(annotation["expr"]));
  }
  // label_values(METRIC, LABEL) asks for METRIC's series.
  for (const auto& variable : dashboard["templating"].value("list", nlohmann::json::array())) {
    const std::string definition = variable.value("definition", "");
    const std::string prefix = "label_values(";
    if (definition.rfind(prefix, 0) == 0 && definition.find(',') != std::string::npos)
      queries.push_back(definition.substr(prefix.size(), definition.find(',') - prefix.size()));
  }
  return queries;
}

}  // namespace evictd::testing_util
