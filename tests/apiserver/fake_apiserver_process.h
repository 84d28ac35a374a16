// Runs the test API server (fake_apiserver.py) as a child process with fresh certificates, for
// tests and benchmarks; stops it and removes its files on destruction.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace evictd::testing_util {

class FakeApiServer {
 public:
  // `source_dir` is the project's source tree (tests/apiserver/ under it). Quiet watches get a
  // BOOKMARK every `bookmark_interval_seconds` (kube-apiserver: about a minute; tests: 1 s).
  explicit FakeApiServer(const std::string& source_dir, int bookmark_interval_seconds = 1) {
    std::string pattern = "/tmp/evictd-kube-XXXXXX";
    dir_ = mkdtemp(pattern.data());
    const std::string certs =
        source_dir + "/tests/apiserver/make-certs.sh " + dir_ + "/certs >/dev/null 2>&1";
    if (std::system(certs.c_str()) != 0)
      return;
    int out[2];
    if (pipe(out) != 0)
      return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      const std::string script = source_dir + "/tests/apiserver/fake_apiserver.py";
      const std::string cert_dir = dir_ + "/certs";
      const std::string interval = std::to_string(bookmark_interval_seconds);
      execl("/usr/bin/python3", "python3", script.c_str(), "--port", "0", "--certs",
            cert_dir.c_str(), "--token", "secret-token", "--token", "rotated-token",
            "--bookmark-interval", interval.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* stream = fdopen(out[0], "r");
    char line[64] = {};
    if (stream != nullptr && fgets(line, sizeof(line), stream) != nullptr)
      port_ = std::atoi(line + 10);
    if (stream != nullptr)
      fclose(stream);
    url_ = "https://127.0.0.1:" + std::to_string(port_);
    std::ofstream(dir_ + "/kubeconfig")
        << "apiVersion: v1\nkind: Config\ncurrent-context: test\n"
        << "clusters:\n- name: test\n  cluster:\n    server: " << url_
        << "\n    certificate-authority: certs/ca.crt\n"
        << "users:\n- name: node\n  user:\n    tokenFile: token\n"
        << "contexts:\n- name: test\n  context: {cluster: test, user: node}\n";
    std::ofstream(dir_ + "/token") << "secret-token\n";
  }
  ~FakeApiServer() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  FakeApiServer(const FakeApiServer&) = delete;
  FakeApiServer& operator=(const FakeApiServer&) = delete;

  bool running() const { return port_ > 0; }
  const std::string& url() const { return url_; }
  const std::string& dir() const { return dir_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string url_;
};

}  // namespace evictd::testing_util
