#include "daemon/kube/kubeconfig.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/files/text_file.h"
#include "daemon/yaml/reader.h"

namespace evictd::kube {
namespace {

std::string decode_base64(const std::string& text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int value = 0;
  int bits = -8;
  for (const char c : text) {
    const auto position = kAlphabet.find(c);
    if (position == std::string::npos)
      continue;  // padding and line breaks
    value = (value << 6) + static_cast<int>(position);
    bits += 6;
    if (bits >= 0) {
      out.push_back(static_cast<char>((value >> bits) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

// A path in a kubeconfig is relative to the kubeconfig's directory.
std::string resolve(const std::string& path, const std::string& kubeconfig) {
  if (path.empty() || path.front() == '/')
    return path;
  return (std::filesystem::path(kubeconfig).parent_path() / path).string();
}

const YAML::Node find_named(const YAML::Node& list, const std::string& name, const char* key) {
  if (!list || !list.IsSequence())
    return YAML::Node();
  for (const auto& item : list) {
    if (item["name"] && item["name"].Scalar() == name)
      return item[key];
  }
  return YAML::Node();
}

}  // namespace

Result<ApiCredentials> load_kubeconfig(const std::string& path) {
  auto text = files::read_text_file(path);
  if (!text)
    return make_error("cannot read the kubeconfig " + text.error().message);
  auto loaded = yaml::load(*text);
  if (!loaded) {
    const Error& error = loaded.error();
    return Error{path + ":" + std::to_string(error.line) + ": " +
                     (error.field.empty() ? "" : error.field + ": ") + error.message,
                 "", error.line};
  }
  const YAML::Node root = *loaded;
  auto fail = [&](const std::string& field, const std::string& reason) {
    return make_error(path + ": " + field + ": " + reason, field);
  };
  if (!root.IsMap() || !root["current-context"])
    return fail("current-context", "is required");
  const std::string context_name = root["current-context"].Scalar();
  const YAML::Node context = find_named(root["contexts"], context_name, "context");
  if (!context || !context.IsMap())
    return fail("contexts", "no context named " + context_name);
  const std::string cluster_name = context["cluster"] ? context["cluster"].Scalar() : "";
  const std::string user_name = context["user"] ? context["user"].Scalar() : "";
  const YAML::Node cluster = find_named(root["clusters"], cluster_name, "cluster");
  if (!cluster || !cluster.IsMap())
    return fail("clusters", "no cluster named " + cluster_name);
  ApiCredentials credentials;
  if (!cluster["server"])
    return fail("clusters[" + cluster_name + "].server", "is required");
  credentials.server = cluster["server"].Scalar();
  if (!credentials.server.starts_with("https://")) {
    return fail("clusters[" + cluster_name + "].server",
                "must be https:// (TLS is always on), not " + credentials.server);
  }
  if (cluster["insecure-skip-tls-verify"] &&
      cluster["insecure-skip-tls-verify"].Scalar() == "true") {
    return fail("clusters[" + cluster_name + "].insecure-skip-tls-verify",
                "evictd always verifies the API server's certificate");
  }
  if (cluster["certificate-authority"])
    credentials.ca_file = resolve(cluster["certificate-authority"].Scalar(), path);
  if (cluster["certificate-authority-data"]) {
    credentials.ca_data = decode_base64(cluster["certificate-authority-data"].Scalar());
  }
  if (context["namespace"])
    credentials.namespace_name = context["namespace"].Scalar();
  const YAML::Node user = find_named(root["users"], user_name, "user");
  if (user && user.IsMap()) {
    if (user["token"])
      credentials.token = user["token"].Scalar();
    if (user["tokenFile"])
      credentials.token_file = resolve(user["tokenFile"].Scalar(), path);
    if (user["client-certificate"]) {
      credentials.client_cert_file = resolve(user["client-certificate"].Scalar(), path);
    }
    if (user["client-certificate-data"]) {
      credentials.client_cert_data = decode_base64(user["client-certificate-data"].Scalar());
    }
    if (user["client-key"])
      credentials.client_key_file = resolve(user["client-key"].Scalar(), path);
    if (user["client-key-data"])
      credentials.client_key_data = decode_base64(user["client-key-data"].Scalar());
  }
  const bool has_cert =
      !credentials.client_cert_file.empty() || !credentials.client_cert_data.empty();
  const bool has_key = !credentials.client_key_file.empty() || !credentials.client_key_data.empty();
  if (has_cert != has_key)
    return fail("users[" + user_name + "]", "a client certificate needs its key");
  return credentials;
}

Result<ApiCredentials> in_cluster_credentials(const std::string& root) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (host == nullptr || port == nullptr) {
    return make_error(
        "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  }
  const std::string dir = root + "/var/run/secrets/kubernetes.io/serviceaccount";
  ApiCredentials credentials;
  const std::string host_text = host;
  credentials.server =
      "https://" + (host_text.find(':') != std::string::npos ? "[" + host_text + "]" : host_text) +
      ":" + port;
  credentials.ca_file = dir + "/ca.crt";
  credentials.token_file = dir + "/token";
  std::ifstream ns(dir + "/namespace");
  std::getline(ns, credentials.namespace_name);
  for (const auto& file : {credentials.ca_file, credentials.token_file}) {
    if (!std::filesystem::exists(file))
      return make_error("in-cluster: " + file + " is missing");
  }
  return credentials;
}

}  // namespace evictd::kube
