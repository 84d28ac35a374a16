// Names as the API server's validation defines them (k8s.io/apimachinery/pkg/util/validation:
// IsDNS1123Subdomain, IsDNS1123Label), checked where a name enters evictd, and escaped wherever one
// is put in a URL path, whatever was checked before.
#pragma once

#include <string>
#include <string_view>

namespace evictd::kube {

inline constexpr size_t kMaxSubdomainLength = 253;
inline constexpr size_t kMaxLabelLength = 63;

// Lowercase letters, digits, '-' and '.', at most 253 characters, each dot-separated part starting
// and ending with a letter or digit: node, pod and most other object names.
bool is_dns_subdomain(std::string_view name);
// The same without dots, at most 63 characters: namespace names.
bool is_dns_label(std::string_view name);

// Why `name` is not a DNS subdomain, for an error message ("" when it is one).
std::string dns_subdomain_problem(std::string_view name);

// `segment` percent-encoded for one segment of a URL path: only RFC 3986's unreserved characters
// stay as they are, so '/', '?', '#', '%' and '..' cannot change the path or start a query.
std::string escape_path_segment(std::string_view segment);

}  // namespace evictd::kube
