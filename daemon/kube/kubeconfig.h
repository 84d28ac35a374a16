// Credentials for the Kubernetes API: a kubeconfig file (current context's cluster and user) or the
// in-cluster service account. TLS verification is always on: a kubeconfig asking to skip it is
// refused.
#pragma once

#include <optional>
#include <string>

#include "ranking/result.h"

namespace evictd::kube {

struct ApiCredentials {
  std::string server;   // https://host:port
  std::string ca_file;  // either a file ...
  std::string ca_data;  // ... or PEM text
  std::string client_cert_file;
  std::string client_cert_data;
  std::string client_key_file;
  std::string client_key_data;
  std::string token;       // a static bearer token ...
  std::string token_file;  // ... or a file re-read when it changes (service account tokens rotate)
  std::string namespace_name;
};

// Parses a kubeconfig file; errors name the file, the field and the reason.
Result<ApiCredentials> load_kubeconfig(const std::string& path);
// The in-cluster configuration (KUBERNETES_SERVICE_HOST/PORT and
// /var/run/secrets/.../serviceaccount), with `root` prefixed to the service account paths for
// tests.
Result<ApiCredentials> in_cluster_credentials(const std::string& root = "");

}  // namespace evictd::kube
